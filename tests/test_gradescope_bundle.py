"""The Gradescope bundle, run the way Gradescope runs it.

``python -m data_scripts.gradescope_bundle`` builds the zip; each test
unpacks it into ``<work>/autograder/source``, puts an upload in
``<work>/autograder/submission`` and runs ``source/run_autograder`` with
``AUTOGRADER_ROOT=<work>/autograder``.  ``setup.sh`` is not run (it installs
gigabytes): this repository's interpreter stands in, through
``AUTOGRADER_PYTHON``, wrapped so that the project's editable install is
switched off: every grader module must then come from the bundle.

The work folder is under ``build/``, not ``/tmp``: sandboxed workers get a
private ``/tmp`` (autograder/README.md), so a grader under ``/tmp`` cannot
run.  The notebook stage runs with its smoke profile (seconds, not minutes).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path

import pytest

from autograder.results.schema import load_results
from data_scripts.gradescope_bundle import bundle_members, bundle_zip
from grading_corpus.adversarial import ATTACKS_BY_NAME, PLACEHOLDERS
from grading_corpus.plausible_bugs import DETECTOR, reference_sources

TEST_SECRET = "0123456789abcdef0123456789abcdef"

REPOSITORY = Path(__file__).resolve().parent.parent
WORK_PARENT = REPOSITORY / "build"
SUBMISSION_FILES = ("common.py", "two_stage_detector.py")
UNPRIVILEGED_UID = 65534  # nobody
GRADING_TIMEOUT_S = 900
NOTEBOOK_PROFILE = {"AUTOGRADER_NOTEBOOK_PROFILE": "smoke"}
# Removes setuptools' editable-install finder, which would otherwise import
# this repository's packages when the bundle lacks them.
NO_EDITABLE_INSTALL = textwrap.dedent("""\
    import sys
    sys.meta_path[:] = [finder for finder in sys.meta_path
                        if not getattr(finder, "__module__", "").startswith("__editable__")]
