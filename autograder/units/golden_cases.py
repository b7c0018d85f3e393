"""The golden cases: fixed inputs whose reference outputs are stored in
`autograder/fixtures/` by `python -m data_scripts.golden_fixtures`.

A case is a probe call (probe name and keyword arguments) and the part of
the reply that is judged. Inputs come from fixed seeds, so regenerating
gives the same inputs; the stored replies change only when the reference
does, and only through that command.
"""
from dataclasses import dataclass, field

import torch

from autograder.units import network_cases as net
from autograder.units.cases import clustered_boxes, distinct_scores, matched_gt_boxes, random_boxes

GOLDEN_SEED = 20240501


@dataclass(frozen=True)
class GoldenCase:
    definition: str  # the graded definition (a test tag)
    name: str
    probe: str
    kwargs: dict = field(hash=False)
    reply_key: str  # the part of the probe's reply that is judged
    as_row_sets: bool = False  # compare (N, D) tensors as sets of rows


def _call(definition, name, *args, **kwargs):
    return GoldenCase(definition, name, "definitions.call",
                      dict(name=definition, args=list(args), kwargs=kwargs), reply_key="value")


def golden_cases(reference) -> list:
    """Every golden case; `reference` builds the inputs that need it (anchors)."""
    rng = torch.Generator().manual_seed(GOLDEN_SEED)
    anchors = random_boxes(16, rng)
    gt = matched_gt_boxes(anchors, rng)
    gt[[2, 7]] = -1.0
    gt[[11]] = -1e8
    shapes = {"p3": (1, 8, 6, 10), "p4": (1, 8, 3, 5), "p5": (1, 8, 2, 3)}
    strides = {"p3": 8, "p4": 16, "p5": 32}
    locations = reference.get_fpn_location_coords(shapes, strides)
    rpn = net.rpn_case(reference, rng)
    proposals, logits = net.inference_case(rng)
    cases = [
        _call("iou", "random_7x11", random_boxes(7, rng), random_boxes(11, rng)),
        _call("nms", "clustered_80", clustered_boxes(80, rng), distinct_scores(80, rng), 0.5),
        _call("get_fpn_location_coords", "three_levels", shapes, strides),
        _call("generate_fpn_anchors", "three_levels", locations, strides, 3, [0.5, 1.0, 2.0]),
        _call("rcnn_get_deltas_from_anchors", "mixed_rows", anchors, gt),
        _call("rcnn_apply_deltas_to_anchors", "random", torch.randn(16, 4, generator=rng) * 0.5, anchors),
        GoldenCase("RPN", "proposals", "networks.rpn", dict(
            init=net.rpn_init(16), feats=rpn["feats"], strides=net.STRIDES, predictions=rpn["predictions"],
            locations=rpn["locations"], anchors=rpn["anchors"], training=False), reply_key="output",
            as_row_sets=True),
        GoldenCase("RPN", "losses_exhaustive", "networks.rpn", dict(
            init=net.rpn_init(net.EXHAUSTIVE), feats=rpn["feats"], strides=net.STRIDES,
            predictions=rpn["predictions"], locations=rpn["locations"], anchors=rpn["anchors"],
            training=True, gt_boxes=rpn["gt_boxes"]), reply_key="output"),
        GoldenCase("FasterRCNN", "inference", "networks.faster_rcnn_inference", dict(
            num_classes=net.NUM_CLASSES, proposals=proposals, logits=logits, score_thresh=0.3, nms_thresh=0.5),
            reply_key="detections"),
    ]
    return cases
