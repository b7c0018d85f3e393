"""Where the release pipeline reads and writes: every path it knows, in one place.

Paths are POSIX strings relative to the repository root, so that messages
name files the way staff type them.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# The one marked source: staff edit only these (and the notebook template).
REFERENCE_DIR = "reference"
# Reference modules, in dependency order (a module may import the ones before it).
MODULES = ("common.py", "two_stage_detector.py")

# Generated student stubs, committed: same file names under student/.
STUDENT_DIR = "student"

# The notebook's source of truth and the student notebook generated from it.
NOTEBOOK_TEMPLATE = "notebooks/two_stage_detector.template.md"
STUDENT_NOTEBOOK = "notebooks/two_stage_detector.ipynb"

# Build outputs (never committed): relative to the --out directory.
DEFAULT_OUT_DIR = "build/release"
SOLUTION_NOTEBOOK = "solution/two_stage_detector.solution.ipynb"
ARCHIVE = "student_release.zip"

# Inside the archive everything sits flat in one folder, so the notebook finds
# the helper modules next to it (its COURSE_DIR).
ARCHIVE_FOLDER = "two_stage_detector"
# Hand-written files shipped as they are, beside the generated ones.
SHIPPED_FILES = (
    "student/README.md",
    "student/detection_helpers.py",
    "student/voc_map.py",
    "student/voc_download.py",
)

# Course-specific values (the Colab link): placeholders until staff set them.
RELEASE_SETTINGS = "notebooks/release_settings.json"

# Markdown files with generated passages (`generated_text.py`) between hand-written text.
GENERATED_PASSAGE_FILES = ("README.md", "student/README.md")
# What generated passages are made from, for drift messages.
GRADER_SOURCES = "autograder/ (points markers, grading profile)"

REGENERATE_COMMAND = "python -m data_scripts.release"
CHECK_COMMAND = "python -m data_scripts.release --check"


def reference_path(module: str) -> str:
    """`reference/<module>`: where staff edit `module`."""
    return f"{REFERENCE_DIR}/{module}"


def stub_path(module: str) -> str:
    """`student/<module>`: the generated student stub of `module`."""
    return f"{STUDENT_DIR}/{module}"


def module_name(module: str) -> str:
    """Import name of a module file: `common.py` -> `common`."""
    return Path(module).stem
