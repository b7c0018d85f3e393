"""
Faster R-CNN: a two-stage, anchor-based object detector. The first stage is a
Region Proposal Network (RPN); the second stage classifies RoI-aligned
features of the proposals.

Shape shorthand used in this module:
    B: batch size               A: anchors per location (aspect ratios)
    H, W: size of an FPN level  HWA: H * W * A, anchors of one level
    N: anchors or proposals     M: GT boxes of one image (padded: 40)
    K: sampled or kept boxes    C: number of object classes (20 for VOC)

Boxes are in XYXY format `(x1, y1, x2, y2)`, absolute pixels of the input
image. GT boxes carry a fifth column, the class id in `[0, C)`; special rows
use the constants of `common.py`: `BACKGROUND_LABEL` (-1: background, also the
padding of GT boxes in a batch) and `NEUTRAL_LABEL` (-1e8: ignored in
training). Regression targets of non-foreground rows are `IGNORED_DELTA`.

Ordering conventions (every flattened tensor of one level follows them):
    location (h, w) is row `h * W + w` (x varies fastest), and anchor `a` of
    that location is row `(h * W + w) * A + a`.
"""
import math
from typing import Dict, List, Optional, Tuple

import torch
import torchvision
from torch import nn
from torch.nn import functional as F

from common import (
    BACKGROUND_LABEL,
    IGNORED_DELTA,
    NEUTRAL_LABEL,
    DetectorBackboneWithFPN,
    class_spec_nms,
    get_fpn_location_coords,
    nms,
)

TensorDict = Dict[str, torch.Tensor]

# Largest log-scale a box delta may apply: it transforms an 8px box into a box
# no larger than 224px. Necessary for numerical stability of `exp`.
DELTA_SCALE_CLAMP = math.log(224 / 8)


class RPNPredictionNetwork(nn.Module):
    """
    RPN prediction network that accepts FPN feature maps from different levels
    and makes two predictions for every anchor: objectness and box deltas.

    Faster R-CNN typically uses (p2, p3, p4, p5) feature maps. We will exclude
    p2 for have a small enough model for Colab.

    A shared stem of 3x3 convolutions runs on every FPN level, followed by
    two 1x1 convolutions: objectness logits and box deltas for each anchor.
    """

    def __init__(
        self, in_channels: int, stem_channels: List[int], num_anchors: int = 3
    ):
        """
        Args:
            in_channels: Number of channels in input feature maps. This value
                is same as the output channels of FPN.
            stem_channels: List of integers giving the number of output channels
                in each convolution layer of stem layers.
            num_anchors: Number of anchor boxes assumed per location (say, `A`).
                Faster R-CNN without an FPN uses `A = 9`, anchors with three
                different sizes and aspect ratios. With FPN, it is more common
                to have a fixed size dependent on the stride of FPN level, hence
                `A = 3` is default - with three aspect ratios.
        """
        super().__init__()

        self.num_anchors = num_anchors
        ######################################################################
        # TODO: Create a stem of alternating 3x3 convolution layers and RELU
        # activation modules. RPN shares this stem for objectness and box
        # regression.
        #
        # Use `in_channels` and `stem_channels` for creating these layers, the
        # docstring above tells you what they mean. Initialize weights of each
        # conv layer from a normal distribution with mean = 0 and std dev = 0.01
        # and all biases with zero. Use conv stride = 1 and zero padding such
        # that size of input features remains same: remember we need predictions
        # at every location in feature map, we shouldn't "lose" any locations.
        ######################################################################
        # Fill this list.
        stem_rpn = []

        # BEGIN SOLUTION
        channels = in_channels
        for out_channels in stem_channels:
            conv = nn.Conv2d(channels, out_channels, kernel_size=3, padding=1)
            nn.init.normal_(conv.weight, mean=0.0, std=0.01)
            nn.init.zeros_(conv.bias)
            stem_rpn += [conv, nn.ReLU()]
            channels = out_channels
        # END SOLUTION

        # Wrap the layers defined by student into a `nn.Sequential` module:
        self.stem_rpn = nn.Sequential(*stem_rpn)
        ######################################################################
        # TODO: Create TWO 1x1 conv layers for individually to predict
        # objectness and box deltas for every anchor, at every location.
        # Initialize them like the stem: weights from N(0, 0.01), zero biases.
        #
        # Objectness is obtained by applying sigmoid to its logits. However,
        # DO NOT initialize a sigmoid module here. PyTorch loss functions have
        # numerically stable implementations with logits.
        ######################################################################

        # Replace these lines with your code, keep variable names unchanged.
        self.pred_obj = None  # Objectness conv
        self.pred_box = None  # Box regression conv

        # BEGIN SOLUTION
        self.pred_obj = nn.Conv2d(channels, num_anchors, kernel_size=1)
        self.pred_box = nn.Conv2d(channels, 4 * num_anchors, kernel_size=1)
        for conv in (self.pred_obj, self.pred_box):
            nn.init.normal_(conv.weight, mean=0.0, std=0.01)
            nn.init.zeros_(conv.bias)
        # END SOLUTION

    def forward(self, feats_per_fpn_level: TensorDict) -> List[TensorDict]:
        """
        Accept FPN feature maps and predict desired quantities for every anchor
        at every location. Format the output tensors such that feature height,
        width, and number of anchors are collapsed into a single dimension (see
        description below in "Returns" section) this is convenient for computing
        loss and perforning inference.

        Args:
            feats_per_fpn_level: Features from FPN, keys {"p3", "p4", "p5"}.
                Each tensor will have shape `(batch_size, fpn_channels, H, W)`.

        Returns:
            List of dictionaries, each having keys {"p3", "p4", "p5"}:
            1. Objectness logits:     `(batch_size, H * W * num_anchors)`
            2. Box regression deltas: `(batch_size, H * W * num_anchors, 4)`
            Row `(h * W + w) * num_anchors + a` belongs to anchor `a` at
            location `(h, w)`; box deltas are ordered `(dx, dy, dw, dh)`.
        """

        ######################################################################
        # TODO: Iterate over every FPN feature map and obtain predictions using
        # the layers defined above. DO NOT apply sigmoid to objectness logits.
        ######################################################################
        # Fill these with keys: {"p3", "p4", "p5"}, same as input dictionary.
        object_logits = {}
        boxreg_deltas = {}

        # BEGIN SOLUTION
        for level_name, feats in feats_per_fpn_level.items():
            batch_size = feats.shape[0]
            stem = self.stem_rpn(feats)
            # [B,A,H,W] -> [B,H,W,A] -> [B,HWA]
            object_logits[level_name] = (
                self.pred_obj(stem).permute(0, 2, 3, 1).reshape(batch_size, -1)
            )
            # [B,4A,H,W] -> [B,H,W,4A] -> [B,HWA,4]
            boxreg_deltas[level_name] = (
                self.pred_box(stem).permute(0, 2, 3, 1).reshape(batch_size, -1, 4)
            )
        # END SOLUTION

        return [object_logits, boxreg_deltas]


