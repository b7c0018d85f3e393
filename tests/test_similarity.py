"""Similarity report: a copy with renamed variables and reordered functions tops ``similarity.csv``.

The class: the reference (``ada``); ``eve``, the reference with every local
variable and argument renamed, functions and classes in reverse order and
comments gone (through ``ast``), uploaded as a zip; ``cal``, the reference's
``common.py`` with the stubs' ``two_stage_detector.py`` (shares half its
code with ada); ``bob``, the untouched stubs (only boilerplate); and a broken
zip, left out with its reason.  No grading: seconds.
"""

from __future__ import annotations

import ast
import csv
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.batch.similarity import CSV_COLUMNS, CSV_FILE, HTML_FILE
from tests.test_batch import REFERENCE_DIR, STUBS_DIR, SUBMISSION_FILES, copy_folder

REPOSITORY = Path(__file__).resolve().parent.parent

pytest.importorskip("copydetect", reason="the similarity report needs copydetect (the staff and dev extras)")


class _RenameLocals(ast.NodeTransformer):
    """Renames every argument and every name assigned inside a function, consistently across the module."""

    def __init__(self, names: set[str]) -> None:
        self.mapping = {name: f"renamed_{index}" for index, name in enumerate(sorted(names))}

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.mapping.get(node.id, node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self.mapping.get(node.arg, node.arg)
        return node

    def visit_keyword(self, node: ast.keyword) -> ast.keyword:
        self.generic_visit(node)
        return node


def disguised(source: str) -> str:
    """``source`` with local names renamed, top-level functions and classes reversed, comments dropped."""
    tree = ast.parse(source)
    local_names = set()
    for function in (node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))):
        local_names |= {arg.arg for arg in function.args.args + function.args.kwonlyargs if arg.arg != "self"}
        local_names |= {node.id for node in ast.walk(function) if isinstance(node, ast.Name)
                        and isinstance(node.ctx, ast.Store)}
    tree = _RenameLocals(local_names).visit(tree)
    definitions = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    others = [node for node in tree.body if node not in definitions]
    tree.body = others + definitions[::-1]
    return ast.unparse(tree)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("similarity")
    submissions = root / "submissions"
    submissions.mkdir()
    copy_folder(submissions / "ada", REFERENCE_DIR)
    with zipfile.ZipFile(submissions / "eve.zip", "w") as archive:
        for name in SUBMISSION_FILES:
            archive.writestr(f"a5/{name}", disguised((REFERENCE_DIR / name).read_text()))
    copy_folder(submissions / "bob", STUBS_DIR)
    copy_folder(submissions / "cal", REFERENCE_DIR,
                two_stage_detector=(STUBS_DIR / "two_stage_detector.py").read_text())
    (submissions / "dan.zip").write_bytes(b"PK\x03\x04 not really a zip")
    completed = subprocess.run([sys.executable, "-m", "autograder", "similarity", str(submissions),
                                "--out", str(root / "out")], cwd=REPOSITORY, capture_output=True, text=True,
                               timeout=600)
    with open(root / "out" / CSV_FILE, newline="") as stream:
        rows = list(csv.DictReader(stream))
    return {"completed": completed, "rows": rows, "out": root / "out"}


def test_the_disguise_really_changes_the_text():
    original = (REFERENCE_DIR / "two_stage_detector.py").read_text()
    changed = disguised(original)
    assert "renamed_" in changed and changed != original
    compile(changed, "disguised", "exec")
    first_definitions = [line for line in changed.splitlines() if line.startswith(("def ", "class "))][:3]
    assert first_definitions != [line for line in original.splitlines() if line.startswith(("def ", "class "))][:3]


def test_the_renamed_and_reordered_copy_ranks_first(report):
    completed, rows = report["completed"], report["rows"]
    assert completed.returncode == 0, completed.stderr
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert (rows[0]["submission_a"], rows[0]["submission_b"]) == ("ada", "eve")
    scores = [float(row["score"]) for row in rows]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > 0.5 and scores[0] > scores[1] + 0.2, rows


def test_boilerplate_is_not_similarity_and_every_pair_is_listed(report):
    rows = {(row["submission_a"], row["submission_b"]): float(row["score"]) for row in report["rows"]}
    assert sorted(rows) == [("ada", "bob"), ("ada", "cal"), ("ada", "eve"), ("bob", "cal"), ("bob", "eve"),
                            ("cal", "eve")]
    assert rows[("ada", "bob")] < 0.1 and rows[("bob", "cal")] < 0.1  # the stubs share only boilerplate
    assert 0.1 < rows[("ada", "cal")] < rows[("ada", "eve")]


def test_unreadable_submissions_are_left_out_with_the_reason_and_the_html_exists(report):
    assert "left out dan: dan.zip is not a valid zip file" in report["completed"].stderr
    html = (report["out"] / HTML_FILE).read_text()
    assert "eve.py" in html and "ada.py" in html
