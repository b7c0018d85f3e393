"""The grader's outputs: private folders, and files written whole or not at all.

* Output folders (``grade --out``, batch, merge, similarity) hold students'
  results: created private to staff (0700), made so when they already exist.
* A grader killed mid-write (time limit, OOM) must not leave half a file that
  a reader (Gradescope, a resumed batch, a TA's spreadsheet) would take as
  complete: results.json, batch records and the gradebook are written to a
  temporary file in the same folder, flushed, then ``os.replace``d over the
  target in one step.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

PUBLIC_MODE = 0o644  # results.json: Gradescope's harness reads it as another user
STAFF_ONLY_MODE = 0o600  # students' grades
PRIVATE_FOLDER_MODE = 0o700


def make_private_folder(path: Path) -> Path:
    """Create ``path`` (and parents) private to this user; an existing one of ours is made private."""
    path = Path(path)
    path.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
    if path.stat().st_uid == os.geteuid():
        path.chmod(PRIVATE_FOLDER_MODE)
    return path


def write_text_atomically(path: Path, text: str, mode: int = PUBLIC_MODE) -> None:
    """Write ``text`` (UTF-8) to ``path`` (parents created) with permissions ``mode``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json_atomically(path: Path, document, mode: int = PUBLIC_MODE) -> None:
    """``document`` as indented JSON (non-ASCII kept), newline-terminated."""
    write_text_atomically(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n", mode)
