"""
Box operations of the reference solution: IoU, NMS, box deltas, anchors and
FPN locations.

Style of torchvision's `test/test_ops.py`: literal cases with hand-checked
expectations (among them the seed's own sanity checks), plus seeded random
comparisons against torchvision as a peer (`box_iou`, `nms`, `batched_nms`,
`BoxCoder`).
"""
import math

import pytest
import torch
import torchvision
from torch.testing import assert_close
from torchvision.models.detection._utils import BoxCoder

import common
from common import IGNORED_DELTA, class_spec_nms, get_fpn_location_coords, nms
from two_stage_detector import (
    DELTA_SCALE_CLAMP,
    generate_fpn_anchors,
    iou,
    rcnn_apply_deltas_to_anchors,
    rcnn_get_deltas_from_anchors,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def random_boxes(num_boxes, seed, max_coord=200.0, min_size=1.0, max_size=80.0, dtype=torch.float32):
    """`(num_boxes, 4)` XYXY boxes with top-left in [0, max_coord) and sides in [min_size, max_size)."""
    generator = torch.Generator().manual_seed(seed)
    top_left = torch.rand(num_boxes, 2, generator=generator, dtype=torch.float64) * max_coord
    size = min_size + torch.rand(num_boxes, 2, generator=generator, dtype=torch.float64) * (max_size - min_size)
    return torch.cat([top_left, top_left + size], dim=1).to(dtype)


def sorted_rows(rows: torch.Tensor) -> torch.Tensor:
    """Rows sorted lexicographically (on values rounded to 1e-3): compare boxes as a set."""
    keys = [tuple(round(v, 3) for v in row) for row in rows.tolist()]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return rows[order]


# --------------------------------------------------------------------------------------------------
# IoU
# --------------------------------------------------------------------------------------------------


def test_iou_seed_sanity_example(helpers):
    # The seed's own check: "you should observe an error of 1e-7 or less".
    boxes1 = torch.Tensor([[10, 10, 90, 90], [20, 20, 40, 40], [60, 60, 80, 80]])
    boxes2 = torch.Tensor([[10, 10, 90, 90], [60, 60, 80, 80], [30, 30, 70, 70]])
    expected_iou = torch.Tensor(
        [[1.0, 0.0625, 0.25], [0.0625, 0.0, 0.052631579], [0.0625, 1.0, 0.052631579]]
    )
    result_iou = iou(boxes1, boxes2)
    assert result_iou.shape == (3, 3)
    assert helpers.rel_error(expected_iou, result_iou) <= 1e-7


def test_iou_hand_checked_literals():
    box = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    others = torch.tensor(
        [
            [0.0, 0.0, 10.0, 10.0],  # identical: 1
            [5.0, 0.0, 15.0, 10.0],  # half overlap: 50 / 150
            [10.0, 0.0, 20.0, 10.0],  # touching edge: 0
            [20.0, 20.0, 30.0, 30.0],  # disjoint: 0
            [2.0, 2.0, 7.0, 7.0],  # contained: 25 / 100
            [0.0, 0.0, 10.0, 20.0],  # contains it: 100 / 200
        ]
    )
    expected = torch.tensor([[1.0, 1.0 / 3.0, 0.0, 0.0, 0.25, 0.5]])
    assert_close(iou(box, others), expected)
    # IoU is symmetric.
    assert_close(iou(others, box), expected.T)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("num_boxes1, num_boxes2", [(1, 1), (7, 11), (50, 3), (0, 4), (4, 0)])
def test_iou_matches_torchvision_box_iou_on_random_boxes(num_boxes1, num_boxes2, dtype):
    boxes1 = random_boxes(num_boxes1, seed=num_boxes1 * 100 + num_boxes2, dtype=dtype)
    boxes2 = random_boxes(num_boxes2, seed=num_boxes2 * 100 + num_boxes1 + 1, dtype=dtype)
    result = iou(boxes1, boxes2)
    assert result.shape == (num_boxes1, num_boxes2)
    assert result.dtype == dtype
    assert_close(result, torchvision.ops.box_iou(boxes1, boxes2))


def test_iou_matches_torchvision_box_iou_on_degenerate_boxes():
    boxes = torch.tensor(
        [
            [10.0, 10.0, 30.0, 30.0],
            [10.0, 10.0, 30.0, 30.0],  # identical to the first
            [30.0, 10.0, 50.0, 30.0],  # touches the first along x = 30
            [10.0, 30.0, 30.0, 50.0],  # touches the first along y = 30
            [30.0, 30.0, 40.0, 40.0],  # touches the first at a corner
            [100.0, 100.0, 120.0, 110.0],  # disjoint from all others
            [15.0, 12.0, 15.0, 28.0],  # zero width, inside the first
            [12.0, 15.0, 28.0, 15.0],  # zero height, inside the first
            [20.0, 20.0, 20.0, 20.0],  # a point
            [20.0, 20.0, 20.0, 20.0],  # the same point: 0 / 0 -> NaN, like torchvision
        ]
    )
    expected = torchvision.ops.box_iou(boxes, boxes)
    assert expected.isnan().any(), "the case list must include torchvision's NaN cases"
    assert_close(iou(boxes, boxes), expected, equal_nan=True)


# --------------------------------------------------------------------------------------------------
# NMS
# --------------------------------------------------------------------------------------------------


def assert_valid_greedy_nms(boxes, scores, keep, iou_threshold):
    """
    `keep` is a valid greedy NMS of (boxes, scores), whatever the order of tied
    scores: sorted by decreasing score, no kept box overlaps an earlier kept one
    by more than the threshold, and every dropped box overlaps by more than the
    threshold some kept box whose score is at least its own.
    """
    kept_scores = scores[keep]
    assert torch.all(kept_scores[:-1] >= kept_scores[1:])
    assert len(set(keep.tolist())) == len(keep)
    overlaps = torchvision.ops.box_iou(boxes, boxes)
    kept = keep.tolist()
    for rank, index in enumerate(kept):
        for earlier in kept[:rank]:
            assert overlaps[earlier, index] <= iou_threshold, (earlier, index)
    kept_set = set(kept)
    for index in range(len(boxes)):
        if index in kept_set:
            continue
        suppressors = [k for k in kept if scores[k] >= scores[index] and overlaps[k, index] > iou_threshold]
        assert suppressors, f"box {index} was dropped but no kept box suppresses it"


NMS_RANDOM_CASES = [(n, thr) for n in (0, 1, 2, 10, 300) for thr in (0.0, 0.3, 0.5, 0.7, 1.0)] + [
    (2000, 0.5),
    (2000, 0.7),
]


@pytest.mark.parametrize("num_boxes, iou_threshold", NMS_RANDOM_CASES)
def test_nms_matches_torchvision_on_random_boxes(num_boxes, iou_threshold):
    boxes = random_boxes(num_boxes, seed=num_boxes + int(iou_threshold * 10), max_size=60.0)
    scores = torch.rand(num_boxes, generator=torch.Generator().manual_seed(num_boxes))
    keep = nms(boxes, scores, iou_threshold)
    expected = torchvision.ops.nms(boxes, scores, iou_threshold)
    assert keep.dtype == torch.int64
    torch.testing.assert_close(keep, expected, rtol=0, atol=0)


@pytest.mark.parametrize("device", DEVICES)
def test_nms_output_dtype_device_order_and_inputs_untouched(device):
    boxes = random_boxes(200, seed=7, max_size=50.0).to(device)
    scores = torch.rand(200, generator=torch.Generator().manual_seed(7)).to(device)
    boxes_before, scores_before = boxes.clone(), scores.clone()

    keep = nms(boxes, scores, 0.5)

    assert keep.dtype == torch.int64
    assert keep.device == boxes.device
    assert 0 < len(keep) < 200
    kept_scores = scores[keep]
    assert torch.all(kept_scores[:-1] > kept_scores[1:]), "keep must be sorted by decreasing score"
    assert_close(boxes, boxes_before, rtol=0, atol=0)
    assert_close(scores, scores_before, rtol=0, atol=0)


@pytest.mark.parametrize("device", DEVICES)
def test_nms_of_no_boxes_is_empty_int64_on_input_device(device):
    keep = nms(torch.zeros(0, 4, device=device), torch.zeros(0, device=device), 0.5)
    assert keep.shape == (0,)
    assert keep.dtype == torch.int64
    assert keep.device.type == device


# Box B against A = [0, 0, 10, 10]: IoU is h / 10 for B = [0, 0, 10, h].
@pytest.mark.parametrize(
    "other_height, iou_threshold, other_kept",
    [
        (5.0, 0.5, True),  # IoU exactly at the threshold: kept (only IoU > threshold is discarded)
        (5.01, 0.5, False),  # just above: discarded
        (4.99, 0.5, True),  # just below: kept
        (7.0, 0.7, True),  # IoU 0.7 == threshold 0.7 (both as float32): kept
        (7.01, 0.7, False),
        (2.5, 0.25, True),
        (2.5, 0.2499, False),
    ],
)
def test_nms_threshold_boundary_matches_spec_and_torchvision(other_height, iou_threshold, other_kept):
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, other_height]])
    scores = torch.tensor([0.9, 0.8])
    expected = [0, 1] if other_kept else [0]
    assert nms(boxes, scores, iou_threshold).tolist() == expected
    assert torchvision.ops.nms(boxes, scores, iou_threshold).tolist() == expected


