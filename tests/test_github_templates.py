"""The GitHub Actions templates for grading on push (``data_scripts/templates/github/``).

``student.yml`` runs in every student's repository: the public checks and a
``repository_dispatch`` request.  ``grading.yml`` runs in the course's private
grading repository: it validates the request, fetches the commit, grades it
with the pinned bundle and posts a check run.

The steps are read from each file's own layout (PyYAML is not a dependency;
where it is installed, a test proves the reader agrees with it) and their
``run:`` scripts run with bash as GitHub runs them.  Stand-ins replace what
only GitHub has: ``curl`` records every API call (and really fetches
``file://`` URLs: the bundle), ``sudo`` passes through, GitHub's git server is
a local folder of repositories, and the bundle's ``setup.sh`` (gigabytes of
downloads) is replaced by this interpreter, as in ``test_gradescope_bundle.py``.
The end-to-end grading runs the real grader, units only (a minute or two).
The work folder is under ``build/``: sandboxed workers get a private ``/tmp``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path

import pytest

from autograder.results.schema import load_results
from autograder.results.toml_compat import tomllib
from data_scripts.gradescope_bundle import bundle_members, bundle_zip
from data_scripts.release import release_paths
from tests.workflow_steps import workflow

REPOSITORY = Path(__file__).resolve().parent.parent
TEMPLATES = REPOSITORY / "data_scripts" / "templates" / "github"
STUDENT = TEMPLATES / "student.yml"
GRADING = TEMPLATES / "grading.yml"
RELEASE_ARCHIVE = REPOSITORY / release_paths.DEFAULT_OUT_DIR / release_paths.ARCHIVE
SUBMISSION_FILES = ("common.py", "two_stage_detector.py")
GITHUB_BASH = ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail"]
API = "https://api.github.test"
OWNER, PREFIX = "course-org", "faster-rcnn-"
STUDENT_REPOSITORY = f"{OWNER}/{PREFIX}alice"
GRADING_REPOSITORY = f"{OWNER}/grading"
DISPATCH_TOKEN, STUDENT_TOKEN = "dispatch-token-1234", "app-installation-token-5678"
STUDENT_STEPS = {"checks": ["Check out the submission", "Set up Python", "Install PyTorch", "Public checks"],
                 "request-grading": ["Request official grading"]}
GRADING_STEPS = {"grade": ["Validate the request", "Token for the student's repository", "Set up Python",
                           "Download and verify the grader", "Install the pinned grading environment",
                           "Fetch the student's commit", "Grade", "Report the score", "Upload results"]}
GRADING_TIMEOUT_S = 900
# A stand-in for the release's checks.py (data_scripts/release/public_checks.py builds the real one),
# with its interface: python checks.py FOLDER [--markdown FILE]; exit 0 when every check passes, else 1;
# a Markdown table appended to FILE.  Its "check" is that both files exist and compile.
STAND_IN_CHECKS = textwrap.dedent("""\
    import argparse, sys
    from pathlib import Path
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    rows, passed = [], True
    for name in ("common.py", "two_stage_detector.py"):
        path = args.folder / name
        try:
            compile(path.read_text(), str(path), "exec")
            rows.append(f"| pass | {name} |")
        except (OSError, SyntaxError) as error:
            rows.append(f"| FAIL | {name}: {type(error).__name__} |")
            passed = False
    table = "\\n".join(["## Public checks", "", "| | check |", "| --- | --- |", *rows]) + "\\n"
    print(table)
    if args.markdown:
        with open(args.markdown, "a") as stream:
            stream.write(table)
    sys.exit(0 if passed else 1)
""")
FAKE_SUDO = '#!/bin/sh\n[ "$1" = -n ] && shift\nexec "$@"\n'  # keeps the environment, unlike sudo
FAKE_CURL = textwrap.dedent(f"""\
    #!{sys.executable}
    # Records each call as a JSON line in $FAKE_API_LOG; file:// URLs are really fetched.
    import json, os, sys
    args = sys.argv[1:]
    url = args[-1]
    if url.startswith("file://"):
        os.execv("{shutil.which('curl')}", ["curl", *args])
    def value(flag):
        return args[args.index(flag) + 1] if flag in args else None
    data = value("--data")
    if data and data.startswith("@"):
        data = open(data[1:]).read()
    call = {{"method": value("--request") or "GET", "url": url, "data": data,
             "headers": [args[i + 1] for i, arg in enumerate(args) if arg == "--header"]}}
    with open(os.environ["FAKE_API_LOG"], "a") as log:
        log.write(json.dumps(call) + "\\n")
    print("{{}}")
