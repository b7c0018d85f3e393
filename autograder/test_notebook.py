"""Graded notebook stage: the notebook trains headless in the sandbox; fresh workers judge its detector.

One run per submission (``notebook_run``, module scope) with the grading
profile (``notebook/grading_profile.py``; ``$AUTOGRADER_NOTEBOOK_PROFILE`` selects
another one) on a validation split drawn for this submission
(``grading_data.validation_seed``); two checks (``notebook/checks.py``) of
the checkpointed detector against the untrained one. The AP chart goes next
to results.json (``notebook/artifacts.py``) for staff; the student's
feedback shows it as a text chart (``results/feedback_markdown.py``).
"""
from pathlib import Path

import pytest

from autograder.errors import SubmissionError
from autograder.results.feedback_markdown import bar_chart
from autograder.notebook.grading_data import validation_seed
from autograder.units.grading_fixtures import submission_seed  # noqa: F401
from autograder.notebook.grading_profile import selected_profile
from autograder.notebook.machine_speed import measure_machine_speed
from autograder.notebook.artifacts import write_map_outputs
from autograder.notebook.checks import check_loss_decreases, check_map, map_summary
from autograder.notebook.stage import NotebookRun, run_notebook_stage, stage_failure

PROFILE = selected_profile()
LOSS_POINTS = 5
MAP_POINTS = 5


@pytest.fixture(scope="module")
def notebook_run(sandbox, submission, submission_seed, staff_notes) -> NotebookRun:  # noqa: F811
    speed = measure_machine_speed(sandbox)  # before the notebook: its worker never ran student code
    staff_notes.append(speed.describe(PROFILE))
    try:
        return run_notebook_stage(sandbox, submission, PROFILE, validation_seed(submission_seed),
                                  time_factor=speed.factor, wall_factor=speed.wall_factor)
    except SubmissionError as error:
        raise type(error)(stage_failure(error, PROFILE)) from None


@pytest.fixture(scope="module")
def artifacts_dir(run_options) -> Path | None:
    """The results.json folder (None when the run writes no results.json)."""
    return run_options.results.parent if run_options.results is not None else None


@pytest.mark.stage("notebook")
@pytest.mark.points(LOSS_POINTS, visibility="visible")
def test_training_loss_decreases(notebook_run, points):
    summary = check_loss_decreases(notebook_run, PROFILE)
    points.award(1.0, f"Training loss: {summary.describe()}.")


test_training_loss_decreases.__doc__ = (
    f"notebook: the trained detector's loss on the grader's batches is below {PROFILE.max_loss_ratio:g} x "
    "the untrained one's"
)


@pytest.mark.stage("notebook")
@pytest.mark.points(MAP_POINTS, visibility="visible")
def test_validation_map(notebook_run, artifacts_dir, points):
    summary = map_summary(notebook_run)
    result = summary.trained
    if artifacts_dir is not None:
        write_map_outputs(result, artifacts_dir)
    chart = f"AP@0.5 per class:\n{bar_chart(result.ap_per_class)}"
    points.award(0.0, chart)  # shown to the student whether or not the check passes
    check_map(summary, PROFILE)
    points.award(1.0, f"Validation mAP@0.5: {result.map:.3f} over {len(result.ap_per_class)} classes "
                      f"(your weights in the grader's detector: {summary.graders.map:.3f}; untrained: "
                      f"{summary.untrained.map:.3f}).\n{chart}")


test_validation_map.__doc__ = (f"notebook: mAP@0.5 on a secret validation split >= {PROFILE.min_map:g}, "
                               f"and below {PROFILE.max_untrained_map:g} untrained")
