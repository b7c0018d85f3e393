"""The class gradebook: one CSV row per submission, one column per graded test.

Columns: ``submission`` (student id), then ``name``, ``sid``, ``email`` when
some submission names its submitters (a Gradescope export; a group's
joined with ``; ``), ``score``, ``max_score``, ``status``
(``graded``, ``timeout``, ``grader-failed``, or ``not-graded`` when no
committed grading exists), then one column per test name, each cell that
test's score (empty when the submission's results do not have that test).

Deterministic for the same results: rows sorted by student id; test columns
in the order of the fullest results document (most tests; ties broken by
student id), then the names it lacks as they first appear in the other
documents, taken from fullest to emptiest.  A
test name repeated within one document gets `` #2``, `` #3``, ... .  A
document without tests (a time-out, a grader failure) has no maximum of its
own: its ``max_score`` is the largest one in the gradebook.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from autograder.results.output_files import STAFF_ONLY_MODE, write_text_atomically
from autograder.batch.records import read_grading
from autograder.results.document import SCORE_DECIMALS

GRADEBOOK_FILE = "gradebook.csv"
FIXED_COLUMNS = ("submission", "score", "max_score", "status")
IDENTITY_COLUMNS = ("name", "sid", "email")  # after "submission", when some entry has submitters
GROUP_SEPARATOR = "; "
NOT_GRADED = "not-graded"


@dataclass(frozen=True)
class GradebookEntry:
    """One submission: its id, how its grading ended, its results document (None if none)."""

    submission_id: str
    status: str
    results: dict | None
    students: tuple[dict, ...] = ()  # Student.to_json() of each submitter


def gradebook_rows(entries: list[GradebookEntry]) -> list[list[str]]:
    """Header row, then one row per entry, sorted by student id."""
    entries = sorted(entries, key=lambda entry: entry.submission_id)
    scores = {entry.submission_id: _test_scores(entry.results) for entry in entries}
    test_columns = _test_columns(entries, scores)
    maxima = {entry.submission_id: _max_score(entry.results) for entry in entries}
    course_max = max((value for value in maxima.values() if value is not None), default=None)
    identity = any(entry.students for entry in entries)
    fixed = list(FIXED_COLUMNS)
    rows = [fixed[:1] + (list(IDENTITY_COLUMNS) if identity else []) + fixed[1:] + test_columns]
    for entry in entries:
        results = entry.results or {}
        max_score = maxima[entry.submission_id]
        max_score = course_max if max_score is None else max_score
        row = [entry.submission_id]
        row += [GROUP_SEPARATOR.join(str(student.get(key, "")) for student in entry.students)
                for key in IDENTITY_COLUMNS] if identity else []
        row += [
            format_score(results["score"]) if "score" in results else "",
            "" if max_score is None else format_score(max_score),
            entry.status,
        ]
        row += [format_score(scores[entry.submission_id][name]) if name in scores[entry.submission_id] else ""
                for name in test_columns]
        rows.append(row)
    return rows


def gradebook_csv(entries: list[GradebookEntry]) -> str:
    """The gradebook as CSV text (``\\n`` line endings)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(gradebook_rows(entries))
    return buffer.getvalue()


def write_gradebook(path: Path, entries: list[GradebookEntry]) -> None:
    """Write the CSV atomically (a reader never sees half of it)."""
    write_text_atomically(path, gradebook_csv(entries), STAFF_ONLY_MODE)


def write_class_gradebook(out: Path, submission_ids: list[str]) -> list[GradebookEntry]:
    """``out/gradebook.csv`` from the committed gradings ``out/<id>/`` (``NOT_GRADED`` where none); the entries."""
    entries = []
    for key in submission_ids:
        stored = read_grading(Path(out) / key)
        entries.append(GradebookEntry(key, stored.record.status, stored.results, stored.record.students) if stored
                       else GradebookEntry(key, NOT_GRADED, None))
    write_gradebook(Path(out) / GRADEBOOK_FILE, entries)
    return entries


def format_score(value: float) -> str:
    """``91.0`` → ``91``, ``1/3`` → ``0.3333``: at most ``SCORE_DECIMALS`` decimals, no trailing zeros."""
    text = f"{round(float(value), SCORE_DECIMALS):.{SCORE_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _test_scores(results: dict | None) -> dict[str, float]:
    """Test name (made unique) → score, in the document's order."""
    scores: dict[str, float] = {}
    for test in (results or {}).get("tests", []):
        name = test.get("name", "(unnamed test)")
        unique, copy = name, 1
        while unique in scores:
            copy += 1
            unique = f"{name} #{copy}"
        scores[unique] = test.get("score", 0.0)
    return scores


def _test_columns(entries: list[GradebookEntry], scores: dict[str, dict[str, float]]) -> list[str]:
    fullest_first = sorted(entries, key=lambda entry: (-len(scores[entry.submission_id]), entry.submission_id))
    columns: dict[str, None] = {}
    for entry in fullest_first:
        columns.update(dict.fromkeys(name for name in scores[entry.submission_id] if name not in columns))
    return list(columns)


def _max_score(results: dict | None) -> float | None:
    tests = (results or {}).get("tests", [])
    if not tests:
        return None
    return sum(test.get("max_score", 0.0) for test in tests)
