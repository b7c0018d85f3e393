"""What batch grading keeps per submission, and when a submission counts as done.

``OUT/<id>/`` holds

* ``results.json`` — Gradescope's document; written last and atomically, so
  its presence (and validity) is the commit point of a grading;
* ``grading.json`` — how the grading ended: ``status`` (``STATUSES``), the
  grade command's exit status, wall seconds, the upload graded and its
  fingerprint, and the submitters when the input named them;
* ``grading.log`` — everything the grade command printed.

A grading starts by deleting ``results.json``: an interrupted batch leaves
no half-written or stale file that looks complete.  A submission is *done*
when ``results.json`` is valid and ``grading.json`` records a final status;
a grader failure is not final (resuming retries it), a time-out is (resuming
would only hang again; ``--regrade`` retries everything).  A submission whose
upload changed since (another fingerprint) is not done either.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from autograder.results.output_files import write_json_atomically
from autograder.results.schema import RESULTS_FILE, ResultsSchemaError, is_valid_results_file, load_results

RECORD_FILE = "grading.json"
LOG_FILE = "grading.log"
STAGING_DIR = ".grading"  # the grade command's --out; its results.json is moved up when complete

GRADED = "graded"  # the grade command completed; the score is the grader's
TIMEOUT = "timeout"  # killed at the per-submission time limit; score 0
GRADER_FAILED = "grader-failed"  # the grader itself failed; staff must look
STATUSES = (GRADED, TIMEOUT, GRADER_FAILED)
FINAL_STATUSES = (GRADED, TIMEOUT)


@dataclass(frozen=True)
class GradingRecord:
    """How one submission's grading ended (``grading.json``)."""

    submission: str  # the upload's file name
    upload_sha256: str  # batch_submissions.upload_fingerprint when grading started
    status: str
    exit_status: int | None  # of the grade command; None when it was killed
    wall_s: float
    message: str = ""  # for staff: why it is not GRADED
    students: tuple[dict, ...] = ()  # submitters (Student.to_json()) when the input named them


@dataclass(frozen=True)
class StoredGrading:
    """A committed grading: its record and its results document."""

    record: GradingRecord
    results: dict


def start_grading(directory: Path) -> None:
    """Create ``directory`` (private) and drop any earlier commit point."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    (directory / RESULTS_FILE).unlink(missing_ok=True)


def commit_grading(directory: Path, record: GradingRecord, results_source: Path | None, fallback: dict) -> None:
    """Write the record, then ``results.json``: moved from ``results_source`` if it is valid, else ``fallback``."""
    write_json_atomically(directory / RECORD_FILE, asdict(record))
    target = directory / RESULTS_FILE
    if results_source is not None and is_valid_results_file(results_source):
        os.replace(results_source, target)
    else:
        write_json_atomically(target, fallback)


def read_grading(directory: Path) -> StoredGrading | None:
    """The committed grading in ``directory``; None when there is none, or it is incomplete or invalid."""
    try:
        results = load_results(directory / RESULTS_FILE)
        fields = json.loads((directory / RECORD_FILE).read_text(encoding="utf-8"))
        record = GradingRecord(**{**fields, "students": tuple(fields.get("students", ()))})
    except (ResultsSchemaError, OSError, ValueError, TypeError):
        return None
    if record.status not in STATUSES:
        return None
    return StoredGrading(record, results)


def is_done(directory: Path, upload_sha256: str) -> bool:
    """Whether resuming a batch may skip this submission: final status, same upload."""
    stored = read_grading(directory)
    return (stored is not None and stored.record.status in FINAL_STATUSES
            and stored.record.upload_sha256 == upload_sha256)