def test_nms_hand_checked_chain():
    boxes = torch.tensor(
        [
            [0.0, 0.0, 10.0, 10.0],  # A
            [4.0, 0.0, 14.0, 10.0],  # B: IoU(A, B) = 60 / 140 = 0.43
            [10.0, 0.0, 20.0, 10.0],  # C: IoU(A, C) = 0 (touching), IoU(B, C) = 40 / 160 = 0.25
        ]
    )
    scores = torch.tensor([0.9, 0.8, 0.7])
    # Threshold 0.2: A suppresses B; C survives because B, which would
    # suppress it, was itself suppressed (greedy NMS, not pairwise removal).
    assert nms(boxes, scores, 0.2).tolist() == [0, 2]
    # Threshold 0.5: nothing is suppressed; the order follows the scores.
    assert nms(boxes, scores, 0.5).tolist() == [0, 1, 2]
    assert nms(boxes, torch.tensor([0.1, 0.8, 0.7]), 0.5).tolist() == [1, 2, 0]
    # B first: it suppresses both A (0.43 > 0.2) and C (0.25 > 0.2).
    assert nms(boxes, torch.tensor([0.1, 0.8, 0.7]), 0.2).tolist() == [1]


@pytest.mark.parametrize("num_boxes, iou_threshold", [(30, 0.3), (200, 0.5), (200, 0.0)])
def test_nms_with_tied_scores_is_a_valid_greedy_nms(num_boxes, iou_threshold):
    boxes = random_boxes(num_boxes, seed=11 + num_boxes, max_size=60.0)
    # Only four distinct score values: many ties.
    scores = torch.randint(0, 4, (num_boxes,), generator=torch.Generator().manual_seed(3)).float() / 4
    keep = nms(boxes, scores, iou_threshold)
    assert_valid_greedy_nms(boxes, scores, keep, iou_threshold)


