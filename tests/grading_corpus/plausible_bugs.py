"""Plausible student bugs: small, named source transformations of the reference.

Each `Bug` is one mistake a student could make, written as exact text
replacements in `reference/common.py` or `reference/two_stage_detector.py`.
Every replaced text must occur exactly once in the reference
(`apply_edits` raises `CorpusError` otherwise), so an edit of the reference
breaks the corpus loudly instead of silently grading an unchanged copy.

A bug declares:

* `breaks`: the graded definitions whose tests must lose points (at least one
  test tagged with each must score below its maximum);
* `hint` (optional): words that the feedback of one of those failing tests
  must hold, the hint naming this very mistake;
* `keeps`: the graded definitions whose tests must all keep full marks. By
  default every graded definition except the broken ones and those that call
  them in the student's own code (`CALLERS`): a bug in `iou` may cost points
  in the `RPN` and `FasterRCNN` tests, which match anchors with the student's
  `iou`, but nowhere else.

Edits stay inside `# BEGIN SOLUTION` / `# END SOLUTION` regions (the code a
student writes) unless the bug says why not in `outside_solution`: some
mistakes live in the provided scaffolding around a TODO, which students may
edit too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
REFERENCE_DIR = REPOSITORY / "reference"
COMMON = "common.py"
DETECTOR = "two_stage_detector.py"
SUBMISSION_FILES = (COMMON, DETECTOR)

GRADED_DEFINITIONS = (
    "iou",
    "nms",
    "get_fpn_location_coords",
    "generate_fpn_anchors",
    "rcnn_get_deltas_from_anchors",
    "rcnn_apply_deltas_to_anchors",
    "DetectorBackboneWithFPN",
    "RPNPredictionNetwork",
    "RPN",
    "FasterRCNN",
)

# Graded definition -> the graded definitions whose reference code calls it
# (directly or not). A bug in a definition may legitimately cost points there.
CALLERS = {
    "iou": ("RPN", "FasterRCNN"),  # rcnn_match_anchors_to_gt, in training
    "nms": ("FasterRCNN",),  # class_spec_nms, at inference
    "get_fpn_location_coords": ("RPN", "FasterRCNN"),
    "generate_fpn_anchors": ("RPN", "FasterRCNN"),
    "rcnn_get_deltas_from_anchors": ("RPN", "FasterRCNN"),  # RPN training targets
    "rcnn_apply_deltas_to_anchors": ("RPN", "FasterRCNN"),  # RPN proposals
    "DetectorBackboneWithFPN": ("FasterRCNN",),
    "RPNPredictionNetwork": ("RPN", "FasterRCNN"),
    "RPN": ("FasterRCNN",),
    "FasterRCNN": (),
}


class CorpusError(Exception):
    """A transformation no longer applies to the reference: update the corpus."""


@dataclass(frozen=True)
class Edit:
    """Replace the text `old` (which must occur exactly once in `file`) by `new`."""

    file: str
    old: str
    new: str


@dataclass(frozen=True)
class Bug:
    name: str
    description: str
    edits: tuple[Edit, ...]
    breaks: tuple[str, ...]
    outside_solution: str = ""  # why an edit leaves the solution regions, if one does
    keeps: tuple[str, ...] = field(default=None)  # default: see the module docstring
    hint: str = ""  # words the feedback of a failing test tagged with `breaks` must hold (the intended hint)

    def __post_init__(self) -> None:
        if self.keeps is None:
            affected = set(self.breaks) | {caller for name in self.breaks for caller in CALLERS[name]}
            object.__setattr__(self, "keeps", tuple(n for n in GRADED_DEFINITIONS if n not in affected))


def reference_sources() -> dict[str, str]:
    return {name: (REFERENCE_DIR / name).read_text() for name in SUBMISSION_FILES}


def apply_edits(sources: dict[str, str], edits: tuple[Edit, ...]) -> dict[str, str]:
    """`sources` (file name -> text) with every edit applied, in order."""
    sources = dict(sources)
    for edit in edits:
        count = sources[edit.file].count(edit.old)
        if count != 1:
            raise CorpusError(f"{edit.file}: expected exactly one occurrence of {edit.old!r}, found {count}")
        sources[edit.file] = sources[edit.file].replace(edit.old, edit.new)
    return sources


def solution_regions(source: str) -> list[tuple[int, int]]:
    """Character spans between `# BEGIN SOLUTION` and `# END SOLUTION` lines."""
    return [(m.start(), m.end()) for m in re.finditer(r"# BEGIN SOLUTION\n.*?# END SOLUTION", source, re.S)]


def edit_is_inside_solution(source: str, edit: Edit) -> bool:
    start = source.index(edit.old)
    return any(low <= start and start + len(edit.old) <= high for low, high in solution_regions(source))


# ------------------------------------------------------------------------------------ iou
IOU_UNION_WITHOUT_INTERSECTION = Bug(
    name="iou_union_without_intersection",
    description="The union is area1 + area2: the intersection is counted twice.",
    edits=(Edit(
        DETECTOR,
        "    iou = inter / (area1[:, None] + area2[None, :] - inter)\n",
        "    iou = inter / (area1[:, None] + area2[None, :])\n",
    ),),
    breaks=("iou",),
)

IOU_INTERSECTION_NOT_CLAMPED = Bug(
    name="iou_intersection_not_clamped",
    description="No clamp(min=0) on the intersection's width and height: disjoint boxes get non-zero IoU.",
    edits=(Edit(
        DETECTOR,
        "    wh = (bottom_right - top_left).clamp(min=0)  # [M,N,2]\n",
        "    wh = bottom_right - top_left  # [M,N,2]\n",
    ),),
    breaks=("iou",),
)

IOU_BOXES_SWAPPED = Bug(
    name="iou_boxes_swapped",
    description="boxes1 and boxes2 swapped: the result is the (N, M) transpose.",
    edits=(Edit(
        DETECTOR,
        "    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])  # [M]\n",
        "    boxes1, boxes2 = boxes2, boxes1\n"
        "    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])  # [M]\n",
    ),),
    breaks=("iou",),
)

IOU_INTERSECTION_WIDTH_SQUARED = Bug(
    name="iou_intersection_width_squared",
    description="The intersection's area is width * width: a typo for width * height.",
    edits=(Edit(
        DETECTOR,
        "    inter = wh[..., 0] * wh[..., 1]  # [M,N]\n",
        "    inter = wh[..., 0] * wh[..., 0]  # [M,N]\n",
    ),),
    breaks=("iou",),
    hint="the width was used twice",
)

IOU_PLUS_ONE_PIXEL = Bug(
    name="iou_plus_one_pixel",
    description="The `+1` pixel convention of integer pixel boxes: every side is x2 - x1 + 1.",
    edits=(
        Edit(DETECTOR,
             "    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])  # [M]\n",
             "    area1 = (boxes1[:, 2] - boxes1[:, 0] + 1) * (boxes1[:, 3] - boxes1[:, 1] + 1)  # [M]\n"),
        Edit(DETECTOR,
             "    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])  # [N]\n",
             "    area2 = (boxes2[:, 2] - boxes2[:, 0] + 1) * (boxes2[:, 3] - boxes2[:, 1] + 1)  # [N]\n"),
        Edit(DETECTOR,
             "    wh = (bottom_right - top_left).clamp(min=0)  # [M,N,2]\n",
             "    wh = (bottom_right - top_left + 1).clamp(min=0)  # [M,N,2]\n"),
    ),
    breaks=("iou",),
    hint="pixel convention",
)

# ------------------------------------------------------------------------------------ nms
NMS_SUPPRESSES_AT_EQUAL_IOU = Bug(
    name="nms_suppresses_at_equal_iou",
    description="Suppresses boxes with IoU >= threshold; a box whose IoU equals the threshold must be kept.",
    edits=(Edit(
        COMMON,
        "        suppressed[rank + 1 :] |= overlap > iou_threshold\n",
        "        suppressed[rank + 1 :] |= overlap >= iou_threshold\n",
    ),),
    breaks=("nms",),
)

NMS_SORTS_ASCENDING = Bug(
    name="nms_sorts_ascending",
    description="Sorts scores in ascending order: the lowest-scoring box suppresses the best ones.",
    edits=(Edit(
        COMMON,
        "    order = torch.sort(scores, descending=True, stable=True).indices\n",
        "    order = torch.sort(scores, descending=False, stable=True).indices\n",
    ),),
    breaks=("nms",),
)

NMS_RETURNS_SORTED_POSITIONS = Bug(
    name="nms_returns_sorted_positions",
    description="Returns positions in the score-sorted order instead of indices into the original boxes.",
    edits=(Edit(COMMON, "        kept.append(index)\n", "        kept.append(rank)\n"),),
    breaks=("nms",),
)

NMS_PLUS_ONE_PIXEL_IOU = Bug(
    name="nms_plus_one_pixel_iou",
    description="The IoU inside nms uses the `+1` pixel convention (x2 - x1 + 1), as some C code does.",
    edits=(
        Edit(COMMON, "    areas = (x2 - x1) * (y2 - y1)\n", "    areas = (x2 - x1 + 1) * (y2 - y1 + 1)\n"),
        Edit(COMMON,
             "        inter_w = (torch.minimum(x2[index], x2[rest]) - torch.maximum(x1[index], x1[rest])).clamp(min=0)\n"
             "        inter_h = (torch.minimum(y2[index], y2[rest]) - torch.maximum(y1[index], y1[rest])).clamp(min=0)\n",
             "        inter_w = (torch.minimum(x2[index], x2[rest]) - torch.maximum(x1[index], x1[rest]) + 1).clamp(min=0)\n"
             "        inter_h = (torch.minimum(y2[index], y2[rest]) - torch.maximum(y1[index], y1[rest]) + 1).clamp(min=0)\n"),
    ),
    breaks=("nms",),
    hint="pixel convention",
)

# ------------------------------------------------------------------------ FPN locations
LOCATIONS_Y_VARIES_FASTEST = Bug(
    name="locations_y_varies_fastest",
    description='meshgrid with indexing="xy": locations are listed column by column (y varies fastest).',
    edits=(Edit(
        COMMON,
        '        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")  # [H,W] each\n',
        '        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="xy")  # [W,H] each\n',
    ),),
    breaks=("get_fpn_location_coords",),
)

LOCATIONS_WITHOUT_HALF_OFFSET = Bug(
    name="locations_without_half_offset",
    description="Locations at the top-left corner of each cell (s * w) instead of its centre (s * (w + 0.5)).",
    edits=(Edit(
        COMMON,
        "        ys = (torch.arange(height, dtype=dtype, device=device) + 0.5) * level_stride\n"
        "        xs = (torch.arange(width, dtype=dtype, device=device) + 0.5) * level_stride\n",
        "        ys = torch.arange(height, dtype=dtype, device=device) * level_stride\n"
        "        xs = torch.arange(width, dtype=dtype, device=device) * level_stride\n",
    ),),
    breaks=("get_fpn_location_coords",),
)

LOCATIONS_AS_YX = Bug(
    name="locations_as_yx",
    description="Each location is (y, x) instead of (x, y).",
    edits=(Edit(
        COMMON,
        "            [grid_x.reshape(-1), grid_y.reshape(-1)], dim=1\n",
        "            [grid_y.reshape(-1), grid_x.reshape(-1)], dim=1\n",
    ),),
    breaks=("get_fpn_location_coords",),
)

LOCATIONS_FLOOR_HALF_STRIDE = Bug(
    name="locations_floor_half_stride",
    description="Centres at stride * w + stride // 2: right for even strides, half a pixel off for odd ones.",
    edits=(Edit(
        COMMON,
        "        ys = (torch.arange(height, dtype=dtype, device=device) + 0.5) * level_stride\n"
        "        xs = (torch.arange(width, dtype=dtype, device=device) + 0.5) * level_stride\n",
        "        ys = torch.arange(height, dtype=dtype, device=device) * level_stride + level_stride // 2\n"
        "        xs = torch.arange(width, dtype=dtype, device=device) * level_stride + level_stride // 2\n",
    ),),
    breaks=("get_fpn_location_coords",),
    hint="stride // 2 rounds down",
)

# ------------------------------------------------------------------------------ anchors
ANCHORS_INVERTED_ASPECT_RATIO = Bug(
    name="anchors_inverted_aspect_ratio",
    description="width = sqrt(area * ratio): ratio 0.5 gives a tall anchor instead of a wide one.",
    edits=(Edit(
        DETECTOR,
        "            width = math.sqrt(area / aspect_ratio)\n",
        "            width = math.sqrt(area * aspect_ratio)\n",
    ),),
    breaks=("generate_fpn_anchors",),
)

ANCHORS_RATIO_MAJOR_ORDER = Bug(
    name="anchors_ratio_major_order",
    description="Anchors flattened in (A, HW) order: row a * HW + i instead of i * A + a.",
    edits=(Edit(
        DETECTOR,
        "        anchor_boxes = anchor_boxes.permute(1, 0, 2).contiguous().view(-1, 4)\n",
        "        anchor_boxes = anchor_boxes.contiguous().view(-1, 4)\n",
    ),),
    breaks=("generate_fpn_anchors",),
    outside_solution="the flattening is scaffolding right after the TODO; forgetting its permute is the mistake",
)

# ------------------------------------------------------------------------------- deltas
DELTAS_DW_DH_SWAPPED = Bug(
    name="deltas_dw_dh_swapped",
    description="Deltas ordered (dx, dy, dh, dw).",
    edits=(Edit(
        DETECTOR,
        "        [(box_center - anchor_center) / anchor_wh, torch.log(box_wh / anchor_wh)],\n",
        "        [(box_center - anchor_center) / anchor_wh, torch.log(box_wh / anchor_wh).flip(1)],\n",
    ),),
    breaks=("rcnn_get_deltas_from_anchors",),
)

DELTAS_WITHOUT_LOG = Bug(
    name="deltas_without_log",
    description="dw = gt_w / anchor_w without the log.",
    edits=(Edit(
        DETECTOR,
        "        [(box_center - anchor_center) / anchor_wh, torch.log(box_wh / anchor_wh)],\n",
        "        [(box_center - anchor_center) / anchor_wh, box_wh / anchor_wh],\n",
    ),),
    breaks=("rcnn_get_deltas_from_anchors",),
)

DELTAS_FROM_CORNERS = Bug(
    name="deltas_from_corners",
    description="dx, dy computed from the top-left corners instead of the centres.",
    edits=(Edit(
        DETECTOR,
        "        [(box_center - anchor_center) / anchor_wh, torch.log(box_wh / anchor_wh)],\n",
        "        [(boxes[:, :2] - anchors[:, :2]) / anchor_wh, torch.log(box_wh / anchor_wh)],\n",
    ),),
    breaks=("rcnn_get_deltas_from_anchors",),
)

DELTAS_BACKGROUND_NOT_IGNORED = Bug(
    name="deltas_background_not_ignored",
    description="Background and neutral rows are not set to IGNORED_DELTA (-1e8).",
    edits=(Edit(DETECTOR, "    deltas[not_foreground] = IGNORED_DELTA\n", ""),),
    breaks=("rcnn_get_deltas_from_anchors",),
)

DELTAS_NEUTRAL_NOT_IGNORED = Bug(
    name="deltas_neutral_not_ignored",
    description="Only background rows (-1) get IGNORED_DELTA; neutral rows (-1e8) get garbage deltas.",
    edits=(Edit(
        DETECTOR,
        "    not_foreground = (boxes == BACKGROUND_LABEL).all(dim=1) | (\n"
        "        boxes == NEUTRAL_LABEL\n"
        "    ).all(dim=1)\n",
        "    not_foreground = (boxes == BACKGROUND_LABEL).all(dim=1)\n",
    ),),
    breaks=("rcnn_get_deltas_from_anchors",),
)

APPLY_DELTAS_CLAMPS_INPUT_IN_PLACE = Bug(
    name="apply_deltas_clamps_input_in_place",
    description="Clamps dw, dh in place: the caller's deltas tensor is modified (outputs are right).",
    edits=(Edit(
        DETECTOR,
        "    deltas = torch.cat(\n"
        "        [deltas[:, :2], deltas[:, 2:].clamp(max=DELTA_SCALE_CLAMP)], dim=1\n"
        "    )\n",
        "    deltas[:, 2:] = deltas[:, 2:].clamp(max=DELTA_SCALE_CLAMP)\n",
    ),),
    breaks=("rcnn_apply_deltas_to_anchors",),
    outside_solution="the clamp is provided code; the seed clamped in place, and students may write it so",
)

APPLY_DELTAS_CLAMPS_DX_DY = Bug(
    name="apply_deltas_clamps_dx_dy",
    description="Clamps all four deltas at log(224 / 8): large centre offsets dx, dy are cut too.",
    edits=(Edit(
        DETECTOR,
        "    deltas = torch.cat(\n"
        "        [deltas[:, :2], deltas[:, 2:].clamp(max=DELTA_SCALE_CLAMP)], dim=1\n"
        "    )\n",
        "    deltas = deltas.clamp(max=DELTA_SCALE_CLAMP)\n",
    ),),
    breaks=("rcnn_apply_deltas_to_anchors",),
    outside_solution="the clamp is provided code; a student who rewrites it may clamp all four columns",
    hint="dx and dy were clamped too",
)

APPLY_DELTAS_WITHOUT_EXP = Bug(
    name="apply_deltas_without_exp",
    description="Scales the anchor size by dw, dh instead of exp(dw), exp(dh).",
    edits=(Edit(
        DETECTOR,
        "    half_wh = 0.5 * anchor_wh * torch.exp(deltas[:, 2:])\n",
        "    half_wh = 0.5 * anchor_wh * deltas[:, 2:]\n",
    ),),
    breaks=("rcnn_apply_deltas_to_anchors",),
)

# ----------------------------------------------------------------------------- backbone
FPN_WITHOUT_TOP_DOWN_PATHWAY = Bug(
    name="fpn_without_top_down_pathway",
    description="Each FPN level is its own lateral: the upsampled coarser level is never added.",
    edits=(Edit(
        COMMON,
        "            if merged is not None:\n"
        "                lateral = lateral + F.interpolate(\n"
        "                    merged, size=lateral.shape[-2:], mode=\"nearest\"\n"
        "                )\n",
        "",
    ),),
    breaks=("DetectorBackboneWithFPN",),
)

FPN_OUTPUT_CONV_WITHOUT_PADDING = Bug(
    name="fpn_output_conv_without_padding",
    description="3x3 output convs without padding: every FPN level shrinks by 2 pixels.",
    edits=(Edit(
        COMMON,
        "                out_channels, out_channels, kernel_size=3, padding=1\n",
        "                out_channels, out_channels, kernel_size=3\n",
    ),),
    breaks=("DetectorBackboneWithFPN",),
)

# ------------------------------------------------------------------ RPN prediction network
RPN_OBJECTNESS_ANCHOR_MAJOR = Bug(
    name="rpn_objectness_anchor_major",
    description="Objectness (B, A, H, W) flattened without the permute: row a * HW + i, not i * A + a.",
    edits=(Edit(
        DETECTOR,
        "                self.pred_obj(stem).permute(0, 2, 3, 1).reshape(batch_size, -1)\n",
        "                self.pred_obj(stem).reshape(batch_size, -1)\n",
    ),),
    breaks=("RPNPredictionNetwork",),
)

RPN_STEM_WITHOUT_RELU = Bug(
    name="rpn_stem_without_relu",
    description="The RPN stem stacks convolutions without ReLU between them.",
    edits=(Edit(DETECTOR, "            stem_rpn += [conv, nn.ReLU()]\n", "            stem_rpn += [conv]\n"),),
    breaks=("RPNPredictionNetwork",),
)

RPN_STEM_DEFAULT_INIT = Bug(
    name="rpn_stem_default_init",
    description="The RPN stem keeps PyTorch's default initialisation instead of N(0, 0.01) weights and zero biases.",
    edits=(Edit(
        DETECTOR,
        "            nn.init.normal_(conv.weight, mean=0.0, std=0.01)\n"
        "            nn.init.zeros_(conv.bias)\n"
        "            stem_rpn += [conv, nn.ReLU()]\n",
        "            stem_rpn += [conv, nn.ReLU()]\n",
    ),),
    breaks=("RPNPredictionNetwork",),
)

# ----------------------------------------------------------------------------------- RPN
RPN_BOX_LOSS_ON_BACKGROUND = Bug(
    name="rpn_box_loss_on_background",
    description="The box loss of background anchors is not zeroed (it is |delta + 1e8|).",
    edits=(Edit(DETECTOR, "        loss_box[target_deltas == IGNORED_DELTA] = 0.0\n", ""),),
    breaks=("RPN",),
)

RPN_FOREGROUND_FRACTION_QUARTER = Bug(
    name="rpn_foreground_fraction_quarter",
    description="RPN samples 25% foreground (the second stage's fraction) instead of 50%.",
    edits=(Edit(
        DETECTOR,
        "            matched_gt_boxes, self.batch_size_per_image * num_images, fg_fraction=0.5\n",
        "            matched_gt_boxes, self.batch_size_per_image * num_images, fg_fraction=0.25\n",
    ),),
    breaks=("RPN",),
)

RPN_SAMPLES_ONLY_FOREGROUND = Bug(
    name="rpn_samples_only_foreground",
    description="RPN trains on the sampled foreground anchors only; the background samples are dropped.",
    edits=(Edit(
        DETECTOR,
        "        sampled = torch.cat([fg_idx, bg_idx])\n        sampled_gt_boxes = matched_gt_boxes[sampled]\n",
        "        sampled = fg_idx\n        sampled_gt_boxes = matched_gt_boxes[sampled]\n",
    ),),
    breaks=("RPN",),
)

RPN_OBJECTNESS_WITHOUT_SAMPLING = Bug(
    name="rpn_objectness_without_sampling",
    description="RPN losses over every anchor (neutral ones as background) instead of the 50/50 sample.",
    edits=(Edit(
        DETECTOR,
        """\
        fg_idx, bg_idx = sample_rpn_training(
            matched_gt_boxes, self.batch_size_per_image * num_images, fg_fraction=0.5
        )
        sampled = torch.cat([fg_idx, bg_idx])
