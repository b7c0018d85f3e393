"""The course's helper modules: shipped to the notebook's kernel, used by the grader.

The kernel gets the grader's own copies of ``detection_helpers.py`` and
``voc_map.py`` (whatever the student's copies say), so the training loop,
the dataset and the detection writer are the released ones. The grader
loads the same files by path, under private module names, to read the
ground truth exactly as the notebook's dataset does and to compute the mAP.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from autograder.module_by_path import import_by_path

COURSE_DIR = Path(__file__).resolve().parents[2] / "student"
KERNEL_COURSE_FILES = ("detection_helpers.py", "voc_map.py")
# The notebook's `from checks import check, check_all` (the students' public checks):
# during grading the graded tests judge instead, so the kernel gets silent stand-ins.
KERNEL_STANDINS = {
    "checks.py": '"""Stand-in for the public checks while the autograder runs the notebook."""\n\n\n'
                 "def check(name):\n    return None\n\n\ndef check_all():\n    return None\n",
}
_PRIVATE_PREFIX = "_autograder_course_"


def kernel_course_files() -> dict[str, str]:
    """File name -> text of every helper module the notebook imports from its COURSE_DIR."""
    files = {name: (COURSE_DIR / name).read_text(encoding="utf-8") for name in KERNEL_COURSE_FILES}
    return {**files, **KERNEL_STANDINS}


def load_course_module(stem: str) -> ModuleType:
    """``student/<stem>.py`` imported by path as a private module (cached)."""
    return import_by_path(COURSE_DIR / f"{stem}.py", _PRIVATE_PREFIX + stem)
