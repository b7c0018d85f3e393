"""The GitHub Classroom workflow template (``data_scripts/templates/classroom.yml``).

PyYAML is not a dependency: the full parse runs only where it is installed.
The rest reads the file's steps with a small reader of this file's own
layout, then runs the ``Grade`` and ``Publish the score`` scripts with bash
as GitHub would (``bash -e -o pipefail``), with a stand-in ``python`` that
records its arguments; those arguments are then parsed by the real command
line of ``autograder.cli``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder import cli
from autograder.results import TestResult, results_document
from tests.workflow_steps import read_steps

REPOSITORY = Path(__file__).resolve().parent.parent
TEMPLATE = REPOSITORY / "data_scripts" / "templates" / "classroom.yml"
GITHUB_BASH = ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail"]
STEP_NAMES = ["Check out the submission", "Set up Python", "Download and verify the grader",
              "Install the pinned grading environment", "Grade", "Publish the score", "Upload results.json"]
FAKE_PYTHON = textwrap.dedent("""\
    #!/bin/sh
    printf '%s\\n' "$@" > "$FAKE_PYTHON_ARGS"
    exit "$FAKE_PYTHON_STATUS"
""")
FAKE_SUDO = '#!/bin/sh\n[ "$1" = -n ] && shift\nexec "$@"\n'  # keeps the environment, unlike sudo


def steps() -> dict[str, dict[str, str]]:
    """Step name → its ``uses``/``run``/``if`` values, read from the template's own layout."""
    return read_steps(TEMPLATE)


def run_step(name: str, tmp_path: Path, *, python_status: int = 0, cwd: Path = REPOSITORY,
             use_real_python: bool = False) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    tools = {"sudo": FAKE_SUDO, "python": f'#!/bin/sh\nexec "{sys.executable}" "$@"\n' if use_real_python else FAKE_PYTHON}
    for tool, text in tools.items():
        (bin_dir / tool).write_text(text)
        (bin_dir / tool).chmod(0o755)
    env = os.environ | {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "SUBMISSION_DIR": str(tmp_path / "submission"),
        "RESULTS_DIR": str(tmp_path / "results"),
        "GRADER_DIR": str(REPOSITORY),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "FAKE_PYTHON_ARGS": str(tmp_path / "python-args"),
        "FAKE_PYTHON_STATUS": str(python_status),
    }
    (tmp_path / "results").mkdir(exist_ok=True)
    return subprocess.run([*GITHUB_BASH, "-c", steps()[name]["run"]], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_template_parses_as_yaml_with_the_expected_structure():
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed; the structural checks below still run")
    workflow = yaml.safe_load(TEMPLATE.read_text())
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "push" in on
    assert [step["name"] for step in workflow["jobs"]["grade"]["steps"]] == STEP_NAMES


def test_template_layout():
    text = TEMPLATE.read_text()
    top_level = [line.split(":")[0] for line in text.splitlines() if line and not line.startswith((" ", "#"))]

    assert "\t" not in text
    assert top_level == ["name", "on", "permissions", "jobs"]
    assert re.search(r"^on:\n  push:\n", text, re.M)
    assert list(steps()) == STEP_NAMES
    assert steps()["Check out the submission"]["uses"].startswith("actions/checkout@v")
    assert steps()["Upload results.json"]["uses"].startswith("actions/upload-artifact@v")
    assert steps()["Publish the score"]["if"] == steps()["Upload results.json"]["if"] == "always()"
    for name in ("Download and verify the grader", "Grade", "Publish the score"):
        assert subprocess.run(["bash", "-n", "-c", steps()[name]["run"]]).returncode == 0, name


def test_grade_step_runs_the_grade_command_line(tmp_path, monkeypatch):
    completed = run_step("Grade", tmp_path)
    arguments = (tmp_path / "python-args").read_text().splitlines()
    received = {}
    monkeypatch.setattr(cli, "grade_submission", lambda *args, **kwargs: received.update(args=args, **kwargs) or 0)

    assert completed.returncode == 0, completed.stderr
    assert arguments[:3] == ["-m", "autograder", "grade"]
    assert cli.main(arguments[2:]) == 0  # the real parser accepts them
    assert received == {"args": (tmp_path / "submission", tmp_path / "results"), "units_only": False, "protect": []}


@pytest.mark.parametrize("status", [0, 2], ids=["graded", "grader-failed"])
def test_grade_step_never_fails_the_workflow(tmp_path, status):
    completed = run_step("Grade", tmp_path, python_status=status)

    assert completed.returncode == 0, completed.stderr
    assert ("::warning title=Autograder::the grader itself failed" in completed.stdout) == (status != 0)


def test_publish_step_writes_the_score_table_and_a_notice(tmp_path):
    tests = [TestResult("iou: random boxes", 2.0, fraction=1.0, passed=True),
             TestResult("nms: ties | order", 3.0, output="keep the higher-scoring box\nsecond line")]
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "results.json").write_text(json.dumps(results_document(tests, "Graded: folder", 1.0)))

    completed = run_step("Publish the score", tmp_path, use_real_python=True)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "::notice title=Autograder score::2 / 5"
    summary = (tmp_path / "summary.md").read_text()
    assert "**2 / 5**" in summary
    assert "| ✅ | iou: random boxes | 2 / 2 |" in summary
    assert r"| ❌ | nms: ties \| order | 0 / 3 | keep the higher-scoring box second line |" in summary


def test_publish_step_without_results_warns_and_succeeds(tmp_path):
    completed = run_step("Publish the score", tmp_path, use_real_python=True)

    assert completed.returncode == 0, completed.stderr
    assert "::warning title=Autograder::no results.json was produced" in completed.stdout
