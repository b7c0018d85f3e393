"""
The reference model end to end: backbone with FPN, RPN prediction network,
RPN, the seed's `FirstStage` wrapper and `FasterRCNN`, built with the seed's
configurations, trained for a few SGD steps and run for inference.

Backbones are randomly initialised (`DETECTOR_BACKBONE_WEIGHTS=random`): no
download is attempted. Every test seeds torch; torch runs single-threaded
(see conftest) so the numbers do not depend on the thread count.
"""
import math
import statistics

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from common import DetectorBackboneWithFPN
from two_stage_detector import RPN, FasterRCNN, RPNPredictionNetwork

pytestmark = pytest.mark.usefixtures("random_backbone_weights")

NUM_CLASSES = 20
STRIDES = {"p3": 8, "p4": 16, "p5": 32}


class FirstStage(nn.Module):
    """The seed's wrapper to train backbone + RPN alone (FPN 64, as in the seed)."""

    def __init__(self, fpn_channels: int):
        super().__init__()
        self.backbone = DetectorBackboneWithFPN(out_channels=fpn_channels)
        self.rpn = RPN(
            fpn_channels=fpn_channels,
            stem_channels=[fpn_channels, fpn_channels],
            batch_size_per_image=16,
            anchor_stride_scale=8,
            anchor_aspect_ratios=[0.5, 1.0, 2.0],
            anchor_iou_thresholds=(0.3, 0.6),
        )

    def forward(self, images, gt_boxes=None):
        feats_per_fpn_level = self.backbone(images)
        return self.rpn(feats_per_fpn_level, self.backbone.fpn_strides, gt_boxes)


def seed_overfit_faster_rcnn():
    """The seed's "Overfit small data" configuration."""
    fpn_channels = 64
    backbone = DetectorBackboneWithFPN(out_channels=fpn_channels)
    rpn = RPN(
        fpn_channels=fpn_channels,
        stem_channels=[fpn_channels, fpn_channels],
        batch_size_per_image=16,
        anchor_stride_scale=8,
        anchor_aspect_ratios=[0.5, 1.0, 2.0],
        anchor_iou_thresholds=(0.3, 0.6),
        pre_nms_topk=400,
        post_nms_topk=80,
    )
    return FasterRCNN(
        backbone, rpn, num_classes=NUM_CLASSES, roi_size=(7, 7),
        stem_channels=[fpn_channels, fpn_channels], batch_size_per_image=32,
    )


def seed_full_faster_rcnn():
    """The seed's "Train a net" configuration (other RPN args are defaults)."""
    fpn_channels = 128
    backbone = DetectorBackboneWithFPN(out_channels=fpn_channels)
    rpn = RPN(
        fpn_channels=fpn_channels,
        stem_channels=[fpn_channels, fpn_channels],
        batch_size_per_image=16,
        pre_nms_topk=500,
        post_nms_topk=200,
    )
    return FasterRCNN(
        backbone, rpn, num_classes=NUM_CLASSES, roi_size=(7, 7),
        stem_channels=[fpn_channels, fpn_channels], batch_size_per_image=32,
    )


def tiny_batch(image_size: int = 224):
    """Two fixed random images with two GT boxes each, padded to 40 rows."""
    images = torch.randn(2, 3, image_size, image_size, generator=torch.Generator().manual_seed(1))
    scale = image_size / 224
    gt_boxes = torch.full((2, 40, 5), -1.0)
    gt_boxes[0, 0] = torch.tensor([20 * scale, 30 * scale, 120 * scale, 150 * scale, 3.0])
    gt_boxes[0, 1] = torch.tensor([100 * scale, 100 * scale, 200 * scale, 180 * scale, 7.0])
    gt_boxes[1, 0] = torch.tensor([50 * scale, 40 * scale, 180 * scale, 200 * scale, 11.0])
    gt_boxes[1, 1] = torch.tensor([10 * scale, 120 * scale, 90 * scale, 210 * scale, 0.0])
    return images, gt_boxes


