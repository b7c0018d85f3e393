"""Build the Gradescope autograder bundle: ``python -m data_scripts.gradescope_bundle [--out build/autograder.zip]``.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once
when it builds the image, then ``run_autograder`` for every submission (both
from ``templates/gradescope/``; see their headers and docs/staff.md).  The
zip holds

* ``setup.sh``, ``run_autograder`` (executable);
* ``requirements.txt``: the project's dependencies and its ``dev`` extra
  (pytest runs the graded suite), generated from ``pyproject.toml``, and
  ``constraints.txt`` as it is;
* the packages the grader runs with, whole (``PACKAGE_TREES``): ``autograder/``
  (graded suite, probes, golden fixtures) and ``synthetic_voc/`` (the
  generator of the notebook stage's data).  The grader imports nothing else
  from this repository (tests/test_import_graph.py), so no import scan is
  needed to know what to ship;
* the files it reads by path (``READ_BY_PATH``): ``reference/`` (the
  expectations), the course helpers the notebook stage ships to the kernel,
  the release notebook it runs for ``.py`` submissions;
* ``BUNDLE_INFO.txt``: the git commit it was built from;
* ``case_secret.txt``: the staff's case secret (``autograder/units/case_secret.py``),
  from ``--case-secret FILE`` (default ``build/case_secret.txt``, created with
  a random secret the first time): keep that file, since re-grading the same
  submission with another secret draws other cases.

Not the tests, the notebook template, build outputs or caches.  The same tree gives the
same bytes (fixed timestamps, sorted members) for the same secret.  Exit status 0, or 2 with a
message naming what is missing.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from autograder.units.case_secret import CASE_SECRET_VARIABLE
from autograder.results.toml_compat import tomllib
from data_scripts.release.archive import zip_bytes

REPOSITORY = Path(__file__).resolve().parents[1]
TEMPLATES = Path(__file__).resolve().parent / "templates" / "gradescope"
DEFAULT_OUT = REPOSITORY / "build" / "autograder.zip"
DEFAULT_GRADING_TIMEOUT_S = 1800  # run_autograder's cap; set Gradescope's own limit a few minutes above it

PACKAGE_TREES = ("autograder", "synthetic_voc")  # bundled whole: probes and tests are loaded by name, fixtures by path
READ_BY_PATH = (  # files the grader opens by path, which no import reveals
    "reference/common.py",  # expectations (autograder/course/reference_solution.py)
    "reference/two_stage_detector.py",
    "student/detection_helpers.py",  # shipped to the notebook's kernel (autograder/course/course_files.py)
    "student/voc_map.py",
    "notebooks/two_stage_detector.ipynb",  # run with a .py submission's definitions (autograder/notebook/graded_notebook.py)
)
COPIED_FILES = ("constraints.txt",)
ENTRY_POINTS = ("setup.sh", "run_autograder")
REQUIREMENTS_FILE = "requirements.txt"
INFO_FILE = "BUNDLE_INFO.txt"
CASE_SECRET_MEMBER = "case_secret.txt"  # run_autograder exports it as AUTOGRADER_CASE_SECRET
DEFAULT_CASE_SECRET = REPOSITORY / "build" / CASE_SECRET_MEMBER
CASE_SECRET_BYTES = 32  # as many as the HMAC-SHA256 key it becomes
_SECRET_TEXT = re.compile(r"^[\x21-\x7e]{16,256}$")  # one printable word: it travels as an environment variable
DEV_EXTRA = "dev"
EXCLUDED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".ipynb_checkpoints"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")

_PLACEHOLDER = re.compile(r"@([A-Z_]+)@")
_REQUIRES_PYTHON = re.compile(r"^>=\s*(\d+\.\d+)$")


class BundleError(RuntimeError):
    """The bundle cannot be built; the message says what is missing or wrong."""


def bundle_members(case_secret: str, grading_timeout_s: int = DEFAULT_GRADING_TIMEOUT_S) -> dict[str, bytes]:
    """Member name → content of the bundle built from the working tree, carrying ``case_secret``."""
    project = _project_table()
    members = {path.as_posix(): _read(REPOSITORY / path) for path in _grader_files()}
    members[REQUIREMENTS_FILE] = requirements_text(project).encode()
    members[INFO_FILE] = _info_text().encode()
    members[CASE_SECRET_MEMBER] = f"{case_secret}\n".encode()
    values = {"REQUIRES_PYTHON": _minimum_python(project), "GRADING_TIMEOUT_S": str(grading_timeout_s)}
    for name in ENTRY_POINTS:
        members[name] = _fill_template(TEMPLATES / name, values).encode()
    return members


def build_bundle(out: Path, case_secret: str, grading_timeout_s: int = DEFAULT_GRADING_TIMEOUT_S) -> dict[str, bytes]:
    """Write the zip to ``out`` (parents created); return its members."""
    members = bundle_members(case_secret, grading_timeout_s)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(bundle_zip(members))
    return members


def bundle_zip(members: dict[str, bytes]) -> bytes:
    """The bundle's bytes: reproducible, entry points executable."""
    return zip_bytes(members, executable=ENTRY_POINTS)