""")
# Removes setuptools' editable-install finder: every grader module must come from the bundle.
NO_EDITABLE_INSTALL = textwrap.dedent("""\
    import sys
    sys.meta_path[:] = [finder for finder in sys.meta_path
                        if not getattr(finder, "__module__", "").startswith("__editable__")]
""")


# ------------------------------------------------------------------ reading the templates
def run_scripts(path: Path) -> list[str]:
    return [step["run"] for steps in workflow(path).values() for step in steps.values() if "run" in step]


class Runner:
    """Runs a template's steps with bash as GitHub would, in a fake runner's environment."""

    def __init__(self, tmp_path: Path, template: Path, job: str, **env: str):
        self.tmp_path = tmp_path
        self.steps = workflow(template)[job]
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir(exist_ok=True)
        tools = {"sudo": FAKE_SUDO, "curl": FAKE_CURL, "python": f'#!/bin/sh\nexec "{sys.executable}" "$@"\n'}
        for tool, text in tools.items():
            (bin_dir / tool).write_text(text)
            (bin_dir / tool).chmod(0o755)
        for name in ("runner-temp", "workspace"):
            (tmp_path / name).mkdir(exist_ok=True)
        self.api_log = tmp_path / "api-calls.jsonl"
        self.output = tmp_path / "github-output"
        self.summary = tmp_path / "summary.md"
        self.env = os.environ | {
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "GITHUB_API_URL": API,
            "GITHUB_SERVER_URL": "https://github.test",
            "GITHUB_OUTPUT": str(self.output),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "RUNNER_TEMP": str(tmp_path / "runner-temp"),
            "FAKE_API_LOG": str(self.api_log),
        } | env

    def run(self, name: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
        step = self.steps[name]
        directory = cwd or Path(step.get("working-directory", "").replace("${{ env.GRADER_ROOT }}",
                                                                         self.env.get("GRADER_ROOT", "")) or
                                self.tmp_path / "workspace")
        return subprocess.run([*GITHUB_BASH, "-c", step["run"]], cwd=directory, env=self.env | env,
                              capture_output=True, text=True, timeout=GRADING_TIMEOUT_S)

    def api_calls(self) -> list[dict]:
        return [json.loads(line) for line in self.api_log.read_text().splitlines()] if self.api_log.exists() else []

    def outputs(self) -> dict[str, str]:
        return dict(line.split("=", 1) for line in self.output.read_text().splitlines()) if self.output.exists() else {}


# ------------------------------------------------------------------ both templates
def test_templates_parse_as_yaml_with_the_expected_structure():
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed; the layout checks below still run")
    for path, expected in ((STUDENT, STUDENT_STEPS), (GRADING, GRADING_STEPS)):
        document = yaml.safe_load(path.read_text())
        jobs = document["jobs"]
        assert {job: [step["name"] for step in jobs[job]["steps"]] for job in jobs} == expected, path.name
        read = workflow(path)
        for job in jobs:  # the layout reader agrees with YAML
            for step in jobs[job]["steps"]:
                assert read[job][step["name"]].get("run") == step.get("run"), step["name"]
                assert read[job][step["name"]]["env"] == {key: str(value) for key, value in step.get("env", {}).items()}
    grading = yaml.safe_load(GRADING.read_text())
    on = grading.get("on", grading.get(True))  # YAML 1.1 reads a bare `on` as true
    assert on["repository_dispatch"]["types"] == ["grade-submission"]
    assert set(on["workflow_dispatch"]["inputs"]) == {"repository", "sha", "dry_run"}
    assert grading["jobs"]["grade"]["concurrency"]["cancel-in-progress"] is True
    assert grading["permissions"] == {}


def test_template_layout():
    assert {job: list(steps) for job, steps in workflow(STUDENT).items()} == STUDENT_STEPS
    assert {job: list(steps) for job, steps in workflow(GRADING).items()} == GRADING_STEPS
    for path in (STUDENT, GRADING):
        text = path.read_text()
        assert "\t" not in text
        for script in run_scripts(path):
            assert subprocess.run(["bash", "-n", "-c", script]).returncode == 0, script
            # Values reach scripts through env only: an expression pasted into a script is injectable.
            assert "${{" not in script, script


def test_both_sides_agree_on_the_event_type():
    dispatch = workflow(STUDENT)["request-grading"]["Request official grading"]["run"]
    sent = re.search(r'"event_type": "([\w-]+)"', dispatch).group(1)

    assert re.search(rf"^  repository_dispatch:\n    types: \[{sent}\]$", GRADING.read_text(), re.M)


# ------------------------------------------------------------------ student side
def reference_lines() -> set[str]:
    """The reference's distinctive lines (long enough not to occur by chance)."""
    return {line.strip() for name in SUBMISSION_FILES
            for line in (REPOSITORY / "reference" / name).read_text().splitlines() if len(line.strip()) >= 30}


