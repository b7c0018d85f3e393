"""Graded: `iou(boxes1, boxes2)`, the pairwise IoU matrix."""
import pytest
import torch

from autograder.units.cases import disguise_boxes, integer_shift, overlapping_box_sets
from autograder.units.grading_fixtures import case_rng, reference, student, submission_seed  # noqa: F401
from autograder.units.judge import allclose, check_tensor

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


def iou_variant(boxes1, boxes2, pixel=0.0, clamp=True, area=lambda w, h: w * h, subtract_intersection=True):
    """Tensor[M, N]: IoU computed with one mistake: `pixel` added to every side (the `+1`
    pixel convention), no `clamp` of the intersection's sides, the intersection's `area`
    from its sides (w, h), or a union without `- intersection`."""
    top_left = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    sides = bottom_right - top_left + pixel
    if clamp:
        sides = sides.clamp(min=0)
    inter = area(sides[..., 0], sides[..., 1])
    area1 = (boxes1[:, 2] - boxes1[:, 0] + pixel) * (boxes1[:, 3] - boxes1[:, 1] + pixel)
    area2 = (boxes2[:, 2] - boxes2[:, 0] + pixel) * (boxes2[:, 3] - boxes2[:, 1] + pixel)
    union = area1[:, None] + area2[None, :] - (inter if subtract_intersection else 0)
    return inter / union


# Wrong variants of IoU (keyword arguments of `iou_variant`) and the mistake each one names.
IOU_VARIANTS = (
    (dict(pixel=1.0), "the `+1` pixel convention: coordinates are continuous here, so a box's width is x2 - x1 "
                      "(no + 1), and so is the intersection's"),
    (dict(subtract_intersection=False), "the union must subtract the intersection: area1 + area2 - intersection"),
    (dict(area=lambda w, h: w * w), "the intersection's area is width * height; the width was used twice"),
    (dict(area=lambda w, h: h * h), "the intersection's area is width * height; the height was used twice"),
    (dict(clamp=False), "boxes that do not overlap must have IoU 0: clamp the intersection's width and height at 0 "
                        "before multiplying them"),
)


def iou_hints(boxes1, boxes2):
    """Hints naming the wrong variant of IoU that gives the student's matrix, then symptoms."""
    def variant(kwargs, message):
        return lambda a, e: message if allclose(a, iou_variant(boxes1.double(), boxes2.double(), **kwargs)) else None

    return (swapped_arguments,) + tuple(variant(kwargs, message) for kwargs, message in IOU_VARIANTS) + (
        overlap_not_clamped,)


def overlap_not_clamped(actual, expected):
    disjoint = expected == 0
    if disjoint.any() and not allclose(actual[disjoint], expected[disjoint]):
        return "boxes that do not overlap must have IoU 0"
    return None


@pytest.mark.points(2, tags=("iou",))
def test_iou_seed_sanity_example(student, case_rng):
    """iou: the notebook's sanity example (rows shuffled, boxes translated)"""
    shift = integer_shift(case_rng)
    boxes1, rows = disguise_boxes(SEED_BOXES1, case_rng, shift)
    boxes2, columns = disguise_boxes(SEED_BOXES2, case_rng, shift)
    check_tensor("iou(boxes1, boxes2)", student("iou", boxes1, boxes2),
                 SEED_EXPECTED[rows][:, columns], atol=1e-6, rtol=1e-6, hints=iou_hints(boxes1, boxes2))


@pytest.mark.points(3, tags=("iou",))
def test_iou_random_boxes_match_reference(student, reference, case_rng):
    """iou: random boxes of two sets of different sizes"""
    boxes1, boxes2 = overlapping_box_sets(7, 11, case_rng)
    check_tensor("iou(boxes1, boxes2)", student("iou", boxes1, boxes2),
                 reference.iou(boxes1, boxes2), hints=iou_hints(boxes1, boxes2))


@pytest.mark.points(2, tags=("iou",))
def test_iou_disjoint_touching_nested_identical(student, reference, case_rng):
    """iou: disjoint, touching, nested and identical boxes"""
    shift = integer_shift(case_rng)
    boxes1, _ = disguise_boxes(torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [5, 5, 15, 25]]),
                               case_rng, shift)
    boxes2, _ = disguise_boxes(torch.tensor([[20.0, 20, 30, 30], [10, 0, 20, 10], [2, 2, 4, 4], [5, 5, 15, 25],
                                             [-30, -30, -20, -20]]), case_rng, shift)
    check_tensor("iou(boxes1, boxes2)", student("iou", boxes1, boxes2),
                 reference.iou(boxes1, boxes2), atol=1e-6, hints=iou_hints(boxes1, boxes2))


@pytest.mark.points(1, tags=("iou",))
def test_iou_float64_boxes(student, reference, case_rng):
    """iou: float64 boxes are handled like float32 ones"""
    boxes1, boxes2 = (boxes.double() for boxes in overlapping_box_sets(5, 3, case_rng))
    check_tensor("iou(boxes1, boxes2) in float64", student("iou", boxes1, boxes2),
                 reference.iou(boxes1, boxes2), atol=1e-9, rtol=1e-9, hints=iou_hints(boxes1, boxes2))
