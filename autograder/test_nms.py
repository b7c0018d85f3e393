"""Graded: `nms(boxes, scores, iou_threshold)`, greedy non-maximum suppression."""
import pytest
import torch
import torchvision

from autograder.units.cases import clustered_boxes, disguise_boxes, distinct_scores, integer_shift
from autograder.units.grading_fixtures import case_rng, reference, student, submission_seed  # noqa: F401
from autograder.units.invariant_checks import NMS_EQUAL_IOU_BOXES, NMS_EQUAL_IOU_SCORES
from autograder.units.judge import check_tensor, fail


# A pair at IoU 0.46 whose IoU with the `+1` pixel convention is 0.51: kept at threshold 0.5
# by a right `nms`, suppressed by one that adds 1 to every side.
PLUS_ONE_PAIR_BOXES = torch.tensor([[200.0, 200, 210, 210], [200, 200, 210, 204.6]])
PLUS_ONE_PAIR_SCORES = torch.tensor([0.5, 0.4])


def at_or_above(threshold: float) -> float:
    """The threshold at which torchvision's `IoU > t` suppresses exactly the float32 IoUs `>= threshold`."""
    below = torch.nextafter(torch.tensor(threshold, dtype=torch.float32), torch.tensor(-1.0))
    return float(below)


def nms_hints(boxes, scores, threshold):
    """Hints naming the wrong variant of NMS that gives the student's `keep`, then symptoms."""
    def variant(keep, message):
        return lambda a, e: message if a.shape == keep.shape and torch.equal(a.long(), keep) else None

    order = scores.argsort(descending=True)
    plus_one = boxes + torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=boxes.dtype)  # IoU of x2 - x1 + 1 sides
    return (
        variant(torchvision.ops.nms(boxes, -scores, threshold),
                "boxes were visited from the LOWEST score: sort scores in decreasing order"),
        variant(torchvision.ops.nms(boxes[order], scores[order], threshold),
                "these are positions in the sorted order: return indices into the original `boxes`"),
        variant(torchvision.ops.nms(plus_one, scores, threshold),
                "the IoU inside nms uses the `+1` pixel convention: coordinates are continuous here, so a box's "
                "width is x2 - x1 (no + 1), and so is the intersection's"),
        variant(torchvision.ops.nms(boxes, scores, at_or_above(threshold)),
                "a box whose IoU EQUALS the threshold must be kept: suppress only IoU > threshold"),
        lambda a, e: ("same boxes, different order: `keep` must be sorted by decreasing score"
                      if sorted(a.tolist()) == sorted(e.tolist()) else None),
    )


def check_keep(student, reference, boxes, scores, threshold, what="nms(boxes, scores, iou_threshold)"):
    keep = student("nms", boxes, scores, threshold)
    expected = reference.nms(boxes, scores, threshold)
    check_tensor(what, keep, expected, integer=True, hints=nms_hints(boxes, scores, threshold))


@pytest.mark.points(2, tags=("nms",))
def test_nms_small_literal_case(student, reference, case_rng):
    """nms: four boxes, two of them suppressed"""
    boxes, order = disguise_boxes(torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [21, 20, 31, 30]]),
                                  case_rng, integer_shift(case_rng))
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])[order]
    keep = student("nms", boxes, scores, 0.5)
    check_tensor("nms(boxes, scores, 0.5)", keep, reference.nms(boxes, scores, 0.5), integer=True,
                 hints=nms_hints(boxes, scores, 0.5))
    # The starter code returns early on empty input; it must still return a long tensor.
    check_tensor("nms on empty input", student("nms", torch.zeros(0, 4), torch.zeros(0), 0.5),
                 torch.zeros(0, dtype=torch.long), integer=True)


@pytest.mark.points(2, tags=("nms",))
@pytest.mark.parametrize("threshold", [0.3, 0.7])
def test_nms_random_overlapping_boxes(student, reference, case_rng, threshold):
    """nms: overlapping random boxes, against torchvision"""
    boxes = clustered_boxes(120, case_rng)
    scores = distinct_scores(120, case_rng)
    keep, (boxes_after, scores_after, _) = student.with_inputs("nms", boxes, scores, threshold)
    check_tensor(f"nms(boxes, scores, {threshold})", keep, torchvision.ops.nms(boxes, scores, threshold),
                 integer=True, hints=nms_hints(boxes, scores, threshold))
    if not (torch.equal(boxes_after, boxes) and torch.equal(scores_after, scores)):
        fail("nms", "modified its input `boxes` or `scores` in place; work on copies")


@pytest.mark.points(2, tags=("nms",))
def test_nms_threshold_is_strict(student, reference, case_rng):
    """nms: IoU equal to the threshold is kept, just above it is suppressed, IoU of continuous coordinates"""
    boxes, order = disguise_boxes(torch.cat([NMS_EQUAL_IOU_BOXES, PLUS_ONE_PAIR_BOXES]), case_rng,
                                  integer_shift(case_rng))
    scores = torch.cat([NMS_EQUAL_IOU_SCORES, PLUS_ONE_PAIR_SCORES])[order]
    keep = student("nms", boxes, scores, 0.5)
    check_tensor("nms(boxes, scores, 0.5)", keep, reference.nms(boxes, scores, 0.5), integer=True,
                 hints=nms_hints(boxes, scores, 0.5))


@pytest.mark.points(1, tags=("nms",))
def test_nms_tied_scores_give_a_valid_greedy_result(student, case_rng):
    """nms: tied scores (any order among equal scores is accepted)"""
    boxes = clustered_boxes(60, case_rng, num_clusters=4)
    scores = torch.randint(3, (60,), generator=case_rng).float() / 4
    keep = student("nms", boxes, scores, 0.5)
    check_tensor("nms(boxes, scores, 0.5)", keep, keep.long() if isinstance(keep, torch.Tensor) else torch.zeros(0),
                 integer=True)
    if keep.dim() != 1 or len(keep) > len(boxes) or (
            keep.numel() and not 0 <= int(keep.min()) <= int(keep.max()) < len(boxes)):
        fail("nms", f"must return a 1-D tensor of indices between 0 and {len(boxes) - 1}, "
                    f"got shape {tuple(keep.shape)}")
    keep = keep.long().tolist()
    overlap = torchvision.ops.box_iou(boxes, boxes)
    if len(set(keep)) != len(keep):
        fail("nms", f"returned some indices twice: {keep}")
    for i, k in enumerate(keep):
        if i and scores[k] > scores[keep[i - 1]]:
            fail("nms", "`keep` must be sorted by decreasing score")
        if any(overlap[k, j] > 0.5 for j in keep[:i]):
            fail("nms", f"kept box {k} overlaps an earlier kept box with IoU > 0.5")
    for dropped in sorted(set(range(60)) - set(keep)):
        if not any(overlap[k, dropped] > 0.5 and scores[k] >= scores[dropped] for k in keep):
            fail("nms", f"box {dropped} was dropped although no kept box with a higher or equal score overlaps it with IoU > 0.5")


@pytest.mark.points(1, tags=("nms",))
def test_nms_two_thousand_boxes(student, case_rng):
    """nms: 2000 boxes within the time limit"""
    boxes = clustered_boxes(2000, case_rng, num_clusters=40)
    scores = distinct_scores(2000, case_rng)
    check_tensor("nms on 2000 boxes", student("nms", boxes, scores, 0.6),
                 torchvision.ops.nms(boxes, scores, 0.6), integer=True, hints=nms_hints(boxes, scores, 0.6))
