# Valid alternative "attribute_layers": the FPN convs are plain attributes
# named by role (registered top-down, p5 first) instead of entries of
# `fpn_params`, which stays empty; stems pad explicitly with nn.ZeroPad2d(1)
# before unpadded 3x3 convs (zero padding that keeps the size); the RoI head
# uses nn.Flatten(1) and an explicitly computed flattened width.
"""
Shared detection components: the RegNet + FPN backbone, FPN location
coordinates and non-maximum suppression.

Shape shorthand used in this module:
    B: batch size              H, W: height and width of one FPN level
    C: channels                N: number of boxes
    K: number of kept boxes

Boxes are always in XYXY format: `(x1, y1, x2, y2)` in absolute pixels of the
(resized) input image.
"""
import os
import warnings
from typing import Dict, Optional, Tuple

import torch
from torch import nn
from torch.nn import functional as F
from torchvision import models
from torchvision.models import feature_extraction

TensorDict = Dict[str, torch.Tensor]

# Special values of matched GT boxes `(x1, y1, x2, y2, class)`. A row whose
# class is BACKGROUND_LABEL is background (also used to pad GT boxes in a
# batch); a row filled with NEUTRAL_LABEL is neither foreground nor background
# and is ignored in training. Regression targets of every row that is not
# foreground are IGNORED_DELTA.
BACKGROUND_LABEL = -1.0
NEUTRAL_LABEL = -1e8
IGNORED_DELTA = -1e8

# Environment variable naming a local file with the backbone's ImageNet
# weights (a torchvision `regnet_x_400mf` state dict), or "random" to skip
# pre-trained weights altogether (no download attempt).
BACKBONE_WEIGHTS_ENV = "DETECTOR_BACKBONE_WEIGHTS"
RANDOM_INIT = "random"

_warned_random_init = False


def _regnet_x_400mf(pretrained: bool, weights_path: Optional[str]) -> nn.Module:
    """
    Build torchvision's RegNetX-400MF, with ImageNet weights when they can be
    had. Order: `weights_path` (or the `DETECTOR_BACKBONE_WEIGHTS` environment
    variable), then torchvision's download cache, then random initialisation
    with a single warning per process.
    """
    global _warned_random_init
    weights_path = weights_path or os.environ.get(BACKBONE_WEIGHTS_ENV) or None
    if weights_path == RANDOM_INIT:
        return models.regnet_x_400mf(weights=None)
    if weights_path is not None:
        if not os.path.isfile(weights_path):
            raise FileNotFoundError(
                f"Backbone weights file not found: {weights_path!r} (set via "
                f"`weights_path` or ${BACKBONE_WEIGHTS_ENV})"
            )
        cnn = models.regnet_x_400mf(weights=None)
        state_dict = torch.load(weights_path, map_location="cpu", weights_only=True)
        cnn.load_state_dict(state_dict)
        return cnn
    if not pretrained:
        return models.regnet_x_400mf(weights=None)
    try:
        return models.regnet_x_400mf(
            weights=models.RegNet_X_400MF_Weights.IMAGENET1K_V1
        )
    except (OSError, RuntimeError) as error:  # offline, or a corrupt download
        if not _warned_random_init:
            warnings.warn(
                "ImageNet weights for regnet_x_400mf could not be loaded "
                f"({error}); the backbone is randomly initialised and will "
                "learn much more slowly. To use local weights, pass "
                f"`weights_path=` or set ${BACKBONE_WEIGHTS_ENV}.",
                stacklevel=3,
            )
            _warned_random_init = True
        return models.regnet_x_400mf(weights=None)


