"""The two graded checks of the notebook stage, computed in the trusted process.

* Training loss decreases: the loss history the full-training cell saved
  has one finite value per iteration, and the mean of its last
  ``LOSS_TAIL_FRACTION`` is below ``max_loss_ratio`` times the mean of its
  first ``LOSS_HEAD_FRACTION``.
* Validation mAP@0.5: the detection files the notebook wrote, scored with
  ``voc_map.evaluate`` (Cartucho's rules) against the grader's own copy of
  the validation boxes, reach ``min_map``.

Inputs are the untrusted texts the notebook wrote; every problem with them
raises ``CheckFailed`` with a message for the student.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from autograder.course_files import load_course_module
from autograder.grading_profile import (
    DETECTIONS_DIR,
    LOSS_HEAD_FRACTION,
    LOSS_HISTORY_FILE,
    LOSS_TAIL_FRACTION,
    GradingProfile,
)

RESULT_FILE_SUFFIX = ".txt"
MAX_REPORTED_PROBLEMS = 3


class CheckFailed(AssertionError):
    """A graded notebook check failed; the message says what and why."""


@dataclass(frozen=True)
class LossSummary:
    iterations: int
    head_mean: float  # mean of the first LOSS_HEAD_FRACTION of the iterations
    tail_mean: float  # mean of the last LOSS_TAIL_FRACTION
    ratio: float

    def describe(self) -> str:
        return (f"mean loss of the first {window(self.iterations, LOSS_HEAD_FRACTION)} iterations {self.head_mean:.3f}, "
                f"of the last {window(self.iterations, LOSS_TAIL_FRACTION)} {self.tail_mean:.3f} "
                f"(ratio {self.ratio:.2f})")


def window(iterations: int, fraction: float) -> int:
    """Iterations in a head or tail window: at least one."""
    return max(1, round(iterations * fraction))


# ------------------------------------------------------------------------- loss
def parse_loss_history(text: str | None, expected_iterations: int) -> list[float]:
    if text is None:
        raise CheckFailed(f"The notebook did not write {LOSS_HISTORY_FILE}: the full-training cell of the release "
                          "notebook saves the loss history there; keep that code.")
    try:
        history = json.loads(text)
    except ValueError:
        raise CheckFailed(f"{LOSS_HISTORY_FILE} is not valid JSON (is it complete?).") from None
    if type(history) is not list or not all(type(v) in (int, float) for v in history):
        raise CheckFailed(f"{LOSS_HISTORY_FILE} must hold a list of numbers, one training loss per iteration.")
    if len(history) != expected_iterations:
        raise CheckFailed(f"{LOSS_HISTORY_FILE} has {len(history)} values; the graded run trains "
                          f"FULL_ITERS = {expected_iterations} iterations (one loss each). Keep "
                          "`max_iters=FULL_ITERS` in the full-training cell.")
    return [float(v) for v in history]


def loss_summary(history: list[float]) -> LossSummary:
    n = len(history)
    head = float(np.mean(history[: window(n, LOSS_HEAD_FRACTION)]))
    tail = float(np.mean(history[-window(n, LOSS_TAIL_FRACTION):]))
    return LossSummary(n, head, tail, tail / head if head > 0 else math.inf)


def check_loss_decreases(history: list[float], profile: GradingProfile) -> LossSummary:
    """Raise ``CheckFailed`` unless the loss is finite everywhere and fell enough."""
    bad = [i for i, v in enumerate(history) if not math.isfinite(v)]
    if bad:
        raise CheckFailed(f"The training loss is not finite at iteration {bad[0]} ({history[bad[0]]}): "
                          "training diverged.")
    summary = loss_summary(history)
    if not summary.ratio < profile.max_loss_ratio:
        raise CheckFailed(f"The training loss did not decrease enough: {summary.describe()}; the last "
                          f"{window(summary.iterations, LOSS_TAIL_FRACTION)} iterations must average below "
                          f"{profile.max_loss_ratio:g} times the first {window(summary.iterations, LOSS_HEAD_FRACTION)}.")
    return summary


# -------------------------------------------------------------------------- mAP
def parse_detections(texts: dict[str, str] | None, image_ids: tuple[str, ...]) -> dict[str, dict]:
    """Image id -> ``{"boxes", "scores", "labels"}`` from the notebook's Cartucho detection files."""
    voc_map = load_course_module("voc_map")
    if texts is None:
        raise CheckFailed(f"The notebook did not write {DETECTIONS_DIR}/: the evaluation cell of the release "
                          "notebook writes one detection file per validation image there; keep that code.")
    known = set(image_ids)
    detections, problems = {}, []
    for name, text in sorted(texts.items()):
        image = name[: -len(RESULT_FILE_SUFFIX)] if name.endswith(RESULT_FILE_SUFFIX) else None
        if image not in known:
            problems.append(f"{name} is not a validation image's file")
            continue
        labels, rows = [], []
        for number, line in enumerate(text.splitlines(), start=1):
            try:
                parsed = voc_map.parse_line(line, detection=True)
            except ValueError as error:
                problems.append(f"{name}, line {number}: {error}")
                continue
            if parsed is not None:
                labels.append(parsed[0])
                rows.append(parsed[1])
        rows = np.array(rows, dtype=np.float64).reshape(-1, 5)
        if not np.isfinite(rows).all():
            problems.append(f"{name}: a score or co-ordinate is not finite")
            continue
        detections[image] = {"scores": rows[:, 0], "boxes": rows[:, 1:], "labels": np.array(labels, dtype=str)}
    if problems:
        shown = "; ".join(problems[:MAX_REPORTED_PROBLEMS])
        more = f" (and {len(problems) - MAX_REPORTED_PROBLEMS} more)" if len(problems) > MAX_REPORTED_PROBLEMS else ""
        raise CheckFailed(f"The detection files in {DETECTIONS_DIR}/ are not in the expected format: {shown}{more}.")
    return detections


def validation_map(detections: dict[str, dict], ground_truth: dict[str, dict]):
    """``voc_map.MapResult`` of the detections against the withheld boxes."""
    return load_course_module("voc_map").evaluate(ground_truth, detections)


def run_loss_history(run, profile: GradingProfile) -> list[float]:
    """The loss history a notebook run (``notebook_stage.NotebookRun``) saved; the run's
    failure message when it stopped before saving one."""
    if run.loss_history_text is None and run.failure is not None:
        raise CheckFailed(run.failure)
    return parse_loss_history(run.loss_history_text, profile.iterations)


def run_validation_map(run):
    """``voc_map.MapResult`` of a notebook run's detection files against the withheld boxes;
    the run's failure message when it did not finish."""
    if run.failure is not None:
        raise CheckFailed(run.failure)
    return validation_map(parse_detections(run.detection_texts, run.data.image_ids), run.data.ground_truth)


def check_map(result, profile: GradingProfile) -> None:
    if not result.map >= profile.min_map:
        worst = sorted(result.ap_per_class.items(), key=lambda item: item[1])[:3]
        listed = ", ".join(f"{name} {ap:.2f}" for name, ap in worst)
        raise CheckFailed(f"Validation mAP@0.5 is {result.map:.3f}; at least {profile.min_map:g} is needed "
                          f"(lowest AP: {listed}). A correct detector reaches it with the graded settings.")