""")


@pytest.fixture(scope="module")
def work() -> Path:
    WORK_PARENT.mkdir(exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="test-gradescope-bundle-", dir=WORK_PARENT))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def bundle(work) -> Path:
    out = work / "autograder.zip"
    completed = subprocess.run([sys.executable, "-m", "data_scripts.gradescope_bundle", "--out", str(out),
                                "--case-secret", str(work / "case_secret.txt")],
                               cwd=REPOSITORY, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert f"wrote {out}" in completed.stdout
    return out


@pytest.fixture(scope="module")
def interpreter(work) -> Path:
    """A stand-in for /autograder/venv/bin/python: this interpreter without the editable install."""
    isolation = work / "isolation"
    isolation.mkdir()
    (isolation / "sitecustomize.py").write_text(NO_EDITABLE_INSTALL)
    wrapper = work / "python"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{isolation}" exec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def gradescope_root(work: Path, bundle: Path, name: str) -> Path:
    """``<work>/<name>/autograder`` with ``source/`` unpacked (modes kept), empty ``submission/`` and ``results/``."""
    root = work / name / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            target = Path(archive.extract(info, root / "source"))
            target.chmod(stat.S_IMODE(info.external_attr >> 16))
    (root / "submission").mkdir()
    (root / "results").mkdir()
    for folder in (work / name, root, root / "source"):
        folder.chmod(0o755)
    return root


def run_autograder(root: Path, interpreter: Path, *, user: list[str] = (), **env: str) -> subprocess.CompletedProcess:
    environment = os.environ | NOTEBOOK_PROFILE | {"AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": str(interpreter)}
    return subprocess.run([*user, str(root / "source" / "run_autograder")], cwd="/", env=environment | env,
                          capture_output=True, text=True, timeout=GRADING_TIMEOUT_S)


def copy_submission(source: Path, root: Path) -> None:
    for name in SUBMISSION_FILES:
        shutil.copy(source / name, root / "submission" / name)


def possible_score(document: dict) -> float:
    return sum(test["max_score"] for test in document["tests"])


# --------------------------------------------------------------- the zip
def test_bundle_holds_the_grader_and_nothing_else(bundle, work):
    with zipfile.ZipFile(bundle) as archive:
        modes = {info.filename: stat.S_IMODE(info.external_attr >> 16) for info in archive.infolist()}
        requirements = archive.read("requirements.txt").decode()
        secret = archive.read("case_secret.txt").decode()
    names = set(modes)

    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert {"autograder/cli.py", "autograder/results/schema.py", "autograder/fixtures/MANIFEST.json",
            "reference/common.py", "reference/two_stage_detector.py", "constraints.txt",
            "synthetic_voc/generator.py", "BUNDLE_INFO.txt"} <= names
    assert not [name for name in names if name.startswith(("tests/", "build/", "notebooks/solution", ".venv/",
                                                           "data_scripts/", "benchmarks/"))
                or "__pycache__" in name or name.endswith(".pyc")]
    assert "torch==2.13.0" in requirements.splitlines() and "torchvision==0.28.0" in requirements.splitlines()
    assert "pytest" in requirements
    assert secret == (work / "case_secret.txt").read_text()  # created by the build, reused by the next one


def test_bundle_bytes_are_reproducible():
    assert bundle_zip(bundle_members(TEST_SECRET)) == bundle_zip(bundle_members(TEST_SECRET))


def test_setup_script_parses_and_installs_the_pinned_requirements(bundle, work):
    root = gradescope_root(work, bundle, "setup-check")
    setup = (root / "source" / "setup.sh").read_text()

    assert subprocess.run(["bash", "-n", str(root / "source" / "setup.sh")]).returncode == 0
    assert subprocess.run(["bash", "-n", str(root / "source" / "run_autograder")]).returncode == 0
    assert '-c "$SOURCE/constraints.txt" -r "$SOURCE/requirements.txt"' in setup
    for script in ("setup.sh", "run_autograder"):
        assert not re.search(r"@[A-Z_]+@", (root / "source" / script).read_text()), f"{script}: placeholder left"


# ------------------------------------------------------------ gradings
def test_reference_earns_full_marks(bundle, work, interpreter):
    root = gradescope_root(work, bundle, "reference")
    copy_submission(REPOSITORY / "reference", root)

    completed = run_autograder(root, interpreter)

    assert completed.returncode == 0, completed.stderr[-3000:]
    results = load_results(root / "results" / "results.json")
    assert results["score"] == possible_score(results) > 0, completed.stdout[-3000:]
    assert all(test["status"] == "passed" for test in results["tests"])
    assert stat.S_IMODE((root / "source" / "autograder").stat().st_mode) & 0o077 == 0  # made private as root
    assert stat.S_IMODE((root / "source" / "reference").stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE((root / "source").stat().st_mode) & 0o077 == 0  # the whole folder, dot-folders too


def test_solution_in_the_bundles_git_history_is_out_of_reach(bundle, work, interpreter):
    """A bundle folder that carries a .git: `git show HEAD:reference/...` in iou must gain nothing."""
    if shutil.which("git") is None:
        pytest.skip("needs git to give the bundle a history")
    root = gradescope_root(work, bundle, "git-history")
    source = root / "source"
    git = ["git", "-C", str(source), "-c", "user.name=staff", "-c", "user.email=staff@example.org"]
    for command in (["init", "-q"], ["add", "reference"], ["commit", "-q", "-m", "solution"]):
        subprocess.run([*git, *command], check=True, capture_output=True)
    attack = ATTACKS_BY_NAME["repository_history"]
    values = {placeholder: str(source) for placeholder in PLACEHOLDERS}
    sources = reference_sources()
    sources[DETECTOR] += "\n\n" + attack.malicious_part(values)
    for name, text in sources.items():
        (root / "submission" / name).write_text(text)

    completed = run_autograder(root, interpreter)

    assert completed.returncode == 0, completed.stderr[-3000:]
    results = load_results(root / "results" / "results.json")
    iou_tests = [test for test in results["tests"] if "iou" in test["tags"]]
    assert iou_tests and all(test["score"] == 0 for test in iou_tests), results["tests"]
    assert any(attack.evidence in test["output"] for test in iou_tests)
    if os.geteuid() == 0:  # run_autograder made the history private too
        assert stat.S_IMODE((source / ".git").stat().st_mode) & 0o077 == 0


def test_upload_without_the_files_scores_zero_with_a_valid_file(bundle, work, interpreter):
    """Gradescope unpacks zip uploads itself: a wrong upload is a folder without the two files."""
    root = gradescope_root(work, bundle, "wrong-upload")
    (root / "submission" / "upload.zip").write_bytes(b"PK\x03\x04 not a zip")

    completed = run_autograder(root, interpreter)

    assert completed.returncode == 0, completed.stderr[-3000:]
    results = load_results(root / "results" / "results.json")
    assert results["score"] == 0 and results["tests"] and possible_score(results) > 0
    assert "No submission found" in results["output"] and "upload.zip" in results["output"]


def test_unprivileged_user_grades_the_stubs_to_zero(bundle, work, interpreter):
    """Not root (a laptop, most CI): no permission changes, best-effort isolation, still a valid file."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to run run_autograder as another user")
    as_nobody = [setpriv, f"--reuid={UNPRIVILEGED_UID}", f"--regid={UNPRIVILEGED_UID}", "--clear-groups"]
    probe = subprocess.run([*as_nobody, str(interpreter), "-c", "import torch"], capture_output=True, text=True)
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["no message"])[-1]
        pytest.skip(f"uid {UNPRIVILEGED_UID} cannot run {sys.executable}: {reason}")
    root = gradescope_root(work, bundle, "unprivileged")
    copy_submission(REPOSITORY / "student", root)
    for path in [root, *root.rglob("*")]:
        os.chown(path, UNPRIVILEGED_UID, UNPRIVILEGED_UID, follow_symlinks=False)

    completed = run_autograder(root, interpreter, user=as_nobody)

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "not root" in completed.stderr
    results = load_results(root / "results" / "results.json")
    assert results["score"] == 0 and results["tests"] and possible_score(results) > 0
    assert any("not implemented" in test["output"].lower() for test in results["tests"])
    assert "best effort" in results["output"].lower()
    assert stat.S_IMODE((root / "source" / "autograder").stat().st_mode) == 0o755  # left as unpacked


# ------------------------------------------------- when the grader cannot grade
def test_missing_environment_still_writes_a_valid_file(bundle, work):
    root = gradescope_root(work, bundle, "no-environment")
    copy_submission(REPOSITORY / "reference", root)

    completed = run_autograder(root, work / "no-such-python")

    assert completed.returncode == 0, completed.stderr
    results = load_results(root / "results" / "results.json")
    assert results["score"] == 0
    assert "not installed correctly" in results["output"] and "course staff" in results["output"]


def test_time_limit_still_writes_a_valid_file(bundle, work, interpreter):
    root = gradescope_root(work, bundle, "time-limit")
    copy_submission(REPOSITORY / "reference", root)

    completed = run_autograder(root, interpreter, AUTOGRADER_TIMEOUT_S="1")

    assert completed.returncode == 0, completed.stderr
    results = load_results(root / "results" / "results.json")
    assert results["score"] == 0
    assert "stopped after 1 s, the time limit for one submission" in results["output"]
