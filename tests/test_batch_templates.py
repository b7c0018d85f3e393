"""Templates for grading across machines (``data_scripts/templates/``), run as their schedulers would.

* GitHub Actions matrix (``batch_matrix.yml``): the ``Grade a shard`` script
  runs with bash as GitHub would, with a stand-in ``python`` recording its
  arguments (then parsed by the real command line); ``Merge the shards`` runs
  the real merge on shard outputs written as ``batch --shard`` leaves them.
* Slurm (``slurm_batch.sh``): the script itself, with an array task's
  environment, and its ``merge`` mode for real.
* Kubernetes (``kubernetes_batch.yml``, ``kubernetes_merge.yml``): parsed
  (PyYAML), the pod's command run with an index's environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder import cli
from autograder.batch.shards import Shard
from autograder.batch.gradebook import GRADEBOOK_FILE
from tests.test_batch_shards import IDS, _fake_shards
from tests.workflow_steps import read_steps

REPOSITORY = Path(__file__).resolve().parent.parent
TEMPLATES = REPOSITORY / "data_scripts" / "templates"
GITHUB_BASH = ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail"]
FAKE_PYTHON = textwrap.dedent("""\
    #!/bin/sh
    printf '%s\\n' "$@" > "$FAKE_PYTHON_ARGS"
    exit "$FAKE_PYTHON_STATUS"
""")
FAKE_SUDO = '#!/bin/sh\n[ "$1" = -n ] && shift\nexec "$@"\n'
REAL_PYTHON = f'#!/bin/sh\nexec "{sys.executable}" "$@"\n'


def tools(tmp_path: Path, *, real_python: bool = False) -> dict[str, str]:
    """A PATH with stand-ins for python and sudo, and the variables the stand-in python reads."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool, text in {"python": REAL_PYTHON if real_python else FAKE_PYTHON, "sudo": FAKE_SUDO}.items():
        (bin_dir / tool).write_text(text)
        (bin_dir / tool).chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_PYTHON_ARGS": str(tmp_path / "python-args"),
            "FAKE_PYTHON_STATUS": "0", "PYTHONPATH": str(REPOSITORY)}


def parsed_batch(tmp_path: Path, monkeypatch) -> dict:
    """The arguments the stand-in python received, run through the real ``python -m autograder`` parser."""
    arguments = (tmp_path / "python-args").read_text().splitlines()
    assert arguments[:2] == ["-m", "autograder"]
    received = {}
    monkeypatch.setattr(cli, "run_batch_from_args", lambda args: received.update(vars(args)) or 0)
    assert cli.main(arguments[2:]) == 0
    return received


# ------------------------------------------------------------- GitHub Actions
MATRIX = TEMPLATES / "batch_matrix.yml"


def test_actions_matrix_parses_with_a_merge_after_every_shard():
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load(MATRIX.read_text())
    grade, merge = workflow["jobs"]["grade"], workflow["jobs"]["merge"]
    assert merge["needs"] == "grade"
    assert grade["strategy"]["matrix"]["shard"] == list(range(1, len(grade["strategy"]["matrix"]["shard"]) + 1))
    assert grade["strategy"]["fail-fast"] is False
    steps = read_steps(MATRIX)
    assert steps["Grade a shard"]["env:SHARD"] == "${{ matrix.shard }}"
    assert steps["Grade a shard"]["env:SHARDS"] == "${{ strategy.job-total }}"
    for name in ("Download the submissions", "Grade a shard", "Merge the shards"):
        assert subprocess.run(["bash", "-n", "-c", steps[name]["run"]]).returncode == 0, name


@pytest.mark.parametrize("units_only", ["true", "false"])
def test_actions_grade_step_runs_the_shards_batch_command(tmp_path, monkeypatch, units_only):
    env = os.environ | tools(tmp_path) | {"SHARD": "2", "SHARDS": "3", "UNITS_ONLY": units_only,
                                          "SUBMISSIONS": str(tmp_path / "submissions.zip"),
                                          "OUT_DIR": str(tmp_path / "out")}
    completed = subprocess.run([*GITHUB_BASH, "-c", read_steps(MATRIX)["Grade a shard"]["run"]], env=env,
                               capture_output=True, text=True, timeout=60)

    assert completed.returncode == 0, completed.stderr
    args = parsed_batch(tmp_path, monkeypatch)
    assert args["shard"] == Shard(2, 3) and args["units_only"] == (units_only == "true")
    assert args["submissions"] == tmp_path / "submissions.zip" and args["out"] == tmp_path / "out" / "shard-2"


