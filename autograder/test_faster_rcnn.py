"""Graded: `FasterRCNN`: the RoI head, RoI-Align, the second-stage loss, inference.

The backbone and the RPN are fakes returning fixed features and proposals,
and IoU/NMS are torchvision's, so these tests judge the second stage only.
"""
import pytest
import torch
import torchvision
from torch.nn import functional as F

from autograder.units.grading_fixtures import case_rng, reference, student, submission_seed  # noqa: F401
from autograder.units.invariant_checks import judge_classifier_head, judge_second_stage_loss, judge_second_stage_sampling
from autograder.units.judge import allclose, check_tensor, fail, rows_as_set_equal
from autograder.units.network_cases import (CHANNELS, HEAD_STEM, IMAGE_SIZE, NUM_CLASSES, SECOND_STAGE_SAMPLES_PER_IMAGE,
                                      STRIDES, head_init, inference_case,
                                      reference_head_model as reference_model, second_stage_case as make_case,
                                      second_stage_loss_case, second_stage_sampling_case)
from autograder.probes.fakes import CaptureHead

TAGS = ("FasterRCNN",)
PINNED_AWAY_SAMPLING_RATIOS = (1, 2, 4)  # other readings of roi_align; the TODO pins the default, -1
STEM = HEAD_STEM


def student_call(sandbox, case, init, training, **kwargs):
    return sandbox.call("networks.faster_rcnn", init=init, feats=case["feats"], strides=STRIDES,
                        proposals=case["proposals"], training=training, seed=0,
                        gt_boxes=case["gt_boxes"] if training else None, **kwargs)


@pytest.mark.points(3, tags=TAGS)
def test_classifier_head_layers(sandbox, case_rng):
    """FasterRCNN: head = 3x3 conv + ReLU per stem channel, Flatten, Linear to C + 1"""
    # Evidence: the head's layers and their initialisation from their parameters and outputs on inputs
    # drawn per case, and `cls_pred` from its output on secret RoI features, all recomputed here.
    case = make_case(case_rng, 1)
    seed = int(torch.randint(2**31, (1,), generator=case_rng))
    head_input = torch.randn(5, CHANNELS, 7, 7, generator=case_rng)
    reply = student_call(sandbox, case, head_init(16), training=False, leaf_seed=seed, head_input=head_input)
    judge_classifier_head(reply, seed, head_input, reply.get("head"), CHANNELS, STEM, NUM_CLASSES)


@pytest.mark.points(3, tags=TAGS)
def test_roi_align_features(sandbox, reference, case_rng):
    """FasterRCNN: RoI-Align of each proposal on its FPN level"""
    case = make_case(case_rng, 1)
    init = head_init(16)
    model = reference_model(reference, case, init, case_rng)
    capture = CaptureHead(NUM_CLASSES + 1)
    model.cls_pred = capture
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, 8, 8), test_score_thresh=0.5, test_nms_thresh=0.5)
    expected = capture.seen[0]
    reply = student_call(sandbox, case, init, training=False, capture=True, score_thresh=0.5, nms_thresh=0.5)
    if len(reply["roi_feats"]) != 1:
        fail("FasterRCNN.forward", f"called the classifier head {len(reply['roi_feats'])} times for one image; expected once")
    actual = reply["roi_feats"][0]
    props = [torch.cat([torch.zeros(len(p[0]), 1), p[0]], dim=1) for p in case["proposals"].values()]

    def pooled(scale_of, aligned=True, sampling_ratio=-1):
        return torch.cat([torchvision.ops.roi_align(case["feats"][n], rois, (7, 7), scale_of(s),
                                                    sampling_ratio=sampling_ratio, aligned=aligned)
                          for (n, s), rois in zip(STRIDES.items(), props)])

    check_tensor("FasterRCNN.forward: RoI features given to the classifier head", actual, expected, hints=(
        lambda a, e: ("spatial_scale must be 1 / stride: proposals are in image pixels, features are stride times smaller"
                      if allclose(a, pooled(lambda s: s)) or allclose(a, pooled(lambda s: 1.0)) else None),
        lambda a, e: "use aligned=True" if allclose(a, pooled(lambda s: 1 / s, aligned=False)) else None,
        lambda a, e: ("keep roi_align's default sampling_ratio (-1: adaptive), as the TODO says"
                      if any(allclose(a, pooled(lambda s: 1 / s, sampling_ratio=r)) for r in PINNED_AWAY_SAMPLING_RATIOS)
                      else None),
    ))


@pytest.mark.points(4, tags=TAGS)
def test_second_stage_loss_with_two_images(sandbox, reference, case_rng):
    """FasterRCNN: classification loss of every proposal, two images, labels paired with their RoIs"""
    kwargs, expected, variants = second_stage_loss_case(reference, case_rng)
    judge_second_stage_loss(sandbox.call("networks.faster_rcnn", **kwargs)["losses"], expected, variants)