def test_student_template_holds_and_downloads_no_grader():
    text = STUDENT.read_text()
    steps = workflow(STUDENT)

    for word in ("GRADER_BUNDLE", "autograder.zip", "run_autograder", "python -m autograder", "reference/"):
        assert word not in text, word
    assert not reference_lines() & {line.strip() for line in text.splitlines()}
    assert set(re.findall(r"secrets\.(\w+)", text)) == {"GRADING_DISPATCH_TOKEN"}
    assert steps["checks"]["Check out the submission"]["with"] == {"persist-credentials": "false"}
    assert "secrets." not in str(steps["checks"])  # student code (the checks) never runs beside the token


def pinned_torch() -> list[str]:
    """pyproject.toml's torch and torchvision requirements."""
    with open(REPOSITORY / "pyproject.toml", "rb") as stream:
        return sorted(requirement for requirement in tomllib.load(stream)["project"]["dependencies"]
                      if requirement.startswith(("torch==", "torchvision==")))


def test_student_template_installs_the_pinned_torch():
    install = workflow(STUDENT)["checks"]["Install PyTorch"]["run"]

    assert len(pinned_torch()) == 2
    assert set(install.split()) >= set(pinned_torch())


def student_repository(folder: Path) -> Path:
    """The release's files with the reference's two files, as a student's repository holds them.

    The real release (``build/release/student_release.zip``, from ``python -m data_scripts.release``)
    when it has been built with its checks.py; otherwise the reference's files and the stand-in checks.py.
    """
    folder.mkdir(parents=True)
    members = zipfile.ZipFile(RELEASE_ARCHIVE).namelist() if RELEASE_ARCHIVE.is_file() else []
    top = f"{release_paths.ARCHIVE_FOLDER}/"
    if f"{top}checks.py" in members:
        with zipfile.ZipFile(RELEASE_ARCHIVE) as archive:
            for name in members:
                if name.startswith(top) and not name.endswith("/"):
                    (folder / name[len(top):]).parent.mkdir(parents=True, exist_ok=True)
                    (folder / name[len(top):]).write_bytes(archive.read(name))
    else:
        (folder / "checks.py").write_text(STAND_IN_CHECKS)
    for name in SUBMISSION_FILES:
        shutil.copy(REPOSITORY / "reference" / name, folder / name)
    return folder


def test_public_checks_step_runs_the_checks_into_the_job_summary(tmp_path):
    repository = student_repository(tmp_path / "alice")
    runner = Runner(tmp_path, STUDENT, "checks")

    passed = runner.run("Public checks", cwd=repository)
    first_summary = runner.summary.read_text()
    (repository / "common.py").write_text("def iou(:\n")  # a broken file
    failed = runner.run("Public checks", cwd=repository)

    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "|" in first_summary and "---" in first_summary  # a Markdown table
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert runner.api_calls() == []


