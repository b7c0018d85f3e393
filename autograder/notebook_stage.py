"""The notebook stage: run the graded notebook headless in the sandbox; judge here.

``run_notebook_stage`` picks the notebook (``graded_notebook``), generates the
grading data (``grading_data``), injects the profile's parameters and runs
every code cell in one sandbox call (probe ``notebook.run_notebook``) with
the profile's per-cell and total CPU-time limits and its wall-clock backstop. The kernel sees the training
split and the validation images, never the validation boxes. What comes
back — the report of the run, the loss history the notebook saved and the
detection files it wrote — is untrusted text, parsed and judged by
``notebook_checks`` in this process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from autograder.course_files import kernel_course_files
from autograder.errors import InvalidOutput, SubmissionError
from autograder.graded_notebook import graded_cells, graded_notebook
from autograder.grading_data import GradingData, build_grading_data
from autograder.grading_profile import DETECTIONS_DIR, KERNEL_DATA_DIR, LOSS_HISTORY_FILE, GradingProfile
from autograder.sandbox import Sandbox, clean_message
from autograder.submission import NormalizedSubmission

NOTEBOOK_PROBE = "notebook.run_notebook"
# The kernel's environment on top of the worker's clean one: no ImageNet download attempt.
KERNEL_ENVIRONMENT = {"DETECTOR_BACKBONE_WEIGHTS": "random"}
# Beyond the run's wall-clock limit, for writing the inputs and collecting the outputs.
CALL_MARGIN_S = 30.0


@dataclass(frozen=True)
class NotebookRun:
    """What the notebook run left for the checks (all of it untrusted except ``data``)."""

    notebook: str  # which notebook ran, for messages
    data: GradingData
    cells_run: int
    cell_count: int
    cell_seconds: tuple[float, ...]
    failure: str | None  # why the run stopped early (student-facing), None if every cell ran
    loss_history_text: str | None  # LOSS_HISTORY_FILE as the notebook wrote it
    detection_texts: dict[str, str] | None  # DETECTIONS_DIR file name -> text
    wall_s: float


def run_notebook_stage(sandbox: Sandbox, submission: NormalizedSubmission, profile: GradingProfile,
                       course_files: dict[str, str] | None = None, time_factor: float = 1.0,
                       wall_factor: float | None = None) -> NotebookRun:
    """Run the submission's notebook with ``profile``; ``course_files`` replaces the helper modules (calibration).

    ``time_factor`` scales the profile's CPU limits to this machine and
    ``wall_factor`` (default: ``time_factor``) its wall-clock backstop
    (``machine_speed.py``); the student's messages state them unscaled.

    Raises:
        SubmissionError: the notebook cannot be read or parametrised, or the
            whole run was stopped (time, memory, crash); the message is for
            the student.
        SandboxError: the grader failed.
    """
    notebook, description = graded_notebook(submission)
    cells = graded_cells(notebook, profile.notebook_parameters())
    data = build_grading_data(profile)
    files = {name: _bytes_tensor(text.encode()) for name, text in (course_files or kernel_course_files()).items()}
    files.update({f"{KERNEL_DATA_DIR}/{path}": _bytes_tensor(content) for path, content in data.kernel_files.items()})
    started = time.monotonic()
    report = sandbox.call(
        NOTEBOOK_PROBE,
        timeout_s=profile.time_scaled(time_factor, wall_factor).wall_limit_s + CALL_MARGIN_S,
        cells=[cell.source for cell in cells],
        labels=[cell.label for cell in cells],
        files=files,
        environment=dict(KERNEL_ENVIRONMENT),
        cell_cpu_limit_s=float(profile.cell_cpu_limit_s),
        total_cpu_limit_s=float(profile.total_cpu_limit_s),
        time_factor=float(time_factor),
        collect_files=[LOSS_HISTORY_FILE],
        collect_folders=[DETECTIONS_DIR],
    )
    return _parse_report(report, description, data, cells, time.monotonic() - started)


def _bytes_tensor(content: bytes) -> torch.Tensor:
    return torch.frombuffer(bytearray(content), dtype=torch.uint8) if content else torch.empty(0, dtype=torch.uint8)


def _parse_report(report: dict, description: str, data: GradingData, cells: list, wall_s: float) -> NotebookRun:
    """Validate the probe's untrusted report into a ``NotebookRun``."""
    try:
        cells_run = report["cells_run"]
        seconds = tuple(float(s) for s in report["seconds"])
        failure = report["failure"]
        loss_text = report["files"][LOSS_HISTORY_FILE]
        detections = report["folders"][DETECTIONS_DIR]
        if type(cells_run) is not int or not 0 <= cells_run <= len(cells):
            raise ValueError("cells_run")
        if failure is not None:
            failure = _failure_message(failure, cells)
        if loss_text is not None and type(loss_text) is not str:
            raise ValueError("loss history")
        if detections is not None and not (
            type(detections) is dict and all(type(k) is str and type(v) is str for k, v in detections.items())
        ):
            raise ValueError("detections")
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidOutput(f"The grader could not read the report of the notebook run ({error}).") from None
    return NotebookRun(description, data, cells_run, len(cells), seconds, failure, loss_text, detections, wall_s)


# What made calibrated runs too slow (docs/calibration.md): a loop NMS in training costs about
# 40% more CPU time per step (benchmarks/loop_nms_in_training.py); a wrong RoI-Align scale pools huge regions.
SLOW_RUN_CAUSES = ("The reference needs well under this limit. Usual causes of a slow training run: your own "
                   "`nms` in `RPN.predict_proposals` (use `torchvision.ops.nms` there, as its TODO says), or "
                   "`roi_align` with a wrong `spatial_scale` (it must be 1 / stride of the level).")


def _failure_message(failure: dict, cells: list) -> str:
    index, kind, message = failure["cell"], failure["kind"], failure["message"]
    if type(index) is not int or not 0 <= index < len(cells) or kind not in ("error", "timeout") \
            or type(message) is not str:
        raise ValueError("failure")
    cell = cells[index]  # label and first line from the grader's own copy of the notebook
    verb = "raised an error" if kind == "error" else "ran out of time"
    hint = f"\n{SLOW_RUN_CAUSES}" if kind == "timeout" else ""
    return clean_message(f"The notebook stopped: {cell.label} (first line: `{cell.first_line}`) {verb}.\n{message}{hint}")


def stage_failure(error: SubmissionError, profile: GradingProfile) -> str:
    """Student-facing text for a run stopped as a whole (the sandbox's time, memory or crash verdict)."""
    return (f"The notebook run was stopped: {error}\n(The grader runs your notebook headless on the CPU with "
            f"FULL_ITERS = {profile.iterations}, within {profile.total_cpu_limit_s:g} s of CPU time and "
            f"{profile.wall_limit_s:g} s of wall-clock time.)")
