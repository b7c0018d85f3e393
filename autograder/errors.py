"""Failures of a submission, with one name on both sides of the sandbox boundary.

``SubmissionError`` and its subclasses describe something wrong with the
student's submission; their message is written for the student and ends up
verbatim in the Gradescope feedback.  ``SandboxError`` means the grader itself
failed (not the student's fault): course staff need to look.

Inside the sandbox, probes raise ``PROBE_ERRORS`` (``probe_api``, ``probes/``);
the worker reports each as its kind (``KIND_BY_ERROR_CLASS``) and the trusted
process raises the same class again (``ERROR_CLASS_BY_KIND``).  The public
checks (``student/checks.py``) run the probes in the student's process and
catch the same classes.  This module imports nothing, so the sandbox worker and
the public checks can import it.
"""

from __future__ import annotations


class SubmissionError(Exception):
    """The submission failed a graded call; ``str(error)`` is the teaching message."""


class SubmissionFormatError(SubmissionError):
    """The submission could not be turned into ``common.py`` + ``two_stage_detector.py``."""


class SubmissionImportError(SubmissionError):
    """Importing the student's files failed (syntax error, crash at import time); the message
    is ready for the student."""


class MissingDefinition(SubmissionError):
    """A graded function or class (a name a probe asked for) is not defined in the submission."""


class NotImplementedByStudent(SubmissionError):
    """The student's code still raises ``NotImplementedError`` (an untouched stub)."""


class StudentException(SubmissionError):
    """The student's code raised an exception."""


class Timeout(SubmissionError):
    """The call exceeded its time limit and was stopped."""


class Crashed(SubmissionError):
    """The worker died without a result: a signal, ``os._exit``, ``sys.exit``..."""


class OutOfMemory(SubmissionError):
    """The student's code exceeded the memory limit."""


class InvalidOutput(SubmissionError):
    """The returned value has a type or shape the grader does not accept, or is too large."""


class SandboxError(Exception):
    """The sandbox itself failed; the grade cannot be trusted and staff must look."""


class GraderErrorInWorker(SubmissionError):
    """The worker reported a failure of the grader's own code. The worker runs
    student code, which could forge that report, so it costs the test (never
    the whole grading); the parent also logs it for staff."""


# Error kinds reported by a worker (see ``autograder/sandbox/worker.py``), mapped to the
# class the parent raises.  The kind is untrusted input: an unknown kind is a
# protocol error, never a success.
ERROR_CLASS_BY_KIND: dict[str, type[Exception]] = {
    "import_error": SubmissionImportError,
    "missing_definition": MissingDefinition,
    "not_implemented": NotImplementedByStudent,
    "student_exception": StudentException,
    "crashed": Crashed,
    "out_of_memory": OutOfMemory,
    "invalid_output": InvalidOutput,
    "grader_error": GraderErrorInWorker,
}
# What a probe raises for the student's failures it detects itself; the worker classifies every
# other exception by its own rules (worker.classify).
PROBE_ERRORS: tuple[type[SubmissionError], ...] = (SubmissionImportError, MissingDefinition, InvalidOutput)
KIND_BY_ERROR_CLASS: dict[type[Exception], str] = {cls: kind for kind, cls in ERROR_CLASS_BY_KIND.items()}
