"""Valid alternative solutions: correct submissions in styles the reference does not use.

Each folder `<name>/` here holds a complete submission (`common.py` and
`two_stage_detector.py`), written from the student material alone (the stubs'
docstrings, the released notebook, `student/README.md`) by someone who had
not read the reference or the grader, and checked with the public checks.
Every one is correct, so every one must earn full marks on the unit tests, on
every case seed: points lost there are points the grader takes from a right
answer.

The files are submissions, not modules of this package: they are read as
text and never imported here.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ALTERNATIVES_DIR = Path(__file__).resolve().parent
SUBMISSION_FILES = ("common.py", "two_stage_detector.py")


@dataclass(frozen=True)
class Alternative:
    name: str  # the folder <name>/ here
    description: str

    @property
    def folder(self) -> Path:
        return ALTERNATIVES_DIR / self.name

    def sources(self) -> dict[str, str]:
        """File name -> text of the submission's two files."""
        return {file_name: (self.folder / file_name).read_text() for file_name in SUBMISSION_FILES}


ALTERNATIVES = (
    Alternative("minimal_todos", "the provided code kept as given, only the TODO blocks filled, as directly "
                                 "as their comments ask"),
    Alternative("python_loops", "plain Python loops wherever the spec allows them (IoU pair by pair, NMS box by "
                                "box, locations, anchors and deltas row by row), Python floats inside"),
    Alternative("vectorised_float64", "no loop over boxes (NMS as a fixed point of the suppression matrix), every "
                                      "box computation in float64, cast back to the caller's dtype"),
    Alternative("module_containers", "FPN convs in ModuleLists inside the ModuleDict (output convs registered "
                                     "first), padding='same', FPN convs without bias, named Sequential stems"),
    Alternative("torchvision_ops", "torchvision.ops where the notebook lets it in: FeaturePyramidNetwork, "
                                   "Conv2dNormActivation stems, box_convert/box_iou helpers, ops.nms for the "
                                   "RPN's proposals, the RoIAlign module"),
    Alternative("tie_orders_einsum", "other valid orders among equal scores (NMS and the pre-NMS top-k: higher "
                                     "index first), torch.where instead of masks, einsum, a hand-written BCE"),
    Alternative("attribute_layers", "FPN convs as plain attributes named by role (fpn_params left empty), stems "
                                    "padding with nn.ZeroPad2d(1) before unpadded 3x3 convs"),
    Alternative("same_padding_no_bias", "the minimal solution with padding='same' on every 3x3 conv and no bias "
                                        "on the FPN convs (the spec is silent on it)"),
)
ALTERNATIVES_BY_NAME = {alternative.name: alternative for alternative in ALTERNATIVES}
