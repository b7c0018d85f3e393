"""Turn whatever a student uploaded into one folder holding exactly the two files.

Accepted: a folder with ``common.py`` and ``two_stage_detector.py`` (names are
case-exact), one ``.ipynb`` notebook (see ``notebook_export``), or a ``.zip``
of either (see ``zip_extract``).  Inside a folder or zip the files may sit in
subfolders (``a5/common.py``); the shallowest folder holding both wins.  If
there is no such pair, a single notebook is used (``two_stage_detector.ipynb``
is preferred among several).  Every failure is a ``SubmissionFormatError``
whose message says what was expected and what was found.
"""

from __future__ import annotations

import difflib
import shutil
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import SubmissionFormatError
from autograder.submission_layout import DETECTOR_MODULE, MAX_SOURCE_BYTES, SUBMISSION_FILES
from autograder.intake.notebook_export import export_notebook
from autograder.untrusted_text import one_line
from autograder.intake.zip_extract import IGNORED_PARTS, extract_zip

MAX_SEARCH_DEPTH = 4
MAX_FILES_LISTED = 15
PREFERRED_NOTEBOOK = f"{DETECTOR_MODULE}.ipynb"


@dataclass(frozen=True)
class NormalizedSubmission:
    """A folder with exactly ``common.py`` and ``two_stage_detector.py``."""

    root: Path
    description: str  # what was graded, for the results' top-level output
    notes: tuple[str, ...] = ()
    notebook: Path | None = None  # the uploaded notebook (None for .py files); the notebook stage runs it


def normalize_submission(upload: Path, workdir: Path) -> NormalizedSubmission:
    """Normalise ``upload`` into ``workdir/submission`` (``workdir`` must exist and be private)."""
    upload = Path(upload)
    target = workdir / "submission"
    target.mkdir()
    if upload.is_symlink() or not upload.exists():
        raise SubmissionFormatError(f"No submission found at {one_line(upload.name)!r}.")
    if upload.is_dir():
        return _from_folder(upload, target, "folder")
    suffix = upload.suffix.lower()
    if suffix == ".zip":
        extracted = workdir / "extracted"
        extracted.mkdir()
        extract_zip(upload, extracted)
        return _from_folder(extracted, target, f"zip file {one_line(upload.name)}")
    if suffix == ".ipynb":
        return _from_notebook(upload, target, f"notebook {one_line(upload.name)}")
    raise SubmissionFormatError(
        f"Cannot grade {one_line(upload.name)!r}: submit common.py and two_stage_detector.py, one .ipynb notebook, "
        "or a .zip of either."
    )


def _from_folder(folder: Path, target: Path, origin: str) -> NormalizedSubmission:
    files = _visible_files(folder)
    pairs = sorted(
        {path.parent for path in files if path.name == SUBMISSION_FILES[0]}
        & {path.parent for path in files if path.name == SUBMISSION_FILES[1]},
        key=lambda parent: (len(parent.relative_to(folder).parts), str(parent)),
    )
    if pairs:
        depth = len(pairs[0].relative_to(folder).parts)
        tied = [p for p in pairs if len(p.relative_to(folder).parts) == depth]
        if len(tied) > 1:
            listed = ", ".join(f"{one_line(p.relative_to(folder))}/" for p in tied)
            raise SubmissionFormatError(f"Several folders hold {SUBMISSION_FILES[0]} and {SUBMISSION_FILES[1]} "
                                        f"({listed}); submit only one.")
        for name in SUBMISSION_FILES:
            _copy_source(pairs[0] / name, target / name)
        where = pairs[0].relative_to(folder)
        inside = f" (folder {one_line(where)}/)" if where.parts else ""
        return NormalizedSubmission(target, f"{origin}{inside}: {', '.join(SUBMISSION_FILES)}")
    notebooks = [path for path in files if path.suffix.lower() == ".ipynb"]
    preferred = [path for path in notebooks if path.name.lower() == PREFERRED_NOTEBOOK]
    if len(notebooks) == 1 or len(preferred) == 1:
        notebook = (preferred or notebooks)[0]
        return _from_notebook(notebook, target, f"{origin}: notebook {one_line(notebook.relative_to(folder))}")
    if notebooks:
        listed = ", ".join(one_line(path.relative_to(folder)) for path in notebooks[:MAX_FILES_LISTED])
        raise SubmissionFormatError(f"Found several notebooks ({listed}) and no {SUBMISSION_FILES[0]} + "
                                    f"{SUBMISSION_FILES[1]}; submit one notebook named {PREFERRED_NOTEBOOK}.")
    raise SubmissionFormatError(_nothing_found_message(files, folder))


def _from_notebook(notebook: Path, target: Path, description: str) -> NormalizedSubmission:
    if notebook.stat().st_size > 64 * MAX_SOURCE_BYTES:
        raise SubmissionFormatError(f"{one_line(notebook.name)} is too large; clear its outputs and submit again.")
    exported = export_notebook(notebook)
    for name, source in exported.files.items():
        (target / name).write_text(source)
    names = [name for module_names in exported.exported.values() for name in module_names]
    summary = f"{description} (exported: {', '.join(sorted(names)) or 'nothing'})"
    return NormalizedSubmission(target, summary, exported.notes, notebook)


def _visible_files(folder: Path) -> list[Path]:
    """Regular files up to ``MAX_SEARCH_DEPTH`` deep, clutter skipped, links not followed."""
    found, pending = [], [(folder, 0)]
    while pending:
        directory, depth = pending.pop()
        for entry in sorted(directory.iterdir()):
            if entry.name in IGNORED_PARTS or entry.name.startswith("._") or entry.is_symlink():
                continue
            if entry.is_dir() and depth < MAX_SEARCH_DEPTH:
                pending.append((entry, depth + 1))
            elif entry.is_file():
                found.append(entry)
    return sorted(found)


def _copy_source(source: Path, destination: Path) -> None:
    if source.stat().st_size > MAX_SOURCE_BYTES:
        raise SubmissionFormatError(f"{source.name} is larger than {MAX_SOURCE_BYTES // 2**20} MiB.")
    shutil.copyfile(source, destination, follow_symlinks=False)


def _nothing_found_message(files: list[Path], folder: Path) -> str:
    names = [one_line(path.relative_to(folder)) for path in files]
    message = (f"No submission found: expected {SUBMISSION_FILES[0]} and {SUBMISSION_FILES[1]} "
               "(or one .ipynb notebook).")
    present = {path.name for path in files}
    missing = [name for name in SUBMISSION_FILES if name not in present]
    if len(missing) == 1:
        message += f" Found {SUBMISSION_FILES[1 - SUBMISSION_FILES.index(missing[0])]} but not {missing[0]}."
    if not missing:
        message += f" {SUBMISSION_FILES[0]} and {SUBMISSION_FILES[1]} must be in the same folder."
    for expected in missing:
        lookalikes = {path.name for path in files if path.name.lower() == expected.lower()}
        lookalikes |= set(difflib.get_close_matches(expected, sorted(present), n=3, cutoff=0.6))
        if lookalikes:
            message += f" Rename {', '.join(one_line(name) for name in sorted(lookalikes))} to exactly {expected}."
    if names:
        shown = ", ".join(names[:MAX_FILES_LISTED]) + (" ..." if len(names) > MAX_FILES_LISTED else "")
        message += f" Files found: {shown}."
    else:
        message += " The submission is empty."
    return message
