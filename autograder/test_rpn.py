"""Graded: `RPN.forward` (losses) and `RPN.predict_proposals`.

The student's prediction network, locations and anchors are replaced by the
reference's values and IoU/NMS/box transforms by torchvision's, so these
tests judge the RPN's own logic only.
"""
import pytest
import torch

from autograder.units.grading_fixtures import case_rng, reference, student, submission_seed  # noqa: F401
from autograder.units.invariant_checks import judge_rpn_sampling, rpn_sampling_case
from autograder.units.judge import check_tensor, fail, rows_as_set_equal
from autograder.units.network_cases import (EXHAUSTIVE, RPN_BATCH as BATCH, RPN_CLUSTERS, RPN_IMAGE_HW, STRIDES,
                                      rpn_case, rpn_init)
from autograder.probes.fakes import FixedOutput

TAGS = ("RPN",)


def make_case(reference, case_rng):
    """Non-square images, and a cluster collapsing the pre-NMS top-k on some levels."""
    return rpn_case(reference, case_rng, image_hw=RPN_IMAGE_HW, clusters=RPN_CLUSTERS)


def reference_proposals(reference, case, init, image_size, **changes):
    """The reference's `predict_proposals` on the case's predictions, for `image_size`
    (width, height), with `changes` to the RPN's attributes: wrong variants for hints."""
    model = reference.RPN(**init)
    for key, value in changes.items():
        setattr(model, key, value)
    logits, deltas = case["predictions"]
    return model.predict_proposals(case["anchors"], logits, deltas, image_size)


def proposal_hints(reference, case, init, name, image):
    """Hints naming the wrong variant of `predict_proposals` that gives the student's boxes."""
    height, width = RPN_IMAGE_HW
    variants = (
        (reference_proposals(reference, case, init, (height, width)),
         f"x and y are clamped to the wrong side: x to [0, width] = [0, {width}], y to [0, height] = [0, {height}] "
         "(the images are not square)"),
        (reference_proposals(reference, case, init, (width, height), pre_nms_topk=10**9),
         "keep the pre_nms_topk proposals of highest objectness BEFORE NMS: NMS over every proposal keeps "
         "others when the best ones overlap"),
    )

    def variant(boxes, message):
        return lambda a, e: message if rows_as_set_equal(a.float(), boxes[name][image], atol=1e-3) else None

    return tuple(variant(boxes, message) for boxes, message in variants) + (
        lambda a, e: ("too many proposals: keep at most post_nms_topk per level and image, after NMS"
                      if len(a) > init["post_nms_topk"] else None),
        lambda a, e: ("proposals reach outside the image: clamp x to [0, width] and y to [0, height]"
                      if (a.min() < 0 or (a[:, 0::2].max() > width) or a[:, 1::2].max() > height) else None),
    )


def loss_reduction_hints(reference, case, init):
    """Hints naming a loss off by the number of sampled anchors (every non-neutral anchor of
    every image, in the exhaustive case) or by batch_size_per_image * num_images."""
    anchors = torch.cat(list(case["anchors"].values()))
    sampled = sum(int((reference.rcnn_match_anchors_to_gt(anchors, gt, init["anchor_iou_thresholds"])[:, 4]
                       != reference.NEUTRAL_LABEL).sum()) for gt in case["gt_boxes"])
    total = init["batch_size_per_image"] * BATCH

    def variant(factor, message):
        return lambda a, e: message if torch.isclose(a.double(), e.double() * factor, rtol=1e-3) else None

    return (
        variant(1 / sampled, f"the loss was averaged over the {sampled} sampled anchors before the provided code "
                             "sums it: keep reduction='none'"),
        variant(total / sampled, f"the summed loss was divided by the number of sampled anchors ({sampled}); the "
                                 "provided code divides it by batch_size_per_image * num_images"),
        variant(total, "the summed loss must be divided by batch_size_per_image * num_images"),
    )


def expected_output(reference, case, init, training):
    model = reference.RPN(**init)
    model.pred_net = FixedOutput(case["predictions"])
    model.train(training)
    torch.manual_seed(0)
    with torch.no_grad():
        return model(case["feats"], STRIDES, case["gt_boxes"] if training else None)


