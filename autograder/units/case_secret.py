"""The staff secret that, with a submission's content, seeds the submission's grading cases.

Every graded test draws fresh random cases from ``case_rng`` (grading_fixtures.py).
Their seed must be

* unpredictable to students: the graded tests' code cannot be assumed secret
  (bundles leak, the cases' construction is the same every term), so the seed
  mixes in a secret only staff hold: ``HMAC-SHA256(secret, content)``;
* identical on every re-grade of the same submission: the secret is fixed for
  a course offering (the Gradescope bundle carries one, see
  ``data_scripts/gradescope_bundle.py``) and read from ``AUTOGRADER_CASE_SECRET``.

Workers never see the secret: their environment is built from nothing
(``sandbox._zygote_environment``).  Without a secret the seed depends on the
content alone (staff's own runs, tests), and the staff notes say so.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable

CASE_SECRET_VARIABLE = "AUTOGRADER_CASE_SECRET"
SEED_BYTES = 4  # torch.Generator seeds are 64-bit; 32 bits of case variety are plenty
NO_SECRET_NOTE = (f"cases: no {CASE_SECRET_VARIABLE}: this submission's cases follow from its content alone, "
                  "so anyone with the grader's code can predict them (set it for real grading)")


def case_secret() -> bytes:
    """The staff secret from the environment, or b"" when none is set."""
    return os.environ.get(CASE_SECRET_VARIABLE, "").encode()


def content_seed(contents: Iterable[bytes], secret: bytes) -> int:
    """A 32-bit seed from the submission files' contents (in a fixed order) and the staff secret."""
    digest = hmac.new(secret, digestmod=hashlib.sha256) if secret else hashlib.sha256()
    for content in contents:
        if secret:  # length-prefixed: moving bytes from one file to the next changes the seed
            digest.update(len(content).to_bytes(8, "little"))
        digest.update(content)
    return int.from_bytes(digest.digest()[:SEED_BYTES], "little")