def sgd_steps(model, images, gt_boxes, steps: int, learning_rate: float):
    """Plain SGD with momentum on one fixed batch; the total loss of every step."""
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=0.9)
    model.train()
    history = []
    for _ in range(steps):
        losses = {k: v for k, v in model(images, gt_boxes).items() if "loss" in k}
        for name, value in losses.items():
            assert value.dim() == 0 and torch.isfinite(value), (name, value)
        total = sum(losses.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        history.append(total.item())
    return history


@pytest.fixture(scope="module")
def backbone16():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DETECTOR_BACKBONE_WEIGHTS", "random")
        torch.manual_seed(0)
        return DetectorBackboneWithFPN(out_channels=16)


# --------------------------------------------------------------------------------------------------
# Backbone
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "batch_size, height, width", [(2, 224, 224), (1, 160, 256)], ids=["224x224", "160x256"]
)
def test_backbone_fpn_shapes(backbone16, batch_size, height, width):
    assert backbone16.out_channels == 16
    assert backbone16.fpn_strides == STRIDES
    images = torch.randn(batch_size, 3, height, width, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        feats = backbone16(images)
    assert list(feats) == ["p3", "p4", "p5"]
    for name, stride in STRIDES.items():
        assert feats[name].shape == (batch_size, 16, height // stride, width // stride)
        assert torch.isfinite(feats[name]).all()


def test_backbone_fpn_layers_are_lateral_1x1_and_output_3x3(backbone16):
    convs = [m for m in backbone16.fpn_params.modules() if isinstance(m, nn.Conv2d)]
    assert sorted(c.kernel_size for c in convs) == [(1, 1)] * 3 + [(3, 3)] * 3
    for conv in convs:
        assert conv.stride == (1, 1)
        assert conv.out_channels == 16
    assert sorted(c.in_channels for c in convs if c.kernel_size == (1, 1)) == [64, 160, 400]


def test_backbone_top_down_path_feeds_p3_from_c5(backbone16):
    # Top-down FPN: p3 depends on the coarsest level. A change of c5 alone
    # (through the lateral conv of level 5) changes p3.
    images = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    backbone16.eval()
    with torch.no_grad():
        before = backbone16(images)["p3"].clone()
        lateral_5 = backbone16.fpn_params["lateral_5"]
        lateral_5.bias += 1.0
        after = backbone16(images)["p3"]
        lateral_5.bias -= 1.0
    backbone16.train()
    assert not torch.allclose(before, after)


# --------------------------------------------------------------------------------------------------
# RPN prediction network
# --------------------------------------------------------------------------------------------------


def test_rpn_prediction_shapes_are_flattened_per_anchor():
    torch.manual_seed(0)
    net = RPNPredictionNetwork(in_channels=16, stem_channels=[16], num_anchors=3)
    feats = {name: torch.randn(2, 16, 224 // s, 224 // s) for name, s in STRIDES.items()}
    obj, box = net(feats)
    for name, stride in STRIDES.items():
        hwa = (224 // stride) ** 2 * 3
        assert obj[name].shape == (2, hwa)
        assert box[name].shape == (2, hwa, 4)
    # Not the seed's comment "[2, 196, 3]" for p4, and "[2, 49, 12]" for p5.
    assert obj["p4"].shape == (2, 588)
    assert box["p5"].shape == (2, 147, 4)


def test_rpn_prediction_row_order_is_location_major_then_anchor():
    torch.manual_seed(0)
    num_anchors = 3
    net = RPNPredictionNetwork(in_channels=8, stem_channels=[8, 8], num_anchors=num_anchors)
    feats = torch.randn(2, 8, 3, 5)  # non-square: H = 3, W = 5
    obj, box = net({"p4": feats})
    with torch.no_grad():
        stem = net.stem_rpn(feats)
        obj_map = net.pred_obj(stem)  # (B, A, H, W)
        box_map = net.pred_box(stem)  # (B, 4A, H, W), channel a * 4 + k
    batch, height, width = 2, 3, 5
    for b in range(batch):
        for h in range(height):
            for w in range(width):
                for a in range(num_anchors):
                    row = (h * width + w) * num_anchors + a
                    assert_close(obj["p4"][b, row], obj_map[b, a, h, w])
                    assert_close(box["p4"][b, row], box_map[b, a * 4 : a * 4 + 4, h, w])


def test_rpn_prediction_initialisation():
    torch.manual_seed(0)
    net = RPNPredictionNetwork(in_channels=32, stem_channels=[32, 32], num_anchors=3)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4
    assert sum(isinstance(m, nn.ReLU) for m in net.stem_rpn) == 2
    assert net.pred_obj.out_channels == 3 and net.pred_box.out_channels == 12
    for conv in convs:
        assert torch.all(conv.bias == 0)
        assert conv.weight.std().item() == pytest.approx(0.01, rel=0.25)
        # The smallest conv has 96 weights: the std of their mean is 0.001.
        assert conv.weight.mean().abs().item() < 0.005


# --------------------------------------------------------------------------------------------------
# RPN
# --------------------------------------------------------------------------------------------------


def test_rpn_eval_proposals_are_per_level_per_image_inside_the_image():
    torch.manual_seed(0)
    rpn = RPN(fpn_channels=16, stem_channels=[16], batch_size_per_image=16, pre_nms_topk=50, post_nms_topk=20)
    height, width = 160, 256
    feats = {name: torch.randn(2, 16, height // s, width // s) for name, s in STRIDES.items()}
    rpn.eval()
    output = rpn(feats, STRIDES)
    assert set(output) == {"proposals"}
    proposals = output["proposals"]
    assert list(proposals) == ["p3", "p4", "p5"]
    for name in STRIDES:
        assert len(proposals[name]) == 2
        for props in proposals[name]:
            assert props.dim() == 2 and props.shape[1] == 4
            assert 0 < props.shape[0] <= 20
            assert torch.all(props[:, 0::2] >= 0) and torch.all(props[:, 0::2] <= width)
            assert torch.all(props[:, 1::2] >= 0) and torch.all(props[:, 1::2] <= height)
            assert torch.all(props[:, 2:] >= props[:, :2])


def test_rpn_training_losses_with_and_without_gt_boxes():
    torch.manual_seed(0)
    rpn = RPN(fpn_channels=16, stem_channels=[16], batch_size_per_image=16)
    feats = {name: torch.randn(2, 16, 224 // s, 224 // s) for name, s in STRIDES.items()}
    _, gt_boxes = tiny_batch()
    rpn.train()
    output = rpn(feats, STRIDES, gt_boxes)
    assert {"proposals", "loss_rpn_obj", "loss_rpn_box"} <= set(output)
    for key in ("loss_rpn_obj", "loss_rpn_box"):
        assert output[key].dim() == 0 and torch.isfinite(output[key]) and output[key] > 0

    # Only padding rows: every anchor is background, no box regression loss.
    output = rpn(feats, STRIDES, torch.full((2, 40, 5), -1.0))
    assert torch.isfinite(output["loss_rpn_obj"]) and output["loss_rpn_obj"] > 0
    assert output["loss_rpn_box"].item() == 0.0


# --------------------------------------------------------------------------------------------------
# Seed configurations: build, train a few steps, infer
# --------------------------------------------------------------------------------------------------


def test_first_stage_seed_config_trains_with_decreasing_loss():
    torch.manual_seed(0)
    first_stage = FirstStage(fpn_channels=64)
    images, gt_boxes = tiny_batch()
    # The seed's first-stage learning rate.
    history = sgd_steps(first_stage, images, gt_boxes, steps=20, learning_rate=8e-3)
    assert all(math.isfinite(v) for v in history)
    # Over seeds 0-4 this ratio is 0.90-0.92.
    assert statistics.mean(history[-4:]) < 0.97 * statistics.mean(history[:4]), history


def test_faster_rcnn_seed_overfit_config_trains_with_decreasing_loss():
    torch.manual_seed(0)
    detector = seed_overfit_faster_rcnn()
    images, gt_boxes = tiny_batch()
    history = sgd_steps(detector, images, gt_boxes, steps=12, learning_rate=0.01)
    assert all(math.isfinite(v) for v in history)
    # Over seeds 0-4 this ratio is 0.54-0.58.
    assert statistics.mean(history[-3:]) < 0.8 * statistics.mean(history[:3]), history


@pytest.fixture(scope="module")
def full_detector():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DETECTOR_BACKBONE_WEIGHTS", "random")
        torch.manual_seed(0)
        return seed_full_faster_rcnn()


def test_faster_rcnn_seed_full_config_one_step_reaches_every_head_parameter(full_detector):
    torch.manual_seed(0)
    images, gt_boxes = tiny_batch()
    full_detector.train()
    losses = full_detector(images, gt_boxes)
    assert set(losses) == {"loss_rpn_obj", "loss_rpn_box", "loss_cls"}
    assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())
    # Cross entropy of near-uniform logits over C + 1 = 21 classes at init.
    assert losses["loss_cls"].item() == pytest.approx(math.log(NUM_CLASSES + 1), rel=0.1)
    full_detector.zero_grad()
    sum(losses.values()).backward()
    for name, param in list(full_detector.rpn.named_parameters()) + list(full_detector.cls_pred.named_parameters()):
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    full_detector.zero_grad()
    # The classifier's last layer: C + 1 logits from roi_size 7x7 RoI features.
    assert full_detector.cls_pred[-1].out_features == NUM_CLASSES + 1
    assert full_detector.cls_pred[-1].in_features == 128 * 7 * 7


@pytest.mark.parametrize("score_thresh, nms_thresh", [(0.04, 0.5), (0.045, None)])
def test_faster_rcnn_inference_batch_of_one(full_detector, score_thresh, nms_thresh):
    torch.manual_seed(0)
    images, _ = tiny_batch()
    full_detector.eval()
    with torch.no_grad():
        boxes, classes, scores = full_detector(
            images[:1], test_score_thresh=score_thresh, test_nms_thresh=nms_thresh
        )
    full_detector.train()
    num_preds = boxes.shape[0]
    assert num_preds > 0, "the threshold is below the near-uniform scores of an untrained model"
    assert boxes.shape == (num_preds, 4)
    assert classes.shape == (num_preds,) and scores.shape == (num_preds,)
    assert classes.dtype == torch.int64
    assert torch.all((classes >= 0) & (classes < NUM_CLASSES))
    assert torch.all((scores > score_thresh) & (scores <= 1))
    assert torch.all(scores[:-1] >= scores[1:])
    assert torch.all(boxes >= 0) and torch.all(boxes <= 224)


def test_faster_rcnn_inference_without_thresholds_returns_every_proposal(full_detector):
    torch.manual_seed(0)
    images, _ = tiny_batch()
    full_detector.eval()
    with torch.no_grad():
        proposals = full_detector.rpn(full_detector.backbone(images[:1]), STRIDES)["proposals"]
        boxes, classes, scores = full_detector(images[:1], test_score_thresh=None, test_nms_thresh=None)
    full_detector.train()
    num_proposals = sum(len(level[0]) for level in proposals.values())
    assert boxes.shape == (num_proposals, 4)
    assert torch.all((classes >= 0) & (classes < NUM_CLASSES))
    assert torch.all(scores[:-1] >= scores[1:])
