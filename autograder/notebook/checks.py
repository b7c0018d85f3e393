"""The two graded checks of the notebook stage, computed in the trusted process.

Both judge what fresh workers measured of two detectors built from the
submission's definitions (``stage.py``): the *untrained* one, as its
constructor leaves it, and the *trained* one, with the weights of the graded
run's checkpoint; and the *grader's* view: the same trained weights in the
grader's own detector (``graders_view.py``). Whatever needs the trained
detector to detect needs it of both trained views: the submission's
``forward`` is its own code, and could ignore its weights.

* Training loss decreases: on the grader's loss batches, the trained
  detector's mean loss is below ``max_loss_ratio`` times the untrained one's.
  That loss is what the submission's own ``forward`` reports, so it counts
  only for a detector that learned to tell the classes apart: its mAP on
  the secret split, with its class labels matched one-to-one to the true
  classes that suit them best (``class_matched_map``), reaches ``min_map``
  in both trained views.
  A consistent labelling mistake keeps these points; a rule that finds
  objects without telling them apart, with a loss that says otherwise,
  does not.
* Validation mAP@0.5: on the secret validation split, scored with
  ``voc_map.evaluate`` (Cartucho's rules), the trained detector reaches
  ``min_map`` in both views while the untrained one stays below
  ``max_untrained_map``: the detections must come from training.

Every failure raises ``CheckFailed`` with a message for the student.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from autograder.course.course_files import load_course_module
from autograder.notebook.grading_profile import GradingProfile


class CheckFailed(AssertionError):
    """A graded notebook check failed; the message says what and why."""


@dataclass(frozen=True)
class LossSummary:
    untrained: float  # mean loss of the untrained detector over the loss batches
    trained: float
    ratio: float
    batches: int

    def describe(self) -> str:
        return (f"mean loss on the grader's {self.batches} batches {self.untrained:.3f} untrained, "
                f"{self.trained:.3f} after the full run (ratio {self.ratio:.2f})")


@dataclass(frozen=True)
class MapSummary:
    trained: object  # voc_map.MapResult of the trained detector
    untrained: object  # and of the untrained one
    graders: object  # and of the trained weights in the grader's detector
    unmatched_note: str = ""  # _unmatched_note of the run, for messages

    @property
    def map(self) -> float:
        return self.trained.map


GRADERS_VIEW = ("in the grader's own detector (the reference code of every graded definition) with the "
                "weights your full run trained")
FROM_THE_WEIGHTS = ("the detections must come from the weights your full run trained, not from rules in "
                    "your code")


def _evaluations(run):
    """(untrained, trained, grader's view) evaluations of a ``stage.NotebookRun``; why not, as ``CheckFailed``."""
    if run.trained is None or run.untrained is None or run.graders is None:
        raise CheckFailed(run.evaluation_problem or run.failure or "The notebook run left nothing to judge.")
    return run.untrained, run.trained, run.graders


def _unmatched_note(run) -> str:
    """For messages about the grader's view: the parts it could not match to the student's layers."""
    if not run.graders_unmatched:
        return ""
    return (f" (Your {', '.join(run.graders_unmatched)} did not compute what the reference computes with its "
            "layers in any order; the grader used them in the order your code registers them.)")


# ------------------------------------------------------------------------- loss
def loss_summary(run) -> LossSummary:
    """The two detectors' mean losses; ``CheckFailed`` if there are none or one is not finite."""
    untrained, trained, _ = _evaluations(run)
    for name, losses in (("untrained", untrained.losses), ("trained", trained.losses)):
        bad = [value for value in losses if not math.isfinite(value)]
        if bad:
            raise CheckFailed(f"The {name} detector's training loss is {bad[0]} on a grader batch: "
                              + ("training diverged." if name == "trained" else "check the losses of your forward."))
    head, tail = float(np.mean(untrained.losses)), float(np.mean(trained.losses))
    return LossSummary(head, tail, tail / head if head > 0 else math.inf, len(trained.losses))


def check_loss_decreases(run, profile: GradingProfile) -> LossSummary:
    """Raise ``CheckFailed`` unless the trained detector's loss fell enough below the untrained one's,
    and the trained detector tells the classes apart (up to their labels)."""
    summary = loss_summary(run)
    if not summary.ratio < profile.max_loss_ratio:
        raise CheckFailed(f"The training loss did not decrease enough: {summary.describe()}; the trained "
                          f"detector's must be below {profile.max_loss_ratio:g} times the untrained one's.")
    _, trained, graders = _evaluations(run)
    for detections, where in ((trained.detections, ""), (graders.detections, f" {GRADERS_VIEW}")):
        matched = class_matched_map(run.data.ground_truth, detections)
        if not matched >= profile.min_map:
            raise CheckFailed(f"The training loss fell ({summary.describe()}), but the trained detector does not "
                              f"tell the classes apart{where}: on the grader's validation images its mAP@0.5 is "
                              f"{matched:.3f} even with its labels matched to the classes that suit them best (at "
                              f"least {profile.min_map:g} is needed). The loss your forward reports does not show "
                              f"what the detector learned.{_unmatched_note(run) if where else ''}")
    return summary


def class_matched_map(truth: dict[str, dict], detections: dict[str, dict]) -> float:
    """mAP@0.5 of ``detections`` with each predicted label renamed to the true class it detects best,
    one-to-one (greedy on AP: highest first). Both map image id -> boxes, (scores,) labels."""
    evaluate = load_course_module("voc_map").evaluate
    true_classes = sorted({str(name) for image in truth.values() for name in image["labels"]})
    predicted = sorted({str(name) for image in detections.values() for name in image["labels"]})
    pairs = []  # (AP, predicted label, true class)
    for label in predicted:
        relabelled = {image: _as_every_class(found, label, true_classes) for image, found in detections.items()}
        ap = evaluate(truth, relabelled).ap_per_class
        pairs += [(ap[name], label, name) for name in true_classes]
    used_labels, used_classes, total = set(), set(), 0.0
    for ap, label, name in sorted(pairs, key=lambda pair: (-pair[0], pair[1], pair[2])):
        if label not in used_labels and name not in used_classes:
            used_labels.add(label)
            used_classes.add(name)
            total += ap
    return total / len(true_classes)


def _as_every_class(found: dict, label: str, classes: list[str]) -> dict:
    """The detections labelled ``label``, repeated once under each of ``classes``."""
    keep = found["labels"] == label
    boxes, scores = found["boxes"][keep], found["scores"][keep]
    return {"boxes": np.concatenate([boxes] * len(classes)).reshape(-1, 4),
            "scores": np.concatenate([scores] * len(classes)),
            "labels": np.repeat(np.array(classes, dtype=str), len(boxes))}


# -------------------------------------------------------------------------- mAP
def map_summary(run) -> MapSummary:
    """Both detectors' ``voc_map.MapResult`` on the secret validation split."""
    untrained, trained, graders = _evaluations(run)
    evaluate = load_course_module("voc_map").evaluate
    truth = run.data.ground_truth
    return MapSummary(trained=evaluate(truth, trained.detections), untrained=evaluate(truth, untrained.detections),
                      graders=evaluate(truth, graders.detections), unmatched_note=_unmatched_note(run))


def check_map(summary: MapSummary, profile: GradingProfile) -> None:
    result = summary.trained
    if not result.map >= profile.min_map:
        worst = sorted(result.ap_per_class.items(), key=lambda item: item[1])[:3]
        listed = ", ".join(f"{name} {ap:.2f}" for name, ap in worst)
        raise CheckFailed(f"Validation mAP@0.5 is {result.map:.3f}; at least {profile.min_map:g} is needed "
                          f"(lowest AP: {listed}). A correct detector reaches it with the graded settings.")
    if not summary.graders.map >= profile.min_map:
        raise CheckFailed(f"Validation mAP@0.5 is {result.map:.3f} with your detector's own forward, but "
                          f"{summary.graders.map:.3f} {GRADERS_VIEW} (at least {profile.min_map:g} is needed): "
                          f"{FROM_THE_WEIGHTS}.{summary.unmatched_note}")
    if not summary.untrained.map < profile.max_untrained_map:
        raise CheckFailed(f"Your detector scores an mAP@0.5 of {summary.untrained.map:.3f} before any training "
                          f"(at most {profile.max_untrained_map:g} is expected of random weights): "
                          f"{FROM_THE_WEIGHTS}.")
