"""Machine-relative time limits and other CPUs' kernels (autograder/notebook/machine_speed.py).

A slower grading machine is stood in for by torch's portable kernels:
``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41`` made a training step
about 1.85x slower on an AVX-512 machine. The grader passes both variables
to the sandbox, so the stand-in reaches the notebook's training.

The full proof on the real grading profile (minutes of CPU) is opt-in:
``SLOW_MACHINE=1 pytest tests/test_machine_speed.py -k real_profile``.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.notebook import cell_runner, machine_speed
from autograder.notebook.grading_profile import GRADING_PROFILE, SMOKE_PROFILE
from autograder.notebook.machine_speed import CALIBRATION_STEP_CPU_S, MAX_FACTOR, MIN_FACTOR, MachineSpeed, time_factor
from autograder.course.reference_solution import REFERENCE_DIR
from autograder.sandbox.client import Sandbox
from autograder.intake.submission import normalize_submission

REPOSITORY = Path(__file__).resolve().parents[1]
SLOW_MACHINE = {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"}
UNIT_POINTS = 90
BURN_CPU = "import time\nstarted = time.process_time()\nwhile time.process_time() - started < {seconds}:\n    pass"


@pytest.mark.parametrize("step_cpu_s, factor", [
    (CALIBRATION_STEP_CPU_S, 1.0),
    (CALIBRATION_STEP_CPU_S * 1.85, 1.85),
    (CALIBRATION_STEP_CPU_S * 0.8, 0.8),
    (CALIBRATION_STEP_CPU_S * 0.1, MIN_FACTOR),  # implausibly fast: limits never shrink below half
    (CALIBRATION_STEP_CPU_S * 10, MAX_FACTOR),
])
def test_time_factor_is_the_step_ratio_within_bounds(step_cpu_s, factor):
    assert time_factor(step_cpu_s) == pytest.approx(factor)


@pytest.mark.parametrize("step_cpu_s", [0.0, -1.0, float("nan")])
def test_a_meaningless_measurement_is_refused(step_cpu_s):
    with pytest.raises(ValueError, match="CPU s"):
        time_factor(step_cpu_s)


def test_scaled_limits_and_the_staff_summary():
    scaled = GRADING_PROFILE.time_scaled(2.0)
    assert (scaled.cell_cpu_limit_s, scaled.total_cpu_limit_s, scaled.wall_limit_s) == (
        2 * GRADING_PROFILE.cell_cpu_limit_s, 2 * GRADING_PROFILE.total_cpu_limit_s, 2 * GRADING_PROFILE.wall_limit_s)
    assert dataclasses.replace(scaled, cell_cpu_limit_s=GRADING_PROFILE.cell_cpu_limit_s,
                               total_cpu_limit_s=GRADING_PROFILE.total_cpu_limit_s,
                               wall_limit_s=GRADING_PROFILE.wall_limit_s) == GRADING_PROFILE
    assert GRADING_PROFILE.time_scaled(2.0, 3.0).wall_limit_s == 3 * GRADING_PROFILE.wall_limit_s


@pytest.mark.parametrize("cpu, wall, factor, wall_factor", [
    (2.0, 2.0, 2.0, 2.0),
    (2.0, 2.5, 2.0, 2.5),  # a shared machine: a CPU second takes longer than a second
    (2.0, 1.0, 2.0, 2.0),  # the wall backstop never scales less than the CPU limits
    (10.0, 10.0, MAX_FACTOR, MAX_FACTOR),
])
def test_machine_speed_scales_cpu_and_wall_limits(cpu, wall, factor, wall_factor):
    speed = MachineSpeed(CALIBRATION_STEP_CPU_S * cpu, CALIBRATION_STEP_CPU_S * wall)
    assert (speed.factor, speed.wall_factor) == pytest.approx((factor, wall_factor))
    assert speed.scale(GRADING_PROFILE) == GRADING_PROFILE.time_scaled(factor, wall_factor)
    summary = speed.describe(GRADING_PROFILE)
    assert f"time factor {factor:.2f}" in summary and f"wall factor {wall_factor:.2f}" in summary
    assert f"{GRADING_PROFILE.cell_cpu_limit_s * factor:.0f} CPU s per cell" in summary
    assert ("clamped" in summary) == (cpu > MAX_FACTOR)


@pytest.mark.parametrize("factor, stopped", [(1.0, True), (3.0, False)])
def test_cell_limits_scale_with_the_factor_and_messages_state_them_unscaled(tmp_path, factor, stopped):
    report = cell_runner.run_cells([BURN_CPU.format(seconds=1.0)], ["code cell 1"], cell_cpu_limit_s=0.5,
                                   total_cpu_limit_s=10.0, workdir=str(tmp_path), time_factor=factor)
    assert (report["failure"] is not None) == stopped
    if stopped:
        assert "its 0.5 s CPU-time limit" in report["failure"]["message"]


@pytest.fixture(scope="module")
def reference_submission(tmp_path_factory):
    return normalize_submission(REFERENCE_DIR, tmp_path_factory.mktemp("reference"))


@pytest.fixture
def sandbox_with_slow_kernels(reference_submission, monkeypatch):
    for name, value in SLOW_MACHINE.items():
        monkeypatch.setenv(name, value)
    with Sandbox(reference_submission.root) as sandbox:
        yield sandbox


def test_cpu_kernel_variables_reach_the_workers(sandbox_with_slow_kernels):
    reply = sandbox_with_slow_kernels.call("machine.cpu_kernels")
    assert reply["capability"] == "DEFAULT"
    assert reply["environment"] == SLOW_MACHINE


def test_speed_probe_measures_a_few_steps(reference_submission):
    with Sandbox(reference_submission.root) as sandbox:
        speed = machine_speed.measure_machine_speed(sandbox)
    assert speed.step_cpu_s > 0 and MIN_FACTOR <= speed.factor <= MAX_FACTOR


def grade(submission: Path, out: Path, environment: dict, *options: str) -> tuple[subprocess.CompletedProcess, dict]:
    completed = subprocess.run([sys.executable, "-m", "autograder", "grade", str(submission), "--out", str(out),
                                *options], cwd=REPOSITORY, env={**os.environ, **environment},
                               capture_output=True, text=True, timeout=3600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed, json.loads((out / "results.json").read_text())


def test_reference_gets_full_unit_marks_with_other_cpu_kernels(tmp_path):
    _, results = grade(REFERENCE_DIR, tmp_path / "out", {"ATEN_CPU_CAPABILITY": "default"}, "--units-only")
    assert results["score"] == UNIT_POINTS, [(t["name"], t["output"][:200]) for t in results["tests"]
                                             if t["score"] < t["max_score"]]


def test_staff_see_the_time_factor_and_students_do_not(tmp_path):
    completed, results = grade(REFERENCE_DIR, tmp_path / "out", {"AUTOGRADER_NOTEBOOK_PROFILE": SMOKE_PROFILE.name})
    assert "staff: machine speed: probe step" in completed.stdout
    assert "time factor" not in json.dumps(results)


@pytest.mark.skipif(os.environ.get("SLOW_MACHINE") != "1",
                    reason="minutes of CPU per grade: set SLOW_MACHINE=1 (docs/calibration.md)")
@pytest.mark.parametrize("variant, passes", [("reference", True), ("locations_y_varies_fastest", False)])
def test_real_profile_on_a_slower_machine(tmp_path, variant, passes):
    """Under the slow stand-in the reference still passes the notebook stage and a broken variant still fails."""
    sys.path.insert(0, str(REPOSITORY / "tests"))
    from grading_corpus.plausible_bugs import BUGS_BY_NAME, apply_edits, reference_sources
    from grading_corpus.submissions import write_submission

    sources = reference_sources()
    if variant != "reference":
        sources = apply_edits(sources, BUGS_BY_NAME[variant].edits)
    folder = write_submission(tmp_path / variant, sources)
    completed, results = grade(folder, tmp_path / "out", SLOW_MACHINE)
    notebook = [test for test in results["tests"] if test["name"].startswith("notebook:")]
    assert notebook and all(test["score"] == test["max_score"] for test in notebook) == passes, \
        "\n".join(f"{t['name']}: {t['score']}/{t['max_score']} {t['output'][:300]}" for t in notebook)
    print(next(line for line in completed.stdout.splitlines() if "machine speed" in line))