def test_public_checks_step_without_checks_py_says_what_is_missing(tmp_path):
    runner = Runner(tmp_path, STUDENT, "checks")

    completed = runner.run("Public checks")

    assert completed.returncode == 1
    assert "::error title=Public checks::checks.py is missing" in completed.stdout


def test_request_step_sends_one_dispatch_with_the_repository_and_commit(tmp_path):
    sha = "0123456789abcdef0123456789abcdef01234567"
    runner = Runner(tmp_path, STUDENT, "request-grading", GITHUB_REPOSITORY=STUDENT_REPOSITORY, GITHUB_SHA=sha,
                    GRADING_REPOSITORY=GRADING_REPOSITORY, GRADING_DISPATCH_TOKEN=DISPATCH_TOKEN)

    completed = runner.run("Request official grading")

    assert completed.returncode == 0, completed.stderr
    [call] = runner.api_calls()
    assert call["method"] == "POST"
    assert call["url"] == f"{API}/repos/{GRADING_REPOSITORY}/dispatches"
    assert f"Authorization: Bearer {DISPATCH_TOKEN}" in call["headers"]
    assert json.loads(call["data"]) == {"event_type": "grade-submission",
                                        "client_payload": {"repository": STUDENT_REPOSITORY, "sha": sha}}


def test_every_student_step_runs_and_contacts_nothing_but_the_dispatch_endpoint(tmp_path):
    repository = student_repository(tmp_path / "alice")
    sha = "0123456789abcdef0123456789abcdef01234567"
    pip_log = tmp_path / "pip-args"
    python = tmp_path / "bin" / "python"
    env = {"GITHUB_REPOSITORY": STUDENT_REPOSITORY, "GITHUB_SHA": sha, "GRADING_REPOSITORY": GRADING_REPOSITORY,
           "GRADING_DISPATCH_TOKEN": DISPATCH_TOKEN}
    completed = {}
    for job, steps in workflow(STUDENT).items():
        runner = Runner(tmp_path, STUDENT, job, **env)
        # pip is recorded, not run (it would download PyTorch); everything else is this interpreter
        python.write_text(f'#!/bin/sh\nif [ "$2" = pip ]; then printf "%s\\n" "$@" > "{pip_log}"; exit 0; fi\n'
                          f'exec "{sys.executable}" "$@"\n')
        for name, step in steps.items():
            if "run" in step:
                completed[name] = runner.run(name, cwd=repository)

    assert {name: result.returncode for name, result in completed.items()} == \
        {"Install PyTorch": 0, "Public checks": 0, "Request official grading": 0}
    assert [call["url"] for call in runner.api_calls()] == [f"{API}/repos/{GRADING_REPOSITORY}/dispatches"]
    assert pip_log.read_text().split() == ["-m", "pip", "install", "--quiet", "--index-url",
                                           "https://download.pytorch.org/whl/cpu", *pinned_torch()]


def test_request_step_unconfigured_fails_with_the_settings_to_make(tmp_path):
    runner = Runner(tmp_path, STUDENT, "request-grading", GITHUB_REPOSITORY=STUDENT_REPOSITORY, GITHUB_SHA="0" * 40,
                    GRADING_REPOSITORY="", GRADING_DISPATCH_TOKEN="")

    completed = runner.run("Request official grading")

    assert completed.returncode == 1
    assert "GRADING_REPOSITORY variable and the GRADING_DISPATCH_TOKEN secret" in completed.stdout
    assert runner.api_calls() == []


# ------------------------------------------------------------------ grading side: the request
def validate(tmp_path: Path, repository: str, sha: str, **env: str) -> tuple[subprocess.CompletedProcess, dict]:
    settings = {"STUDENT_REPOSITORY": repository, "STUDENT_SHA": sha, "ALLOWED_OWNER": OWNER,
                "ALLOWED_PREFIX": PREFIX, "DRY_RUN": ""}
    runner = Runner(tmp_path, GRADING, "grade", **settings | env)
    completed = runner.run("Validate the request")
    return completed, runner.outputs()


def test_valid_request_gives_the_checked_values_to_later_steps(tmp_path):
    sha = "89abcdef" * 5
    completed, outputs = validate(tmp_path, "Course-Org/faster-rcnn-alice.2", sha)

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert outputs == {"repository": "Course-Org/faster-rcnn-alice.2", "name": "faster-rcnn-alice.2", "sha": sha,
                       "artifact": f"results-Course-Org-faster-rcnn-alice.2-{sha}"}