def test_nms_all_identical_boxes_and_scores_keeps_exactly_one():
    boxes = torch.tensor([[1.0, 2.0, 11.0, 12.0]]).repeat(5, 1)
    keep = nms(boxes, torch.ones(5), 0.5)
    assert len(keep) == 1
    assert_valid_greedy_nms(boxes, torch.ones(5), keep, 0.5)


@pytest.mark.parametrize("iou_threshold", [0.3, 0.5])
def test_class_spec_nms_matches_torchvision_batched_nms(iou_threshold):
    boxes = random_boxes(300, seed=5, max_size=60.0)
    scores = torch.rand(300, generator=torch.Generator().manual_seed(5))
    class_ids = torch.randint(0, 5, (300,), generator=torch.Generator().manual_seed(6))
    keep = class_spec_nms(boxes, scores, class_ids, iou_threshold)
    expected = torchvision.ops.batched_nms(boxes, scores, class_ids, iou_threshold)
    assert_close(keep, expected, rtol=0, atol=0)


def test_class_spec_nms_never_suppresses_across_classes():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0]]).repeat(3, 1)
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert class_spec_nms(boxes, scores, torch.tensor([0, 1, 0]), 0.5).tolist() == [0, 1]
    assert class_spec_nms(boxes[:0], scores[:0], torch.tensor([], dtype=torch.int64), 0.5).dtype == torch.int64


