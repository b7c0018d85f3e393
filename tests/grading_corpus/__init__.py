"""Grading corpora: submissions that prove the autograder fair and safe.

* `plausible_bugs.py`: small, named source transformations of the reference,
  each a mistake a student could make, with the definitions whose graded
  tests must lose points and those that must keep full marks.
* `adversarial/`: the one adversarial corpus: malicious submissions (the
  reference with one definition replaced by an attack, or an attack at import
  time), described in `adversarial/__init__.py`, and `adversarial/sandbox_calls/`,
  the hostile functions `tests/test_sandbox.py` calls in the sandbox.
* `valid_alternatives/`: correct submissions written from the student
  material alone, in styles the reference does not use; each must earn full
  marks.
* `submissions.py`: building submission folders and grading them with the CLI.

`tests/test_grading_corpus.py` grades all of them and checks the results;
`tests/test_sandbox.py` also runs the attacks that act only when called.
"""
