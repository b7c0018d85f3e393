"""The synthetic VOC-style dataset generator, a library shared by the grader and the build tools.

``generator`` writes a deterministic stand-in for the tiny PASCAL VOC 2007
detection set (``python -m synthetic_voc.generator --out DIR``).  The grader's
notebook stage (``autograder/notebook/grading_data.py``) draws its training and
secret validation splits with it; the student environment check, the
calibration benchmark and the tests use it too.

It lives outside ``autograder/`` on purpose: the sandbox stages only the
``autograder`` package into its zygote, so the generator (which would let a
submission reproduce the secret validation split) is neither importable nor
readable inside the sandbox (``autograder/sandbox/zygote.py`` refuses to start
if it was imported there).
"""
