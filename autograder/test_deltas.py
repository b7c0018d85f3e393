"""Graded: `rcnn_get_deltas_from_anchors` and `rcnn_apply_deltas_to_anchors`."""
import pytest
import torch

from autograder.units.cases import disguise_boxes, integer_shift, matched_gt_boxes, random_boxes
from autograder.units.grading_fixtures import case_rng, reference, student, submission_seed  # noqa: F401
from autograder.units.invariant_checks import judge_inputs_unchanged
from autograder.units.judge import allclose, check_tensor, fail
from autograder.probes.fakes import DELTA_SCALE_CLAMP

IGNORED_DELTA = -1e8
LARGE_OFFSET = 2 * DELTA_SCALE_CLAMP  # a dx/dy the clamp would change

# The seed notebook's sanity example.
SEED_ANCHORS = torch.tensor([[20.0, 40, 80, 90], [10, 10, 50, 50], [120, 100, 200, 200]])
SEED_BOXES = torch.tensor([[10.0, 15, 100, 115, 1], [30, 20, 40, 30, 1], [120, 100, 200, 200, 1]])


def corner_deltas(anchors, boxes):
    wh = anchors[:, 2:] - anchors[:, :2]
    return torch.cat([(boxes[:, :2] - anchors[:, :2]) / wh, torch.log((boxes[:, 2:4] - boxes[:, :2]) / wh)], dim=1)


def get_deltas_hints(anchors, boxes):
    def variant(transform, message):
        return lambda a, e: message if allclose(a, transform(e)) else None

    return (
        variant(lambda e: e[:, [0, 1, 3, 2]], "dw and dh are swapped: the order is (dx, dy, dw, dh)"),
        variant(lambda e: e[:, [1, 0, 2, 3]], "dx and dy are swapped: the order is (dx, dy, dw, dh)"),
        variant(lambda e: torch.cat([e[:, :2], torch.exp(e[:, 2:])], dim=1),
                "dw and dh are scale factors in log space: dw = log(gt_w / anchor_w)"),
        lambda a, e: ("dx and dy are offsets between box CENTRES, divided by the anchor's width and height"
                      if allclose(a, corner_deltas(anchors, boxes)) else None),
    )


def decoded(deltas, anchors, scale=torch.exp):
    """Tensor[N, 4]: `anchors` moved by `deltas` (no clamp), their sides scaled by `scale(dw, dh)`."""
    wh = anchors[:, 2:] - anchors[:, :2]
    centre = anchors[:, :2] + 0.5 * wh + deltas[:, :2] * wh
    half = 0.5 * wh * scale(deltas[:, 2:])
    return torch.cat([centre - half, centre + half], dim=1)


def apply_deltas_hints(deltas, anchors):
    """Hints naming the wrong variant of the decoding that gives the student's boxes."""
    clamped_wh = torch.cat([deltas[:, :2], deltas[:, 2:].clamp(max=DELTA_SCALE_CLAMP)], dim=1)

    def variant(boxes, message):
        return lambda a, e: message if allclose(a, boxes) else None

    return (
        variant(decoded(clamped_wh, anchors, scale=lambda d: d),
                "the new width and height are anchor_w * exp(dw) and anchor_h * exp(dh)"),
        variant(decoded(deltas.clamp(max=DELTA_SCALE_CLAMP), anchors),
                "dx and dy were clamped too: only dw and dh are clamped (at log(224 / 8)), the centre offsets never"),
        variant(decoded(deltas, anchors),
                "dw and dh must be clamped at DELTA_SCALE_CLAMP = log(224 / 8) before exp (the provided clamp was dropped)"),
    )


@pytest.mark.points(2, tags=("rcnn_get_deltas_from_anchors",))
def test_get_deltas_seed_example(student, reference, case_rng):
    """rcnn_get_deltas_from_anchors: the notebook's example (rows shuffled, boxes translated)"""
    shift = integer_shift(case_rng)
    anchors, order = disguise_boxes(SEED_ANCHORS, case_rng, shift)
    boxes = SEED_BOXES[order].clone()
    boxes[:, :4] += shift
    check_tensor("rcnn_get_deltas_from_anchors(anchors, gt_boxes)",
                 student("rcnn_get_deltas_from_anchors", anchors, boxes),
                 reference.rcnn_get_deltas_from_anchors(anchors, boxes),
                 hints=get_deltas_hints(anchors, boxes))


@pytest.mark.points(3, tags=("rcnn_get_deltas_from_anchors",))
def test_get_deltas_random_foreground_match_reference(student, reference, case_rng):
    """rcnn_get_deltas_from_anchors: random foreground pairs, inputs unchanged"""
    anchors = random_boxes(40, case_rng)
    boxes = matched_gt_boxes(anchors, case_rng)
    deltas, (anchors_after, boxes_after) = student.with_inputs("rcnn_get_deltas_from_anchors", anchors, boxes)
    check_tensor("rcnn_get_deltas_from_anchors(anchors, gt_boxes)", deltas,
                 reference.rcnn_get_deltas_from_anchors(anchors, boxes), hints=get_deltas_hints(anchors, boxes))
    if not (torch.equal(anchors_after, anchors) and torch.equal(boxes_after, boxes)):
        fail("rcnn_get_deltas_from_anchors", "modified its inputs in place; work on copies")