""",
        """\
        sampled = torch.arange(len(matched_gt_boxes), device=matched_gt_boxes.device)
""",
    ),),
    breaks=("RPN",),
)

RPN_CLIPS_WIDTH_HEIGHT_SWAPPED = Bug(
    name="rpn_clips_width_height_swapped",
    description="Proposals clamped with x to [0, height] and y to [0, width]: right for square images only.",
    edits=(Edit(
        DETECTOR,
        "                boxes[:, 0::2] = boxes[:, 0::2].clamp(min=0, max=image_w)\n"
        "                boxes[:, 1::2] = boxes[:, 1::2].clamp(min=0, max=image_h)\n",
        "                boxes[:, 0::2] = boxes[:, 0::2].clamp(min=0, max=image_h)\n"
        "                boxes[:, 1::2] = boxes[:, 1::2].clamp(min=0, max=image_w)\n",
    ),),
    breaks=("RPN",),
    hint="clamped to the wrong side",
)

RPN_SKIPS_PRE_NMS_TOPK = Bug(
    name="rpn_skips_pre_nms_topk",
    description="NMS over every proposal of a level: the pre-NMS top-k is skipped (only sorted).",
    edits=(Edit(
        DETECTOR,
        "                num_topk = min(self.pre_nms_topk, boxes.shape[0])\n",
        "                num_topk = boxes.shape[0]\n",
    ),),
    breaks=("RPN",),
    hint="BEFORE NMS",
)

RPN_OBJECTNESS_LOSS_AVERAGED = Bug(
    name="rpn_objectness_loss_averaged",
    description="Objectness BCE with its default reduction (mean): the provided sum / batch then divides again.",
    edits=(Edit(
        DETECTOR,
        "            pred_obj_logits[sampled], target_objectness, reduction=\"none\"\n",
        "            pred_obj_logits[sampled], target_objectness\n",
    ),),
    breaks=("RPN",),
    hint="keep reduction='none'",
)

# ---------------------------------------------------------------------------- FasterRCNN
ROI_ALIGN_STRIDE_AS_SCALE = Bug(
    name="roi_align_stride_as_scale",
    description="roi_align with spatial_scale = stride instead of 1 / stride.",
    edits=(Edit(
        DETECTOR,
        "                spatial_scale=1.0 / level_stride,\n",
        "                spatial_scale=level_stride,\n",
    ),),
    breaks=("FasterRCNN",),
)

ROI_ALIGN_WITHOUT_SCALE = Bug(
    name="roi_align_without_scale",
    description="roi_align without spatial_scale (default 1): image-pixel boxes read from stride-s features.",
    edits=(Edit(DETECTOR, "                spatial_scale=1.0 / level_stride,\n", ""),),
    breaks=("FasterRCNN",),
)

ROI_ALIGN_NOT_ALIGNED = Bug(
    name="roi_align_not_aligned",
    description="roi_align with aligned=False (the TODO asks for aligned=True).",
    edits=(Edit(DETECTOR, "                aligned=True,\n", "                aligned=False,\n"),),
    breaks=("FasterRCNN",),
)

INFERENCE_CLASSES_NOT_SHIFTED = Bug(
    name="inference_classes_not_shifted",
    description="Inference predicts classes 1..C: the background shift is not undone.",
    edits=(Edit(
        DETECTOR,
        "        pred_scores, pred_classes = class_probs[:, 1:].max(dim=1)\n",
        "        pred_scores, pred_classes = class_probs[:, 1:].max(dim=1)\n        pred_classes = pred_classes + 1\n",
    ),),
    breaks=("FasterRCNN",),
)

INFERENCE_ARGMAX_WITH_BACKGROUND = Bug(
    name="inference_argmax_with_background",
    description="Argmax over all C + 1 columns, then shifted by -1: boxes most likely background get class -1.",
    edits=(Edit(
        DETECTOR,
        "        pred_scores, pred_classes = class_probs[:, 1:].max(dim=1)\n",
        "        pred_scores, pred_classes = class_probs.max(dim=1)\n        pred_classes = pred_classes - 1\n",
    ),),
    breaks=("FasterRCNN",),
)

INFERENCE_SCORE_THRESHOLD_INCLUSIVE = Bug(
    name="inference_score_threshold_inclusive",
    description="Keeps boxes whose score is >= the threshold; the docstring says higher than it.",
    edits=(Edit(
        DETECTOR,
        "            keep = pred_scores > test_score_thresh\n",
        "            keep = pred_scores >= test_score_thresh\n",
    ),),
    breaks=("FasterRCNN",),
)

LOSS_LABELS_NOT_SHIFTED = Bug(
    name="loss_labels_not_shifted",
    description="Second-stage labels not shifted by +1: background is -1 (out of range), class c trains column c.",
    edits=(Edit(
        DETECTOR,
        "        gt_classes = (matched_gt_boxes[:, 4] + 1).to(torch.int64)\n",
        "        gt_classes = matched_gt_boxes[:, 4].to(torch.int64)\n",
    ),),
    breaks=("FasterRCNN",),
)

SECOND_STAGE_MATCHES_WITH_RPN_THRESHOLDS = Bug(
    name="second_stage_matches_with_rpn_thresholds",
    description="Proposals matched with the RPN's IoU thresholds (0.3, 0.6): IoU in between is neutral, not trained.",
    edits=(Edit(
        DETECTOR,
        "                    proposals_per_image[_idx], gt_boxes[_idx], iou_thresholds=(0.5, 0.5)\n",
        "                    proposals_per_image[_idx], gt_boxes[_idx], iou_thresholds=(0.3, 0.6)\n",
    ),),
    breaks=("FasterRCNN",),
    hint="RPN's IoU thresholds",
)

LOSS_CLS_SUMMED = Bug(
    name="loss_cls_summed",
    description="Second-stage cross-entropy summed over the RoIs instead of averaged.",
    edits=(Edit(
        DETECTOR,
        "        loss_cls = F.cross_entropy(pred_cls_logits, gt_classes)\n",
        "        loss_cls = F.cross_entropy(pred_cls_logits, gt_classes, reduction=\"sum\")\n",
    ),),
    breaks=("FasterRCNN",),
    hint="summed over the",
)

# The seed's structure: RoI features pooled level by level (images inside each
# level) and concatenated over levels, while the matched labels are
# concatenated image by image. With a batch of one image the orders agree.
SEED_ROI_FEATURES_LEVEL_MAJOR = Bug(
    name="seed_roi_features_level_major",
    description="The seed's pairing bug: RoI features level-major, labels image-major (batch > 1 misaligned).",
    edits=(Edit(
        DETECTOR,
        """\
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
""",
        """\
        # The seed: pool each level for all images, then concatenate levels.
        roi_feats_per_fpn_level = {}
        for level_id, level_name in enumerate(level_names):
""",
    ), Edit(
        DETECTOR,
        """\
            level_feats = feats_per_fpn_level[level_name]
            level_stride = self.backbone.fpn_strides[level_name]
            is_level = roi_levels == level_id
            level_rois = rois[is_level]
            level_roi_feats = None
""",
        """\
            level_feats = feats_per_fpn_level[level_name]
            level_stride = self.backbone.fpn_strides[level_name]
            level_rois = [
                props[levels == level_id]
                for props, levels in zip(proposals_per_image, levels_per_image)
            ]
            level_roi_feats = None
""",
    ), Edit(
        DETECTOR,
        """\
            roi_feats[is_level] = level_roi_feats

""",
        """\
            roi_feats_per_fpn_level[level_name] = level_roi_feats

        roi_feats = self._cat_across_fpn_levels(roi_feats_per_fpn_level, dim=0)

""",
    )),
    breaks=("FasterRCNN",),
    outside_solution="the seed's FasterRCNN.forward was structured this way around the RoI-Align TODO",
)

BUGS: tuple[Bug, ...] = tuple(value for value in list(globals().values()) if isinstance(value, Bug))
BUGS_BY_NAME = {bug.name: bug for bug in BUGS}
