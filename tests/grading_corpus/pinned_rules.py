"""The rules the assignment pins, each with the graded test that catches it and a bug that breaks it.

A rule is stated where students read it: a docstring or comment of the
starter code (`student/*.py`, generated from `reference/`) or the README's
"Conventions the assignment pins". `tests/test_pinned_rules.py` checks that
every quote occurs in its source, that every convention of the README is
covered, that every test is a graded test tagged with a definition the bug
breaks, and that `docs/grading_rules.md` is this table; the full grading
corpus (`GRADING_CORPUS=full`) checks that each bug loses points in its
rule's test. A rule that no test catches is a defect of the cases.

Regenerate the document: `PYTHONPATH=tests python -m grading_corpus.pinned_rules`.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from grading_corpus.plausible_bugs import REPOSITORY

DOCUMENT = REPOSITORY / "docs" / "grading_rules.md"
README = "README.md"
COMMON = "student/common.py"
DETECTOR = "student/two_stage_detector.py"
CONVENTIONS_HEADING = "## Conventions the assignment pins"


@dataclass(frozen=True)
class Rule:
    rule: str  # the rule, in a few words
    source: str  # the file students read it in (repository path)
    quote: str  # words of `source` stating it (compared without comment marks, whitespace collapsed)
    test: str  # the graded test function that fails when the rule is broken
    bug: str  # a plausible bug (grading_corpus.plausible_bugs) that breaks it


RULES = (
    # iou
    Rule("`iou[i, j]` pairs `boxes1[i]` with `boxes2[j]`", DETECTOR, "`iou[i, j]` giving IoU between i-th box",
         "test_iou_random_boxes_match_reference", "iou_boxes_swapped"),
    Rule("union = area1 + area2 - intersection", DETECTOR, "Compute intersection-over-union (IoU)",
         "test_iou_random_boxes_match_reference", "iou_union_without_intersection"),
    Rule("disjoint boxes have IoU 0", DETECTOR, "Compute intersection-over-union (IoU)",
         "test_iou_disjoint_touching_nested_identical", "iou_intersection_not_clamped"),
    Rule("intersection = width * height", DETECTOR, "Compute intersection-over-union (IoU)",
         "test_iou_random_boxes_match_reference", "iou_intersection_width_squared"),
    Rule("continuous coordinates: a box is x2 - x1 wide (no `+1` pixel)", DETECTOR,
         "Input box tensors must in XYXY format", "test_iou_random_boxes_match_reference", "iou_plus_one_pixel"),
    # nms
    Rule("`nms` discards IoU `> iou_threshold`; equal is kept", README,
         "`nms` discards boxes whose IoU is `> iou_threshold` (equal is kept)",
         "test_nms_threshold_is_strict", "nms_suppresses_at_equal_iou"),
    Rule("greedy from the highest score", COMMON, "Select the highest-scoring box among the remaining ones",
         "test_nms_small_literal_case", "nms_sorts_ascending"),
    Rule("`keep` holds indices into `boxes`", COMMON, "the indices of the elements that have been kept by NMS",
         "test_nms_small_literal_case", "nms_returns_sorted_positions"),
    Rule("IoU inside `nms` of continuous coordinates (no `+1` pixel)", COMMON, "Eliminate boxes with IoU > threshold",
         "test_nms_threshold_is_strict", "nms_plus_one_pixel_iou"),
    # locations
    Rule("locations are row-major, `x` varying fastest", README,
         "FPN locations are listed row-major over the feature map",
         "test_locations_of_non_square_levels_match_reference", "locations_y_varies_fastest"),
    Rule("each location is `(xc, yc)`", COMMON, "`(xc, yc) = (s * (w + 0.5), s * (h + 0.5))`",
         "test_locations_of_a_2x2_p5_map", "locations_as_yx"),
    Rule("location `(h, w)` is at `stride * (w + 0.5)`", README,
         "location `(h, w)` maps to `(stride * (w + 0.5), stride * (h + 0.5))`",
         "test_locations_of_a_2x2_p5_map", "locations_without_half_offset"),
    Rule("`stride * (w + 0.5)` for odd strides too (not `stride * w + stride // 2`)", COMMON,
         "`(xc, yc) = (s * (w + 0.5), s * (h + 0.5))`", "test_locations_of_a_2x2_p5_map",
         "locations_floor_half_stride"),
    # anchors
    Rule("aspect ratio is height / width: 0.5 is wide", README, "An anchor's aspect ratio is height / width",
         "test_aspect_ratio_half_gives_wide_anchors", "anchors_inverted_aspect_ratio"),
    Rule("anchor row `i * A + a`", DETECTOR, "Row `i * A + a` is anchor `a`",
         "test_anchor_rows_are_location_major", "anchors_ratio_major_order"),
    # deltas
    Rule("deltas are ordered `(dx, dy, dw, dh)`", DETECTOR, "are in `(dx, dy, dw, dh)` format",
         "test_get_deltas_random_foreground_match_reference", "deltas_dw_dh_swapped"),
    Rule("`dw = log(gt_w / anchor_w)`", DETECTOR, "dw = log(gt_w / anchor_w)",
         "test_get_deltas_random_foreground_match_reference", "deltas_without_log"),
    Rule("`dx` is the offset between centres", DETECTOR, "dx = (gt_xc - anchor_xc) / anchor_w",
         "test_get_deltas_random_foreground_match_reference", "deltas_from_corners"),
    Rule("background rows get `IGNORED_DELTA`", README, "`IGNORED_DELTA` (-1e8) for the regression",
         "test_get_deltas_background_and_neutral_rows", "deltas_background_not_ignored"),
    Rule("neutral rows get `IGNORED_DELTA`", DETECTOR, "must be `IGNORED_DELTA` (-1e8, just some LARGE negative number)",
         "test_get_deltas_background_and_neutral_rows", "deltas_neutral_not_ignored"),
    Rule("`rcnn_apply_deltas_to_anchors` inverts `rcnn_get_deltas_from_anchors` (`exp`)", DETECTOR,
         "Implement the inverse of `rcnn_get_deltas_from_anchors` here",
         "test_apply_deltas_random_match_reference", "apply_deltas_without_exp"),
    Rule("only `dw` and `dh` are clamped", DETECTOR, "Clamp dw and dh such that they would transform",
         "test_apply_deltas_clamps_without_modifying_inputs", "apply_deltas_clamps_dx_dy"),
    Rule("`rcnn_apply_deltas_to_anchors` does not modify its inputs", README,
         "`rcnn_apply_deltas_to_anchors` does not modify its inputs",
         "test_apply_deltas_clamps_without_modifying_inputs", "apply_deltas_clamps_input_in_place"),
    # backbone, RPN prediction network
    Rule("FPN top-down pathway: each level adds the upsampled coarser one", COMMON,
         "TODO: Fill output FPN features (p3, p4, p5)", "test_fpn_features_match_reference_with_its_weights",
         "fpn_without_top_down_pathway"),
    Rule("3x3 FPN output convs keep the size", COMMON, "stride=1 and padding such that features",
         "test_fpn_layers", "fpn_output_conv_without_padding"),
    Rule("RPN outputs: anchor `a` of location `i` is row `i * A + a`", README,
         "anchor `a` of location `i` is row `i * A + a`", "test_predictions_match_reference_with_its_weights",
         "rpn_objectness_anchor_major"),
    Rule("RPN stem: conv + ReLU per stem channel", DETECTOR, "alternating 3x3 convolution layers and RELU",
         "test_stem_layers", "rpn_stem_without_relu"),
    Rule("RPN convs initialised from N(0, 0.01), zero biases", DETECTOR, "mean = 0 and std dev = 0.01",
         "test_weight_initialisation", "rpn_stem_default_init"),
    # RPN
    Rule("proposals clamped: x to [0, width], y to [0, height]", DETECTOR, "clamp to image height and width",
         "test_proposals_match_reference", "rpn_clips_width_height_swapped"),
    Rule("keep the `pre_nms_topk` best proposals before NMS", DETECTOR,
         "retain `self.pre_nms_topk` proposals", "test_proposals_match_reference", "rpn_skips_pre_nms_topk"),
    Rule("RPN samples 50% foreground", DETECTOR, "RPN samples 50-50% foreground/background anchors",
         "test_training_samples_half_foreground", "rpn_foreground_fraction_quarter"),
    Rule("RPN trains on sampled foreground and background anchors", DETECTOR,
         "Sample a few anchor boxes for training", "test_losses_match_reference_when_every_anchor_is_sampled",
         "rpn_samples_only_foreground"),
    Rule("the box loss of background anchors is 0", DETECTOR, "Remember to set box loss for \"background\" anchors to 0",
         "test_losses_match_reference_when_every_anchor_is_sampled", "rpn_box_loss_on_background"),
    Rule("RPN losses per anchor (`reduction=\"none\"`), summed then divided by the batch", DETECTOR,
         "Keep `reduction=\"none\"`: both are summed and averaged below",
         "test_losses_match_reference_when_every_anchor_is_sampled", "rpn_objectness_loss_averaged"),
    # FasterRCNN
    Rule("second stage: IoU > 0.5 foreground, otherwise background, no neutral", DETECTOR,
         "that IoU > 0.5 is foreground, otherwise background", "test_second_stage_loss_with_two_images",
         "second_stage_matches_with_rpn_thresholds"),
    Rule("labels and RoI features share one order (image by image)", README,
         "so labels and RoI features share one order", "test_second_stage_loss_with_two_images",
         "seed_roi_features_level_major"),
    Rule("labels shifted by +1: background is class 0", DETECTOR, "you may shift class labels by +1",
         "test_second_stage_loss_with_two_images", "loss_labels_not_shifted"),
    Rule("the classification loss is `F.cross_entropy`'s mean", DETECTOR,
         "compute cross entropy loss - use `F.cross_entropy`", "test_second_stage_loss_with_two_images",
         "loss_cls_summed"),
    Rule("RoI-Align with `spatial_scale = 1 / stride`", DETECTOR, "while `level_feats` is smaller by `level_stride`",
         "test_roi_align_features", "roi_align_stride_as_scale"),
    Rule("RoI-Align with `aligned=True`", DETECTOR, "Use `aligned=True`", "test_roi_align_features",
         "roi_align_not_aligned"),
    Rule("each box takes its most probable foreground class", README,
         "each box takes its most probable *foreground* class", "test_inference_classes_scores_and_thresholds",
         "inference_argmax_with_background"),
    Rule("predicted classes are 0..C-1", DETECTOR, "Remember to shift the predicted IDs",
         "test_inference_classes_scores_and_thresholds", "inference_classes_not_shifted"),
    Rule("boxes scoring `> test_score_thresh` are kept", README, "boxes scoring `> test_score_thresh` are kept",
         "test_inference_score_threshold_is_strict", "inference_score_threshold_inclusive"),
)

# Conventions of the README that the unit tests do not grade, and why.
NOT_UNIT_GRADED = {
    "Both splits are resized and centre-cropped alike.": "the provided dataset code, judged by the notebook stage",
    "The backbone uses torchvision's `weights=` API.": "provided code; tests/test_student_environment.py",
    "Matching: IoU `<= low` is background": "provided code (`rcnn_match_anchors_to_gt`), graded through RPN's losses",
}


def normalised(text: str) -> str:
    """`text` with comment marks at line starts removed and whitespace collapsed."""
    return " ".join(re.sub(r"(?m)^\s*#+|#+\s*$", " ", text).split())


def readme_conventions() -> list[str]:
    """The bullets of the README's "Conventions the assignment pins", normalised."""
    text = (REPOSITORY / README).read_text()
    section = text.split(CONVENTIONS_HEADING, 1)[1].split("\n## ", 1)[0]
    return [normalised(bullet) for bullet in re.split(r"(?m)^- ", section)[1:]]


def render_markdown() -> str:
    """docs/grading_rules.md."""
    lines = [
        "# Pinned rules and the tests that catch them",
        "",
        "<!-- generated by `PYTHONPATH=tests python -m grading_corpus.pinned_rules` from "
        "tests/grading_corpus/pinned_rules.py; tests/test_pinned_rules.py checks it -->",
        "",
        "Every rule the starter code's docstrings and the README's conventions state, the graded test that "
        "fails when it is broken, and a plausible bug of the grading corpus that breaks it (it loses points "
        "in that test on every case seed: `GRADING_CORPUS=full`).",
        "",
        "| rule | stated in | graded test | corpus bug |",
        "| --- | --- | --- | --- |",
    ]
    for rule in RULES:
        lines.append(f"| {rule.rule} | `{rule.source}` | `{rule.test}` | `{rule.bug}` |")
    lines += ["", "README conventions graded elsewhere:", ""]
    lines += [f"- {start} ({why})" for start, why in NOT_UNIT_GRADED.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    DOCUMENT.write_text(render_markdown())
    print(f"wrote {DOCUMENT.relative_to(REPOSITORY)}", file=sys.stderr)
