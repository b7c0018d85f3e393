"""One SGD training step: the reference Faster R-CNN against torchvision's, same configuration.

Both detectors get the same backbone (RegNetX-400MF trunk blocks 2-4 + a
3-level FPN, random initialisation, nothing downloaded), the same image
size and batch, the same RPN and RoI sampling sizes, and the same fixed
random batch (``BOXES_PER_IMAGE`` boxes per image).  Differences that remain,
by design of the assignment: the reference's second stage only classifies
(torchvision's also regresses boxes), and torchvision normalises and resizes
inside the model (a no-op resize here: the images already have the size).

A step is forward (training losses) + backward + ``optimizer.step()``; the
time reported is the median of ``steps`` steps after ``warmup`` ones, the
two detectors alternating step by step.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import OrderedDict
from dataclasses import dataclass

import torch
import torchvision
from torch import nn
from torchvision.models.detection import FasterRCNN as TorchvisionFasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNConvFCHead, FastRCNNPredictor
from torchvision.models.detection.rpn import RPNHead
from torchvision.models.feature_extraction import create_feature_extractor
from torchvision.ops import FeaturePyramidNetwork, MultiScaleRoIAlign

NUM_CLASSES = 20
BOXES_PER_IMAGE = 5
FPN_LEVELS = {"trunk_output.block2": "p3", "trunk_output.block3": "p4", "trunk_output.block4": "p5"}
FPN_STRIDES = (8, 16, 32)
REGNET_CHANNELS = (64, 160, 400)  # of the three trunk blocks
ASPECT_RATIOS = (0.5, 1.0, 2.0)
# Small enough that neither detector diverges on the random batch: at 1e-2 torchvision's loss
# reached NaN within 5 steps, and a diverged model (no proposals left) steps faster.
LEARNING_RATE = 1e-3
MOMENTUM = 0.9
BACKBONE_WEIGHTS_ENV = "DETECTOR_BACKBONE_WEIGHTS"


@dataclass(frozen=True)
class DetectorConfig:
    """What both detectors are built with (the reference's argument names)."""

    name: str
    image_size: int
    batch_size: int
    fpn_channels: int
    rpn_batch_size_per_image: int = 16
    roi_batch_size_per_image: int = 32
    pre_nms_topk: int = 500  # per FPN level
    post_nms_topk: int = 200  # per FPN level (reference); torchvision's is per image: x3
    anchor_stride_scale: int = 8
    anchor_iou_thresholds: tuple[float, float] = (0.3, 0.6)
    nms_thresh: float = 0.7


def reference_detector(reference, config: DetectorConfig) -> nn.Module:
    """The reference solution's FasterRCNN, as the notebook's full run builds it."""
    os.environ.setdefault(BACKBONE_WEIGHTS_ENV, "random")
    channels = config.fpn_channels
    backbone = reference.DetectorBackboneWithFPN(out_channels=channels)
    rpn = reference.RPN(
        fpn_channels=channels, stem_channels=[channels, channels],
        batch_size_per_image=config.rpn_batch_size_per_image, anchor_stride_scale=config.anchor_stride_scale,
        anchor_aspect_ratios=list(ASPECT_RATIOS), anchor_iou_thresholds=config.anchor_iou_thresholds,
        nms_thresh=config.nms_thresh, pre_nms_topk=config.pre_nms_topk, post_nms_topk=config.post_nms_topk,
    )
    return reference.FasterRCNN(backbone, rpn, stem_channels=[channels, channels], num_classes=NUM_CLASSES,
                                batch_size_per_image=config.roi_batch_size_per_image, roi_size=(7, 7))


class RegNetFPN(nn.Module):
    """RegNetX-400MF trunk blocks 2-4 and a 3-level FPN (torchvision's), as the reference backbone."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        trunk = torchvision.models.regnet_x_400mf(weights=None)
        self.body = create_feature_extractor(trunk, return_nodes=FPN_LEVELS)
        self.fpn = FeaturePyramidNetwork(list(REGNET_CHANNELS), channels)
        self.out_channels = channels

    def forward(self, images: torch.Tensor) -> OrderedDict:
        return self.fpn(OrderedDict(self.body(images)))


def torchvision_detector(config: DetectorConfig) -> nn.Module:
    """``torchvision.models.detection.FasterRCNN`` configured like ``reference_detector``."""
    channels = config.fpn_channels
    sizes = tuple((stride * config.anchor_stride_scale,) for stride in FPN_STRIDES)
    box_head = FastRCNNConvFCHead((channels, 7, 7), conv_layers=[channels, channels], fc_layers=[])
    low, high = config.anchor_iou_thresholds
    return TorchvisionFasterRCNN(
        RegNetFPN(channels),
        min_size=config.image_size, max_size=config.image_size, image_mean=[0.0] * 3, image_std=[1.0] * 3,
        rpn_anchor_generator=AnchorGenerator(sizes, (ASPECT_RATIOS,) * len(FPN_STRIDES)),
        rpn_head=RPNHead(channels, len(ASPECT_RATIOS), conv_depth=2),
        rpn_pre_nms_top_n_train=config.pre_nms_topk, rpn_post_nms_top_n_train=config.post_nms_topk * len(FPN_STRIDES),
        rpn_nms_thresh=config.nms_thresh, rpn_fg_iou_thresh=high, rpn_bg_iou_thresh=low,
        rpn_batch_size_per_image=config.rpn_batch_size_per_image,
        box_roi_pool=MultiScaleRoIAlign(list(FPN_LEVELS.values()), output_size=7, sampling_ratio=2),
        box_head=box_head, box_predictor=FastRCNNPredictor(channels * 7 * 7, NUM_CLASSES + 1),
        box_batch_size_per_image=config.roi_batch_size_per_image,
    )


def fixed_batch(config: DetectorConfig, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``(B, 3, S, S)`` and boxes ``(B, N, 5)``: x1, y1, x2, y2, class in [0, C)."""
    generator = torch.Generator().manual_seed(seed)
    size, batch = config.image_size, config.batch_size
    images = torch.randn(batch, 3, size, size, generator=generator)
    corners = torch.rand(batch, BOXES_PER_IMAGE, 2, generator=generator) * size * 0.6
    extents = (0.2 + torch.rand(batch, BOXES_PER_IMAGE, 2, generator=generator) * 0.2) * size
    classes = torch.randint(0, NUM_CLASSES, (batch, BOXES_PER_IMAGE, 1), generator=generator).float()
    return images, torch.cat([corners, corners + extents, classes], dim=2)


def step_timer(model: nn.Module, losses_of):
    """A function that runs one step (forward + backward + SGD) of ``model`` and returns its CPU
    seconds (all threads of this process): unlike wall time, unaffected by other load on the machine."""
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    model.train()

    def timed_step() -> float:
        started = time.process_time()
        optimizer.zero_grad()
        losses = losses_of()
        total = sum(value for name, value in losses.items() if "loss" in name)
        total.backward()
        optimizer.step()
        seconds = time.process_time() - started
        if not torch.isfinite(total):
            raise FloatingPointError(f"{type(model).__name__}: training loss {total.item()} during the benchmark; "
                                     "a diverged model's step time means nothing (lower LEARNING_RATE)")
        return seconds

    return timed_step


def compare(reference, config: DetectorConfig, steps: int, warmup: int) -> dict[str, float]:
    """Median CPU seconds per training step of both detectors (same process, threads and batch).

    The two alternate step by step, so that a change of the machine's load
    during the run slows both alike instead of biasing the ratio."""
    images, boxes = fixed_batch(config)
    torch.manual_seed(0)
    ours = reference_detector(reference, config)
    targets = [{"boxes": image_boxes[:, :4], "labels": image_boxes[:, 4].long() + 1} for image_boxes in boxes]
    torch.manual_seed(0)
    theirs = torchvision_detector(config)
    timers = {"reference_s": step_timer(ours, lambda: ours(images, boxes)),
              "torchvision_s": step_timer(theirs, lambda: theirs(list(images), targets))}
    timings = {name: [] for name in timers}
    for index in range(warmup + steps):
        for name, timed_step in timers.items():
            seconds = timed_step()
            if index >= warmup:
                timings[name].append(seconds)
    figures = {name: statistics.median(values) for name, values in timings.items()}
    return figures | {"ratio": figures["reference_s"] / figures["torchvision_s"]}