class DetectorBackboneWithFPN(nn.Module):
    """
    Detection backbone network: A tiny RegNet model coupled with a Feature
    Pyramid Network (FPN). This model takes in batches of input images with
    shape `(B, 3, H, W)` and gives features from three different FPN levels
    with shapes and total strides upto that level:

        - level p3: (out_channels, H /  8, W /  8)      stride =  8
        - level p4: (out_channels, H / 16, W / 16)      stride = 16
        - level p5: (out_channels, H / 32, W / 32)      stride = 32

    NOTE: We could use any convolutional network architecture that progressively
    downsamples the input image and couple it with FPN. We use a small enough
    backbone that can work with Colab GPU and get decent enough performance.
    """

    def __init__(
        self,
        out_channels: int,
        pretrained: bool = True,
        weights_path: Optional[str] = None,
    ):
        """
        Args:
            out_channels: Channels of every FPN output level.
            pretrained: Start from ImageNet weights when they are available
                (downloaded by torchvision, or from its cache). Without them
                (e.g. offline) the backbone is randomly initialised, with a
                warning.
            weights_path: Optional local file holding a `regnet_x_400mf`
                state dict; defaults to `$DETECTOR_BACKBONE_WEIGHTS`.
        """
        super().__init__()
        self.out_channels = out_channels

        # Initialize with ImageNet pre-trained weights (when available).
        _cnn = _regnet_x_400mf(pretrained, weights_path)

        # Torchvision models only return features from the last level. Detector
        # backbones (with FPN) require intermediate features of different scales.
        # So we wrap the ConvNet with torchvision's feature extractor. Here we
        # will get output features with names (c3, c4, c5) with same stride as
        # (p3, p4, p5) described above.
        self.backbone = feature_extraction.create_feature_extractor(
            _cnn,
            return_nodes={
                "trunk_output.block2": "c3",
                "trunk_output.block3": "c4",
                "trunk_output.block4": "c5",
            },
        )

        # Pass a dummy batch of input images to infer shapes of (c3, c4, c5).
        # Features are a dictionary with keys as defined above. Values are
        # batches of tensors in NCHW format, that give intermediate features
        # from the backbone network. The pass runs in eval mode without
        # gradients, so it leaves BatchNorm running statistics untouched.
        was_training = self.backbone.training
        self.backbone.eval()
        with torch.no_grad():
            dummy_out = self.backbone(torch.zeros(2, 3, 224, 224))
        self.backbone.train(was_training)
        dummy_out_shapes = [(key, value.shape) for key, value in dummy_out.items()]

        print("For dummy input images with shape: (2, 3, 224, 224)")
        for level_name, feature_shape in dummy_out_shapes:
            print(f"Shape of {level_name} features: {feature_shape}")

        ######################################################################
        # TODO: Initialize additional Conv layers for FPN.                   #
        #                                                                    #
        # Create THREE "lateral" 1x1 conv layers to transform (c3, c4, c5)   #
        # such that they all end up with the same `out_channels`.            #
        # Then create THREE "output" 3x3 conv layers to transform the merged #
        # FPN features to output (p3, p4, p5) features.                      #
        # All conv layers must have stride=1 and padding such that features  #
        # do not get downsampled due to 3x3 convs.                           #
        #                                                                    #
        # HINT: You have to use `dummy_out_shapes` defined above to decide   #
        # the input/output channels of these layers.                         #
        ######################################################################
        # This behaves like a Python dict, but makes PyTorch understand that
        # there are trainable weights inside it.
        # Add THREE lateral 1x1 conv and THREE output 3x3 conv layers.
        self.fpn_params = nn.ModuleDict()

        ######################################################################
        #                            START YOUR CODE                         #
        ######################################################################
        channels = {name: shape[1] for name, shape in dummy_out_shapes}
        self.lateral_c5 = nn.Conv2d(channels["c5"], out_channels, kernel_size=(1, 1))
        self.smooth_p5 = nn.Conv2d(out_channels, out_channels, kernel_size=(3, 3), padding=(1, 1))
        self.lateral_c4 = nn.Conv2d(channels["c4"], out_channels, kernel_size=(1, 1))
        self.smooth_p4 = nn.Conv2d(out_channels, out_channels, kernel_size=(3, 3), padding=(1, 1))
        self.lateral_c3 = nn.Conv2d(channels["c3"], out_channels, kernel_size=(1, 1))
        self.smooth_p3 = nn.Conv2d(out_channels, out_channels, kernel_size=(3, 3), padding=(1, 1))
        ######################################################################
        #                            END OF YOUR CODE                        #
        ######################################################################

    @property
    def fpn_strides(self):
        """
        Total stride up to the FPN level. For a fixed ConvNet, these values
        are invariant to input image size. You may access these values freely
        to implement your logic in Faster R-CNN.
        """
        return {"p3": 8, "p4": 16, "p5": 32}

    def forward(self, images: torch.Tensor):
        """
        Args:
            images: Tensor of shape `(B, 3, H, W)`, H and W divisible by 32.

        Returns:
            TensorDict with keys {"p3", "p4", "p5"}: features of shape
            `(B, out_channels, H / stride, W / stride)`.
        """
        # Multi-scale features, dictionary with keys: {"c3", "c4", "c5"}.
        backbone_feats = self.backbone(images)

        fpn_feats = {"p3": None, "p4": None, "p5": None}
        ######################################################################
        # TODO: Fill output FPN features (p3, p4, p5) using RegNet features  #
        # (c3, c4, c5) and FPN conv layers created above, top-down:          #
        #   m5 = lateral_5(c5)                                               #
        #   m4 = lateral_4(c4) + upsample(m5)                                #
        #   m3 = lateral_3(c3) + upsample(m4)                                #
        #   p_i = output_i(m_i) for i = 3, 4, 5                              #
        # where upsample is nearest-neighbour interpolation to the size of   #
        # the lateral it is added to (x2 here).                              #
        # HINT: `F.interpolate(x, size=..., mode="nearest")`.                #
        ######################################################################

        ######################################################################
        #                            START YOUR CODE                         #
        ######################################################################
        m5 = self.lateral_c5(backbone_feats["c5"])
        l4 = self.lateral_c4(backbone_feats["c4"])
        m4 = l4 + F.interpolate(m5, size=tuple(l4.shape[-2:]), mode="nearest")
        l3 = self.lateral_c3(backbone_feats["c3"])
        m3 = l3 + F.interpolate(m4, size=tuple(l3.shape[-2:]), mode="nearest")
        fpn_feats["p5"] = self.smooth_p5(m5)
        fpn_feats["p4"] = self.smooth_p4(m4)
        fpn_feats["p3"] = self.smooth_p3(m3)
        ######################################################################
        #                            END OF YOUR CODE                        #
        ######################################################################

        return fpn_feats


