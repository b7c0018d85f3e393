"""Normalising uploads: folders, notebooks and zips into the two-file layout.

Nothing here runs student code in this process; the one check that imports a
generated file does so in a separate interpreter.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.intake import zip_extract
from autograder.errors import SubmissionFormatError
from autograder.intake.submission import normalize_submission

COMMON = "def nms(boxes, scores, iou_threshold=0.5):\n    return []\n"
DETECTOR = "from common import nms\n\n\ndef iou(boxes1, boxes2):\n    return 0.0\n"


def write_pair(folder: Path, common: str = COMMON, detector: str = DETECTOR) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "common.py").write_text(common)
    (folder / "two_stage_detector.py").write_text(detector)
    return folder


def normalize(upload: Path, tmp_path: Path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    return normalize_submission(upload, workdir)


def notebook(path: Path, *cells: str, markdown: str = "# Faster R-CNN") -> Path:
    document = nbformat.v4.new_notebook()
    document.cells = [nbformat.v4.new_markdown_cell(markdown)] + [nbformat.v4.new_code_cell(cell) for cell in cells]
    nbformat.write(document, str(path))
    return path


def make_zip(path: Path, entries: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, content in entries.items():
            bundle.writestr(name, content)
    return path


# ------------------------------------------------------------------ folders
def test_folder_with_both_files(tmp_path):
    result = normalize(write_pair(tmp_path / "upload"), tmp_path)

    assert sorted(os.listdir(result.root)) == ["common.py", "two_stage_detector.py"]
    assert (result.root / "common.py").read_text() == COMMON
    assert result.description == "folder: common.py, two_stage_detector.py"


def test_files_in_a_single_subfolder_are_found(tmp_path):
    write_pair(tmp_path / "upload" / "a5")
    (tmp_path / "upload" / "notes.txt").write_text("hi")

    result = normalize(tmp_path / "upload", tmp_path)

    assert (result.root / "two_stage_detector.py").read_text() == DETECTOR
    assert "(folder a5/)" in result.description


@pytest.mark.parametrize("present, message", [
    ({"two_stage_detector.py": DETECTOR}, "Found two_stage_detector.py but not common.py"),
    ({"Common.py": COMMON, "two_stage_detector.py": DETECTOR}, "Rename Common.py to exactly common.py"),
    ({"common.py": COMMON, "two_stage_detector (1).py": DETECTOR}, "Rename two_stage_detector (1).py"),
    ({"a/common.py": COMMON, "b/two_stage_detector.py": DETECTOR}, "must be in the same folder"),
    ({}, "The submission is empty"),
])
def test_missing_or_misnamed_files_are_explained(tmp_path, present, message):
    upload = tmp_path / "upload"
    upload.mkdir()
    for name, content in present.items():
        (upload / name).parent.mkdir(parents=True, exist_ok=True)
        (upload / name).write_text(content)

    with pytest.raises(SubmissionFormatError, match=re.escape(message)) as raised:
        normalize(upload, tmp_path)
    for name in present:
        assert name in str(raised.value)


def test_symbolic_links_are_not_followed(tmp_path):
    secret = tmp_path / "reference_common.py"
    secret.write_text("SECRET = 1\n")
    upload = tmp_path / "upload"
    upload.mkdir()
    (upload / "common.py").symlink_to(secret)
    (upload / "two_stage_detector.py").write_text(DETECTOR)

    with pytest.raises(SubmissionFormatError, match="but not common.py"):
        normalize(upload, tmp_path)


def test_two_candidate_folders_are_ambiguous(tmp_path):
    write_pair(tmp_path / "upload" / "v1")
    write_pair(tmp_path / "upload" / "v2")

    with pytest.raises(SubmissionFormatError, match=r"Several folders.*v1/, v2/"):
        normalize(tmp_path / "upload", tmp_path)


@pytest.mark.parametrize("name", ["missing_folder", "solution.txt"])
def test_unusable_paths(tmp_path, name):
    if name.endswith(".txt"):
        (tmp_path / name).write_text("hello")
    with pytest.raises(SubmissionFormatError):
        normalize(tmp_path / name, tmp_path)


# ---------------------------------------------------------------- notebooks
NOTEBOOK_CELLS = [
    "import math\nfrom google.colab import drive  # unavailable in the grader\nimport common\n%matplotlib inline",
    "!pip install nothing\nNUM_CLASSES = 20\nSCALES = (1, 2, NUM_CLASSES)\ndevice = torch.device('cpu')",
    "def nms(boxes, scores, iou_threshold=0.5):\n    return 'version one'",
    "class Base:\n    kind = 'old base'",
    "class DetectorBackboneWithFPN(Base):\n    scale = SCALES[0]\n    def forward(self, x):\n        return helper(x)",
    "def helper(x):\n    model = 'a local, not the global'\n    return x + NUM_CLASSES",
    "raise RuntimeError('top-level code must never run')\ntrain_loader = make_loader()\nmodel = build_model()",
    "def nms(boxes, scores, iou_threshold=0.5):\n    return 'version two'",
    "class Base:\n    kind = 'new base'",
    "def iou(boxes1, boxes2):\n    return math.sqrt(4) + len(train_loader) if False else nms(0, 0)",
    "def broken(:\n    pass",
    "%%bash\necho 'def RPN(): pass'",
    "%%time\ndef generate_fpn_anchors(shapes, strides):\n    return 'anchors'",
    "def unused_experiment():\n    return model",
]


@pytest.fixture
def exported(tmp_path):
    return normalize(notebook(tmp_path / "two_stage_detector.ipynb", *NOTEBOOK_CELLS), tmp_path)


def test_notebook_exports_graded_definitions_and_their_needs(exported):
    common = (exported.root / "common.py").read_text()
    detector = (exported.root / "two_stage_detector.py").read_text()

    for source in (common, detector):
        ast.parse(source)
    common_names = {node.name for node in ast.parse(common).body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    detector_names = {node.name for node in ast.parse(detector).body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    assert common_names == {"nms", "DetectorBackboneWithFPN", "Base", "helper"}
    assert detector_names == {"iou", "generate_fpn_anchors"}
    assert "NUM_CLASSES = 20" in common and "SCALES = (1, 2, NUM_CLASSES)" in common
    assert "from common import Base, DetectorBackboneWithFPN, NUM_CLASSES, SCALES, helper, nms" in detector
    assert "exported: Base, DetectorBackboneWithFPN, NUM_CLASSES, SCALES" in exported.description


def test_notebook_never_exports_top_level_code_or_magics(exported):
    generated = "".join(path.read_text() for path in exported.root.iterdir())

    for absent in ("must never run", "make_loader", "build_model", "pip install", "get_ipython", "RPN",
                   "unused_experiment", "import common", "device ="):
        assert absent not in generated, absent


def test_later_cells_override_and_definition_order_is_repaired(exported):
    common = (exported.root / "common.py").read_text()

    assert "version two" in common and "version one" not in common
    assert "new base" in common and "old base" not in common
    assert common.index("class Base") < common.index("class DetectorBackboneWithFPN")


def test_notebook_imports_are_hoisted_and_guarded(exported):
    common = (exported.root / "common.py").read_text()

    assert "try:\n    import math\nexcept ImportError:\n    pass" in common
    assert "from google.colab import drive" in common


def test_notebook_notes_explain_what_was_skipped(exported):
    notes = "\n".join(exported.notes)

    assert "code cell 11" in notes and "syntax error" in notes
    assert "`train_loader` (code cell 7, line 2) is used by exported code but was not exported" in notes
    assert "`model`" not in notes  # only a local variable in exported code


def test_generated_files_import_and_point_back_to_cells(exported):
    script = (
        "import sys, traceback; sys.path.insert(0, sys.argv[1])\n"
        "import two_stage_detector as t\n"
        "print(t.iou(None, None), t.generate_fpn_anchors(None, None), t.DetectorBackboneWithFPN().forward(1))\n"
    )
    completed = subprocess.run([sys.executable, "-c", script, str(exported.root)], capture_output=True, text=True)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["version", "two", "anchors", "21"]
    common = (exported.root / "common.py").read_text().splitlines()
    assert common[common.index("def helper(x):") - 1] == "# notebook code cell 6, line 1"


def test_invalid_notebook(tmp_path):
    (tmp_path / "broken.ipynb").write_text("{not json")
    with pytest.raises(SubmissionFormatError, match="not a valid Jupyter notebook"):
        normalize(tmp_path / "broken.ipynb", tmp_path)


def test_notebook_inside_a_folder_prefers_the_assignment_name(tmp_path):
    upload = tmp_path / "upload"
    upload.mkdir()
    notebook(upload / "scratch.ipynb", "def iou(a, b):\n    return 'scratch'")
    notebook(upload / "two_stage_detector.ipynb", "def iou(a, b):\n    return 'real'")

    result = normalize(upload, tmp_path)

    assert "'real'" in (result.root / "two_stage_detector.py").read_text()


def test_several_unnamed_notebooks_are_ambiguous(tmp_path):
    upload = tmp_path / "upload"
    upload.mkdir()
    notebook(upload / "a.ipynb", "x = 1")
    notebook(upload / "b.ipynb", "x = 2")

    with pytest.raises(SubmissionFormatError, match="several notebooks"):
        normalize(upload, tmp_path)


# --------------------------------------------------------------------- zips
def test_zip_of_a_folder(tmp_path):
    archive = make_zip(tmp_path / "submission.zip", {
        "a5/common.py": COMMON, "a5/two_stage_detector.py": DETECTOR,
        "__MACOSX/a5/._common.py": b"\x00junk", "a5/.DS_Store": b"junk",
    })

    result = normalize(archive, tmp_path)

    assert (result.root / "common.py").read_text() == COMMON
    assert result.description.startswith("zip file submission.zip (folder a5/)")


def test_zip_of_a_notebook(tmp_path):
    source = notebook(tmp_path / "nb.ipynb", "def iou(a, b):\n    return 1")
    archive = make_zip(tmp_path / "submission.zip", {"nb.ipynb": source.read_bytes()})

    result = normalize(archive, tmp_path)

    assert "def iou(a, b)" in (result.root / "two_stage_detector.py").read_text()


@pytest.mark.parametrize("entry, message", [
    ("../escape.py", "unsafe path"),
    ("/etc/escape.py", "unsafe path"),
    ("a/../../escape.py", "unsafe path"),
    ("C:/escape.py", "unsafe path"),
])
def test_zip_path_traversal_is_rejected(tmp_path, entry, message):
    archive = make_zip(tmp_path / "evil.zip", {entry: "x = 1", "common.py": COMMON})

    with pytest.raises(SubmissionFormatError, match=message):
        normalize(archive, tmp_path)
    assert not (tmp_path / "escape.py").exists()


def test_zip_symlink_is_rejected(tmp_path):
    archive = tmp_path / "links.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        link = zipfile.ZipInfo("common.py")
        link.external_attr = (0o120777 << 16)
        bundle.writestr(link, "/autograder/source/reference/common.py")
        bundle.writestr("two_stage_detector.py", DETECTOR)

    with pytest.raises(SubmissionFormatError, match="symbolic link"):
        normalize(archive, tmp_path)


def test_zip_bomb_is_stopped_while_inflating(tmp_path, monkeypatch):
    monkeypatch.setattr(zip_extract, "MAX_TOTAL_BYTES", 1024 * 1024)
    archive = make_zip(tmp_path / "bomb.zip", {"common.py": b"0" * (4 * 1024 * 1024)})

    with pytest.raises(SubmissionFormatError, match="inflates to more than 1 MiB"):
        normalize(archive, tmp_path)


def test_zip_with_too_many_entries(tmp_path, monkeypatch):
    monkeypatch.setattr(zip_extract, "MAX_ENTRIES", 10)
    archive = make_zip(tmp_path / "many.zip", {f"f{i}.py": "" for i in range(11)})

    with pytest.raises(SubmissionFormatError, match="11 entries; at most 10"):
        normalize(archive, tmp_path)


def test_corrupt_zip(tmp_path):
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 this is not really a zip")

    with pytest.raises(SubmissionFormatError, match="not a valid zip file"):
        normalize(tmp_path / "broken.zip", tmp_path)


# ------------------------------------------------------------ bounded normalisation
def test_normalisation_in_a_child_process_gives_the_same_submission(tmp_path):
    from autograder.intake.bounded_normalization import normalize_upload

    upload = make_zip(tmp_path / "upload.zip", {"hw/common.py": COMMON, "hw/two_stage_detector.py": DETECTOR})
    (tmp_path / "direct").mkdir()
    (tmp_path / "child").mkdir()

    direct = normalize_submission(upload, tmp_path / "direct")
    child = normalize_upload(upload, tmp_path / "child")

    assert child.description == direct.description and child.notes == direct.notes
    assert (child.root / "two_stage_detector.py").read_text() == DETECTOR
    with pytest.raises(SubmissionFormatError, match="No submission found"):
        (tmp_path / "empty").mkdir()
        normalize_upload(make_zip(tmp_path / "empty.zip", {"notes.txt": "hi"}), tmp_path / "empty")


def test_an_upload_too_costly_to_normalise_is_refused_within_the_limit(tmp_path, monkeypatch):
    """One assignment of 60,000 names: the exporter once re-parsed it once per name (hours)."""
    from autograder.intake import bounded_normalization

    names = " = ".join(f"a{i}" for i in range(60_000))
    path = notebook(tmp_path / "two_stage_detector.ipynb", f"{names} = 0\n\ndef iou(boxes1, boxes2):\n    return a0\n")
    monkeypatch.setattr(bounded_normalization, "WALL_LIMIT_S", 1.0)
    (tmp_path / "work").mkdir()

    with pytest.raises(SubmissionFormatError, match=r"needed more than the 60 s or 2048 MiB"):
        bounded_normalization.normalize_upload(path, tmp_path / "work")