@pytest.mark.points(2, tags=("rcnn_get_deltas_from_anchors",))
def test_get_deltas_background_and_neutral_rows(student, reference, case_rng):
    """rcnn_get_deltas_from_anchors: background and neutral rows get -1e8"""
    anchors = random_boxes(12, case_rng)
    boxes = matched_gt_boxes(anchors, case_rng)
    boxes[[1, 4, 5]] = -1.0  # background
    boxes[[2, 9]] = -1e8  # neutral
    deltas = student("rcnn_get_deltas_from_anchors", anchors, boxes)

    def background_hint(actual, expected):
        ignored = expected == IGNORED_DELTA
        if not torch.equal(actual[ignored].double(), expected[ignored].double()):
            return "deltas for background (-1) and neutral (-1e8) rows must be -1e8 (IGNORED_DELTA) in all four columns"
        return None

    check_tensor("rcnn_get_deltas_from_anchors with background/neutral rows", deltas,
                 reference.rcnn_get_deltas_from_anchors(anchors, boxes),
                 hints=(background_hint,) + get_deltas_hints(anchors, boxes))


@pytest.mark.points(1, tags=("rcnn_get_deltas_from_anchors",))
def test_get_deltas_accepts_boxes_without_class_column(student, reference, case_rng):
    """rcnn_get_deltas_from_anchors: GT boxes with 4 columns"""
    anchors = random_boxes(6, case_rng)
    boxes = matched_gt_boxes(anchors, case_rng)[:, :4]
    boxes[3] = -1.0
    check_tensor("rcnn_get_deltas_from_anchors(anchors, gt_boxes[:, :4])",
                 student("rcnn_get_deltas_from_anchors", anchors, boxes),
                 reference.rcnn_get_deltas_from_anchors(anchors, boxes), hints=get_deltas_hints(anchors, boxes))


@pytest.mark.points(3, tags=("rcnn_apply_deltas_to_anchors",))
def test_apply_deltas_random_match_reference(student, reference, case_rng):
    """rcnn_apply_deltas_to_anchors: random deltas"""
    anchors = random_boxes(40, case_rng)
    deltas = torch.randn(40, 4, generator=case_rng) * 0.5
    check_tensor("rcnn_apply_deltas_to_anchors(deltas, anchors)",
                 student("rcnn_apply_deltas_to_anchors", deltas, anchors),
                 reference.rcnn_apply_deltas_to_anchors(deltas, anchors), hints=apply_deltas_hints(deltas, anchors))


@pytest.mark.points(2, tags=("rcnn_apply_deltas_to_anchors",))
def test_apply_deltas_inverts_get_deltas(student, reference, case_rng):
    """rcnn_apply_deltas_to_anchors: undoes the reference's get_deltas"""
    anchors = torch.cat([SEED_ANCHORS, random_boxes(20, case_rng)])
    boxes = torch.cat([SEED_BOXES, matched_gt_boxes(anchors[3:], case_rng)])
    deltas = reference.rcnn_get_deltas_from_anchors(anchors, boxes)
    check_tensor("rcnn_apply_deltas_to_anchors(get_deltas(anchors, boxes), anchors)",
                 student("rcnn_apply_deltas_to_anchors", deltas, anchors), boxes[:, :4],
                 atol=1e-3, hints=apply_deltas_hints(deltas, anchors))


@pytest.mark.points(2, tags=("rcnn_apply_deltas_to_anchors",))
def test_apply_deltas_clamps_without_modifying_inputs(student, reference, case_rng):
    """rcnn_apply_deltas_to_anchors: huge dw/dh are clamped (dx/dy are not), inputs unchanged"""
    anchors = random_boxes(8, case_rng)
    deltas = torch.randn(8, 4, generator=case_rng)
    deltas[::2, 2:] = 10.0  # beyond the clamp at log(224 / 8)
    # dx/dy beyond that clamp too, which only dw/dh get: clamping them all must fail.
    deltas[1::2, :2] = LARGE_OFFSET + torch.rand(4, 2, generator=case_rng)
    boxes, (deltas_after, anchors_after) = student.with_inputs("rcnn_apply_deltas_to_anchors", deltas, anchors)
    check_tensor("rcnn_apply_deltas_to_anchors with large dw/dh", boxes,
                 reference.rcnn_apply_deltas_to_anchors(deltas, anchors), hints=apply_deltas_hints(deltas, anchors))
    judge_inputs_unchanged("rcnn_apply_deltas_to_anchors", [deltas_after, anchors_after], [deltas, anchors],
                           ("deltas", "anchors"))
