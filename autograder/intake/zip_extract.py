"""Extract an uploaded .zip without trusting it.

Rejected: paths that are absolute or climb out (``..``), symbolic links,
encrypted entries, more than ``MAX_ENTRIES`` entries, and archives that
inflate beyond ``MAX_TOTAL_BYTES`` (counted while extracting, so lying size
fields do not help a zip bomb).  Operating-system clutter (``__MACOSX/``,
``.DS_Store``, ``__pycache__``, notebook checkpoints) is skipped.
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from autograder.errors import SubmissionFormatError
from autograder.untrusted_text import one_line

MAX_ENTRIES = 500
MAX_TOTAL_BYTES = 100 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024
IGNORED_PARTS = frozenset({"__MACOSX", ".DS_Store", "__pycache__", ".ipynb_checkpoints", ".git"})


def extract_zip(archive: Path, destination: Path, *, max_entries: int | None = None,
                max_total_bytes: int | None = None) -> None:
    """Extract ``archive`` into the (empty) directory ``destination`` (limits: one upload's, by default)."""
    max_entries = MAX_ENTRIES if max_entries is None else max_entries  # read at call time, not at import
    max_total_bytes = MAX_TOTAL_BYTES if max_total_bytes is None else max_total_bytes
    try:
        with zipfile.ZipFile(archive) as bundle:
            entries = bundle.infolist()
            if len(entries) > max_entries:
                raise SubmissionFormatError(f"{one_line(archive.name)} has {len(entries)} entries; at most {max_entries} are allowed.")
            budget = [max_total_bytes, max_total_bytes]
            for entry in entries:
                relative = _safe_relative_path(entry, one_line(archive.name))
                if relative is None:
                    continue
                target = destination.joinpath(*relative.parts)
                if entry.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    _extract_file(bundle, entry, target, budget, one_line(archive.name))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError, zlib.error, OSError) as error:
        raise SubmissionFormatError(f"{one_line(archive.name)} is not a valid zip file ({one_line(error, 300)}).") from None


def _safe_relative_path(entry: zipfile.ZipInfo, archive_name: str) -> PurePosixPath | None:
    """The entry's path inside the archive, ``None`` for clutter; raise if unsafe."""
    name = entry.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise SubmissionFormatError(f"{archive_name} contains the unsafe path {one_line(entry.filename)!r}.")
    if stat.S_ISLNK(entry.external_attr >> 16):
        raise SubmissionFormatError(f"{archive_name} contains a symbolic link ({one_line(entry.filename)}); include real files.")
    if entry.flag_bits & 0x1:
        raise SubmissionFormatError(f"{archive_name} is encrypted ({one_line(entry.filename)}); upload an unencrypted zip.")
    parts = [part for part in path.parts if part not in ("", ".")]
    if not parts or any(part in IGNORED_PARTS or part.startswith("._") for part in parts):
        return None
    return PurePosixPath(*parts)


def _extract_file(bundle: zipfile.ZipFile, entry: zipfile.ZipInfo, target: Path, budget: list[int], archive_name: str) -> None:
    """Copy one entry; ``budget``: [bytes left, the limit]."""
    with bundle.open(entry) as source, open(target, "wb") as sink:
        while chunk := source.read(CHUNK_BYTES):
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise SubmissionFormatError(
                    f"{archive_name} inflates to more than {budget[1] // 2**20} MiB; submit only your code."
                )
            sink.write(chunk)
