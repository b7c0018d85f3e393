"""The submissions of a batch: every entry of one directory, named by student id.

Each entry is one student's upload, as the grade command accepts it: a
folder, an ``.ipynb`` or a ``.zip``.  The student id is the entry's name
without the ``.zip``/``.ipynb`` suffix (``alice.zip`` → ``alice``).  Any
other file is still a submission (the grader scores it 0 and says which
formats it accepts).  Hidden entries (``.DS_Store``, ``.git``) and
``__MACOSX`` are not submissions.  Two entries with the same id are an
error: which one to grade is the staff's decision, not the batch's.

``upload_fingerprint`` identifies an upload's content, so that a resumed
batch regrades a submission whose upload was replaced since.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from autograder.intake.submission_metadata import Student

ID_SUFFIXES = (".zip", ".ipynb")
IGNORED_NAMES = frozenset({"__MACOSX"})
HASH_CHUNK_BYTES = 1 << 20


class BatchInputError(ValueError):
    """The submissions directory cannot be graded as it is; the message says why."""


@dataclass(frozen=True)
class BatchSubmission:
    """One upload, the id it is filed under, and its submitters when the input names them (an export)."""

    id: str
    path: Path
    students: tuple[Student, ...] = ()


def submission_id(name: str) -> str:
    """``alice.zip`` → ``alice``; names without a known suffix are kept whole."""
    for suffix in ID_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def find_submissions(directory: Path, *, exclude: tuple[Path, ...] = ()) -> list[BatchSubmission]:
    """The submissions in ``directory``, sorted by id; ``exclude`` (e.g. the output folder) is skipped.

    Raises ``BatchInputError`` when ``directory`` is not a readable folder or
    two entries share an id.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise BatchInputError(f"submissions directory {directory}: not a directory")
    excluded = {path.resolve() for path in exclude}
    try:
        names = sorted(os.listdir(directory))
    except OSError as error:
        raise BatchInputError(f"submissions directory {directory}: cannot be listed: {error}") from None
    by_id: dict[str, list[str]] = {}
    for name in names:
        if name.startswith(".") or name in IGNORED_NAMES or (directory / name).resolve() in excluded:
            continue
        by_id.setdefault(submission_id(name), []).append(name)
    clashes = [f"{key!r}: {', '.join(entries)}" for key, entries in by_id.items() if len(entries) > 1]
    if clashes:
        raise BatchInputError(f"submissions directory {directory}: several entries for one student id "
                              f"(keep one each): {'; '.join(clashes)}")
    return [BatchSubmission(key, directory / entries[0]) for key, entries in sorted(by_id.items())]


def upload_fingerprint(path: Path) -> str:
    """SHA-256 over an upload's files: relative paths and contents (links by target, special files by type)."""
    digest = hashlib.sha256()
    path = Path(path).resolve()
    if path.is_dir():
        for folder, subfolders, files in os.walk(path):
            subfolders.sort()
            for name in sorted(files):
                _hash_file(digest, Path(folder) / name, os.path.relpath(os.path.join(folder, name), path))
    else:
        _hash_file(digest, path, path.name)
    return digest.hexdigest()


def _hash_file(digest, path: Path, relative: str) -> None:
    digest.update(relative.encode("utf-8", "surrogateescape") + b"\0")
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        digest.update(b"link:" + os.readlink(path).encode("utf-8", "surrogateescape") + b"\0")
        return
    if not stat.S_ISREG(mode):  # a FIFO or device: never opened (reading a FIFO blocks)
        digest.update(f"special:{stat.S_IFMT(mode)}".encode() + b"\0")
        return
    with open(path, "rb") as stream:
        while chunk := stream.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    digest.update(b"\0")