def generate_fpn_anchors(
    locations_per_fpn_level: TensorDict,
    strides_per_fpn_level: Dict[str, int],
    stride_scale: int,
    aspect_ratios: List[float] = [0.5, 1.0, 2.0],
):
    """
    Generate multiple anchor boxes at every location of FPN level. Anchor boxes
    should be in XYXY format and they should be centered at the given locations.

    Args:
        locations_per_fpn_level: Centers at different levels of FPN (p3, p4, p5),
            that are already projected to absolute co-ordinates in input image
            dimension. Dictionary of three keys: (p3, p4, p5) giving tensors of
            shape `(H * W, 2)` where H, W is the size of FPN feature map.
        strides_per_fpn_level: Dictionary of same keys as above, each with an
            integer value giving the stride of corresponding FPN level.
            See `common.py` for more details.
        stride_scale: Size of square anchor at every FPN levels will be
            `(this value) * (FPN level stride)`. For example, 8 (the default of
            `RPN`) makes anchor boxes of size (64x64), (128x128), (256x256) for
            FPN levels p3, p4, and p5 respectively.
        aspect_ratios: Anchor aspect ratios (height / width) to consider at
            every location. We consider anchor area to be
            `(stride_scale * FPN level stride) ** 2` and set new width and
            height of anchors at every location:
                new_width = sqrt(area / aspect ratio)
                new_height = area / new_width
            so ratio 0.5 gives a wide anchor and ratio 2.0 a tall one.

    Returns:
        TensorDict
            Dictionary with same keys as `locations_per_fpn_level` and values as
            tensors of shape `(HWA, 4)` giving anchors for all locations
            per FPN level, each location having `A = len(aspect_ratios)` anchors.
            All anchors are in XYXY format and their centers align with locations.
            Row `i * A + a` is anchor `a` (ratio `aspect_ratios[a]`) of location
            `i`: the location order of `locations_per_fpn_level` is kept.
    """

    # Set these to `(HWA, 4)` Tensors giving anchor boxes in XYXY format.
    anchors_per_fpn_level = {
        level_name: None for level_name, _ in locations_per_fpn_level.items()
    }

    for level_name, locations in locations_per_fpn_level.items():
        level_stride = strides_per_fpn_level[level_name]

        # List of `A = len(aspect_ratios)` anchor boxes.
        anchor_boxes = []
        for aspect_ratio in aspect_ratios:
            ##################################################################
            # TODO: Implement logic for anchor boxes below. Write vectorized
            # implementation to generate anchors for a single aspect ratio.
            # Fill `anchor_boxes` list above with a `(H * W, 4)` tensor.
            #
            # Calculate resulting width and height of the anchor box as per
            # `stride_scale` and `aspect_ratios` definitions. Then shift the
            # locations to get top-left and bottom-right co-ordinates.
            ##################################################################
            # BEGIN SOLUTION
            area = (stride_scale * level_stride) ** 2
            width = math.sqrt(area / aspect_ratio)
            height = area / width
            half_size = locations.new_tensor([width / 2, height / 2])
            anchor_boxes.append(
                torch.cat([locations - half_size, locations + half_size], dim=1)
            )
            # END SOLUTION

        # shape: (A, H * W, 4)
        anchor_boxes = torch.stack(anchor_boxes)
        # Bring `H * W` first and collapse those dimensions.
        anchor_boxes = anchor_boxes.permute(1, 0, 2).contiguous().view(-1, 4)
        anchors_per_fpn_level[level_name] = anchor_boxes

    return anchors_per_fpn_level


def iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """
    Compute intersection-over-union (IoU) between pairs of box tensors. Input
    box tensors must in XYXY format.

    Args:
        boxes1: Tensor of shape `(M, 4)` giving a set of box co-ordinates.
        boxes2: Tensor of shape `(N, 4)` giving another set of box co-ordinates.

    Returns:
        torch.Tensor
            Tensor of shape (M, N) with `iou[i, j]` giving IoU between i-th box
            in `boxes1` and j-th box in `boxes2`.
    """

    ##########################################################################
    # TODO: Implement the IoU function here.                                 #
    ##########################################################################
    # BEGIN SOLUTION
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])  # [M]
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])  # [N]
    top_left = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])  # [M,N,2]
    bottom_right = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])  # [M,N,2]
    wh = (bottom_right - top_left).clamp(min=0)  # [M,N,2]
    inter = wh[..., 0] * wh[..., 1]  # [M,N]
    iou = inter / (area1[:, None] + area2[None, :] - inter)
    # END SOLUTION
    return iou


