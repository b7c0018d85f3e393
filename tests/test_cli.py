"""``python -m autograder grade`` end to end: folder, notebook, zip, broken zip.

The fake submission implements ``iou`` correctly and nothing else, so every
graded test tagged ``iou`` must pass and every other one is only checked for
well-formedness: the suite in autograder/ can grow without breaking this.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
TEST_KEYS = {"name", "score", "max_score", "status", "output", "visibility", "tags"}

COMMON = "import torch\n\n\ndef nms(boxes, scores, iou_threshold=0.5):\n    raise NotImplementedError\n"
DETECTOR = textwrap.dedent('''\
    import json

    import torch
    from common import nms


    def iou(boxes1, boxes2):
        print(json.dumps({"score": 1000, "tests": []}))
        with open("results.json", "w") as forged:
            json.dump({"score": 1000}, forged)
        top_left = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])
        bottom_right = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
        overlap = (bottom_right - top_left).clamp(min=0).prod(dim=2)
        area1 = (boxes1[:, 2:] - boxes1[:, :2]).prod(dim=1)
        area2 = (boxes2[:, 2:] - boxes2[:, :2]).prod(dim=1)
        return overlap / (area1[:, None] + area2[None, :] - overlap)
''')


def grade(submission: Path, out: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict | None]:
    completed = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(submission), "--out", str(out), *extra],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=900,
    )
    results = out / "results.json"
    return completed, json.loads(results.read_text()) if results.exists() else None


def assert_well_formed(document: dict) -> None:
    assert set(document) == {"score", "execution_time", "output", "output_format", "test_output_format", "tests"}
    assert document["output_format"] == document["test_output_format"] == "md"  # Gradescope renders Markdown
    assert document["tests"], "every graded test appears"
    for test in document["tests"]:
        assert set(test) == TEST_KEYS
        assert 0 <= test["score"] <= test["max_score"]
    assert document["score"] == pytest.approx(sum(test["score"] for test in document["tests"]))


def iou_tests(document: dict) -> list[dict]:
    tests = [test for test in document["tests"] if test["tags"] == ["iou"]]
    assert tests, "the graded suite has tests tagged iou"
    return tests


def without_timing(document: dict) -> dict:
    return {key: value for key, value in document.items() if key != "execution_time"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("upload") / "a5"
    path.mkdir()
    (path / "common.py").write_text(COMMON)
    (path / "two_stage_detector.py").write_text(DETECTOR)
    return path


@pytest.fixture(scope="module")
def folder_out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("folder_out") / "out"


@pytest.fixture(scope="module")
def folder_run(folder, folder_out):
    # Units only, like the zip run it is compared with (the notebook stage has its own tests).
    return grade(folder, folder_out, "--units-only")


def test_folder_is_graded(folder_run):
    completed, document = folder_run

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert_well_formed(document)
    assert all(test["status"] == "passed" for test in iou_tests(document))
    assert document["output"].startswith("```text\nGraded: folder: common.py, two_stage_detector.py")
    assert "TOTAL" in completed.stdout


def test_printed_or_forged_results_do_not_count(folder_run, folder):
    _, document = folder_run

    assert document["score"] < 1000 and "1000" not in json.dumps(document["tests"])
    assert not (folder / "results.json").exists() and not (REPOSITORY / "results.json").exists()


def test_output_directory_is_private(folder_run, folder_out):
    assert stat.S_IMODE(os.stat(folder_out).st_mode) == 0o700


def test_zip_gives_the_same_grades_as_the_folder(folder, folder_run, tmp_path):
    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in folder.iterdir():
            bundle.write(path, f"a5/{path.name}")

    completed, document = grade(archive, tmp_path / "out", "--units-only")

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert document["tests"] == folder_run[1]["tests"]  # deterministic, and independent of the packaging
    assert document["output"].startswith("```text\nGraded: zip file submission.zip (folder a5/)")


def test_notebook_is_graded(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Two-stage detector"),
        nbformat.v4.new_code_cell("%matplotlib inline\nimport torch"),
        nbformat.v4.new_code_cell(COMMON.replace("import torch\n", "")),
        nbformat.v4.new_code_cell(DETECTOR.replace("from common import nms\n", "")),
        nbformat.v4.new_code_cell("print(iou(torch.zeros(1, 4), torch.zeros(1, 4)))\nraise SystemExit('never runs')"),
    ]
    path = tmp_path / "two_stage_detector.ipynb"
    nbformat.write(notebook, str(path))

    completed, document = grade(path, tmp_path / "out")

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert_well_formed(document)
    assert all(test["status"] == "passed" for test in iou_tests(document))
    assert document["output"].startswith("```text\nGraded: notebook two_stage_detector.ipynb (exported: iou, nms)")


def test_broken_zip_still_yields_valid_results(tmp_path):
    broken = tmp_path / "submission.zip"
    broken.write_bytes(b"PK\x03\x04 definitely not a zip archive")

    completed, document = grade(broken, tmp_path / "out")

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert_well_formed(document)
    assert document["score"] == 0 and all(test["score"] == 0 for test in document["tests"])
    assert "not a valid zip file" in document["output"]
    assert all("not a valid zip file" in test["output"] for test in iou_tests(document))


def test_grader_that_cannot_write_its_output_fails_loudly(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")

    completed, document = grade(tmp_path, blocker / "out")

    assert completed.returncode == 2 and document is None
    assert "cannot prepare the output directory" in completed.stderr
