"""Gradescope's "Export Submissions" archive as batch input, on an export-shaped fixture.

The fixture follows the export's layout: ``assignment_<id>_export/`` with
``submission_metadata.yml`` (Ruby-style ``:keys:``, a Ruby type tag, a group
submission) and one ``submission_<id>/`` folder per submission.  One batch
grades it (``--units-only``; the stubs and an upload without the two files:
seconds each).
"""

from __future__ import annotations

import csv
import json
import textwrap
import zipfile
from pathlib import Path

import pytest

from autograder.batch.gradescope_export import ExportError, export_root, read_export, unpack_export
from autograder.intake.submission_metadata import Student
from tests.test_batch import STUBS_DIR, SUBMISSION_FILES, run_batch

EXPORT_FOLDER = "assignment_8046601_export"
METADATA = textwrap.dedent("""\
    submission_111:
      :submitters:
      - :name: Ada Lovelace
        :sid: 'A001'
        :email: ada@example.edu
      :created_at: 2026-03-01 22:59:12.000000000 -08:00
      :score: 0.0
      :results: !ruby/hash:ActiveSupport::HashWithIndifferentAccess
        score: 0.0
    submission_222:
      :submitters:
      - :name: Pair One
        :sid: '200'
        :email: one@example.edu
      - :name: Pair Two
        :sid: '201'
        :email: two@example.edu
      :created_at: 2026-03-02 10:00:00.000000000 -08:00
""")


def export_zip(target: Path, metadata: str = METADATA) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr(f"{EXPORT_FOLDER}/submission_metadata.yml", metadata)
        archive.writestr(f"{EXPORT_FOLDER}/.DS_Store", b"\0")
        archive.writestr(f"__MACOSX/{EXPORT_FOLDER}/._submission_metadata.yml", b"\0")
        for name in SUBMISSION_FILES:
            archive.write(STUBS_DIR / name, f"{EXPORT_FOLDER}/submission_111/{name}")
        archive.writestr(f"{EXPORT_FOLDER}/submission_222/notes.txt", "we ran out of time")
    return target


def test_an_export_grades_with_names_and_ids_in_the_gradebook(tmp_path):
    archive = export_zip(tmp_path / "export.zip")

    run = run_batch(archive, tmp_path / "out", "--units-only", "--jobs", "2")

    assert run["status"] == 0, run["stderr"][-3000:]
    with open(tmp_path / "out" / "gradebook.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0])[:7] == ["submission", "name", "sid", "email", "score", "max_score", "status"]
    assert [(row["submission"], row["name"], row["sid"], row["email"], row["status"]) for row in rows] == [
        ("submission_111", "Ada Lovelace", "A001", "ada@example.edu", "graded"),
        ("submission_222", "Pair One; Pair Two", "200; 201", "one@example.edu; two@example.edu", "graded"),
    ]
    assert all(float(row["score"]) == 0 and float(row["max_score"]) > 0 for row in rows)
    record = json.loads((tmp_path / "out" / "submission_222" / "grading.json").read_text())
    assert [student["name"] for student in record["students"]] == ["Pair One", "Pair Two"]


def test_read_export_from_a_folder_and_its_submitters(tmp_path):
    root = unpack_export(export_zip(tmp_path / "export.zip"), tmp_path / "out")

    assert root == tmp_path / "out" / ".export" / EXPORT_FOLDER
    assert export_root(root.parent) == root and export_root(tmp_path) is None
    found = read_export(root)
    assert [(item.id, item.path.name) for item in found] == [("submission_111", "submission_111"),
                                                            ("submission_222", "submission_222")]
    assert found[1].students == (Student("Pair One", "one@example.edu", "200"),
                                 Student("Pair Two", "two@example.edu", "201"))


@pytest.mark.parametrize("metadata, message", [
    (METADATA + "submission_333:\n  :submitters: []\n", "lists submission_333 but the export has no such folder"),
    ("submission_111: [1, 2\n", "not valid YAML"),
    ("- a list\n", "expected a mapping of submission_<id> folders"),
    ("submission_111:\n  :submitters: Ada\n", "submission_111: :submitters: must be a list of mappings"),
])
def test_malformed_exports_say_what_and_where(tmp_path, metadata, message):
    root = unpack_export(export_zip(tmp_path / "export.zip", metadata), tmp_path / "out")
    with pytest.raises(ExportError, match=message) as raised:
        read_export(root)
    assert "submission_metadata.yml" in str(raised.value) or str(root) in str(raised.value)


def test_a_zip_that_is_not_an_export_is_refused_with_a_hint(tmp_path):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("ada/common.py", "")
    run = run_batch(archive, tmp_path / "out")
    assert run["status"] == 2
    assert "not a Gradescope export" in run["stderr"] and "unzip it and pass the folder" in run["stderr"]