def rcnn_match_anchors_to_gt(
    anchor_boxes: torch.Tensor,
    gt_boxes: torch.Tensor,
    iou_thresholds: Tuple[float, float],
) -> torch.Tensor:
    """
    Match anchor boxes (or RPN proposals) with a set of GT boxes. Anchors having
    high IoU with any GT box are assigned "foreground" and matched with that box
    or vice-versa.

    With `(low, high) = iou_thresholds` and `q` the highest IoU of an anchor
    with any GT box: `q <= low` is background, `q >= high` is foreground
    (matched with that GT box), anything in between is neutral.

    NOTE: This function is NOT BATCHED. Call separately for GT boxes per image.

    Args:
        anchor_boxes: Anchor boxes (or RPN proposals), a combined tensor of
            shape `(N, 4)` where `N` are total anchors from all FPN levels,
            or a set of RPN proposals.
        gt_boxes: GT boxes of a single image, a batch of `(M, 5)` boxes with
            absolute co-ordinates and class ID `(x1, y1, x2, y2, C)`. In this
            codebase, this tensor is directly served by the dataloader: rows
            with class `BACKGROUND_LABEL` are padding.
        iou_thresholds: Tuple of (low, high) IoU thresholds, both in [0, 1]
            giving thresholds to assign foreground/background anchors.

    Returns:
        Tensor of shape `(N, 5)`: the matched GT box of every anchor. Background
        rows are all `BACKGROUND_LABEL` (-1), neutral rows all `NEUTRAL_LABEL`.
    """

    # Filter empty GT boxes:
    gt_boxes = gt_boxes[gt_boxes[:, 4] != BACKGROUND_LABEL]

    # If no GT boxes are available, match all anchors to background and return.
    if len(gt_boxes) == 0:
        return anchor_boxes.new_full((len(anchor_boxes), 5), BACKGROUND_LABEL)

    # Match matrix => pairwise IoU of anchors (rows) and GT boxes (columns).
    # STUDENTS: This matching depends on your IoU implementation.
    match_matrix = iou(anchor_boxes, gt_boxes[:, :4])

    # Find matched ground-truth instance per anchor:
    match_quality, matched_idxs = match_matrix.max(dim=1)
    matched_gt_boxes = gt_boxes[matched_idxs]

    # Set boxes with low IoU threshold to background.
    matched_gt_boxes[match_quality <= iou_thresholds[0]] = BACKGROUND_LABEL

    # Set remaining boxes to neutral.
    neutral_idxs = (match_quality > iou_thresholds[0]) & (
        match_quality < iou_thresholds[1]
    )
    matched_gt_boxes[neutral_idxs, :] = NEUTRAL_LABEL
    return matched_gt_boxes


def rcnn_get_deltas_from_anchors(
    anchors: torch.Tensor, gt_boxes: torch.Tensor
) -> torch.Tensor:
    """
    Get box regression deltas that transform `anchors` to `gt_boxes`. These
    deltas will become GT targets for box regression. The deltas
    are in `(dx, dy, dw, dh)` format that represent offsets to anchor centers
    and scaling factors for anchor size:

        dx = (gt_xc - anchor_xc) / anchor_w     dw = log(gt_w / anchor_w)
        dy = (gt_yc - anchor_yc) / anchor_h     dh = log(gt_h / anchor_h)

    Box regression is only supervised by foreground anchors. If GT boxes are
    "background/neutral" (rows filled with `BACKGROUND_LABEL` or
    `NEUTRAL_LABEL`, as produced by `rcnn_match_anchors_to_gt`), then deltas
    must be `IGNORED_DELTA` (-1e8, just some LARGE negative number) in all
    four columns.

    Args:
        anchors: Tensor of shape `(N, 4)` giving anchors boxes in XYXY format.
        gt_boxes: Tensor of shape `(N, 4)` or `(N, 5)` giving matching GT boxes
            (the optional fifth column, the class, is not used here).

    Returns:
        torch.Tensor
            Tensor of shape `(N, 4)` giving anchor deltas.
    """
    ##########################################################################
    # TODO: Implement the logic to get deltas.                               #
    # Remember to set the deltas of "background/neutral" GT boxes to         #
    # IGNORED_DELTA.                                                         #
    ##########################################################################
    deltas = None

    # BEGIN SOLUTION
    boxes = gt_boxes[:, :4]
    anchor_wh = anchors[:, 2:] - anchors[:, :2]  # [N,2]
    anchor_center = anchors[:, :2] + 0.5 * anchor_wh
    box_wh = boxes[:, 2:] - boxes[:, :2]
    box_center = boxes[:, :2] + 0.5 * box_wh
    deltas = torch.cat(
        [(box_center - anchor_center) / anchor_wh, torch.log(box_wh / anchor_wh)],
        dim=1,
    )  # [N,4]
    not_foreground = (boxes == BACKGROUND_LABEL).all(dim=1) | (
        boxes == NEUTRAL_LABEL
    ).all(dim=1)
    deltas[not_foreground] = IGNORED_DELTA
    # END SOLUTION

    return deltas


def rcnn_apply_deltas_to_anchors(
    deltas: torch.Tensor, anchors: torch.Tensor
) -> torch.Tensor:
    """
    Implement the inverse of `rcnn_get_deltas_from_anchors` here:
    `rcnn_apply_deltas_to_anchors(rcnn_get_deltas_from_anchors(a, b), a) == b`
    for foreground boxes `b`. Neither input is modified.

    Args:
        deltas: Tensor of shape `(N, 4)` giving box regression deltas.
        anchors: Tensor of shape `(N, 4)` giving anchors to apply deltas on.

    Returns:
        torch.Tensor
            Same shape as deltas and locations, giving the resulting boxes in
            XYXY format.
    """

    # Clamp dw and dh such that they would transform a 8px box no larger than
    # 224px. This is necessary for numerical stability as we apply exponential.
    # (`torch.cat` makes a new tensor: the caller's `deltas` stay unchanged.)
    deltas = torch.cat(
        [deltas[:, :2], deltas[:, 2:].clamp(max=DELTA_SCALE_CLAMP)], dim=1
    )

    ##########################################################################
    # TODO: Implement the transformation logic to get output boxes.          #
    ##########################################################################
    output_boxes = None

    # BEGIN SOLUTION
    anchor_wh = anchors[:, 2:] - anchors[:, :2]  # [N,2]
    anchor_center = anchors[:, :2] + 0.5 * anchor_wh
    center = anchor_center + deltas[:, :2] * anchor_wh
    half_wh = 0.5 * anchor_wh * torch.exp(deltas[:, 2:])
    output_boxes = torch.cat([center - half_wh, center + half_wh], dim=1)  # [N,4]
    # END SOLUTION

    return output_boxes


