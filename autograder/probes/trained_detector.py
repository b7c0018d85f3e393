"""Probe of the notebook stage's evidence: the graded run's detector, judged in a fresh worker.

A worker that never ran a notebook cell builds the detector from the
student's definitions as the full-training cell does
(``full_run_detector.build_detector``), loads the weights the graded run's
checkpoint holds (or keeps the freshly built ones: the untrained start), and

* computes the training loss on the grader's batches (train mode, no
  gradients, the same random seed for every checkpoint), and
* runs inference on the grader's validation images, one at a time, as the
  notebook's evaluation cell does.

Shapes: ``loss_images`` (Tensor[B, 3, H, W]) per batch with ``loss_boxes``
(Tensor[B, 40, 5]); ``images`` (Tensor[N, 3, H, W]). The reply is untrusted:
the parent checks and scores it (``notebook_checks``).
"""

import os

import torch

from autograder.notebook.full_run_detector import CHECKPOINT_MODEL_KEY, NMS_THRESHOLD, SCORE_THRESHOLD, build_detector
from autograder.errors import InvalidOutput
from autograder.sandbox.probe_api import SubmissionModules
from autograder.probes.definitions import plain

MAX_DETECTIONS_PER_IMAGE = 1000  # the reference keeps at most 100 after class-wise NMS


def evaluate(sub: SubmissionModules, state, fpn_channels: int, post_nms_topk: int, num_classes: int,
             loss_images: list, loss_boxes: list, images, seed: int) -> dict:
    """``{"losses": [float per batch], "detections": [{"boxes", "classes", "scores"} per image]}``."""
    os.environ["DETECTOR_BACKBONE_WEIGHTS"] = "random"  # no download; the checkpoint's weights replace them
    torch.manual_seed(seed)
    detector = build_detector(sub.definition, fpn_channels, post_nms_topk, num_classes)
    if state is not None:
        _load(detector, state)
    detector.train()
    losses = []
    for index, (batch, boxes) in enumerate(zip(loss_images, loss_boxes)):
        torch.manual_seed(seed + index)  # the same sampling for every checkpoint
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


def _load(detector: torch.nn.Module, state: dict) -> None:
    try:
        detector.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise InvalidOutput(
            f"The weights in the checkpoint of your full run do not fit the detector that the full-training "
            f"cell builds ({str(error).splitlines()[0]}). Keep that cell's `FasterRCNN(...)`, `RPN(...)` and "
            f"`DetectorBackboneWithFPN(...)` calls as the release notebook has them, and save "
            f"`detector.state_dict()` under `{CHECKPOINT_MODEL_KEY!r}` (train_detector does)."
        ) from None


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
