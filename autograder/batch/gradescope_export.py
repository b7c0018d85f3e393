"""Gradescope's "Export Submissions" archive as a batch's input.

The export (Assignment → Review Grades → Export Submissions) is a zip of one
folder, ``assignment_<id>_export/``, holding ``submission_metadata.yml`` and
one folder per submission, ``submission_<id>/``, with the files as uploaded.
The YAML maps each folder name to Ruby-style keys (leading colons)::

    submission_123456:
      :submitters:
      - :name: Ada Lovelace
        :sid: 'A001'
        :email: ada@example.edu
      :created_at: 2026-03-01 22:59:12.000000000 -08:00
      :score: 90.0

``python -m autograder batch EXPORT.zip|EXPORT_DIR --out OUT`` grades every
``submission_<id>`` (the batch id is the folder name) and puts the
submitters' names, ids and emails in ``gradebook.csv``.  A zip is extracted
under ``OUT/.export/`` (staff-only, like the rest of OUT).  Reading the
YAML needs PyYAML (the ``staff`` extra); without it, a message says so.
Only the submitters are read: other keys may carry Ruby type tags and are
read as plain values.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import SubmissionFormatError
from autograder.intake.submission_metadata import Student, student_from
from autograder.intake.zip_extract import extract_zip

METADATA_FILE = "submission_metadata.yml"
EXTRACTED_DIR = ".export"  # under the batch's OUT
SUBMISSION_PREFIX = "submission_"
MAX_EXPORT_ENTRIES = 200_000  # a large class: hundreds of students, a few files each
MAX_EXPORT_BYTES = 20 * 2**30


class ExportError(ValueError):
    """The export cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True)
class ExportSubmission:
    id: str  # the folder's name, submission_<id>
    path: Path
    students: tuple[Student, ...]


def export_root(path: Path) -> Path | None:
    """The folder holding ``submission_metadata.yml`` (``path`` or its only subfolder); None if not an export."""
    path = Path(path)
    if not path.is_dir():
        return None
    if (path / METADATA_FILE).is_file():
        return path
    folders = [child for child in path.iterdir() if child.is_dir() and not child.name.startswith((".", "__"))]
    if len(folders) == 1 and (folders[0] / METADATA_FILE).is_file():
        return folders[0]
    return None


def unpack_export(archive: Path, out: Path) -> Path:
    """Extract an export zip into ``out/.export`` (replacing an earlier copy); the export's root folder."""
    target = Path(out) / EXTRACTED_DIR
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(mode=0o700, parents=True)
    try:
        extract_zip(Path(archive), target, max_entries=MAX_EXPORT_ENTRIES, max_total_bytes=MAX_EXPORT_BYTES)
    except SubmissionFormatError as error:
        raise ExportError(f"{archive}: {error}") from None
    root = export_root(target)
    if root is None:
        raise ExportError(f"{archive}: not a Gradescope export (no {METADATA_FILE} at its top or in its one "
                          "folder); for a folder of submissions, unzip it and pass the folder")
    return root


def read_export(root: Path) -> list[ExportSubmission]:
    """Every submission folder of the export, sorted by id, with its submitters."""
    metadata = _load_yaml(root / METADATA_FILE)
    submissions = []
    for folder in sorted(root.iterdir()):
        if not (folder.is_dir() and folder.name.startswith(SUBMISSION_PREFIX)):
            continue
        entry = metadata.get(folder.name) or {}
        if not isinstance(entry, dict):
            raise ExportError(f"{root / METADATA_FILE}: {folder.name}: expected a mapping, got {type(entry).__name__}")
        submitters = _plain(entry).get("submitters") or []
        if not isinstance(submitters, list) or not all(isinstance(item, dict) for item in submitters):
            raise ExportError(f"{root / METADATA_FILE}: {folder.name}: :submitters: must be a list of mappings")
        submissions.append(ExportSubmission(folder.name, folder, tuple(student_from(_plain(item))
                                                                       for item in submitters)))
    missing = sorted(set(metadata) - {submission.id for submission in submissions})
    if missing:
        raise ExportError(f"{root}: {METADATA_FILE} lists {', '.join(missing[:5])}"
                          f"{' and more' if len(missing) > 5 else ''} but the export has no such folder")
    return submissions


def _plain(mapping: dict) -> dict:
    """Ruby-style ``:key`` → ``key``."""
    return {str(key).lstrip(":"): value for key, value in mapping.items()}


def _load_yaml(path: Path) -> dict:
    try:
        import yaml
    except ImportError:
        raise ExportError("reading Gradescope's export needs PyYAML: pip install -e '.[staff]' "
                          "(or pip install pyyaml)") from None

    class _Loader(yaml.SafeLoader):
        """Safe loading; Ruby type tags (``!ruby/object:...``) read as the plain value under them."""

    def plain_value(loader, suffix, node):
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)

    _Loader.add_multi_constructor("!", plain_value)
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except OSError as error:
        raise ExportError(f"{path}: cannot be read: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise ExportError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise ExportError(f"{path}: expected a mapping of submission_<id> folders, got {type(document).__name__}")
    return {str(key): value for key, value in document.items()}
