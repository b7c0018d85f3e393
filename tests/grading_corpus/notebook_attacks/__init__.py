"""Attacks on the notebook stage (issue 13), written as an outsider would submit them.

Each attack tries to win the notebook stage's points without training a
detector; each must score 0 there (``tests/test_notebook_attacks.py``).

* ``forged_loss_file``: a notebook that writes a decreasing loss history and
  detection files, and trains nothing.
* ``guessed_validation_boxes``: a notebook that imports the grader's
  generator if it can, searches the disk for validation data and writes
  whatever boxes it finds or guesses as detections.
* ``rule_detector_flag/``: ``.py`` files whose ``FasterRCNN`` runs a colour /
  saturation rule detector (``tests/grading_corpus/rule_detector.py``,
  inlined) once a "trained" buffer is set by the first training step, and
  forges a falling loss the same way; its shape variant names the blobs by
  the generator's own shape templates (``shape_templates.py``).
* ``kernel_hijack/``: ``.py`` files whose ``common.py`` rewrites every later
  cell of the grader's notebook shell; every graded definition is a stub.

Notebook attacks keep the release notebook's parameters cell, as a student
copy would; ``.py`` attacks are the release's starter files (``student/``)
with the attack's code appended, so they track the release.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import nbformat

from synthetic_voc.generator import DEFAULT_CLASSES

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parents[2]
RELEASE_NOTEBOOK = REPOSITORY / "notebooks" / "two_stage_detector.ipynb"
STUDENT_DIR = REPOSITORY / "student"
RULE_DETECTOR = HERE.parent / "rule_detector.py"
NOTEBOOK_ATTACKS = ("forged_loss_file", "guessed_validation_boxes")
PY_ATTACKS = ("rule_detector_flag", "kernel_hijack")
SUBMISSION_FILES = ("common.py", "two_stage_detector.py")


def build_notebook_attack(name: str, target: Path) -> Path:
    """``target/<name>.ipynb``: the release's parameters cell, then the attack's cells."""
    cells = importlib.import_module(f"{__name__}.{name}").ATTACK_CELLS
    release = nbformat.read(str(RELEASE_NOTEBOOK), as_version=4)
    parameters = next(cell for cell in release.cells if "parameters" in cell.metadata.get("tags", []))
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Two-stage detector"),
                      nbformat.v4.new_code_cell(parameters.source, metadata={"tags": ["parameters"]})]
    notebook.cells += [nbformat.v4.new_code_cell(source.strip()) for source in cells]
    path = Path(target) / f"{name}.ipynb"
    nbformat.write(notebook, str(path))
    return path


def build_py_attack(name: str, target: Path, labels_per_box: str = "all", shapes: bool = False) -> Path:
    """``target`` holding ``common.py`` and ``two_stage_detector.py``: the release's starter files,
    each followed by the attack's ``<module>_tail.py`` if it has one. For ``rule_detector_flag``:
    ``labels_per_box`` is the rule detector's mode (``rule_detector.detect``); ``shapes`` names its
    blobs by the generator's shape templates instead (``rule_detector_flag/shape_templates.py``)."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    tails = {"common.py": "common_tail.py", "two_stage_detector.py": "detector_tail.py"}
    for file in SUBMISSION_FILES:
        text = (STUDENT_DIR / file).read_text()
        tail = HERE / name / tails[file]
        if tail.exists():
            if file == "two_stage_detector.py":
                text += "\n\n" + _rule_detector_prelude(labels_per_box, shapes)
            text += "\n\n" + tail.read_text()
        (target / file).write_text(text)
    return target


def _rule_detector_prelude(labels_per_box: str, shapes: bool) -> str:
    """The rule detector's source (and the shape templates' if ``shapes``) as strings the attack
    executes, with the generator's class list written in (a submission cannot import ``synthetic_voc``)."""
    source = RULE_DETECTOR.read_text().replace(
        "from synthetic_voc.generator import DEFAULT_CLASSES", f"DEFAULT_CLASSES = {tuple(DEFAULT_CLASSES)!r}")
    body = source.split('"""', 2)[2]
    assert "synthetic_voc" not in body and "data_scripts" not in body, "the rule detector imports the generator"
    templates = (HERE / "rule_detector_flag" / "shape_templates.py").read_text() if shapes else None
    return (f"_RULE_DETECTOR_SOURCE = {source!r}\n_SHAPE_TEMPLATES_SOURCE = {templates!r}\n"
            f"_LABELS_PER_BOX = {labels_per_box!r}\n")
