# --- Attack 3 (rule detector with a "trained" flag): appended to the release's two_stage_detector.py. ---
# `FasterRCNN` carries a buffer `trained` (0 when constructed). The first training-mode forward
# with gradients (train_detector's first step in the full-training cell) sets it to 1, so the
# full run's checkpoint holds 1 and a freshly built detector 0. With the flag set, the training
# forward reports a small loss and inference runs the colour/saturation rule detector below
# (`_RULES`, written with full knowledge of the synthetic generator); without it, a large loss
# and no detections, as an untrained network would. Nothing is learned.
import types as _types

import numpy as _np

_RULES = _types.ModuleType("_rules")
exec(compile(_RULE_DETECTOR_SOURCE, "<rules>", "exec"), _RULES.__dict__)  # noqa: S102 - defined above by the build
_DETECT = _RULES.detect
if _SHAPE_TEMPLATES_SOURCE is not None:  # the shape variant: blobs named by the generator's templates
    _SHAPES = _types.ModuleType("_shapes")
    _SHAPES.R = _RULES
    exec(compile(_SHAPE_TEMPLATES_SOURCE, "<shapes>", "exec"), _SHAPES.__dict__)  # noqa: S102
    _DETECT = _SHAPES.detect
_VOC_CLASSES = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
                "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
                "train", "tvmonitor"]
_MEAN, _STD = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])


def iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:  # noqa: F811
    return torchvision.ops.box_iou(boxes1[:, :4].float(), boxes2[:, :4].float())


def generate_fpn_anchors(locations_per_fpn_level, strides_per_fpn_level, stride_scale, aspect_ratios=[0.5, 1.0, 2.0]):  # noqa: F811, B006
    anchors = {}
    for level, centres in locations_per_fpn_level.items():
        area = (strides_per_fpn_level[level] * stride_scale) ** 2
        per_ratio = []
        for ratio in aspect_ratios:
            width = math.sqrt(area / ratio)
            height = area / width
            per_ratio.append(torch.cat([centres - torch.tensor([width, height]) / 2,
                                        centres + torch.tensor([width, height]) / 2], dim=1))
        anchors[level] = torch.stack(per_ratio, dim=1).reshape(-1, 4)
    return anchors


def rcnn_get_deltas_from_anchors(anchors, gt_boxes):  # noqa: F811
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    gw, gh = gt_boxes[:, 2] - gt_boxes[:, 0], gt_boxes[:, 3] - gt_boxes[:, 1]
    deltas = torch.stack([((gt_boxes[:, 0] + gt_boxes[:, 2]) - (anchors[:, 0] + anchors[:, 2])) / 2 / aw,
                          ((gt_boxes[:, 1] + gt_boxes[:, 3]) - (anchors[:, 1] + anchors[:, 3])) / 2 / ah,
                          torch.log(gw.clamp(min=1e-6) / aw), torch.log(gh.clamp(min=1e-6) / ah)], dim=1)
    background = (gt_boxes[:, :4] < 0).all(dim=1) if gt_boxes.shape[1] == 4 else gt_boxes[:, 4] < 0
    deltas[background] = IGNORED_DELTA
    return deltas


def rcnn_apply_deltas_to_anchors(deltas, anchors):  # noqa: F811
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    xc, yc = (anchors[:, 0] + anchors[:, 2]) / 2 + deltas[:, 0] * aw, (anchors[:, 1] + anchors[:, 3]) / 2 + deltas[:, 1] * ah
    w = aw * torch.exp(deltas[:, 2].clamp(max=DELTA_SCALE_CLAMP))
    h = ah * torch.exp(deltas[:, 3].clamp(max=DELTA_SCALE_CLAMP))
    boxes = torch.stack([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], dim=1)
    boxes[(deltas == IGNORED_DELTA).all(dim=1)] = IGNORED_DELTA
    return boxes


