"""Gradescope's ``submission_metadata.json``: when a submission was made, by whom, and what came before.

Layout (https://gradescope-autograders.readthedocs.io/en/latest/submission_metadata/)::

    {"id": 123456, "created_at": "2018-07-01T14:22:32.365935-07:00",
     "assignment": {"due_date": "...", "late_due_date": null, ...},
     "users": [{"email": "...", "id": 1234, "name": "...", "sid": "..."}, ...],
     "previous_submissions": [{"submission_time": "...", "score": 0.0, "results": {...}}, ...]}

A user may carry its own ``assignment`` (an extension): the latest due date
of a submission's users is the one that counts.  Everything else in the
file is ignored.  Missing or malformed fields the policy needs are a
``MetadataError`` naming the file and the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


class MetadataError(ValueError):
    """The metadata cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Student:
    """One submitter, as Gradescope lists them (fields absent in the metadata are empty)."""

    name: str = ""
    email: str = ""
    sid: str = ""
    id: str = ""

    def to_json(self) -> dict:
        return {"name": self.name, "email": self.email, "sid": self.sid, "id": self.id}


@dataclass(frozen=True)
class PreviousSubmission:
    time: datetime
    score: float
    results: dict


@dataclass(frozen=True)
class SubmissionMetadata:
    submission_id: str
    created_at: datetime
    due_date: datetime | None
    students: tuple[Student, ...]
    previous: tuple[PreviousSubmission, ...]  # oldest first


def load_metadata(path: Path) -> SubmissionMetadata:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise MetadataError(f"{path}: cannot be read: {error.strerror or error}") from None
    except ValueError as error:
        raise MetadataError(f"{path}: not valid JSON: {error}") from None
    return parse_metadata(document, str(path))


def parse_metadata(document: object, source: str) -> SubmissionMetadata:
    if not isinstance(document, dict):
        raise MetadataError(f"{source}: must be a JSON object")
    users = document.get("users") or []
    if not isinstance(users, list) or not all(isinstance(user, dict) for user in users):
        raise MetadataError(f"{source}: users: must be a list of objects")
    assignment = document.get("assignment") or {}
    if not isinstance(assignment, dict):
        raise MetadataError(f"{source}: assignment: must be an object")
    due_dates = [parse_time(assignment.get("due_date"), f"{source}: assignment.due_date", optional=True)]
    for index, user in enumerate(users):
        own = user.get("assignment")
        if isinstance(own, dict):
            due_dates.append(parse_time(own.get("due_date"), f"{source}: users[{index}].assignment.due_date",
                                        optional=True))
    due_dates = [date for date in due_dates if date is not None]
    previous = document.get("previous_submissions") or []
    if not isinstance(previous, list):
        raise MetadataError(f"{source}: previous_submissions: must be a list")
    return SubmissionMetadata(
        submission_id=str(document.get("id", "")),
        created_at=parse_time(document.get("created_at"), f"{source}: created_at"),
        due_date=max(due_dates) if due_dates else None,
        students=tuple(student_from(user) for user in users),
        previous=tuple(sorted((_previous(item, f"{source}: previous_submissions[{index}]")
                               for index, item in enumerate(previous)), key=lambda item: item.time)),
    )


def student_from(user: dict) -> Student:
    """A submitter from Gradescope's ``users`` entry (or an export's submitter, keys without colons)."""
    def text(key: str) -> str:
        value = user.get(key)
        return "" if value is None else str(value)

    return Student(name=text("name"), email=text("email"), sid=text("sid"), id=text("id"))


def parse_time(value: object, where: str, optional: bool = False) -> datetime | None:
    """An ISO 8601 time with its UTC offset (Gradescope's form)."""
    if value is None and optional:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise MetadataError(f"{where}: expected a time with its UTC offset like 2018-07-01T14:22:32-07:00, "
                            f"got {value!r}")
    return parsed


def _previous(item: object, where: str) -> PreviousSubmission:
    if not isinstance(item, dict):
        raise MetadataError(f"{where}: must be an object")
    score = item.get("score") or 0.0
    try:
        score = float(score)
    except (TypeError, ValueError):
        raise MetadataError(f"{where}.score: must be a number, got {score!r}") from None
    results = item.get("results") if isinstance(item.get("results"), dict) else {}
    return PreviousSubmission(parse_time(item.get("submission_time"), f"{where}.submission_time"), score, results)
