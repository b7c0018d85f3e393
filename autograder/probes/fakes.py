"""Stand-ins that isolate the definition under test from the student's others.

Used both inside the sandbox (probes) and in the trusted parent (to compute
the expected values the same way). They hold data, not solutions: fixed
outputs computed by the parent, or torchvision's public ops.
"""
import copy
import math

import torch
import torchvision
from torch import nn

IGNORED_DELTA = -1e8
DELTA_SCALE_CLAMP = math.log(224 / 8)


class FixedOutput(nn.Module):
    """A module whose forward ignores its input and returns a fixed value."""

    def __init__(self, output):
        super().__init__()
        self.output = output

    def forward(self, *args, **kwargs):
        return copy.deepcopy(self.output)


class FakeBackbone(nn.Module):
    """`DetectorBackboneWithFPN` stand-in returning fixed FPN features."""

    def __init__(self, feats, out_channels: int, strides: dict):
        super().__init__()
        self.feats = feats
        self.out_channels = out_channels
        self._strides = dict(strides)

    @property
    def fpn_strides(self):
        return dict(self._strides)

    def forward(self, images):
        return {name: value.clone() for name, value in self.feats.items()}


class FakeRPN(nn.Module):
    """`RPN` stand-in returning fixed proposals (and zero losses in training)."""

    def __init__(self, proposals):
        super().__init__()
        self.proposals = proposals

    def forward(self, feats_per_fpn_level, strides_per_fpn_level, gt_boxes=None):
        output = {"proposals": {name: [p.clone() for p in props] for name, props in self.proposals.items()}}
        if self.training:
            output["loss_rpn_obj"] = torch.zeros(())
            output["loss_rpn_box"] = torch.zeros(())
        return output


class CaptureHead(nn.Module):
    """Stands in for the classifier head: records the RoI features it gets."""

    def __init__(self, num_outputs: int):
        super().__init__()
        self.num_outputs = num_outputs
        self.seen = []

    def forward(self, roi_feats):
        self.seen.append(roi_feats.detach().clone())
        return roi_feats.new_zeros(len(roi_feats), self.num_outputs)


def box_coder():
    return torchvision.models.detection._utils.BoxCoder(weights=(1.0, 1.0, 1.0, 1.0), bbox_xform_clip=DELTA_SCALE_CLAMP)


def peer_get_deltas(anchors, gt_boxes):
    """torchvision's box encoding, with the assignment's background rule."""
    gt_xyxy = gt_boxes[:, :4]
    foreground = ~((gt_xyxy == -1).all(dim=1) | (gt_xyxy == -1e8).all(dim=1))
    deltas = torch.full_like(anchors, IGNORED_DELTA)
    if foreground.any():
        deltas[foreground] = box_coder().encode_single(gt_xyxy[foreground], anchors[foreground])
    return deltas


def peer_apply_deltas(deltas, anchors):
    """torchvision's box decoding (same clamp of dw and dh)."""
    return box_coder().decode_single(deltas.clone(), anchors)


def peer_nms(boxes, scores, iou_threshold=0.5):
    return torchvision.ops.nms(boxes, scores, iou_threshold)


def peer_iou(boxes1, boxes2):
    return torchvision.ops.box_iou(boxes1, boxes2)


class ConstantLogits(nn.Module):
    """Stands in for the classifier head: the same row of logits for every RoI, so the
    cross-entropy of a RoI depends on its label only (the sampling tests read the labels'
    mix from the mean loss)."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = logits

    def forward(self, roi_feats):
        return self.logits.to(roi_feats.dtype).expand(len(roi_feats), -1).clone()