def get_fpn_location_coords(
    shape_per_fpn_level: Dict[str, Tuple],
    strides_per_fpn_level: Dict[str, int],
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
) -> Dict[str, torch.Tensor]:
    """
    Map every location in FPN feature map to a point on the image. This point
    represents the center of the receptive field of this location. We need to
    do this for having a uniform co-ordinate representation of all the locations
    across FPN levels, and GT boxes.

    Location `(h, w)` of a level with stride `s` maps to the image point
    `(xc, yc) = (s * (w + 0.5), s * (h + 0.5))`. Locations are listed in
    row-major order over the feature map: row `h * W + w`, so `x` varies
    fastest. This is the order in which predictions are flattened.

    Args:
        shape_per_fpn_level: Shape of the FPN feature level, dictionary of keys
            {"p3", "p4", "p5"} and feature shapes `(B, C, H, W)` as values.
        strides_per_fpn_level: Dictionary of same keys as above, each with an
            integer value giving the stride of corresponding FPN level.
            See `DetectorBackboneWithFPN.fpn_strides`.
        dtype, device: dtype and device of the returned tensors.

    Returns:
        Dict[str, torch.Tensor]
            Dictionary with same keys as `shape_per_fpn_level` and values as
            tensors of shape `(H * W, 2)` giving `(xc, yc)` co-ordinates of the
            centers of receptive fields of the FPN locations, on input image.
    """

    # Set these to `(N, 2)` Tensors giving absolute location co-ordinates.
    location_coords = {
        level_name: None for level_name, _ in shape_per_fpn_level.items()
    }

    for level_name, feat_shape in shape_per_fpn_level.items():
        level_stride = strides_per_fpn_level[level_name]

        ######################################################################
        # TODO: Implement logic to get location co-ordinates below.          #
        ######################################################################
        ######################################################################
        #                            START YOUR CODE                         #
        ######################################################################
        B, C, H, W = feat_shape
        flat = torch.arange(H * W, device=device)
        w_idx = flat % W
        h_idx = flat // W
        location_coords[level_name] = torch.stack(
            [level_stride * (w_idx.to(dtype) + 0.5), level_stride * (h_idx.to(dtype) + 0.5)], dim=-1
        )
        ######################################################################
        #                            END OF YOUR CODE                        #
        ######################################################################

    return location_coords


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float = 0.5):
    """
    Non-maximum suppression removes overlapping bounding boxes.

    Args:
        boxes: Tensor of shape (N, 4) giving top-left and bottom-right coordinates
            of the bounding boxes to perform NMS on.
        scores: Tensor of shape (N, ) giving scores for each of the boxes.
        iou_threshold: Discard all overlapping boxes with IoU > iou_threshold;
            a box whose IoU equals the threshold is kept.

    Returns:
        keep: torch.long tensor with the indices of the elements that have been
            kept by NMS, sorted in decreasing order of scores;
            of shape [num_kept_boxes], on the device of `boxes`.
    """

    if (not boxes.numel()) or (not scores.numel()):
        return torch.zeros(0, dtype=torch.long, device=boxes.device)

    keep = None
    #############################################################################
    # TODO: Implement non-maximum suppression which iterates the following:     #
    #       1. Select the highest-scoring box among the remaining ones,         #
    #          which has not been chosen in this step before                    #
    #       2. Eliminate boxes with IoU > threshold                             #
    #       3. If any boxes remain, GOTO 1                                      #
    #       Your implementation should not depend on a specific device type;    #
    #       you can use the device of the input if necessary.                   #
    # HINT: You can refer to the torchvision library code:                      #
    # github.com/pytorch/vision/blob/main/torchvision/csrc/ops/cpu/nms_kernel.cpp
    #############################################################################
    ######################################################################
    #                            START YOUR CODE                         #
    ######################################################################
    boxes_sorted_idx = torch.sort(scores, descending=True).indices
    b = boxes[boxes_sorted_idx]
    areas = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    keep_list = []
    alive = torch.ones(b.shape[0], dtype=torch.bool, device=boxes.device)
    for i in range(b.shape[0]):
        if not bool(alive[i]):
            continue
        keep_list.append(i)
        xx1 = torch.clamp(b[:, 0], min=float(b[i, 0]))
        yy1 = torch.clamp(b[:, 1], min=float(b[i, 1]))
        xx2 = torch.clamp(b[:, 2], max=float(b[i, 2]))
        yy2 = torch.clamp(b[:, 3], max=float(b[i, 3]))
        inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
        ovr = inter / (areas[i] + areas - inter)
        alive = alive & ~(ovr > iou_threshold)
    keep = boxes_sorted_idx[torch.tensor(keep_list, dtype=torch.long, device=boxes.device)]
    ######################################################################
    #                            END OF YOUR CODE                        #
    ######################################################################
    return keep


def class_spec_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    class_ids: torch.Tensor,
    iou_threshold: float = 0.5,
):
    """
    Wrap `nms` to make it class-specific. Pass class IDs as `class_ids`.
    STUDENT: This depends on your `nms` implementation.

    Boxes of different classes never suppress each other: each class is
    shifted to its own region of the plane before a single `nms` call.

    Returns:
        keep: torch.long tensor with the indices of the elements that have been
            kept by NMS, sorted in decreasing order of scores;
            of shape [num_kept_boxes]
    """
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    max_coordinate = boxes.max()
    offsets = class_ids.to(boxes) * (max_coordinate + torch.tensor(1).to(boxes))
    boxes_for_nms = boxes + offsets[:, None]
    keep = nms(boxes_for_nms, scores, iou_threshold)
    return keep