# --------------------------------------------------------------------------------------------------
# Box deltas
# --------------------------------------------------------------------------------------------------


def test_deltas_hand_checked_literal():
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0], [10.0, 20.0, 30.0, 60.0]])
    gt_boxes = torch.tensor([[5.0, 5.0, 25.0, 15.0], [10.0, 20.0, 30.0, 60.0]])
    # Anchor 0: centre (5, 5), 10 x 10; box: centre (15, 10), 20 x 10.
    # Anchor 1 equals its box: zero deltas.
    expected = torch.tensor([[1.0, 0.5, math.log(2.0), 0.0], [0.0, 0.0, 0.0, 0.0]])
    deltas = rcnn_get_deltas_from_anchors(anchors, gt_boxes)
    assert_close(deltas, expected)
    assert_close(rcnn_apply_deltas_to_anchors(expected, anchors), gt_boxes)


def test_deltas_seed_sanity_example(helpers):
    # The seed's check: deltas from these boxes applied back give the boxes.
    input_anchors = torch.Tensor([[20, 40, 80, 90], [10, 10, 50, 50], [120, 100, 200, 200]])
    input_boxes = torch.Tensor([[10, 15, 100, 115, 1], [30, 20, 40, 30, 1], [120, 100, 200, 200, 1]])
    deltas = rcnn_get_deltas_from_anchors(input_anchors, input_boxes)
    assert deltas.shape == (3, 4)
    output_boxes = rcnn_apply_deltas_to_anchors(deltas, input_anchors)
    assert helpers.rel_error(input_boxes[:, :4], output_boxes) < 1e-6

    # ... and the background check: all deltas of a background box are -1e8.
    background_box = torch.Tensor([[-1, -1, -1, -1, -1]])
    input_anchor = torch.Tensor([[100, 100, 200, 200]])
    background_deltas = rcnn_get_deltas_from_anchors(input_anchor, background_box)
    assert_close(background_deltas, torch.full((1, 4), -1e8))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_get_deltas_matches_torchvision_box_coder_encode(dtype):
    anchors = random_boxes(500, seed=21, min_size=8.0, max_size=120.0, dtype=dtype)
    gt_boxes = random_boxes(500, seed=22, min_size=8.0, max_size=120.0, dtype=dtype)
    coder = BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
    expected = coder.encode_single(gt_boxes, anchors)
    assert_close(rcnn_get_deltas_from_anchors(anchors, gt_boxes), expected)
    # A fifth (class) column is allowed and ignored.
    with_class = torch.cat([gt_boxes, torch.full((500, 1), 3.0, dtype=dtype)], dim=1)
    assert_close(rcnn_get_deltas_from_anchors(anchors, with_class), expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_apply_deltas_matches_torchvision_box_coder_decode_inside_both_clamps(dtype):
    generator = torch.Generator().manual_seed(31)
    anchors = random_boxes(500, seed=32, min_size=8.0, max_size=120.0, dtype=dtype)
    # |dw|, |dh| <= 3 stays under both clamps: log(224 / 8) = 3.33 (ours) and
    # log(1000 / 16) = 4.14 (BoxCoder's bbox_xform_clip).
    deltas = torch.empty(500, 4, dtype=dtype)
    deltas[:, :2] = torch.rand(500, 2, generator=generator, dtype=dtype) * 2 - 1
    deltas[:, 2:] = torch.rand(500, 2, generator=generator, dtype=dtype) * 6 - 3
    assert deltas[:, 2:].max() < min(DELTA_SCALE_CLAMP, math.log(1000.0 / 16))
    coder = BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
    expected = coder.decode_single(deltas, anchors)
    assert_close(rcnn_apply_deltas_to_anchors(deltas, anchors), expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_apply_deltas_inverts_get_deltas_on_random_boxes(dtype):
    anchors = random_boxes(1000, seed=41, min_size=8.0, max_size=150.0, dtype=dtype)
    gt_boxes = random_boxes(1000, seed=42, min_size=8.0, max_size=150.0, dtype=dtype)
    # Sizes stay within a factor 150 / 8 < 28 of each other: inside the clamp.
    deltas = rcnn_get_deltas_from_anchors(anchors, gt_boxes)
    assert deltas[:, 2:].abs().max() < DELTA_SCALE_CLAMP
    tolerance = {"rtol": 1e-5, "atol": 1e-4} if dtype == torch.float32 else {}
    assert_close(rcnn_apply_deltas_to_anchors(deltas, anchors), gt_boxes, **tolerance)


def test_apply_deltas_clamps_scale_to_log_224_over_8():
    assert DELTA_SCALE_CLAMP == pytest.approx(math.log(224 / 8))
    # An 8px anchor grows to at most 224px however large dw, dh are.
    anchors = torch.tensor([[0.0, 0.0, 8.0, 8.0]])
    deltas = torch.tensor([[0.0, 0.0, 10.0, 5.0]])
    assert_close(
        rcnn_apply_deltas_to_anchors(deltas, anchors),
        torch.tensor([[4.0 - 112.0, 4.0 - 112.0, 4.0 + 112.0, 4.0 + 112.0]]),
    )


def test_delta_functions_do_not_modify_their_inputs():
    anchors = random_boxes(20, seed=51)
    gt_boxes = torch.cat([random_boxes(20, seed=52), torch.ones(20, 1)], dim=1)
    gt_boxes[3] = -1.0
    gt_boxes[4] = -1e8
    deltas = torch.randn(20, 4, generator=torch.Generator().manual_seed(53)) * 5
    deltas[:, 2:] += 10.0  # all above the clamp: an in-place clamp would show
    anchors_before, gt_before, deltas_before = anchors.clone(), gt_boxes.clone(), deltas.clone()

    rcnn_get_deltas_from_anchors(anchors, gt_boxes)
    rcnn_apply_deltas_to_anchors(deltas, anchors)

    assert_close(anchors, anchors_before, rtol=0, atol=0)
    assert_close(gt_boxes, gt_before, rtol=0, atol=0)
    assert_close(deltas, deltas_before, rtol=0, atol=0)


@pytest.mark.parametrize("num_columns", [4, 5])
def test_background_and_neutral_rows_get_ignored_delta_in_all_columns(num_columns):
    assert IGNORED_DELTA == -1e8
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0]]).repeat(4, 1)
    foreground = [5.0, 5.0, 25.0, 15.0, 2.0][:num_columns]
    gt_boxes = torch.tensor(
        [
            foreground,
            [common.BACKGROUND_LABEL] * num_columns,  # background: all -1
            [common.NEUTRAL_LABEL] * num_columns,  # neutral: all -1e8
            [-1.0] * num_columns,
        ]
    )
    deltas = rcnn_get_deltas_from_anchors(anchors, gt_boxes)
    assert deltas.shape == (4, 4)
    assert_close(deltas[0], torch.tensor([1.0, 0.5, math.log(2.0), 0.0]))
    assert_close(deltas[1:], torch.full((3, 4), IGNORED_DELTA))