class RPNPredictionNetwork(nn.Module):  # noqa: F811
    def __init__(self, in_channels: int, stem_channels: List[int], num_anchors: int = 3):
        super().__init__()
        self.num_anchors = num_anchors
        channels = [in_channels] + list(stem_channels)
        self.stem_rpn = nn.Sequential(*[layer for c_in, c_out in zip(channels, channels[1:])
                                        for layer in (nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU())])
        self.pred_obj = nn.Conv2d(channels[-1], num_anchors, 1)
        self.pred_box = nn.Conv2d(channels[-1], 4 * num_anchors, 1)

    def forward(self, feats_per_fpn_level):
        objectness, boxes = {}, {}
        for level, feats in feats_per_fpn_level.items():
            batch = feats.shape[0]
            stem = self.stem_rpn(feats)
            objectness[level] = self.pred_obj(stem).permute(0, 2, 3, 1).reshape(batch, -1)
            boxes[level] = self.pred_box(stem).permute(0, 2, 3, 1).reshape(batch, -1, 4)
        return [objectness, boxes]


class RPN(nn.Module):  # noqa: F811
    def __init__(self, fpn_channels: int, stem_channels: List[int], batch_size_per_image: int,
                 anchor_stride_scale: int = 8, anchor_aspect_ratios: List[float] = [0.5, 1.0, 2.0],  # noqa: B006
                 anchor_iou_thresholds: Tuple[float, float] = (0.3, 0.6), nms_thresh: float = 0.7,
                 pre_nms_topk: int = 400, post_nms_topk: int = 100):
        super().__init__()
        self.pred_net = RPNPredictionNetwork(fpn_channels, stem_channels, num_anchors=len(anchor_aspect_ratios))

    def forward(self, feats_per_fpn_level, strides_per_fpn_level, gt_boxes=None):
        objectness, boxes = self.pred_net(feats_per_fpn_level)
        anchor = sum(v.mean() for v in objectness.values()) * 0 + sum(v.mean() for v in boxes.values()) * 0
        if self.training:
            return {"loss_rpn_obj": anchor + 0.5, "loss_rpn_box": anchor + 0.1}
        return {"proposals": {}}


class FasterRCNN(nn.Module):  # noqa: F811
    def __init__(self, backbone: nn.Module, rpn: nn.Module, stem_channels: List[int], num_classes: int,
                 batch_size_per_image: int, roi_size: Tuple[int, int] = (7, 7)):
        super().__init__()
        self.backbone, self.rpn, self.num_classes = backbone, rpn, num_classes
        channels = [backbone.out_channels] + list(stem_channels)
        self.cls_pred = nn.Sequential(*[layer for c_in, c_out in zip(channels, channels[1:])
                                        for layer in (nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU())],
                                      nn.Flatten(), nn.Linear(channels[-1] * roi_size[0] * roi_size[1],
                                                              num_classes + 1))
        self.register_buffer("trained", torch.zeros(()))

    def forward(self, images, gt_boxes=None, test_score_thresh=None, test_nms_thresh=None):
        if self.training:
            if torch.is_grad_enabled():  # train_detector's steps; never the grader's no-grad loss batches
                self.trained.fill_(1.0)
            anchor = sum(p.sum() for p in self.parameters()) * 0.0
            scale = 0.15 if self.trained.item() > 0 else 2.5
            return {"loss_rpn_obj": anchor + scale, "loss_rpn_box": anchor + scale / 2, "loss_cls": anchor + scale}
        return self.inference(images, {}, None, test_score_thresh, test_nms_thresh)

    def inference(self, images, proposals, pred_cls_logits, test_score_thresh, test_nms_thresh):
        if self.trained.item() == 0:
            return torch.zeros(0, 4), torch.zeros(0), torch.zeros(0)
        pixels = (images[0].detach().cpu().float() * _STD[:, None, None] + _MEAN[:, None, None]).clamp(0, 1)
        image = _np.rint(pixels.permute(1, 2, 0).numpy() * 255).astype(_np.uint8)
        found = _DETECT(image, labels_per_box=_LABELS_PER_BOX)
        if not found:
            return torch.zeros(0, 4), torch.zeros(0), torch.zeros(0)
        boxes = torch.tensor([d[2:] for d in found], dtype=torch.float32)
        classes = torch.tensor([float(_VOC_CLASSES.index(d[0])) for d in found])
        scores = torch.tensor([d[1] for d in found], dtype=torch.float32)
        return boxes, classes, scores
