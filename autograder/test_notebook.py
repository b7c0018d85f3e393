"""Graded notebook stage: the notebook trains headless in the sandbox; its results are judged here.

One run per submission (``notebook_run``, module scope) with the grading
profile (``grading_profile.py``; ``$AUTOGRADER_NOTEBOOK_PROFILE`` selects
another one); two checks (``notebook_checks.py``). The loss plot and the
AP chart go next to results.json (``notebook_artifacts.py``) for staff; the
student's feedback shows both as text charts (``feedback_markdown.py``).
"""
from pathlib import Path

import pytest

from autograder.errors import SubmissionError
from autograder.feedback_markdown import bar_chart, line_chart
from autograder.grading_profile import LOSS_HEAD_FRACTION, LOSS_TAIL_FRACTION, selected_profile
from autograder.machine_speed import measure_machine_speed
from autograder.notebook_artifacts import LOSS_PLOT, write_loss_plot, write_map_outputs
from autograder.notebook_checks import (
    check_loss_decreases,
    check_map,
    loss_summary,
    run_loss_history,
    run_validation_map,
)
from autograder.notebook_stage import NotebookRun, run_notebook_stage, stage_failure

PROFILE = selected_profile()
LOSS_POINTS = 5
MAP_POINTS = 5


@pytest.fixture(scope="module")
def notebook_run(sandbox, submission, staff_notes) -> NotebookRun:
    speed = measure_machine_speed(sandbox)  # before the notebook: its worker never ran student code
    staff_notes.append(speed.describe(PROFILE))
    try:
        return run_notebook_stage(sandbox, submission, PROFILE, time_factor=speed.factor,
                                  wall_factor=speed.wall_factor)
    except SubmissionError as error:
        raise type(error)(stage_failure(error, PROFILE)) from None


@pytest.fixture(scope="module")
def artifacts_dir(request) -> Path | None:
    """The results.json folder (None without --results)."""
    results = request.config.getoption("results")
    return Path(results).resolve().parent if results else None


@pytest.mark.stage("notebook")
@pytest.mark.points(LOSS_POINTS, visibility="visible")
def test_training_loss_decreases(notebook_run, artifacts_dir, points):
    history = run_loss_history(notebook_run, PROFILE)
    if artifacts_dir is not None:
        write_loss_plot(history, loss_summary(history), PROFILE.max_loss_ratio, artifacts_dir / LOSS_PLOT)
    chart = f"Training loss of the graded run:\n{line_chart(history)}"
    points.award(0.0, chart)  # shown to the student whether or not the check passes
    summary = check_loss_decreases(history, PROFILE)
    points.award(1.0, f"Training loss: {summary.describe()}.\n{chart}")


test_training_loss_decreases.__doc__ = (
    f"notebook: the training loss decreases (last {LOSS_TAIL_FRACTION:.0%} of the iterations below "
    f"{PROFILE.max_loss_ratio:g} x the first {LOSS_HEAD_FRACTION:.0%})"
)


@pytest.mark.stage("notebook")
@pytest.mark.points(MAP_POINTS, visibility="visible")
def test_validation_map(notebook_run, artifacts_dir, points):
    result = run_validation_map(notebook_run)
    if artifacts_dir is not None:
        write_map_outputs(result, artifacts_dir)
    chart = f"AP@0.5 per class:\n{bar_chart(result.ap_per_class)}"
    points.award(0.0, chart)  # shown to the student whether or not the check passes
    check_map(result, PROFILE)
    points.award(1.0, f"Validation mAP@0.5: {result.map:.3f} over {len(result.ap_per_class)} classes.\n{chart}")


test_validation_map.__doc__ = f"notebook: validation mAP@0.5 >= {PROFILE.min_map:g}"