# --------------------------------------------------------------------------------------------------
# Anchors
# --------------------------------------------------------------------------------------------------

# The seed's P5 example: 2x2 locations, stride 32, stride_scale 2. Its expected
# numbers were listed in column-major order ("any ordering is fine").
SEED_P5_RATIO_HALF = torch.tensor(
    [
        [-29.2548, -6.6274, 61.2548, 38.6274],
        [-29.2548, 25.3726, 61.2548, 70.6274],
        [2.7452, -6.6274, 93.2548, 38.6274],
        [2.7452, 25.3726, 93.2548, 70.6274],
    ]
)
SEED_P5_RATIO_ONE = torch.tensor(
    [
        [-16.0, -16.0, 48.0, 48.0],
        [-16.0, 16.0, 48.0, 80.0],
        [16.0, -16.0, 80.0, 48.0],
        [16.0, 16.0, 80.0, 80.0],
    ]
)
# "Similar to 1:2 anchors, but with flipped co-ordinates": the same listing
# order (column-major) as the two above.
SEED_P5_RATIO_TWO = torch.tensor(
    [
        [-6.6274, -29.2548, 38.6274, 61.2548],
        [-6.6274, 2.7452, 38.6274, 93.2548],
        [25.3726, -29.2548, 70.6274, 61.2548],
        [25.3726, 2.7452, 70.6274, 93.2548],
    ]
)
# Locations (16, 16), (48, 16), (16, 48), (48, 48) in row-major order (x fastest).
ROW_MAJOR = [0, 2, 1, 3]


