"""The detector of the graded run, as the release notebook builds and evaluates it.

The notebook stage judges the model the full-training cell trained, in fresh
workers (``probes/trained_detector.py``): they build the detector from the
student's definitions exactly as that cell does, load the weights of its
checkpoint, and run it as the evaluation cell does. These are the cell's
constants, written once here; ``tests/test_full_run_detector.py`` proves the
release notebook's cells use the same values.
"""

from __future__ import annotations

import torch

from autograder.errors import InvalidOutput
from autograder.sandbox.probe_api import plain

# RPN(...) and FasterRCNN(...) in the full-training cell, besides the FPN width
# (FULL_FPN_CHANNELS) and the proposals kept (FULL_POST_NMS_TOPK), which the profile sets.
RPN_KEYWORDS = {"batch_size_per_image": 16, "pre_nms_topk": 500}
DETECTOR_KEYWORDS = {"roi_size": (7, 7), "batch_size_per_image": 32}
# inference_with_detector(...) in the evaluation cell.
SCORE_THRESHOLD = 0.2
NMS_THRESHOLD = 0.5
# train_detector(...) saves here, relative to OUTPUT_DIR.
CHECKPOINT_NAME = "full_run_checkpoint.pt"
CHECKPOINT_MODEL_KEY = "model"  # the state dict inside detection_helpers' checkpoint
MAX_DETECTIONS_PER_IMAGE = 1000  # the reference keeps at most 100 after class-wise NMS


def build_detector(definitions, fpn_channels: int, post_nms_topk: int, num_classes: int):
    """``FasterRCNN`` of the full-training cell; ``definitions(name)`` looks a student definition up."""
    backbone = definitions("DetectorBackboneWithFPN")(out_channels=fpn_channels)
    rpn = definitions("RPN")(fpn_channels=fpn_channels, stem_channels=[fpn_channels, fpn_channels],
                             post_nms_topk=post_nms_topk, **RPN_KEYWORDS)
    return definitions("FasterRCNN")(backbone, rpn, num_classes=num_classes,
                                     stem_channels=[fpn_channels, fpn_channels], **DETECTOR_KEYWORDS)


def measure_detector(detector: torch.nn.Module, loss_images: list, loss_boxes: list, images, seed: int) -> dict:
    """What the notebook stage judges of one detector, as plain values.

    The total training loss on each batch (train mode, no gradients,
    ``torch.manual_seed(seed + batch)`` first: the same sampling for every
    detector), then inference on each image alone, as the evaluation cell
    runs it. ``loss_images`` (Tensor[B, 3, H, W]) per batch with
    ``loss_boxes`` (Tensor[B, 40, 5]); ``images`` (Tensor[N, 3, H, W]).

    Returns ``{"losses": [float per batch], "detections": [{"boxes", "classes",
    "scores"} per image]}``; ``InvalidOutput`` when the detector's outputs do
    not have the notebook's form.
    """
    detector.train()
    losses = []
    for index, (batch, boxes) in enumerate(zip(loss_images, loss_boxes)):
        torch.manual_seed(seed + index)
        with torch.no_grad():
            output = detector(batch, boxes)
        losses.append(_total_loss(output))
    detector.eval()
    detections = []
    for image in images:
        with torch.no_grad():
            output = detector(image[None], test_score_thresh=SCORE_THRESHOLD, test_nms_thresh=NMS_THRESHOLD)
        detections.append(_detections(output))
    return {"losses": losses, "detections": detections}


def _total_loss(output) -> float:
    if not isinstance(output, dict):
        raise InvalidOutput(f"FasterRCNN.forward(images, gt_boxes) returned {type(output).__name__}; "
                            "expected a dict of losses")
    parts = [value for key, value in output.items() if "loss" in str(key)]
    if not parts or not all(isinstance(v, torch.Tensor) and v.numel() == 1 for v in parts):
        raise InvalidOutput("FasterRCNN.forward(images, gt_boxes) must return a dict of scalar "
                            "tensors with 'loss' in their keys")
    return float(sum(v.detach().float().reshape(()) for v in parts))


def _detections(output) -> dict:
    if not isinstance(output, (tuple, list)) or len(output) != 3:
        raise InvalidOutput("FasterRCNN.forward(images) in eval mode must return "
                            "(pred_boxes, pred_classes, pred_scores)")
    boxes, classes, scores = plain(tuple(output), "FasterRCNN.forward (inference)")
    for tensor, name in ((boxes, "pred_boxes"), (classes, "pred_classes"), (scores, "pred_scores")):
        if not isinstance(tensor, torch.Tensor):
            raise InvalidOutput(f"FasterRCNN inference returned {type(tensor).__name__} as {name}; "
                                "expected a tensor")
    count = len(boxes)
    if boxes.shape != (count, 4) or classes.shape != (count,) or scores.shape != (count,):
        raise InvalidOutput(f"FasterRCNN inference returned pred_boxes {tuple(boxes.shape)}, pred_classes "
                            f"{tuple(classes.shape)}, pred_scores {tuple(scores.shape)}; expected (N, 4), "
                            "(N,), (N,)")
    keep = torch.argsort(scores.float(), descending=True, stable=True)[:MAX_DETECTIONS_PER_IMAGE]
    return {"boxes": boxes[keep].float(), "classes": classes[keep].float(), "scores": scores[keep].float()}