def sample_rpn_training(
    gt_boxes: torch.Tensor, num_samples: int, fg_fraction: float
):
    """
    Return `num_samples` (or fewer, if not enough found) random pairs of anchors
    and GT boxes without exceeding `fg_fraction * num_samples` positives, and
    then try to fill the remaining slots with background anchors. We will ignore
    "neutral" anchors in this sampling as they are not used for training.

    Args:
        gt_boxes: Tensor of shape `(N, 5)` giving GT box co-ordinates that are
            already matched with some anchor boxes (with GT class label at last
            dimension). Label `BACKGROUND_LABEL` (-1) means background and
            `NEUTRAL_LABEL` (-1e8) means neutral.
        num_samples: Total anchor-GT pairs with label >= -1 to return.
        fg_fraction: The number of subsampled labels with values >= 0 is
            `min(num_foreground, int(fg_fraction * num_samples))`. In other
            words, if there are not enough fg, the remaining slots go to bg;
            if there are not enough bg either, fewer samples are returned
            (no sample is ever duplicated).

    Returns:
        fg_idx, bg_idx (Tensor):
            1D vector of indices. The total length of both is `num_samples` or
            fewer. Use these to index anchors, GT boxes, and model predictions.
    """
    foreground = (gt_boxes[:, 4] >= 0).nonzero().squeeze(1)
    background = (gt_boxes[:, 4] == BACKGROUND_LABEL).nonzero().squeeze(1)

    # Protect against not enough foreground examples.
    num_fg = min(int(num_samples * fg_fraction), foreground.numel())
    num_bg = num_samples - num_fg

    # Randomly select positive and negative examples.
    perm1 = torch.randperm(foreground.numel(), device=foreground.device)[:num_fg]
    perm2 = torch.randperm(background.numel(), device=background.device)[:num_bg]

    fg_idx = foreground[perm1]
    bg_idx = background[perm2]
    return fg_idx, bg_idx


def mix_gt_with_proposals(
    proposals_per_fpn_level: Dict[str, List[torch.Tensor]], gt_boxes: torch.Tensor
):
    """
    At start of training, RPN proposals may be low quality. It's possible that
    very few of these have high IoU with GT boxes. This may stall or de-stabilize
    training of second stage. This function mixes GT boxes with RPN proposals to
    improve training. Different GT boxes are mixed with proposals from different
    FPN levels according to assignment rule of FPN paper.

    Args:
        proposals_per_fpn_level: Dict of proposals per FPN level, per image in
            batch. These are same as outputs from `RPN.forward()` method.
        gt_boxes: Tensor of shape `(B, M, 5)` giving GT boxes per image in
            batch, with their class label (rows labelled `BACKGROUND_LABEL`
            are padding and skipped).

    Returns:
        proposals_per_fpn_level: A new dict like the input, with GT boxes mixed
            in (the input is not modified).
    """
    proposals_per_fpn_level = {
        level_name: list(props) for level_name, props in proposals_per_fpn_level.items()
    }

    # Mix ground-truth boxes for every example, per FPN level. There's no direct
    # way to vectorize this.
    for _idx, _gtb in enumerate(gt_boxes):

        # Filter empty GT boxes:
        _gtb = _gtb[_gtb[:, 4] != BACKGROUND_LABEL]
        if len(_gtb) == 0:
            continue

        # Compute FPN level assignments for each GT box. This follows Equation (1)
        # of FPN paper (k0 = 5). `level_assn` has `(M, )` integers, one of {3,4,5}
        _gt_area = (_gtb[:, 2] - _gtb[:, 0]) * (_gtb[:, 3] - _gtb[:, 1])
        level_assn = torch.floor(5 + torch.log2(torch.sqrt(_gt_area) / 224))
        level_assn = torch.clamp(level_assn, min=3, max=5).to(torch.int64)

        for level_name, _props in proposals_per_fpn_level.items():
            _prop = _props[_idx]

            # Get GT boxes of this image that match level scale, and append them
            # to proposals.
            _gt_boxes_fpn_subset = _gtb[level_assn == int(level_name[1])]
            if len(_gt_boxes_fpn_subset) > 0:
                proposals_per_fpn_level[level_name][_idx] = torch.cat(
                    # Remove class label since proposals don't have it:
                    [_prop, _gt_boxes_fpn_subset[:, :4]],
                    dim=0,
                )

    return proposals_per_fpn_level