@pytest.mark.parametrize("repository, sha, reason", [
    ("other-org/faster-rcnn-alice", "a" * 40, "not one of this assignment's"),
    (f"{OWNER}/other-assignment-alice", "a" * 40, "not one of this assignment's"),
    (f"{OWNER}/faster-rcnn-", "a" * 40, "not one of this assignment's"),
    (f"{OWNER}/faster-rcnn-alice/../grading", "a" * 40, "must be OWNER/NAME"),
    (f"{OWNER}/..", "a" * 40, "must be OWNER/NAME"),
    (f"{OWNER}/faster-rcnn-alice\n::error::forged", "a" * 40, "must be OWNER/NAME"),
    (f"{OWNER}/faster-rcnn-$(touch pwned)", "a" * 40, "must be OWNER/NAME"),
    (STUDENT_REPOSITORY, "A" * 40, "40 lowercase hexadecimal digits"),
    (STUDENT_REPOSITORY, "a" * 39, "40 lowercase hexadecimal digits"),
    (STUDENT_REPOSITORY, "a" * 40 + "\nname=x", "40 lowercase hexadecimal digits"),
    (STUDENT_REPOSITORY, "main", "40 lowercase hexadecimal digits"),
    ("", "", "must be OWNER/NAME"),
])
def test_invalid_request_is_rejected_before_anything_runs(tmp_path, repository, sha, reason):
    completed, outputs = validate(tmp_path, repository, sha)

    assert completed.returncode == 1
    assert reason in completed.stdout
    assert outputs == {}
    commands = [line for line in completed.stdout.splitlines() if line.startswith("::")]
    assert len(commands) == 1 and commands[0].startswith("::error title=Rejected request::")  # nothing forged
    assert not (tmp_path / "workspace" / "pwned").exists()


def test_request_without_the_allowed_owner_configured_is_rejected(tmp_path):
    completed, outputs = validate(tmp_path, STUDENT_REPOSITORY, "a" * 40, ALLOWED_OWNER="")

    assert completed.returncode == 1
    assert "staff must set the ALLOWED_OWNER and ALLOWED_PREFIX variables" in completed.stdout


def test_job_runs_only_for_this_assignments_repositories_with_one_grading_per_repository():
    text = GRADING.read_text()
    condition = re.search(r"^    if: >-\n((?:      .+\n)+)", text, re.M).group(1).split()

    assert " ".join(condition) == ("github.event_name == 'workflow_dispatch' || startsWith(github.event.client_payload"
                                   ".repository, format('{0}/{1}', vars.ALLOWED_OWNER, vars.ALLOWED_PREFIX))")
    assert re.search(r"^    concurrency:\n      group: grade-\$\{\{ github.event.client_payload.repository "
                     r"\|\| inputs.repository \|\| 'dry-run' \}\}\n      cancel-in-progress: true$", text, re.M)
    steps = workflow(GRADING)["grade"]
    for name in ("Fetch the student's commit", "Report the score"):  # later steps see only checked values
        assert steps[name]["env"]["STUDENT_REPOSITORY"] == "${{ steps.request.outputs.repository }}"
        assert steps[name]["env"]["STUDENT_SHA"] == "${{ steps.request.outputs.sha }}"
    assert steps["Token for the student's repository"]["with"]["repositories"] == "${{ steps.request.outputs.name }}"


