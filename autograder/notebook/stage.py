"""The notebook stage: train in the sandbox, judge the trained detector in fresh workers.

``run_notebook_stage`` picks the notebook (``graded_notebook``), generates the
grading data (``grading_data``), injects the profile's parameters and runs
every code cell in one sandbox call (probe ``notebook.run_notebook``) with
the profile's per-cell and total CPU-time limits and its wall-clock
backstop. The kernel sees the training split only. Nothing it writes or
measures is evidence except the weights of the checkpoint its full-training
cell saved. Two fresh workers, which never ran a notebook cell, build the
detector from the submission's definitions (probe
``trained_detector.evaluate``): one keeps the untrained weights, one loads
the checkpoint's; each measures the training loss on the grader's batches
and detects objects in the secret validation images. Their replies are
untrusted: they are validated here and judged by ``checks.py``. The
checkpoint's weights are also measured in the grader's own detector
(``graders_view.py``), where the submission's ``forward`` cannot steer them.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import torch

from autograder.course.course_files import kernel_course_files, load_course_module
from autograder.errors import InvalidOutput, SubmissionError
from autograder.notebook.full_run_detector import CHECKPOINT_NAME
from autograder.notebook.graded_notebook import graded_cells, graded_notebook
from autograder.notebook.graders_view import layer_inputs, measure_in_graders_detector
from autograder.notebook.grading_data import GradingData, boxes_as_written, build_grading_data, evaluation_seed
from autograder.notebook.grading_profile import CHECKPOINT_FILE, KERNEL_DATA_DIR, GradingProfile
from autograder.sandbox.client import Sandbox, clean_message
from autograder.intake.submission import NormalizedSubmission

NOTEBOOK_PROBE = "notebook.run_notebook"
EVALUATION_PROBE = "trained_detector.evaluate"
# The kernel's environment on top of the worker's clean one: no ImageNet download attempt.
KERNEL_ENVIRONMENT = {"DETECTOR_BACKBONE_WEIGHTS": "random"}
# Beyond the run's wall-clock limit, for writing the inputs and collecting the outputs.
CALL_MARGIN_S = 30.0
# One evaluation (build, 8 loss batches, 128 validation images): the reference needs about
# 10 CPU s of the calibration machine; scaled like the notebook's limits.
EVALUATION_TIMEOUT_S = 120.0
# Checkpoint weights sent on to the evaluations: the graded run's detector has 452 tensors, 5.3 M values.
MAX_CHECKPOINT_TENSORS = 4096
MAX_CHECKPOINT_VALUES = 64 * 2**20


@dataclass(frozen=True)
class DetectorEvaluation:
    """What a fresh worker measured of one detector (validated, not yet judged).

    ``losses``: total training loss per loss batch. ``detections``: validation image id ->
    ``{"boxes": (D, 4), "scores": (D,), "labels": (D,) class names}`` as the evaluation cell writes them."""

    losses: tuple[float, ...]
    detections: dict[str, dict]


@dataclass(frozen=True)
class NotebookRun:
    """What the notebook run and the evaluations of its detector left for the checks."""

    notebook: str  # which notebook ran, for messages
    data: GradingData
    cells_run: int
    cell_count: int
    cell_seconds: tuple[float, ...]
    failure: str | None  # why the run stopped early (student-facing), None if every cell ran
    wall_s: float
    # Why there is nothing to judge (student-facing): no usable checkpoint, or its evaluation
    # failed. None when the three evaluations exist.
    evaluation_problem: str | None = None
    untrained: DetectorEvaluation | None = None
    trained: DetectorEvaluation | None = None
    # The trained weights in the grader's own detector (graders_view.py), and its parts whose
    # layers were placed by registration order because no assignment reproduced the student's.
    graders: DetectorEvaluation | None = None
    graders_unmatched: tuple[str, ...] = ()


def run_notebook_stage(sandbox: Sandbox, submission: NormalizedSubmission, profile: GradingProfile, seed: int,
                       course_files: dict[str, str] | None = None, time_factor: float = 1.0,
                       wall_factor: float | None = None) -> NotebookRun:
    """Run the submission's notebook with ``profile`` and judge-ready evaluations of its detector.

    ``seed`` (``grading_data.validation_seed`` of the submission's seed) draws
    the validation split and the loss batches; the evaluations, in and out of
    the sandbox, get ``grading_data.evaluation_seed(seed)`` (untrained
    weights, loss sampling, the grader's layer inputs).
    ``course_files`` replaces the helper modules (calibration).
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
    data = build_grading_data(profile, seed)
    files = {name: text.encode() for name, text in (course_files or kernel_course_files()).items()}
    files.update({f"{KERNEL_DATA_DIR}/{path}": content for path, content in data.kernel_files.items()})
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
        checkpoint=CHECKPOINT_FILE,
    )
    run, weights = _parse_report(report, description, data, cells, time.monotonic() - started)
    if weights is None:
        return run
    num_classes = load_course_module("detection_helpers").NUM_CLASSES
    worker_seed = evaluation_seed(seed)  # what sandboxes get: not the validation split's seed
    inputs = layer_inputs(worker_seed, profile.fpn_channels)
    try:
        untrained, _ = _evaluate(sandbox, None, data, profile, worker_seed, time_factor)
        trained, report = _evaluate(sandbox, weights, data, profile, worker_seed, time_factor, inputs)
        view = measure_in_graders_detector(weights, report, inputs, profile.fpn_channels, profile.post_nms_topk,
                                           num_classes, list(data.loss_images), list(data.loss_boxes),
                                           data.images, worker_seed)
        graders = _parse_graders_view(view.reply, data)
    except SubmissionError as error:
        problem = f"The grader could not evaluate the detector of your full run: {error}"
        return dataclasses.replace(run, evaluation_problem=problem)
    return dataclasses.replace(run, untrained=untrained, trained=trained, graders=graders,
                               graders_unmatched=view.unmatched)


def _parse_graders_view(reply: dict, data: GradingData) -> DetectorEvaluation:
    """The grader's own measurement, held to the workers' rules: weights that make its detector
    output a non-finite box or score are the student's (a diverged run), not the grader's fault."""
    try:
        return _parse_evaluation(reply, data)
    except ValueError as error:
        raise InvalidOutput(f"Your trained weights in the grader's own detector give {error}: the full run's "
                            "training probably diverged.") from None


def _evaluate(sandbox: Sandbox, weights: dict | None, data: GradingData, profile: GradingProfile, seed: int,
              time_factor: float, inputs: dict | None = None) -> tuple[DetectorEvaluation, dict | None]:
    """One detector's losses and detections, measured by a fresh worker; with ``inputs``
    (``graders_view.layer_inputs``) also its layer report (untrusted, unchecked)."""
    reply = sandbox.call(
        EVALUATION_PROBE,
        timeout_s=EVALUATION_TIMEOUT_S * time_factor,
        state=weights,
        fpn_channels=profile.fpn_channels,
        post_nms_topk=profile.post_nms_topk,
        num_classes=load_course_module("detection_helpers").NUM_CLASSES,
        loss_images=list(data.loss_images),
        loss_boxes=list(data.loss_boxes),
        images=data.images,
        seed=seed,
        layer_inputs=inputs,
    )
    try:
        return _parse_evaluation(reply, data), (reply["layers"] if inputs is not None else None)
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidOutput(f"The evaluation of your detector returned something unexpected ({error}).") from None


def _parse_evaluation(reply: dict, data: GradingData) -> DetectorEvaluation:
    losses, detections = reply["losses"], reply["detections"]
    if type(losses) is not list or len(losses) != len(data.loss_images) or not all(type(v) is float for v in losses):
        raise ValueError("losses")
    if type(detections) is not list or len(detections) != len(data.image_ids):
        raise ValueError("detections")
    idx_to_class = {index: name for index, name in enumerate(load_course_module("detection_helpers").VOC_CLASSES)}
    padding = load_course_module("detection_helpers").PADDING_LABEL
    parsed = {}
    for image, found in zip(data.image_ids, detections):
        boxes, classes, scores = (found[key] for key in ("boxes", "classes", "scores"))
        if not all(type(t) is torch.Tensor and t.dtype == torch.float32 for t in (boxes, classes, scores)) \
                or boxes.dim() != 2 or boxes.shape[1:] != (4,) or classes.shape != (len(boxes),) \
                or scores.shape != (len(boxes),):
            raise ValueError(f"detections of {image}")
        keep = classes != padding  # as the evaluation cell: padding rows are no detection
        boxes, classes, scores = boxes[keep].double(), classes[keep], scores[keep].double()
        if not (torch.isfinite(boxes).all() and torch.isfinite(scores).all()):
            raise ValueError(f"{image}: a box or score is not finite")
        if not all(float(c).is_integer() and int(c) in idx_to_class for c in classes.tolist()):
            raise ValueError(f"{image}: a class index is not one of the {len(idx_to_class)} classes")
        parsed[image] = {
            "boxes": boxes_as_written(boxes.tolist()),
            "scores": scores.numpy(),
            "labels": _class_names(classes, idx_to_class),
        }
    return DetectorEvaluation(tuple(losses), parsed)


def _class_names(classes: torch.Tensor, idx_to_class: dict) -> np.ndarray:
    return np.array([idx_to_class[int(c)] for c in classes.tolist()], dtype=str)


def _parse_report(report: dict, description: str, data: GradingData, cells: list,
                  wall_s: float) -> tuple[NotebookRun, dict | None]:
    """Validate the probe's untrusted report: the run, and the checkpoint's weights (None if unusable)."""
    try:
        cells_run = report["cells_run"]
        seconds = tuple(float(s) for s in report["seconds"])
        failure = report["failure"]
        checkpoint = report["checkpoint"]
        if type(cells_run) is not int or not 0 <= cells_run <= len(cells):
            raise ValueError("cells_run")
        if failure is not None:
            failure = _failure_message(failure, cells)
        if type(checkpoint) is not dict:
            raise ValueError("checkpoint")
        weights, problem = checkpoint.get("model"), checkpoint.get("problem")
        if weights is not None:
            _check_weights(weights)
        elif type(problem) is not str:
            raise ValueError("checkpoint problem")
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidOutput(f"The grader could not read the report of the notebook run ({error}).") from None
    run = NotebookRun(description, data, cells_run, len(cells), seconds, failure, wall_s)
    if weights is None:
        return dataclasses.replace(run, evaluation_problem=failure or _checkpoint_problem(problem)), None
    not_finite = [key for key, tensor in weights.items() if not bool(torch.isfinite(tensor).all())]
    if not_finite:
        return dataclasses.replace(run, evaluation_problem=(
            f"The checkpoint of your full run holds weights that are not finite (NaN or infinite) in "
            f"{len(not_finite)} tensors, the first `{clean_message(not_finite[0])[:80]}`: training diverged. "
            "Usual causes: a loss summed instead of averaged, or computed over every anchor instead of the "
            "sampled ones.")), None
    return run, weights


def _check_weights(weights: dict) -> None:
    if type(weights) is not dict or not 0 < len(weights) <= MAX_CHECKPOINT_TENSORS:
        raise ValueError("checkpoint weights")
    if not all(type(k) is str and type(v) is torch.Tensor for k, v in weights.items()):
        raise ValueError("checkpoint weights")
    if sum(v.numel() for v in weights.values()) > MAX_CHECKPOINT_VALUES:
        raise ValueError("checkpoint weights: too many values")


def _checkpoint_problem(problem: str) -> str:
    return (f"The checkpoint of the full run ({CHECKPOINT_FILE}) is {clean_message(problem)[:200]}: the grader judges the detector it "
            f"holds. Keep the full-training cell's `train_detector(..., checkpoint_path=os.path.join(OUTPUT_DIR, "
            f"\"{CHECKPOINT_NAME}\"), checkpoint_period=CHECKPOINT_PERIOD)` as the release notebook has it.")


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