def student_output(sandbox, case, init, training):
    return sandbox.call(
        "networks.rpn", init=init, feats=case["feats"], strides=STRIDES, predictions=case["predictions"],
        locations=case["locations"], anchors=case["anchors"], training=training,
        gt_boxes=case["gt_boxes"] if training else None,
    )


@pytest.mark.points(4, tags=TAGS)
def test_proposals_match_reference(sandbox, reference, case_rng):
    """RPN: proposals (decode, clamp, top-k, NMS, keep top-k) per level and image, non-square images"""
    case = make_case(reference, case_rng)
    init = rpn_init(16)
    proposals = student_output(sandbox, case, init, training=False)["output"].get("proposals")
    expected = expected_output(reference, case, init, training=False)["proposals"]
    if not isinstance(proposals, dict) or set(proposals) != set(STRIDES):
        fail("RPN.predict_proposals", "must return a dict with keys p3, p4, p5 (one list of per-image boxes each)")
    for name in STRIDES:
        if not isinstance(proposals[name], (list, tuple)) or len(proposals[name]) != BATCH:
            fail("RPN.predict_proposals", f"proposals['{name}'] must be a list of {BATCH} tensors, one per image")
        for image in range(BATCH):
            actual, wanted = proposals[name][image], expected[name][image]
            if isinstance(actual, torch.Tensor) and rows_as_set_equal(actual.float(), wanted, atol=1e-3):
                continue
            what = f"RPN proposals['{name}'][{image}]"
            check_tensor(what, actual, wanted, atol=1e-3, hints=proposal_hints(reference, case, init, name, image))
            fail(what, "holds different boxes than expected (compared as a set): apply the deltas to the anchors, "
                 "clamp to the image, keep the pre_nms_topk highest objectness logits, run NMS with nms_thresh, "
                 "then keep post_nms_topk")


@pytest.mark.points(4, tags=TAGS)
def test_losses_match_reference_when_every_anchor_is_sampled(sandbox, reference, case_rng):
    """RPN: objectness (BCE) and box (L1) losses, every anchor sampled"""
    case = make_case(reference, case_rng)
    init = rpn_init(EXHAUSTIVE)
    output = student_output(sandbox, case, init, training=True)["output"]
    expected = expected_output(reference, case, init, training=True)
    for key in ("loss_rpn_obj", "loss_rpn_box"):
        if key not in output:
            fail("RPN.forward", f"in training, the output dict must hold '{key}'; it has {sorted(output)}")
    reductions = loss_reduction_hints(reference, case, init)
    check_tensor("RPN loss_rpn_obj", output["loss_rpn_obj"], expected["loss_rpn_obj"], rtol=1e-3, atol=1e-9,
                 hints=reductions + (lambda a, e: "objectness targets are 1 for foreground anchors and 0 for "
                                                  "background ones; use binary cross-entropy on the logits",))
    check_tensor("RPN loss_rpn_box", output["loss_rpn_box"], expected["loss_rpn_box"], rtol=1e-3, atol=1e-9, hints=reductions + (
        lambda a, e: ("the box loss of background anchors must be 0: their target deltas are -1e8"
                      if a > 1e3 * max(float(e), 1e-9) else None),
        lambda a, e: "L1 loss between predicted and target deltas, on foreground anchors only",
    ))


@pytest.mark.points(2, tags=TAGS)
def test_training_samples_half_foreground(sandbox, reference, case_rng):
    """RPN: samples batch_size_per_image anchors per image, 50% foreground"""
    # Evidence: the losses count the sample (see `invariant_checks.rpn_sampling_case`).
    base = make_case(reference, case_rng)
    case = rpn_sampling_case(dict(base, init=rpn_init(16), strides=STRIDES), case_rng)
    kwargs = {key: case[key] for key in ("init", "feats", "strides", "predictions", "locations", "anchors",
                                         "training", "gt_boxes")}
    judge_rpn_sampling(sandbox.call("networks.rpn", **kwargs)["output"], case)