def test_actions_grade_step_fails_when_the_batch_does(tmp_path):
    env = os.environ | tools(tmp_path) | {"SHARD": "1", "SHARDS": "2", "UNITS_ONLY": "false", "SUBMISSIONS": "s",
                                          "OUT_DIR": str(tmp_path / "out"), "FAKE_PYTHON_STATUS": "2"}
    completed = subprocess.run([*GITHUB_BASH, "-c", read_steps(MATRIX)["Grade a shard"]["run"]], env=env,
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2


def test_actions_merge_step_merges_the_downloaded_shards(tmp_path):
    shards_dir = tmp_path / "shards"
    folders = _fake_shards(shards_dir, IDS, 3)
    for index, folder in enumerate(folders, start=1):
        folder.rename(shards_dir / f"shard-{index}")  # as download-artifact lays them out
    env = os.environ | tools(tmp_path, real_python=True) | {
        "SHARDS_DIR": str(shards_dir), "MERGED_DIR": str(tmp_path / "gradebook"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}

    completed = subprocess.run([*GITHUB_BASH, "-c", read_steps(MATRIX)["Merge the shards"]["run"]], env=env,
                               cwd=REPOSITORY, capture_output=True, text=True, timeout=120)

    assert completed.returncode == 0, completed.stderr
    rows = (tmp_path / "gradebook" / GRADEBOOK_FILE).read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == IDS
    assert (tmp_path / "summary.md").read_text() == f"Gradebook: {len(IDS)} submissions\n"


# ---------------------------------------------------------------------- Slurm
SLURM = TEMPLATES / "slurm_batch.sh"


def test_slurm_array_task_grades_its_shard(tmp_path, monkeypatch):
    fake = tools(tmp_path)
    env = os.environ | fake | {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_CPUS_PER_TASK": "8",
                               "GRADER_DIR": str(REPOSITORY), "PYTHON": "python", "SUBMISSIONS": "/class/subs",
                               "OUT_ROOT": str(tmp_path / "out"), "BATCH_OPTIONS": "--units-only"}
    completed = subprocess.run(["bash", str(SLURM)], env=env, capture_output=True, text=True, timeout=60)

    assert completed.returncode == 0, completed.stderr
    args = parsed_batch(tmp_path, monkeypatch)
    assert args["shard"] == Shard(3, 4) and args["jobs"] == 4 and args["units_only"]
    assert args["out"] == tmp_path / "out" / "shard-3"
    directives = [line for line in SLURM.read_text().splitlines() if line.startswith("#SBATCH")]
    assert "#SBATCH --array=1-8" in directives


def test_slurm_outside_an_array_says_how_to_submit(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLURM_")}
    env |= tools(tmp_path) | {"GRADER_DIR": str(REPOSITORY), "PYTHON": "python"}
    completed = subprocess.run(["bash", str(SLURM)], env=env, capture_output=True, text=True, timeout=60)
    assert completed.returncode != 0 and "submit with sbatch" in completed.stderr


def test_slurm_merge_mode_merges(tmp_path):
    out_root = tmp_path / "out"
    for index, folder in enumerate(_fake_shards(tmp_path / "made", IDS, 2), start=1):
        out_root.mkdir(exist_ok=True)
        folder.rename(out_root / f"shard-{index}")
    env = os.environ | tools(tmp_path, real_python=True) | {"GRADER_DIR": str(REPOSITORY), "PYTHON": "python",
                                                            "OUT_ROOT": str(out_root)}
    completed = subprocess.run(["bash", str(SLURM), "merge"], env=env, capture_output=True, text=True, timeout=120)

    assert completed.returncode == 0, completed.stderr
    assert (out_root / "merged" / GRADEBOOK_FILE).read_text().count("\n") == len(IDS) + 1


# ----------------------------------------------------------------- Kubernetes
def test_kubernetes_indexed_job_pod_grades_its_shard(tmp_path, monkeypatch):
    yaml = pytest.importorskip("yaml")
    job = yaml.safe_load((TEMPLATES / "kubernetes_batch.yml").read_text())
    merge_job = yaml.safe_load((TEMPLATES / "kubernetes_merge.yml").read_text())
    spec = job["spec"]
    container = spec["template"]["spec"]["containers"][0]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert spec["completionMode"] == "Indexed"
    assert int(env["SHARDS"]) == spec["completions"] == spec["parallelism"]
    assert container["command"][:2] == ["bash", "-c"]
    assert "merge" in " ".join(merge_job["spec"]["template"]["spec"]["containers"][0]["command"])

    run_env = os.environ | tools(tmp_path) | env | {"JOB_COMPLETION_INDEX": "0", "BATCH_OPTIONS": "--units-only"}
    completed = subprocess.run(["bash", "-c", container["command"][2]], env=run_env, capture_output=True,
                               text=True, timeout=60)

    assert completed.returncode == 0, completed.stderr
    args = parsed_batch(tmp_path, monkeypatch)
    assert args["shard"] == Shard(1, int(env["SHARDS"])) and args["units_only"]
    assert args["out"] == Path("/class/out/shard-1") and args["jobs"] >= 1

