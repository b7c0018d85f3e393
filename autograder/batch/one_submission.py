"""Grade one submission of a batch: the grade command in a subprocess, under a time cap.

The command is exactly what staff would type, ``python -m autograder grade
UPLOAD --out OUT/<id>/.grading``, run from this package's folder, with the
submissions and output folders protected from student code (``--protect``:
other students' uploads and results).  It gets its own session and its own
sandbox.  At the cap, the whole process tree is frozen and killed
(``sandbox/tree_kill.py``); the submission is recorded as ``TIMEOUT`` with a
student-facing message and score 0.  See ``batch_records`` for what is
written and when it counts as done.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import autograder
from autograder.batch.records import (
    GRADED,
    GRADER_FAILED,
    LOG_FILE,
    RESULTS_FILE,
    STAGING_DIR,
    TIMEOUT,
    GradingRecord,
    commit_grading,
    start_grading,
)
from autograder.batch.submissions import BatchSubmission
from autograder.sandbox.tree_kill import kill_tree
from autograder.results.document import results_document
from autograder.results.schema import is_valid_results_file

PACKAGE_PARENT = Path(autograder.__file__).resolve().parent.parent
POLL_S = 0.25  # how often a running grading checks for an interrupt
UNBUFFERED = {"PYTHONUNBUFFERED": "1"}  # grading.log keeps everything printed before a kill

TIMEOUT_FEEDBACK = (
    "Grading was stopped after {limit:g} s, the time limit for one submission, so this submission scores 0. "
    "Look for code that never finishes (an endless loop, waiting for input) or that is far slower than it "
    "should be."
)
GRADER_FAILED_FEEDBACK = (
    "The autograder itself failed on this submission; this is not your fault. The course staff will look "
    "into it and grade it again."
)


class GradingInterrupted(Exception):
    """The batch was interrupted while this submission was being graded (nothing was committed)."""


@dataclass(frozen=True)
class GradingJob:
    """One submission to grade and how."""

    submission: BatchSubmission
    upload_sha256: str  # its fingerprint, recorded to detect a replaced upload on resume
    out_dir: Path  # OUT/<id>
    timeout_s: float
    units_only: bool = False
    protect: tuple[Path, ...] = ()


def grade_command(job: GradingJob) -> list[str]:
    """The grade command line for ``job`` (run with ``cwd=PACKAGE_PARENT``)."""
    command = [sys.executable, "-m", "autograder", "grade", str(job.submission.path.resolve()),
               "--out", str(job.out_dir / STAGING_DIR)]
    command += ["--units-only"] if job.units_only else []
    for path in job.protect:
        command += ["--protect", str(path)]
    return command


def grade_one(job: GradingJob, stop: threading.Event) -> GradingRecord:
    """Grade ``job`` and commit its results; raise ``GradingInterrupted`` once ``stop`` is set."""
    start_grading(job.out_dir)
    staging = job.out_dir / STAGING_DIR
    shutil.rmtree(staging, ignore_errors=True)
    started = time.monotonic()
    try:
        exit_status = _run(job, started + job.timeout_s, stop)
    except GradingInterrupted:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    wall_s = round(time.monotonic() - started, 2)
    record, fallback = _outcome(job, exit_status, wall_s, staging / RESULTS_FILE)
    commit_grading(job.out_dir, record, staging / RESULTS_FILE if record.status != TIMEOUT else None, fallback)
    shutil.rmtree(staging, ignore_errors=True)
    return record


def _run(job: GradingJob, deadline: float, stop: threading.Event) -> int | None:
    """Run the grade command, output to ``grading.log``; its exit status, or None when killed at ``deadline``."""
    with open(job.out_dir / LOG_FILE, "wb") as log:
        process = subprocess.Popen(
            grade_command(job), cwd=PACKAGE_PARENT, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True, env=os.environ | UNBUFFERED,
        )
        try:
            return _wait(process, deadline, stop)
        finally:
            if process.returncode is None:
                kill_tree(process.pid)
                process.wait()


def _wait(process: subprocess.Popen, deadline: float, stop: threading.Event) -> int | None:
    """The exit status, or None at ``deadline`` (the process is left running)."""
    while True:
        if stop.is_set():
            raise GradingInterrupted
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            return process.wait(timeout=min(POLL_S, remaining))
        except subprocess.TimeoutExpired:
            continue


def _outcome(job: GradingJob, exit_status: int | None, wall_s: float, results: Path) -> tuple[GradingRecord, dict]:
    """The record, and the results document to use when the grader left no valid one."""
    def record(status: str, message: str = "") -> GradingRecord:
        return GradingRecord(submission=job.submission.path.name, upload_sha256=job.upload_sha256, status=status,
                             exit_status=exit_status, wall_s=wall_s, message=message,
                             students=tuple(student.to_json() for student in job.submission.students))

    if exit_status is None:
        feedback = TIMEOUT_FEEDBACK.format(limit=job.timeout_s)
        return record(TIMEOUT, f"killed at the {job.timeout_s:g} s limit"), results_document([], feedback, wall_s)
    fallback = results_document([], GRADER_FAILED_FEEDBACK, wall_s)
    if exit_status == 0 and is_valid_results_file(results):
        return record(GRADED), fallback
    if exit_status < 0:
        cause = f"the grade command was killed by signal {-exit_status} (out of memory?)"
    elif exit_status == 0:
        cause = "the grade command exited 0 without a valid results.json"
    else:
        cause = f"the grade command exited with status {exit_status}"
    return record(GRADER_FAILED, f"{cause}; see {LOG_FILE}"), fallback
