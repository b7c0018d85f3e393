"""student/ holds two kinds of files, and each file is one kind: prove it.

*Generated* files (the stubs, the public checks and their data) are written
by the release pipeline from the reference and the grader, and never edited
by hand. *Hand-written* files (the helper modules and the folder's README)
are edited in place and shipped as they are (``release_paths.SHIPPED_FILES``).
The grader reads two of the hand-written helpers at run time (the kernel's
``detection_helpers.py`` and ``voc_map.py``, ``course/course_files.py``), so
they must be hand-written ones, never generated.
"""
from pathlib import Path

from autograder.course.course_files import KERNEL_COURSE_FILES
from data_scripts.release import release_paths
from data_scripts.release.pipeline import run_pipeline

ROOT = Path(release_paths.REPO_ROOT)
STUDENT = ROOT / release_paths.STUDENT_DIR
GENERATED_HEADER = "# Generated"


def student_files() -> set[str]:
    return {f"{release_paths.STUDENT_DIR}/{p.name}" for p in STUDENT.iterdir() if p.is_file()}


def test_every_student_file_is_generated_or_hand_written_not_both():
    generated = {path for path in run_pipeline().committed if path.startswith(f"{release_paths.STUDENT_DIR}/")}
    hand_written = set(release_paths.SHIPPED_FILES)
    assert generated and hand_written
    assert student_files() == generated | hand_written, "a file in student/ that nobody owns, or a listed file missing"
    # Only a hand-written file with generated passages (generated_text.py) is both: student/README.md.
    assert generated & hand_written == {"student/README.md"} & set(release_paths.GENERATED_PASSAGE_FILES)


def test_generated_python_files_say_so_and_hand_written_ones_do_not():
    generated = {path for path in run_pipeline().committed if path.startswith(f"{release_paths.STUDENT_DIR}/")}
    for path in sorted(student_files()):
        if not path.endswith(".py"):
            continue
        first_line = (ROOT / path).read_text(encoding="utf-8").splitlines()[0]
        assert first_line.startswith(GENERATED_HEADER) == (path in generated), (path, first_line)


def test_the_grader_reads_only_hand_written_helpers_at_run_time():
    for name in KERNEL_COURSE_FILES:
        assert f"{release_paths.STUDENT_DIR}/{name}" in release_paths.SHIPPED_FILES, name
