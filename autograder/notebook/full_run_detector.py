"""The detector of the graded run, as the release notebook builds and evaluates it.

The notebook stage judges the model the full-training cell trained, in fresh
workers (``probes/trained_detector.py``): they build the detector from the
student's definitions exactly as that cell does, load the weights of its
checkpoint, and run it as the evaluation cell does. These are the cell's
constants, written once here; ``tests/test_full_run_detector.py`` proves the
release notebook's cells use the same values.
"""

from __future__ import annotations

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


def build_detector(definitions, fpn_channels: int, post_nms_topk: int, num_classes: int):
    """``FasterRCNN`` of the full-training cell; ``definitions(name)`` looks a student definition up."""
    backbone = definitions("DetectorBackboneWithFPN")(out_channels=fpn_channels)
    rpn = definitions("RPN")(fpn_channels=fpn_channels, stem_channels=[fpn_channels, fpn_channels],
                             post_nms_topk=post_nms_topk, **RPN_KEYWORDS)
    return definitions("FasterRCNN")(backbone, rpn, num_classes=num_classes,
                                     stem_channels=[fpn_channels, fpn_channels], **DETECTOR_KEYWORDS)