def read_or_create_case_secret(path: Path) -> tuple[str, bool]:
    """The secret in ``path``, or a new random one written there (private) when it does not exist.
    Returns (secret, created)."""
    if not path.exists():
        secret = secrets.token_hex(CASE_SECRET_BYTES)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", opener=lambda name, flags: os.open(name, flags, 0o600)) as stream:
            stream.write(secret + "\n")
        return secret, True
    secret = _read(path).decode("utf-8", errors="replace").strip()
    if not _SECRET_TEXT.match(secret):
        raise BundleError(f"{path}: a case secret must be one word of 16 to 256 printable ASCII characters "
                          f"(no spaces), e.g. `python -c 'import secrets; print(secrets.token_hex(32))' > {path}`")
    return secret, False


def requirements_text(project: dict) -> str:
    """pip requirements: ``[project].dependencies`` and the ``dev`` extra, one per line."""
    extras = project.get("optional-dependencies", {})
    if DEV_EXTRA not in extras:
        raise BundleError(f"pyproject.toml: [project.optional-dependencies] has no {DEV_EXTRA!r} extra (pytest)")
    lines = ["# Generated from pyproject.toml by python -m data_scripts.gradescope_bundle; install with",
             "#   pip install -c constraints.txt -r requirements.txt"]
    return "\n".join(lines + list(project["dependencies"]) + list(extras[DEV_EXTRA])) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data_scripts.gradescope_bundle", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="zip to write (default: %(default)s)")
    parser.add_argument("--timeout", type=int, default=DEFAULT_GRADING_TIMEOUT_S, metavar="SECONDS",
                        help="run_autograder's wall-clock limit per submission (default: %(default)s)")
    parser.add_argument("--case-secret", type=Path, default=DEFAULT_CASE_SECRET, metavar="FILE",
                        help=f"file holding the staff's {CASE_SECRET_VARIABLE}, created with a random one if missing "
                             "(default: %(default)s); keep it: re-grades need the same secret")
    args = parser.parse_args(argv)
    if args.timeout < 1:
        parser.error(f"--timeout must be at least 1 second, got {args.timeout}")
    try:
        secret, created = read_or_create_case_secret(args.case_secret)
        members = build_bundle(args.out, secret, args.timeout)
    except (BundleError, OSError) as error:
        print(f"gradescope_bundle: {error}", file=sys.stderr)
        return 2
    size_mib = args.out.stat().st_size / 2**20
    if created:
        print(f"gradescope_bundle: created a new case secret in {args.case_secret}: keep it for every rebuild "
              "of this course's bundle, or re-grades will draw other cases")
    print(f"gradescope_bundle: wrote {args.out} ({len(members)} files, {size_mib:.2f} MiB)")
    print(members[INFO_FILE].decode().strip())
    return 0


# -------------------------------------------------------------------- helpers
def _grader_files() -> list[Path]:
    """Relative paths: the package trees, the files read by path, the copied files."""
    files = {path.relative_to(REPOSITORY) for tree in PACKAGE_TREES for path in _tree_files(REPOSITORY / tree)}
    files |= {Path(name) for name in READ_BY_PATH + COPIED_FILES}
    missing = sorted(str(path) for path in files if not (REPOSITORY / path).is_file())
    if missing:
        raise BundleError(f"files the grader needs are missing from {REPOSITORY}: {', '.join(missing)}")
    return sorted(files)


def _tree_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise BundleError(f"{folder}: the grader's package folder is missing")
    return [path for path in folder.rglob("*")
            if path.is_file() and not EXCLUDED_PARTS & set(path.relative_to(folder).parts)
            and not path.name.endswith(EXCLUDED_SUFFIXES)]


def _project_table() -> dict:
    with open(REPOSITORY / "pyproject.toml", "rb") as stream:
        return tomllib.load(stream)["project"]


def _minimum_python(project: dict) -> str:
    match = _REQUIRES_PYTHON.match(project.get("requires-python", "").strip())
    if not match:
        raise BundleError(f"pyproject.toml: requires-python must read '>=X.Y' for setup.sh, "
                          f"got {project.get('requires-python')!r}")
    return match.group(1)


def _fill_template(path: Path, values: dict[str, str]) -> str:
    text = path.read_text(encoding="utf-8")
    unknown = sorted(set(_PLACEHOLDER.findall(text)) - set(values))
    if unknown:
        raise BundleError(f"{path}: no value for placeholder(s) {', '.join(unknown)}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def _info_text() -> str:
    """Which commit the bundle comes from, and whether the working tree differed from it."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return "grader: built outside a git checkout (commit unknown)\n"
    dirty = _git("status", "--porcelain", "--", *PACKAGE_TREES, *READ_BY_PATH, *COPIED_FILES, "data_scripts",
                 "pyproject.toml")
    state = " with uncommitted changes" if dirty else ""
    return f"grader: commit {commit}{state}\n"


def _git(*args: str) -> str | None:
    try:
        completed = subprocess.run(["git", *args], cwd=REPOSITORY, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return completed.stdout.strip()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise BundleError(f"{path}: cannot be read: {error}") from None


if __name__ == "__main__":
    sys.exit(main())
