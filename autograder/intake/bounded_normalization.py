"""Upload normalisation (unzipping, notebook export) in a child process with time and memory limits.

``submission.normalize_submission`` parses untrusted input in trusted code,
and a crafted upload can make that work grow far faster than its size (one
notebook assignment of 60,000 names kept the exporter busy for hours).  So
the grader runs it in a fresh Python process (``python -m
autograder.intake.bounded_normalization UPLOAD WORKDIR``, no student code runs there)
with ``RLIMIT_AS``, ``RLIMIT_CPU`` and a wall-clock limit; an upload that
exceeds them is refused with a ``SubmissionFormatError`` that says so.  The
child prints one JSON line: the normalised submission, or the format error.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import autograder
from autograder.errors import SandboxError, SubmissionFormatError
from autograder.intake.submission import NormalizedSubmission, normalize_submission

WALL_LIMIT_S = 60.0  # the course's largest real notebook exports in well under a second
CPU_LIMIT_S = 60
MEMORY_LIMIT_MB = 2048
LIMIT_SIGNALS = (signal.SIGKILL, signal.SIGXCPU)
TOO_COSTLY = ("Preparing the submission (unzipping it, exporting the notebook's code) needed more than the "
              f"{WALL_LIMIT_S:g} s or {MEMORY_LIMIT_MB} MiB the grader allows, so it was not graded. Submit the "
              "notebook with its outputs cleared, or the two .py files.")


def normalize_upload(upload: Path, workdir: Path) -> NormalizedSubmission:
    """``normalize_submission(upload, workdir)``, run in a child process within the limits above.

    Raises ``SubmissionFormatError`` for an unusable or too costly upload and
    ``SandboxError`` when the child fails for another reason (a grader bug).
    """
    package_parent = str(Path(autograder.__file__).resolve().parent.parent)
    environment = os.environ | {"PYTHONPATH": os.pathsep.join(
        [package_parent] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    try:
        completed = subprocess.run(
            [sys.executable, "-s", "-m", "autograder.intake.bounded_normalization", str(upload), str(workdir)],
            capture_output=True, text=True, timeout=WALL_LIMIT_S, env=environment, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:  # the child has been killed
        raise SubmissionFormatError(TOO_COSTLY) from None
    if -completed.returncode in LIMIT_SIGNALS:
        raise SubmissionFormatError(TOO_COSTLY)
    try:
        reply = json.loads(completed.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise SandboxError(f"normalising the upload failed (exit status {completed.returncode}): "
                           f"{completed.stderr[-2000:]}") from None
    if "error" in reply:
        raise SubmissionFormatError(reply["error"])
    value = reply["ok"]
    return NormalizedSubmission(Path(value["root"]), value["description"], tuple(value["notes"]),
                                Path(value["notebook"]) if value["notebook"] else None)


def _apply_limits() -> None:
    """In the child, before it reads the upload: bounded memory and CPU time."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_MB * 2**20,) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT_S, CPU_LIMIT_S + 1))


def main(argv: list[str]) -> None:
    upload, workdir = Path(argv[1]), Path(argv[2])
    _apply_limits()
    try:
        submission = normalize_submission(upload, workdir)
    except SubmissionFormatError as error:
        reply = {"error": str(error)}
    except (MemoryError, RecursionError):
        reply = {"error": TOO_COSTLY}
    else:
        reply = {"ok": {"root": str(submission.root), "description": submission.description,
                        "notes": list(submission.notes),
                        "notebook": str(submission.notebook) if submission.notebook else None}}
    print(json.dumps(reply))


if __name__ == "__main__":
    main(sys.argv)
