"""Graded: `iou(boxes1, boxes2)`, the pairwise IoU matrix."""
import pytest
import torch

from autograder.cases import disguise_boxes, integer_shift, overlapping_box_sets
from autograder.grading_fixtures import case_rng, reference, student, submission_seed  # noqa: F401
from autograder.judge import allclose, check_tensor

# The seed notebook's sanity check.
SEED_BOXES1 = torch.tensor([[10.0, 10, 90, 90], [20, 20, 40, 40], [60, 60, 80, 80]])
SEED_BOXES2 = torch.tensor([[10.0, 10, 90, 90], [60, 60, 80, 80], [30, 30, 70, 70]])
SEED_EXPECTED = torch.tensor(
    [[1.0, 0.0625, 0.25], [0.0625, 0.0, 0.052631579], [0.0625, 1.0, 0.052631579]]
)


def swapped_arguments(actual, expected):
    if tuple(actual.shape) == tuple(expected.shape[::-1]) and expected.shape[0] != expected.shape[1]:
        return "are boxes1 and boxes2 swapped? iou[i, j] pairs boxes1[i] with boxes2[j]"
    if allclose(actual, expected.T):
        return "the matrix is transposed: iou[i, j] pairs boxes1[i] with boxes2[j]"
    return None


def union_includes_intersection(actual, expected):
    # With union = area1 + area2 (no "- intersection"), IoU e becomes e / (1 + e).
    if allclose(actual, expected / (1 + expected)):
        return "the union must subtract the intersection: area1 + area2 - intersection"
    return None


def overlap_not_clamped(actual, expected):
    disjoint = expected == 0
    if disjoint.any() and not allclose(actual[disjoint], expected[disjoint]):
        return ("boxes that do not overlap must have IoU 0: clamp the intersection's "
                "width and height at 0 before multiplying them")
    return None


IOU_HINTS = (swapped_arguments, union_includes_intersection, overlap_not_clamped)


@pytest.mark.points(2, tags=("iou",))
def test_iou_seed_sanity_example(student, case_rng):
    """iou: the notebook's sanity example (rows shuffled, boxes translated)"""
    shift = integer_shift(case_rng)
    boxes1, rows = disguise_boxes(SEED_BOXES1, case_rng, shift)
    boxes2, columns = disguise_boxes(SEED_BOXES2, case_rng, shift)
    check_tensor("iou(boxes1, boxes2)", student("iou", boxes1, boxes2),
                 SEED_EXPECTED[rows][:, columns], atol=1e-6, rtol=1e-6, hints=IOU_HINTS)


@pytest.mark.points(3, tags=("iou",))
def test_iou_random_boxes_match_reference(student, reference, case_rng):
    """iou: random boxes of two sets of different sizes"""
    boxes1, boxes2 = overlapping_box_sets(7, 11, case_rng)
    check_tensor("iou(boxes1, boxes2)", student("iou", boxes1, boxes2),
                 reference.iou(boxes1, boxes2), hints=IOU_HINTS)


@pytest.mark.points(2, tags=("iou",))
def test_iou_disjoint_touching_nested_identical(student, reference, case_rng):
    """iou: disjoint, touching, nested and identical boxes"""
    shift = integer_shift(case_rng)
    boxes1, _ = disguise_boxes(torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [5, 5, 15, 25]]),
                               case_rng, shift)
    boxes2, _ = disguise_boxes(torch.tensor([[20.0, 20, 30, 30], [10, 0, 20, 10], [2, 2, 4, 4], [5, 5, 15, 25],
                                             [-30, -30, -20, -20]]), case_rng, shift)
    check_tensor("iou(boxes1, boxes2)", student("iou", boxes1, boxes2),
                 reference.iou(boxes1, boxes2), atol=1e-6, hints=IOU_HINTS)


@pytest.mark.points(1, tags=("iou",))
def test_iou_float64_boxes(student, reference, case_rng):
    """iou: float64 boxes are handled like float32 ones"""
    boxes1, boxes2 = (boxes.double() for boxes in overlapping_box_sets(5, 3, case_rng))
    check_tensor("iou(boxes1, boxes2) in float64", student("iou", boxes1, boxes2),
                 reference.iou(boxes1, boxes2), atol=1e-9, rtol=1e-9, hints=IOU_HINTS)