@pytest.mark.points(2, tags=TAGS)
def test_training_samples_a_quarter_foreground(sandbox, case_rng):
    """FasterRCNN: samples batch_size_per_image proposals per image, 25% foreground"""
    # Evidence: the loss. A head returning the same logits for every RoI makes each RoI's loss depend on its
    # label only, and the two images' GT boxes have different classes: the mean loss reads the sample's mix.
    case, logits = second_stage_sampling_case(case_rng)
    init = head_init(SECOND_STAGE_SAMPLES_PER_IMAGE)
    reply = student_call(sandbox, case, init, training=True, head_logits=logits)
    judge_second_stage_sampling(reply["losses"], case, logits, SECOND_STAGE_SAMPLES_PER_IMAGE)


# ------------------------------------------------------------------ inference
def reference_inference(reference, proposals, logits, score_thresh, nms_thresh):
    model = reference.FasterRCNN.__new__(reference.FasterRCNN)
    torch.nn.Module.__init__(model)
    model.num_classes = NUM_CLASSES
    return model.inference(torch.zeros(1, 3, 8, 8), proposals, logits, score_thresh, nms_thresh)


def detections_as_rows(detections):
    boxes, classes, scores = detections
    return torch.cat([boxes.double(), classes.double()[:, None], scores.double()[:, None]], dim=1)


def judge_detections(reference, proposals, logits, detections, score_thresh, nms_thresh):
    expected = reference_inference(reference, proposals, logits, score_thresh, nms_thresh)
    if not isinstance(detections, (list, tuple)) or len(detections) != 3:
        fail("FasterRCNN.inference", "must return three tensors: boxes, classes, scores")
    for value, name in zip(detections, ("pred_boxes", "pred_classes", "pred_scores")):
        if not isinstance(value, torch.Tensor):
            fail("FasterRCNN.inference", f"{name} must be a tensor, got {type(value).__name__}")
    actual_rows, expected_rows = detections_as_rows(detections), detections_as_rows(expected)
    if rows_as_set_equal(actual_rows, expected_rows, atol=1e-4):
        return
    shifted = actual_rows.clone()
    shifted[:, 4] -= 1

    def with_background_argmax():
        probs = F.softmax(logits, dim=1)
        scores, classes = probs.max(dim=1)
        keep = (classes > 0) & (scores > score_thresh)
        boxes = torch.cat([p[0] for p in proposals.values()])[keep]
        kept = torchvision.ops.batched_nms(boxes, scores[keep], classes[keep], nms_thresh)
        return detections_as_rows((boxes[kept], classes[keep][kept] - 1, scores[keep][kept]))

    if rows_as_set_equal(shifted, expected_rows, atol=1e-4):
        fail("FasterRCNN.inference", "predicted classes are one too high: column 0 of the logits is background, "
             "so shift the class ids back to 0..C-1")
    if len(actual_rows) and (actual_rows[:, 4] < 0).any():
        fail("FasterRCNN.inference", "predicted background (-1): never output background")
    if rows_as_set_equal(actual_rows, with_background_argmax(), atol=1e-4):
        fail("FasterRCNN.inference", "boxes whose most probable class is background were dropped: each box takes "
             "its most probable FOREGROUND class (after a softmax over all C + 1 classes)")
    fail("FasterRCNN.inference", f"expected {len(expected_rows)} detections (boxes, classes, scores) compared as a "
         f"set, got {len(actual_rows)} that differ: softmax over C + 1 logits, the most probable object class and "
         "its probability as score, keep scores > test_score_thresh, then class-specific NMS")


@pytest.mark.points(3, tags=TAGS)
def test_inference_classes_scores_and_thresholds(sandbox, reference, case_rng):
    """FasterRCNN.inference: foreground class after C + 1 softmax, score threshold, class-specific NMS"""
    proposals, logits = inference_case(case_rng)
    reply = sandbox.call("networks.faster_rcnn_inference", num_classes=NUM_CLASSES, proposals=proposals,
                         logits=logits, score_thresh=0.3, nms_thresh=0.5)
    judge_detections(reference, proposals, logits, reply["detections"], 0.3, 0.5)


@pytest.mark.points(1, tags=TAGS)
def test_inference_score_threshold_is_strict(sandbox, reference, case_rng):
    """FasterRCNN.inference: a score equal to the threshold is dropped"""
    shift = float(torch.randint(50, (1,), generator=case_rng))
    proposals = {name: [torch.tensor([[10.0 + 40 * i, 10, 40 + 40 * i, 40]]) + shift] for i, name in enumerate(STRIDES)}
    logits = torch.full((3, NUM_CLASSES + 1), float("-inf"))
    logits[:, 1 + int(torch.randint(NUM_CLASSES, (1,), generator=case_rng))] = 0.0
    logits[0, 0] = 0.0  # two classes at equal odds: probability exactly 0.5
    reply = sandbox.call("networks.faster_rcnn_inference", num_classes=NUM_CLASSES, proposals=proposals,
                         logits=logits, score_thresh=0.5, nms_thresh=0.5)
    judge_detections(reference, proposals, logits, reply["detections"], 0.5, 0.5)
