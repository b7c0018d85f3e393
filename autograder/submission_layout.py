"""Which graded definition lives in which submission file.

A submission is two files imported flat: ``two_stage_detector.py`` does
``from common import ...``.  The notebook exporter, the probes' name lookup
and the test tags all read this one table.
"""

from __future__ import annotations

COMMON_MODULE = "common"
DETECTOR_MODULE = "two_stage_detector"
SUBMISSION_MODULES = (COMMON_MODULE, DETECTOR_MODULE)
SUBMISSION_FILES = tuple(f"{module}.py" for module in SUBMISSION_MODULES)
MAX_SOURCE_BYTES = 4 * 2**20  # per file: 75x the reference's larger file (53 KB); more is not a solution

# Definitions students implement (graded).
GRADED_DEFINITIONS: dict[str, tuple[str, ...]] = {
    COMMON_MODULE: ("DetectorBackboneWithFPN", "get_fpn_location_coords", "nms"),
    DETECTOR_MODULE: (
        "iou",
        "generate_fpn_anchors",
        "rcnn_get_deltas_from_anchors",
        "rcnn_apply_deltas_to_anchors",
        "RPNPredictionNetwork",
        "RPN",
        "FasterRCNN",
    ),
}

# Helpers handed out with the assignment; they live in the same files.
PROVIDED_HELPERS: dict[str, tuple[str, ...]] = {
    COMMON_MODULE: ("class_spec_nms",),
    DETECTOR_MODULE: ("rcnn_match_anchors_to_gt", "sample_rpn_training", "mix_gt_with_proposals"),
}

HOME_MODULE: dict[str, str] = {
    name: module
    for table in (GRADED_DEFINITIONS, PROVIDED_HELPERS)
    for module, names in table.items()
    for name in names
}
"""Every known definition → the module (file stem) it belongs in."""

GRADED_NAMES = frozenset(name for names in GRADED_DEFINITIONS.values() for name in names)
KNOWN_NAMES = frozenset(HOME_MODULE)