def seed_p5_anchors():
    locations = get_fpn_location_coords(
        shape_per_fpn_level={"p5": (2, 64, 2, 2)}, strides_per_fpn_level={"p5": 32}
    )
    anchors = generate_fpn_anchors(
        locations_per_fpn_level=locations,
        strides_per_fpn_level={"p5": 32},
        stride_scale=2,
        aspect_ratios=[0.5, 1.0, 2.0],
    )
    return anchors["p5"]


@pytest.mark.parametrize(
    "ratio_index, expected",
    [(0, SEED_P5_RATIO_HALF), (1, SEED_P5_RATIO_ONE), (2, SEED_P5_RATIO_TWO)],
    ids=["ratio_0.5", "ratio_1", "ratio_2"],
)
def test_anchors_seed_p5_example_as_a_set(ratio_index, expected):
    anchors = seed_p5_anchors()
    assert anchors.shape == (2 * 2 * 3, 4)
    per_ratio = anchors[ratio_index::3]
    assert_close(sorted_rows(per_ratio), sorted_rows(expected), rtol=0, atol=1e-4)


@pytest.mark.parametrize(
    "ratio_index, expected",
    [(0, SEED_P5_RATIO_HALF), (1, SEED_P5_RATIO_ONE), (2, SEED_P5_RATIO_TWO)],
    ids=["ratio_0.5", "ratio_1", "ratio_2"],
)
def test_anchors_seed_p5_example_in_row_major_order(ratio_index, expected):
    # Row `i * A + a` is anchor `a` of location `i`, locations row-major (x fastest).
    anchors = seed_p5_anchors()
    assert_close(anchors[ratio_index::3], expected[ROW_MAJOR], rtol=0, atol=1e-4)


def test_anchors_aspect_ratio_is_height_over_width():
    # Ratio 0.5 anchors are wide, ratio 2 anchors are tall (the inverted
    # convention, width = sqrt(area * ratio), fails here).
    anchors = seed_p5_anchors()
    widths = anchors[:, 2] - anchors[:, 0]
    heights = anchors[:, 3] - anchors[:, 1]
    assert torch.all(widths[0::3] > heights[0::3])
    assert_close(widths[1::3], heights[1::3])
    assert torch.all(widths[2::3] < heights[2::3])
    assert_close(heights / widths, torch.tensor([0.5, 1.0, 2.0]).repeat(4))


