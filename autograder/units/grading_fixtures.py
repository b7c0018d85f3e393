"""Fixtures shared by the graded test modules (imported by each of them).

`case_rng` seeds the fresh random cases of every test from the submission's
content and the staff's case secret (case_secret.py): each submission gets
cases of its own that students cannot predict (outputs memorised from another
run or from the golden fixtures earn nothing), and the same submission gets
the same cases, hence the same score, on every run.
"""
import hashlib

import pytest
import torch

from autograder.units.case_secret import NO_SECRET_NOTE, case_secret, content_seed
from autograder.submission_layout import SUBMISSION_FILES
from autograder.course.reference_solution import load_reference


@pytest.fixture(scope="session")
def reference():
    """The reference solution's definitions, in the trusted process."""
    return load_reference()


@pytest.fixture(scope="session")
def submission_seed(submission, staff_notes) -> int:
    secret = case_secret()
    if not secret and NO_SECRET_NOTE not in staff_notes:
        staff_notes.append(NO_SECRET_NOTE)
    return content_seed(((submission.root / name).read_bytes() for name in SUBMISSION_FILES), secret)


@pytest.fixture
def case_rng(request, submission_seed) -> torch.Generator:
    """A generator seeded by the submission and the test's name."""
    test_digest = hashlib.sha256(request.node.name.encode()).digest()
    seed = submission_seed ^ int.from_bytes(test_digest[:4], "little")
    return torch.Generator().manual_seed(seed)


class StudentCalls:
    """`student("iou", a, b)`: call a student function in the sandbox."""

    def __init__(self, sandbox):
        self._sandbox = sandbox

    def __call__(self, name: str, *args, **kwargs):
        return self._sandbox.call(
            "definitions.call", name=name, args=list(args), kwargs=kwargs
        )["value"]

    def with_inputs(self, name: str, *args, **kwargs):
        """(value, args as they are after the call): for mutation checks."""
        reply = self._sandbox.call(
            "definitions.call", name=name, args=list(args), kwargs=kwargs, return_inputs=True
        )
        return reply["value"], reply["inputs_after"]


@pytest.fixture(scope="session")
def student(sandbox) -> StudentCalls:
    return StudentCalls(sandbox)
