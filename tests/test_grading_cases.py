"""The graded tests' random cases are informative: a constant answer cannot pass them."""
import pytest
import torch
from torchvision.ops import box_iou

from autograder.units.cases import boxes_near, overlapping_box_sets, random_boxes

SEEDS = range(300)


@pytest.mark.parametrize("num_boxes1, num_boxes2", [(7, 11), (5, 3), (1, 1), (2, 9)])
def test_overlapping_box_sets_always_overlap(num_boxes1, num_boxes2):
    for seed in SEEDS:
        boxes1, boxes2 = overlapping_box_sets(num_boxes1, num_boxes2, torch.Generator().manual_seed(seed))
        assert boxes1.shape == (num_boxes1, 4) and boxes2.shape == (num_boxes2, 4)
        partial = ((box_iou(boxes1, boxes2) > 0.05) & (box_iou(boxes1, boxes2) < 0.999)).sum()
        expected = min(num_boxes1, max(1, num_boxes2 // 2))
        assert partial >= expected, f"seed {seed}: {int(partial)} pairs with 0 < IoU < 1, expected {expected}"


def test_boxes_near_keeps_boxes_valid_and_overlapping():
    rng = torch.Generator().manual_seed(0)
    boxes = random_boxes(500, rng)
    near = boxes_near(boxes, rng)
    assert (near[:, 2:] > near[:, :2]).all()
    ious = box_iou(boxes, near).diagonal()
    assert ious.min() > 0.3, f"smallest IoU with the original box: {ious.min():.3f}"


def test_independent_random_boxes_are_often_all_disjoint():
    """Why `overlapping_box_sets` exists: the CI failure it fixes (an all-zero `iou` passed)."""
    all_disjoint = sum(
        bool((box_iou(random_boxes(5, rng), random_boxes(3, rng)) == 0).all())
        for rng in (torch.Generator().manual_seed(seed) for seed in SEEDS)
    )
    assert all_disjoint > 0


# ------------------------------------------------------- rules reached on every case seed
# The wrong variants are computed with the reference in this process; each must differ
# from the right answer on every seed (the graded tests then fail them).
REACH_SEEDS = range(40)


@pytest.fixture(scope="module")
def reference():
    from autograder.course.reference_solution import load_reference
    return load_reference()


def test_rpn_cases_reach_clipping_and_the_pre_nms_top_k(reference):
    from autograder.units.judge import rows_as_set_equal
    from autograder.units.network_cases import RPN_BATCH, RPN_IMAGE_HW, STRIDES, rpn_init
    from autograder.test_rpn import make_case, reference_proposals

    height, width = RPN_IMAGE_HW
    init = rpn_init(16)
    for seed in REACH_SEEDS:
        case = make_case(reference, torch.Generator().manual_seed(seed))
        right = reference_proposals(reference, case, init, (width, height))
        for image_size, changes in (((height, width), {}), ((width, height), dict(pre_nms_topk=10**9))):
            wrong = reference_proposals(reference, case, init, image_size, **changes)
            assert not all(rows_as_set_equal(wrong[name][image], right[name][image], atol=1e-3)
                           for name in STRIDES for image in range(RPN_BATCH)), (seed, image_size, changes)


def test_second_stage_loss_cases_reach_the_matching_thresholds(reference):
    from autograder.units.network_cases import second_stage_loss_case

    for seed in range(5):  # the case is drawn until they do: this checks the draw is not stuck
        _, expected, variants = second_stage_loss_case(reference, torch.Generator().manual_seed(seed))
        losses = {message: wrong_loss() for wrong_loss, message in variants}
        assert all(not torch.isclose(loss, expected, rtol=1e-3) for loss in losses.values()), (seed, losses)