class RPN(nn.Module):
    """
    Region Proposal Network: First stage of Faster R-CNN detector.

    This class puts together everything you implemented so far. It accepts FPN
    features as input and uses `RPNPredictionNetwork` to predict objectness and
    box reg deltas. Computes proposal boxes for second stage (during both
    training and inference) and losses during training.
    """

    def __init__(
        self,
        fpn_channels: int,
        stem_channels: List[int],
        batch_size_per_image: int,
        anchor_stride_scale: int = 8,
        anchor_aspect_ratios: List[float] = [0.5, 1.0, 2.0],
        anchor_iou_thresholds: Tuple[float, float] = (0.3, 0.6),
        nms_thresh: float = 0.7,
        pre_nms_topk: int = 400,
        post_nms_topk: int = 100,
    ):
        """
        Args:
            batch_size_per_image: Anchors per image to sample for training.
            nms_thresh: IoU threshold for NMS of the proposals, used during
                both training and inference.
            pre_nms_topk: Number of top-K proposals to select before applying
                NMS, per FPN level. This helps in speeding up NMS.
            post_nms_topk: Number of top-K proposals to select after applying
                NMS, per FPN level. NMS is obviously going to be class-agnostic.

        Refer explanations of remaining args in the classes/functions above.
        """
        super().__init__()
        self.pred_net = RPNPredictionNetwork(
            fpn_channels, stem_channels, num_anchors=len(anchor_aspect_ratios)
        )
        # Record all input arguments:
        self.batch_size_per_image = batch_size_per_image
        self.anchor_stride_scale = anchor_stride_scale
        self.anchor_aspect_ratios = anchor_aspect_ratios
        self.anchor_iou_thresholds = anchor_iou_thresholds
        self.nms_thresh = nms_thresh
        self.pre_nms_topk = pre_nms_topk
        self.post_nms_topk = post_nms_topk

    def forward(
        self,
        feats_per_fpn_level: TensorDict,
        strides_per_fpn_level: TensorDict,
        gt_boxes: Optional[torch.Tensor] = None,
    ):
        """
        Args:
            feats_per_fpn_level: FPN features, keys {"p3", "p4", "p5"}, each of
                shape `(B, fpn_channels, H, W)`.
            strides_per_fpn_level: Stride of every FPN level.
            gt_boxes: `(B, M, 5)` padded GT boxes (training only).

        Returns:
            Dict with "proposals" (see `predict_proposals`) and, in training,
            the scalar losses "loss_rpn_obj" and "loss_rpn_box".
        """
        # Get batch size from FPN feats:
        num_images = feats_per_fpn_level["p3"].shape[0]

        ######################################################################
        # TODO: Implement the training forward pass. Follow these steps:
        #   1. Pass the FPN features per level to the RPN prediction network.
        #   2. Generate anchor boxes for all FPN levels.
        #
        # HINT: You have already implemented everything, just have to call the
        # appropriate functions.
        ######################################################################
        # Feel free to delete this line: (but keep variable names same)
        pred_obj_logits, pred_boxreg_deltas, anchors_per_fpn_level = (
            None,
            None,
            None,
        )

        # BEGIN SOLUTION
        pred_obj_logits, pred_boxreg_deltas = self.pred_net(feats_per_fpn_level)
        some_feats = feats_per_fpn_level["p3"]
        locations_per_fpn_level = get_fpn_location_coords(
            {name: feats.shape for name, feats in feats_per_fpn_level.items()},
            strides_per_fpn_level,
            dtype=some_feats.dtype,
            device=some_feats.device,
        )
        anchors_per_fpn_level = generate_fpn_anchors(
            locations_per_fpn_level,
            strides_per_fpn_level,
            self.anchor_stride_scale,
            self.anchor_aspect_ratios,
        )
        # END SOLUTION

        # We will fill three values in this output dict - "proposals",
        # "loss_rpn_box" (training only), "loss_rpn_obj" (training only)
        output_dict = {}

        # Get image height and width according to feature sizes and strides.
        # We need these to clamp proposals (These should be (224, 224) but we
        # avoid hard-coding them).
        img_h = feats_per_fpn_level["p3"].shape[2] * strides_per_fpn_level["p3"]
        img_w = feats_per_fpn_level["p3"].shape[3] * strides_per_fpn_level["p3"]

        # STUDENT: Implement this method before moving forward with the rest
        # of this `forward` method.
        output_dict["proposals"] = self.predict_proposals(
            anchors_per_fpn_level,
            pred_obj_logits,
            pred_boxreg_deltas,
            (img_w, img_h),
        )
        # Return here during inference - loss computation not required.
        if not self.training:
            return output_dict

        # ... otherwise continue loss computation:
        ######################################################################
        # Match the generated anchors with provided GT boxes. This
        # function is not batched so you may use a for-loop over images.
        ######################################################################
        # Combine anchor boxes from all FPN levels - we do not need any
        # distinction of boxes across different levels (for training).
        anchor_boxes = self._cat_across_fpn_levels(anchors_per_fpn_level, dim=0)

        # Get matched GT boxes (list of B tensors, each of shape `(H*W*A, 5)`
        # giving matching GT boxes to anchor boxes). Fill this list:
        matched_gt_boxes = []

        # BEGIN SOLUTION
        for gt_boxes_per_image in gt_boxes:
            matched_gt_boxes.append(
                rcnn_match_anchors_to_gt(
                    anchor_boxes, gt_boxes_per_image, self.anchor_iou_thresholds
                )
            )
        # END SOLUTION

        # Combine matched boxes from all images to a `(B, HWA, 5)` tensor.
        matched_gt_boxes = torch.stack(matched_gt_boxes, dim=0)

        # Combine predictions across all FPN levels.
        pred_obj_logits = self._cat_across_fpn_levels(pred_obj_logits)
        pred_boxreg_deltas = self._cat_across_fpn_levels(pred_boxreg_deltas)

        # Repeat anchor boxes `batch_size` times so there is a 1:1
        # correspondence with GT boxes.
        anchor_boxes = anchor_boxes.unsqueeze(0).repeat(num_images, 1, 1)
        anchor_boxes = anchor_boxes.contiguous().view(-1, 4)

        # Collapse `batch_size`, and `HWA` to a single dimension so we have
        # simple `(-1, 4 or 5)` tensors. This simplifies loss computation.
        matched_gt_boxes = matched_gt_boxes.view(-1, 5)
        pred_obj_logits = pred_obj_logits.view(-1)
        pred_boxreg_deltas = pred_boxreg_deltas.view(-1, 4)

        ######################################################################
        # TODO: Compute training losses. Follow three steps in order:
        #   1. Sample a few anchor boxes for training. Pass the variable
        #      `matched_gt_boxes` to `sample_rpn_training` function and
        #      use those indices to get subset of predictions and targets.
        #      RPN samples 50-50% foreground/background anchors, unless
        #      there aren't enough foreground anchors. Sample
        #      `self.batch_size_per_image * num_images` anchors in total.
        #
        #   2. Compute GT targets for box regression (you have implemented
        #      the transformation function already).
        #
        #   3. Calculate objectness and box reg losses per sampled anchor:
        #      binary cross-entropy on the objectness logits (target 1 for
        #      foreground, 0 for background) and L1 loss on the deltas.
        #      Remember to set box loss for "background" anchors to 0.
        #      Keep `reduction="none"`: both are summed and averaged below.
        ######################################################################
        # Feel free to delete this line: (but keep variable names same)
        loss_obj, loss_box = None, None

        # BEGIN SOLUTION
        fg_idx, bg_idx = sample_rpn_training(
            matched_gt_boxes, self.batch_size_per_image * num_images, fg_fraction=0.5
        )
        sampled = torch.cat([fg_idx, bg_idx])
        sampled_gt_boxes = matched_gt_boxes[sampled]
        target_deltas = rcnn_get_deltas_from_anchors(
            anchor_boxes[sampled], sampled_gt_boxes
        )
        target_objectness = (sampled_gt_boxes[:, 4] >= 0).to(pred_obj_logits.dtype)

        loss_obj = F.binary_cross_entropy_with_logits(
            pred_obj_logits[sampled], target_objectness, reduction="none"
        )
        loss_box = F.l1_loss(
            pred_boxreg_deltas[sampled], target_deltas, reduction="none"
        )
        loss_box[target_deltas == IGNORED_DELTA] = 0.0
        # END SOLUTION

        # Sum losses and average by num(foreground + background) anchors.
        # In training code, we simply add these two and call `.backward()`
        total_batch_size = self.batch_size_per_image * num_images
        output_dict["loss_rpn_obj"] = loss_obj.sum() / total_batch_size
        output_dict["loss_rpn_box"] = loss_box.sum() / total_batch_size

        return output_dict

    @torch.no_grad()  # Don't track gradients in this function.
    def predict_proposals(
        self,
        anchors_per_fpn_level: Dict[str, torch.Tensor],
        pred_obj_logits: Dict[str, torch.Tensor],
        pred_boxreg_deltas: Dict[str, torch.Tensor],
        image_size: Tuple[int, int],  # (width, height)
    ):
        """
        Predict proposals for a batch of images for the second stage. Other
        input arguments are same as those computed in `forward` method. This
        method should not be called from anywhere except from inside `forward`.

        Returns:
            Dict[str, List[torch.Tensor]]
                For every FPN level, a list of `B` tensors (one per image) of
                shape `(K, 4)`, `K <= post_nms_topk`, giving *absolute* XYXY
                co-ordinates of predicted proposals, clamped to the image and
                sorted by decreasing objectness. These will serve as anchor
                boxes for the second stage.
        """

        # Gather proposals from all FPN levels in this list.
        proposals_all_levels = {
            level_name: None for level_name, _ in anchors_per_fpn_level.items()
        }
        for level_name in anchors_per_fpn_level.keys():

            # Get anchor boxes and predictions from a single level.
            level_anchors = anchors_per_fpn_level[level_name]

            # shape: (batch_size, HWA), (batch_size, HWA, 4)
            level_obj_logits = pred_obj_logits[level_name]
            level_boxreg_deltas = pred_boxreg_deltas[level_name]

            # Fill proposals per image, for this FPN level, in this list.
            level_proposals_per_image = []
            for _batch_idx in range(level_obj_logits.shape[0]):
                ##############################################################
                # TODO: Perform the following steps in order:
                #   1. Transform the anchors to proposal boxes using predicted
                #      box deltas, clamp to image height and width.
                #   2. Sort all proposals by their predicted objectness, and
                #      retain `self.pre_nms_topk` proposals. This speeds up
                #      our NMS computation. HINT: `torch.topk`
                #   3. Apply NMS and retain `self.post_nms_topk` proposals
                #      per image, per level.
                #
                # NOTE: Use `torchvision.ops.nms` here (same arguments as
                # your `nms`), not your own `nms`. This runs 12 times per
                # training iteration, and a Python-loop NMS makes each
                # iteration about 40% slower: the grader's re-run of your
                # notebook would then exceed its CPU-time limit. Your `nms` is
                # graded on its own, and the second stage uses it at inference.
                #
                # Note that deltas, anchor boxes, and objectness logits have
                # different shapes, you need to make some intermediate views.
                ##############################################################
                # BEGIN SOLUTION
                image_w, image_h = image_size
                boxes = rcnn_apply_deltas_to_anchors(
                    level_boxreg_deltas[_batch_idx], level_anchors
                )
                boxes[:, 0::2] = boxes[:, 0::2].clamp(min=0, max=image_w)
                boxes[:, 1::2] = boxes[:, 1::2].clamp(min=0, max=image_h)

                num_topk = min(self.pre_nms_topk, boxes.shape[0])
                top_logits, top_idx = level_obj_logits[_batch_idx].topk(num_topk)
                boxes = boxes[top_idx]
                keep = torchvision.ops.nms(boxes, top_logits, self.nms_thresh)
                level_proposals_per_image.append(boxes[keep[: self.post_nms_topk]])
                # END SOLUTION

            # Collate proposals from individual images. Do not stack these
            # tensors, they may have different shapes since few images or
            # levels may have less than `post_nms_topk` proposals. We could
            # pad these tensors but there's no point - they will be used by
            # `torchvision.ops.roi_align` in second stage which operates
            # with lists, not batched tensors.
            proposals_all_levels[level_name] = level_proposals_per_image

        return proposals_all_levels

    @staticmethod
    def _cat_across_fpn_levels(
        dict_with_fpn_levels: Dict[str, torch.Tensor], dim: int = 1
    ):
        """
        Convert a dict of tensors across FPN levels {"p3", "p4", "p5"} to a
        single tensor. Values could be anything - batches of image features,
        GT targets, etc.
        """
        return torch.cat(list(dict_with_fpn_levels.values()), dim=dim)