# ------------------------------------------------------------------ grading side: end to end
@pytest.fixture(scope="module")
def work() -> Path:
    parent = REPOSITORY / "build"
    parent.mkdir(exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="test-github-templates-", dir=parent))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def git(folder: Path, *args: str) -> str:
    identity = {"GIT_AUTHOR_NAME": "Alice", "GIT_AUTHOR_EMAIL": "alice@example.test",
                "GIT_COMMITTER_NAME": "Alice", "GIT_COMMITTER_EMAIL": "alice@example.test"}
    return subprocess.run(["git", *args], cwd=folder, env=os.environ | identity, check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def github(work) -> dict:
    """A git server holding Alice's repository (the graded commit, then a later one with the stubs),
    the grader bundle behind a file:// URL, and the dispatch payload of the graded commit."""
    alice = student_repository(work / "alice")
    git(alice, "init", "--quiet")
    git(alice, "add", ".")
    git(alice, "commit", "--quiet", "-m", "solution")
    graded = git(alice, "rev-parse", "HEAD")
    for name in SUBMISSION_FILES:
        shutil.copy(REPOSITORY / "student" / name, alice / name)
    git(alice, "commit", "--quiet", "-am", "later: the stubs again")
    server = work / "server"
    (server / OWNER).mkdir(parents=True)
    git(work, "clone", "--quiet", "--bare", str(alice), str(server / f"{STUDENT_REPOSITORY}.git"))
    bundle = work / "autograder.zip"
    bundle.write_bytes(bundle_zip(bundle_members("0123456789abcdef0123456789abcdef")))
    payload = work / "event.json"  # what GitHub hands the workflow as github.event
    payload.write_text(json.dumps({"action": "grade-submission",
                                   "client_payload": {"repository": STUDENT_REPOSITORY, "sha": graded}}))
    sha256 = subprocess.run(["sha256sum", str(bundle)], capture_output=True, text=True, check=True).stdout.split()[0]
    return {"server": f"file://{server}", "bundle_url": f"file://{bundle}", "sha256": sha256, "event": payload}


def grading_runner(tmp_path: Path, github: dict, event: dict | None, **env: str) -> Runner:
    """The grading job's environment as its `env:` block computes it from ``event`` (None: a dry run)."""
    request = (event or {}).get("client_payload", {})
    settings = {"STUDENT_REPOSITORY": request.get("repository", ""), "STUDENT_SHA": request.get("sha", ""),
                "DRY_RUN": "" if event else "1", "UNITS_ONLY": "1", "ALLOWED_OWNER": OWNER, "ALLOWED_PREFIX": PREFIX,
                "GRADER_ROOT": str(tmp_path / "autograder"), "GRADER_BUNDLE_URL": github["bundle_url"],
                "GRADER_BUNDLE_SHA256": github["sha256"], "GRADER_BUNDLE_TOKEN": "", "GITHUB_SERVER_URL": github["server"]}
    return Runner(tmp_path, GRADING, "grade", **settings | env)


def run_job(runner: Runner, tmp_path: Path) -> dict[str, subprocess.CompletedProcess]:
    """The job's run steps in order; between them what GitHub does: step outputs, the App token, setup.sh."""
    done = {}
    for name in ("Validate the request", "Download and verify the grader", "Fetch the student's commit",
                 "Grade", "Report the score"):
        outputs = runner.outputs()
        env = {"STUDENT_REPOSITORY": outputs.get("repository", ""), "STUDENT_SHA": outputs.get("sha", ""),
               "STUDENT_TOKEN": STUDENT_TOKEN} if name in ("Fetch the student's commit", "Report the score") else {}
        done[name] = runner.run(name, **env)
        assert done[name].returncode == 0, f"{name}:\n{done[name].stdout[-3000:]}\n{done[name].stderr[-3000:]}"
        if name == "Download and verify the grader":  # setup.sh's venv: this interpreter, bundle modules only
            isolation = tmp_path / "isolation"
            isolation.mkdir()
            (isolation / "sitecustomize.py").write_text(NO_EDITABLE_INSTALL)
            venv_python = tmp_path / "autograder" / "venv" / "bin" / "python"
            venv_python.parent.mkdir(parents=True)
            venv_python.write_text(f'#!/bin/sh\nPYTHONPATH="{isolation}" exec "{sys.executable}" "$@"\n')
            venv_python.chmod(0o755)
    return done


@pytest.fixture(scope="module")
def graded(work, github) -> dict:
    tmp_path = work / "graded"
    tmp_path.mkdir()
    runner = grading_runner(tmp_path, github, json.loads(github["event"].read_text()))
    done = run_job(runner, tmp_path)
    return {"runner": runner, "steps": done, "root": tmp_path / "autograder",
            "sha": json.loads(github["event"].read_text())["client_payload"]["sha"]}


def test_grading_fetches_exactly_the_requested_commit_without_git_or_credentials(graded):
    submission = graded["root"] / "submission"

    for name in SUBMISSION_FILES:  # the graded commit's files, not the later stubs
        assert (submission / name).read_bytes() == (REPOSITORY / "reference" / name).read_bytes()
    assert not (submission / ".git").exists()
    left = [path for folder in (graded["root"], graded["root"].parent / "runner-temp")
            for path in folder.rglob("*") if path.is_file()]
    assert left and not [path for path in left if STUDENT_TOKEN.encode() in path.read_bytes()]


def test_grading_posts_the_score_as_a_check_run_on_the_commit(graded):
    results = load_results(graded["root"] / "results" / "results.json")
    [call] = graded["runner"].api_calls()
    body = json.loads(call["data"])
    possible = sum(test["max_score"] for test in results["tests"])

    assert results["score"] == possible > 0  # the reference, graded by the real grader
    assert not [test for test in results["tests"] if test["name"].startswith("notebook")]  # UNITS_ONLY=1
    assert call["method"] == "POST"
    assert call["url"] == f"{API}/repos/{STUDENT_REPOSITORY}/check-runs"
    assert f"Authorization: Bearer {STUDENT_TOKEN}" in call["headers"]
    assert body["name"] == "Autograder" and body["head_sha"] == graded["sha"]
    assert body["status"] == "completed" and body["conclusion"] == "success"
    assert body["output"]["title"] == f"Score: {possible:g} / {possible:g}"
    summary = body["output"]["summary"]
    assert f"**{possible:g} / {possible:g}**" in summary
    for test in results["tests"]:  # the per-test table
        assert f"| ✅ | {test['name'].replace('|', chr(92) + '|')} | {test['score']:g} / {test['max_score']:g} |" in summary
    assert "posted the check run Autograder" in graded["steps"]["Report the score"].stdout
    assert "## Autograder score" in graded["runner"].summary.read_text()  # staff's view in the private run


def test_dry_run_grades_the_bundles_reference_and_posts_nothing(work, github, graded):
    tmp_path = work / "dry-run"
    tmp_path.mkdir()
    runner = grading_runner(tmp_path, github, None)
    done = {name: runner.run(name) for name in ("Validate the request", "Download and verify the grader",
                                                "Fetch the student's commit")}
    outputs = runner.outputs()
    results = tmp_path / "autograder" / "results"
    shutil.copy(graded["root"] / "results" / "results.json", results)  # the Grade step is the same in both modes
    report = runner.run("Report the score", STUDENT_REPOSITORY=outputs["repository"], STUDENT_SHA=outputs["sha"],
                        STUDENT_TOKEN="")

    assert all(step.returncode == 0 for step in done.values()), done
    assert "dry run" in done["Validate the request"].stdout
    for name in SUBMISSION_FILES:
        assert (tmp_path / "autograder" / "submission" / name).read_bytes() == \
            (REPOSITORY / "reference" / name).read_bytes()
    assert report.returncode == 0, report.stderr
    assert runner.api_calls() == []
    printed = report.stdout.split("with:\n", 1)
    assert printed[0] == f"dry run: would POST {API}/repos/{OWNER}/{PREFIX}dry-run/check-runs "
    assert json.loads(printed[1])["conclusion"] == "success"

    (results / "results.json").unlink()  # no usable results: the student is told the grader failed
    failed = runner.run("Report the score", STUDENT_REPOSITORY=outputs["repository"], STUDENT_SHA=outputs["sha"],
                        STUDENT_TOKEN="")
    assert failed.returncode == 0, failed.stderr
    assert json.loads(failed.stdout.split("with:\n", 1)[1])["output"]["title"] == "Not graded: the grader failed"


def test_bundle_with_another_hash_is_refused(work, github, tmp_path):
    runner = grading_runner(tmp_path, github, None, GRADER_BUNDLE_SHA256="0" * 64)

    completed = runner.run("Download and verify the grader")

    assert completed.returncode != 0
    assert "FAILED" in completed.stdout + completed.stderr
    assert not (tmp_path / "autograder" / "source" / "autograder").exists()