def test_anchors_random_level_centres_areas_and_ratios():
    aspect_ratios = [0.25, 1.0, 3.0]
    stride, stride_scale = 16, 4
    locations = get_fpn_location_coords({"p4": (1, 8, 3, 5)}, {"p4": stride}, dtype=torch.float64)
    anchors = generate_fpn_anchors(locations, {"p4": stride}, stride_scale, aspect_ratios)["p4"]
    num_anchors = len(aspect_ratios)
    assert anchors.shape == (3 * 5 * num_anchors, 4)
    assert anchors.dtype == torch.float64

    centres = (anchors[:, :2] + anchors[:, 2:]) / 2
    assert_close(centres, locations["p4"].repeat_interleave(num_anchors, dim=0))
    widths = anchors[:, 2] - anchors[:, 0]
    heights = anchors[:, 3] - anchors[:, 1]
    area = float(stride_scale * stride) ** 2
    assert_close(widths * heights, torch.full_like(widths, area))
    assert_close(heights / widths, torch.tensor(aspect_ratios, dtype=torch.float64).repeat(15))


def test_anchors_of_all_levels_of_a_224_image():
    strides = {"p3": 8, "p4": 16, "p5": 32}
    shapes = {name: (2, 16, 224 // s, 224 // s) for name, s in strides.items()}
    anchors = generate_fpn_anchors(get_fpn_location_coords(shapes, strides), strides, stride_scale=8)
    assert list(anchors) == ["p3", "p4", "p5"]
    for name, stride in strides.items():
        size = 224 // stride
        assert anchors[name].shape == (size * size * 3, 4)
        # Square anchors (ratio 1) of the first location: side 8 * stride.
        half = 8 * stride / 2
        centre = stride / 2
        assert_close(anchors[name][1], torch.tensor([centre - half, centre - half, centre + half, centre + half]))


# --------------------------------------------------------------------------------------------------
# FPN locations
# --------------------------------------------------------------------------------------------------


def test_locations_hand_checked_non_square_level():
    locations = get_fpn_location_coords({"p3": (1, 8, 2, 3)}, {"p3": 8})
    expected = torch.tensor(
        [[4.0, 4.0], [12.0, 4.0], [20.0, 4.0], [4.0, 12.0], [12.0, 12.0], [20.0, 12.0]]
    )
    assert_close(locations["p3"], expected, rtol=0, atol=0)


@pytest.mark.parametrize("height, width, stride", [(7, 7, 32), (3, 5, 16), (5, 2, 8), (1, 1, 32)])
def test_locations_row_major_x_fastest_and_centred(height, width, stride):
    locations = get_fpn_location_coords({"p": (2, 4, height, width)}, {"p": stride})["p"]
    assert locations.shape == (height * width, 2)
    if width > 1:
        assert_close(locations[1] - locations[0], torch.tensor([float(stride), 0.0]))
    rows = torch.arange(height).repeat_interleave(width)
    cols = torch.arange(width).repeat(height)
    expected = torch.stack([(cols + 0.5) * stride, (rows + 0.5) * stride], dim=1).float()
    assert_close(locations, expected, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
@pytest.mark.parametrize("device", DEVICES + ["meta"])
def test_locations_honour_dtype_and_device(dtype, device):
    shapes = {"p3": (1, 4, 4, 6), "p4": (1, 4, 2, 3), "p5": (1, 4, 1, 2)}
    strides = {"p3": 8, "p4": 16, "p5": 32}
    locations = get_fpn_location_coords(shapes, strides, dtype=dtype, device=device)
    assert list(locations) == ["p3", "p4", "p5"]
    for name, shape in shapes.items():
        assert locations[name].shape == (shape[2] * shape[3], 2)
        assert locations[name].dtype == dtype
        assert locations[name].device.type == device


def test_locations_accept_torch_size_shapes():
    feats = torch.zeros(2, 4, 3, 4)
    locations = get_fpn_location_coords({"p4": feats.shape}, {"p4": 16})
    assert_close(locations["p4"][:2], torch.tensor([[8.0, 8.0], [24.0, 8.0]]))