class FasterRCNN(nn.Module):
    """
    Faster R-CNN detector: this module combines backbone, RPN, ROI predictors.

    Unlike the full Faster R-CNN, the second stage only classifies proposals
    (C + 1 classes, cross-entropy loss): it does not refine them with a second
    box regression, so RPN proposals are the final boxes. During training the
    proposals are matched and sampled *before* the RoI head, as in torchvision,
    so the head only runs on the sampled proposals.
    """

    def __init__(
        self,
        backbone: nn.Module,
        rpn: nn.Module,
        stem_channels: List[int],
        num_classes: int,
        batch_size_per_image: int,
        roi_size: Tuple[int, int] = (7, 7),
    ):
        """
        Args:
            backbone: `DetectorBackboneWithFPN` (anything with `out_channels`,
                `fpn_strides` and the same forward).
            rpn: The first stage, `RPN`.
            stem_channels: Output channels of each 3x3 conv of the RoI head.
            num_classes: Number of object classes `C`, without background.
            batch_size_per_image: Proposals per image sampled for training.
            roi_size: `(height, width)` of RoI-aligned features.
        """
        super().__init__()
        self.backbone = backbone
        self.rpn = rpn
        self.num_classes = num_classes
        self.roi_size = roi_size
        self.batch_size_per_image = batch_size_per_image

        ######################################################################
        # TODO: Create a stem of alternating 3x3 convolution layers and RELU
        # activation modules using `stem_channels` argument, exactly like
        # `RPNPredictionNetwork`. Use the same
        # stride, padding, and weight initialization as previous TODOs.
        #
        # HINT: This stem will be applied on RoI-aligned FPN features. You can
        # decide the number of input channels accordingly.
        ######################################################################
        # Fill this list. It is okay to reuse your `RPNPredictionNetwork`
        # stem code for this block.
        cls_pred = []

        ######################################################################
        # TODO: Add an `nn.Flatten` module to `cls_pred`, followed by a linear
        # layer to output C+1 classification logits (C classes + background).
        # Think about the input size of this linear layer based on the output
        # shape from `nn.Flatten` layer.
        ######################################################################

        # BEGIN SOLUTION
        channels = backbone.out_channels
        for out_channels in stem_channels:
            conv = nn.Conv2d(channels, out_channels, kernel_size=3, padding=1)
            nn.init.normal_(conv.weight, mean=0.0, std=0.01)
            nn.init.zeros_(conv.bias)
            cls_pred += [conv, nn.ReLU()]
            channels = out_channels
        cls_pred += [
            nn.Flatten(),
            nn.Linear(channels * roi_size[0] * roi_size[1], num_classes + 1),
        ]
        # END SOLUTION

        # Wrap the layers defined by student into a `nn.Sequential` module,
        # Faster R-CNN also predicts box offsets to "refine" RPN proposals, we
        # exclude it for simplicity and keep RPN proposal boxes as final boxes.
        self.cls_pred = nn.Sequential(*cls_pred)

    def forward(
        self,
        images: torch.Tensor,
        gt_boxes: Optional[torch.Tensor] = None,
        test_score_thresh: Optional[float] = None,
        test_nms_thresh: Optional[float] = None,
    ):
        """
        Args:
            images: `(B, 3, H, W)` normalised images, H and W divisible by 32.
            gt_boxes: `(B, M, 5)` padded GT boxes (training only).
            test_score_thresh, test_nms_thresh: inference thresholds (see
                `inference`); inference needs `B == 1`.

        Returns:
            In training, a dict of the scalar losses "loss_rpn_obj",
            "loss_rpn_box" and "loss_cls"; in eval mode, the output of
            `inference`.
        """

        feats_per_fpn_level = self.backbone(images)
        output_dict = self.rpn(
            feats_per_fpn_level, self.backbone.fpn_strides, gt_boxes
        )
        proposals_per_fpn_level = output_dict["proposals"]

        # Mix GT boxes with proposals. This is necessary to stabilize training
        # since RPN proposals may be bad during first few iterations. Also, why
        # waste good supervisory signal from GT boxes, for second-stage?
        if self.training:
            proposals_per_fpn_level = mix_gt_with_proposals(
                proposals_per_fpn_level, gt_boxes
            )

        # Get batch size from FPN feats:
        num_images = feats_per_fpn_level["p3"].shape[0]
        level_names = list(feats_per_fpn_level.keys())

        # Proposals of every image as one `(N_i, 4)` tensor (levels in the
        # order of `level_names`), with the index of each proposal's level.
        proposals_per_image, levels_per_image = [], []
        for _idx in range(num_images):
            level_props = [proposals_per_fpn_level[name][_idx] for name in level_names]
            proposals_per_image.append(torch.cat(level_props, dim=0))
            levels_per_image.append(
                torch.cat(
                    [
                        torch.full((len(props),), level_id, device=images.device)
                        for level_id, props in enumerate(level_props)
                    ]
                )
            )

        if self.training:
            ##################################################################
            # TODO: Match the RPN proposals of every image with its GT boxes
            # and sample the proposals to train the classifier on:
            #   1. Use `rcnn_match_anchors_to_gt` with IoU thresholds such
            #      that IoU > 0.5 is foreground, otherwise background. There
            #      are no neutral proposals in second-stage.
            #   2. Sample `self.batch_size_per_image` proposals of this image,
            #      like you sampled 50-50% anchor boxes to train RPN, but this
            #      time such that ~25% are foreground and the rest background
            #      (`sample_rpn_training` again). Faster R-CNN performed such
            #      weighted sampling to deal with class imbalance, before
            #      Focal Loss was published.
            #   3. Keep only the sampled proposals, their levels and their
            #      matched GT boxes, all three in the same order: replace
            #      `proposals_per_image[_idx]` and `levels_per_image[_idx]`,
            #      and append the matched GT boxes to `matched_gt_boxes`.
            # Sampling here, before RoI-Align, means the classifier head only
            # runs on the sampled proposals.
            ##################################################################
            matched_gt_boxes = []
            for _idx in range(num_images):
                # BEGIN SOLUTION
                matched = rcnn_match_anchors_to_gt(
                    proposals_per_image[_idx], gt_boxes[_idx], iou_thresholds=(0.5, 0.5)
                )
                fg_idx, bg_idx = sample_rpn_training(
                    matched, self.batch_size_per_image, fg_fraction=0.25
                )
                sampled = torch.cat([fg_idx, bg_idx])
                proposals_per_image[_idx] = proposals_per_image[_idx][sampled]
                levels_per_image[_idx] = levels_per_image[_idx][sampled]
                matched_gt_boxes.append(matched[sampled])
                # END SOLUTION

            # shape: (total sampled proposals, 5)
            matched_gt_boxes = torch.cat(matched_gt_boxes, dim=0)

        # All proposals of the batch as RoIs `(batch index, x1, y1, x2, y2)`,
        # image after image: the same order as `matched_gt_boxes`.
        rois = torch.cat(
            [
                torch.cat([props.new_full((len(props), 1), _idx), props], dim=1)
                for _idx, props in enumerate(proposals_per_image)
            ]
        )
        roi_levels = torch.cat(levels_per_image)

        # Perform RoI-align using FPN features and proposal boxes. Each RoI
        # is pooled from the FPN level its proposal came from; `roi_feats`
        # keeps the order of `rois`.
        # shape: (total proposals, fpn_channels, roi_h, roi_w)
        roi_feats = images.new_zeros(
            len(rois), self.backbone.out_channels, *self.roi_size
        )
        for level_id, level_name in enumerate(level_names):
            ##################################################################
            # TODO: Call `torchvision.ops.roi_align`. See its documentation to
            # properly format input arguments. Use `aligned=True` and keep
            # the default `sampling_ratio` (-1: adaptive).
            # `level_rois` is a `(K, 5)` tensor of the RoIs of this level, in
            # the format `roi_align` accepts; proposals are in image pixels,
            # while `level_feats` is smaller by `level_stride`.
            ##################################################################
            level_feats = feats_per_fpn_level[level_name]
            level_stride = self.backbone.fpn_strides[level_name]
            is_level = roi_levels == level_id
            level_rois = rois[is_level]
            level_roi_feats = None

            # BEGIN SOLUTION
            level_roi_feats = torchvision.ops.roi_align(
                level_feats,
                level_rois,
                output_size=self.roi_size,
                spatial_scale=1.0 / level_stride,
                aligned=True,
            )
            # END SOLUTION

            roi_feats[is_level] = level_roi_feats

        # Obtain classification logits for all ROI features.
        # shape: (total proposals, num_classes + 1)
        pred_cls_logits = self.cls_pred(roi_feats)

        if not self.training:
            # During inference, just go to this method and skip rest of the
            # forward pass. Batch size must be 1!
            # fmt: off
            return self.inference(
                images,
                proposals_per_fpn_level,
                pred_cls_logits,
                test_score_thresh=test_score_thresh,
                test_nms_thresh=test_nms_thresh,
            )
            # fmt: on

        ######################################################################
        # TODO: Compute the classification loss of the sampled proposals:
        #   Get GT class labels from `matched_gt_boxes` (same order as
        #   `pred_cls_logits`) and compute cross entropy loss - use
        #   `F.cross_entropy`, see its API documentation on PyTorch website.
        #   Since background ID = -1, you may shift class labels by +1 such
        #   that background ID = 0 and other VOC classes have IDs (1-20).
        #   Make sure to reverse shift this during inference, so that model
        #   predicts VOC IDs (0-19).
        ######################################################################
        # Feel free to delete this line: (but keep variable names same)
        loss_cls = None

        # BEGIN SOLUTION
        gt_classes = (matched_gt_boxes[:, 4] + 1).to(torch.int64)
        loss_cls = F.cross_entropy(pred_cls_logits, gt_classes)
        # END SOLUTION

        return {
            "loss_rpn_obj": output_dict["loss_rpn_obj"],
            "loss_rpn_box": output_dict["loss_rpn_box"],
            "loss_cls": loss_cls,
        }

    @staticmethod
    def _cat_across_fpn_levels(
        dict_with_fpn_levels: Dict[str, torch.Tensor], dim: int = 1
    ):
        """
        Convert a dict of tensors across FPN levels {"p3", "p4", "p5"} to a
        single tensor. Values could be anything - batches of image features,
        GT targets, etc.
        """
        return torch.cat(list(dict_with_fpn_levels.values()), dim=dim)

    @torch.no_grad()
    def inference(
        self,
        images: torch.Tensor,
        proposals: Dict[str, List[torch.Tensor]],
        pred_cls_logits: torch.Tensor,
        test_score_thresh: Optional[float],
        test_nms_thresh: Optional[float],
    ):
        """
        Run inference on a single input image (batch size = 1). Other input
        arguments are same as those computed in `forward` method. This method
        should not be called from anywhere except from inside `forward`.

        Args:
            proposals: Proposals per FPN level (a list of one tensor each).
            pred_cls_logits: `(N, C + 1)` logits of the proposals, in the order
                of the levels of `proposals` (column 0 is background).
            test_score_thresh: Keep boxes whose score is higher than this
                (`None`: keep all).
            test_nms_thresh: IoU threshold of the class-specific NMS (`None`:
                no NMS).

        Returns:
            Three tensors:
                - pred_boxes: Tensor of shape `(N, 4)` giving *absolute* XYXY
                  co-ordinates of predicted boxes.

                - pred_classes: Tensor of shape `(N, )` giving predicted class
                  labels for these boxes (one of `num_classes` labels). Make
                  sure there are no background predictions (-1).

                - pred_scores: Tensor of shape `(N, )` giving confidence scores
                  for predictions.
        """

        # The second stage inference in Faster R-CNN is quite straightforward:
        # combine proposals from all FPN levels and perform a *class-specific
        # NMS*. There would have been more steps here if we further refined
        # RPN proposals by predicting box regression deltas.

        # Use `[0]` to remove the batch dimension.
        proposals = {level_name: prop[0] for level_name, prop in proposals.items()}
        pred_boxes = self._cat_across_fpn_levels(proposals, dim=0)

        ######################################################################
        # Faster R-CNN inference, perform the following steps in order:
        #   1. Get the most confident object class and its score for every
        #      box: apply softmax over all C+1 logits (background included),
        #      then take the foreground class with the highest probability.
        #      A box's score is that probability; background is never a
        #      predicted class, even when it is the most probable.
        #
        #   2. Only retain prediction that have a confidence score higher than
        #      provided threshold in arguments (all of them if it is `None`).
        #
        # NOTE: column 0 of the logits is background (based on how the
        # classifier was supervised in `forward`). Remember to shift the
        # predicted IDs such that model outputs ID (0-19) for 20 VOC classes.
        ######################################################################
        pred_scores, pred_classes = None, None

        # BEGIN SOLUTION
        class_probs = F.softmax(pred_cls_logits, dim=1)
        # Dropping the background column shifts the class ids by -1.
        pred_scores, pred_classes = class_probs[:, 1:].max(dim=1)
        if test_score_thresh is not None:
            keep = pred_scores > test_score_thresh
            pred_boxes = pred_boxes[keep]
            pred_scores = pred_scores[keep]
            pred_classes = pred_classes[keep]
        # END SOLUTION

        if test_nms_thresh is None:
            order = pred_scores.argsort(descending=True)
            return pred_boxes[order], pred_classes[order], pred_scores[order]

        # STUDENTS: This line depends on your implementation of NMS.
        keep = class_spec_nms(
            pred_boxes, pred_scores, pred_classes, iou_threshold=test_nms_thresh
        )
        pred_boxes = pred_boxes[keep]
        pred_classes = pred_classes[keep]
        pred_scores = pred_scores[keep]
        return pred_boxes, pred_classes, pred_scores
