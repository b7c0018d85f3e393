"""Student stubs: the reference, byte for byte, except one header line and a
TODO banner (raising NotImplementedError) in place of each solution region."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from data_scripts.release import release_paths
from data_scripts.release.markers import find_regions
from data_scripts.release.release_errors import SourceError
from data_scripts.release.stubs import header_line, make_stub

ROOT = Path(__file__).resolve().parents[1]
BANNER_RULE = "#" * 70
BANNER_START = "#                            START YOUR CODE                         #"
BANNER_END = "#                            END OF YOUR CODE                        #"
BANNER_LENGTH = 7  # rule, start, rule, raise, rule, end, rule


def read(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


@pytest.mark.parametrize("module", release_paths.MODULES)
def test_stub_is_the_reference_with_each_region_replaced_by_a_banner(module):
    reference_path = f"reference/{module}"
    reference = read(reference_path)
    stub = read(f"student/{module}").splitlines(keepends=True)
    regions = find_regions(reference, reference_path)
    reference_lines = reference.splitlines(keepends=True)

    # The only added line: the header, first.
    assert stub[0] == header_line(reference_path, "python -m data_scripts.release")
    assert stub[0].startswith("# Generated from reference/") and stub[0].count("\n") == 1

    # Put every region back where its banner is: that must give the reference.
    rebuilt, banners, index = [], [], 1
    while index < len(stub):
        line = stub[index]
        if line.strip() == BANNER_RULE and stub[index + 1].strip() == BANNER_START:
            region = regions[len(banners)]
            banner = stub[index : index + BANNER_LENGTH]
            assert [b[: len(region.indent)] for b in banner] == [region.indent] * BANNER_LENGTH
            assert [b[len(region.indent) :] for b in banner] == [
                BANNER_RULE + "\n",
                BANNER_START + "\n",
                BANNER_RULE + "\n",
                banner[3][len(region.indent) :],
                BANNER_RULE + "\n",
                BANNER_END + "\n",
                BANNER_RULE + "\n",
            ]
            banners.append(banner[3].strip())
            rebuilt += reference_lines[region.begin - 1 : region.end]
            index += BANNER_LENGTH
        else:
            rebuilt.append(line)
            index += 1
    assert len(banners) == len(regions) > 0
    assert "".join(rebuilt) == reference
    assert all(b.startswith('raise NotImplementedError("') and b.endswith(f' (or in {module})")') for b in banners)


def test_todo_messages_name_the_function_and_which_todo():
    stub = read("student/two_stage_detector.py")
    for message in [
        "iou: TODO not implemented yet: write it in the notebook cell that defines iou (or in two_stage_detector.py)",
        "RPN.forward: TODO 1 of 3 not implemented yet: write it in the notebook cell that defines RPN (or in two_stage_detector.py)",
        "RPN.forward: TODO 2 of 3 not implemented yet: write it in the notebook cell that defines RPN (or in two_stage_detector.py)",
        "RPN.forward: TODO 3 of 3 not implemented yet: write it in the notebook cell that defines RPN (or in two_stage_detector.py)",
        "RPNPredictionNetwork.__init__: TODO 2 of 2 not implemented yet: write it in the notebook cell that defines RPNPredictionNetwork (or in two_stage_detector.py)",
        "FasterRCNN.inference: TODO not implemented yet: write it in the notebook cell that defines FasterRCNN (or in two_stage_detector.py)",
    ]:
        assert stub.count(f'raise NotImplementedError("{message}")') == 1, message
    assert 'raise NotImplementedError("nms: TODO not implemented yet: write it in the notebook cell that defines nms (or in common.py)")' in read("student/common.py")


def test_a_region_outside_any_function_is_an_error():
    text = "x = 1\n# BEGIN SOLUTION\ny = 2\n# END SOLUTION\n"
    with pytest.raises(SourceError, match=r"^reference/bad\.py:2: solution region outside any function"):
        make_stub(text, "reference/bad.py", "bad.py", "# header\n")


def test_a_stub_that_would_not_parse_is_an_error():
    # The region's indentation makes the banner's `raise` land outside the body.
    text = "def f():\n    if True:\n# BEGIN SOLUTION\n        pass\n# END SOLUTION\n"
    with pytest.raises(SourceError, match="generated stub is not valid Python"):
        make_stub(text, "reference/bad.py", "bad.py", "# header\n")


# Calls every graded definition of the stubs, in a fresh interpreter with only
# student/ on sys.path (the flat layout students get), and reports what each
# call raised. Methods are called on stand-ins for `self`, so that a TODO in
# `__init__` does not hide the ones in other methods.
STUB_PROBE = textwrap.dedent(
    r'''
    import json
    from types import SimpleNamespace

    import torch
    from torch import nn

    import common
    import two_stage_detector as tsd

    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [5.0, 5.0, 20.0, 20.0]])
    feats = {"p3": torch.zeros(1, 8, 4, 4)}


    class Backbone(nn.Module):
        out_channels = 8
        fpn_strides = {"p3": 8}

        def forward(self, images):
            return feats


    def rpn_stand_in(feats, strides, gt_boxes):
        return {"proposals": {"p3": [boxes]}, "loss_rpn_obj": 0.0, "loss_rpn_box": 0.0}


    bare_backbone = common.DetectorBackboneWithFPN.__new__(common.DetectorBackboneWithFPN)
    nn.Module.__init__(bare_backbone)
    bare_backbone.backbone = lambda images: {"c3": None, "c4": None, "c5": None}
    detector = SimpleNamespace(
        backbone=Backbone(), rpn=rpn_stand_in, training=True, batch_size_per_image=4,
        roi_size=(2, 2), _cat_across_fpn_levels=tsd.FasterRCNN._cat_across_fpn_levels,
    )
    gt_boxes = torch.tensor([[[0.0, 0.0, 10.0, 10.0, 3.0]]])

    calls = {
        "nms": lambda: common.nms(boxes, torch.tensor([0.9, 0.8])),
        "get_fpn_location_coords": lambda: common.get_fpn_location_coords({"p3": (1, 8, 2, 2)}, {"p3": 8}),
        "DetectorBackboneWithFPN.__init__": lambda: common.DetectorBackboneWithFPN(out_channels=8),
        "DetectorBackboneWithFPN.forward": lambda: bare_backbone(torch.zeros(1, 3, 32, 32)),
        "RPNPredictionNetwork.__init__": lambda: tsd.RPNPredictionNetwork(8, [8]),
        "RPNPredictionNetwork.forward": lambda: tsd.RPNPredictionNetwork.forward(SimpleNamespace(), feats),
        "generate_fpn_anchors": lambda: tsd.generate_fpn_anchors({"p3": torch.zeros(4, 2)}, {"p3": 8}, 2),
        "iou": lambda: tsd.iou(boxes, boxes),
        "rcnn_get_deltas_from_anchors": lambda: tsd.rcnn_get_deltas_from_anchors(boxes, boxes),
        "rcnn_apply_deltas_to_anchors": lambda: tsd.rcnn_apply_deltas_to_anchors(torch.zeros(2, 4), boxes),
        "RPN.forward": lambda: tsd.RPN.forward(SimpleNamespace(), feats, {"p3": 8}),
        "RPN.predict_proposals": lambda: tsd.RPN.predict_proposals(
            SimpleNamespace(), {"p3": boxes}, {"p3": torch.zeros(1, 2)}, {"p3": torch.zeros(1, 2, 4)}, (32, 32)
        ),
        "FasterRCNN.__init__": lambda: tsd.FasterRCNN(Backbone(), nn.Identity(), [8], 20, 4),
        "FasterRCNN.forward": lambda: tsd.FasterRCNN.forward(detector, torch.zeros(1, 3, 32, 32), gt_boxes),
        "FasterRCNN.inference": lambda: tsd.FasterRCNN.inference(
            detector, None, {"p3": [boxes]}, torch.zeros(2, 21), 0.5, 0.5
        ),
    }
    raised = {}
    for name, call in calls.items():
        try:
            call()
            raised[name] = None
        except Exception as error:
            raised[name] = [type(error).__name__, str(error)]
    print(json.dumps(raised))
    '''
)

GRADED = {
    "nms": "nms: TODO not implemented yet: write it in the notebook cell that defines nms (or in common.py)",
    "get_fpn_location_coords": "get_fpn_location_coords: TODO not implemented yet: write it in the notebook cell that defines get_fpn_location_coords (or in common.py)",
    "DetectorBackboneWithFPN.__init__": "DetectorBackboneWithFPN.__init__: TODO not implemented yet: write it in the notebook cell that defines DetectorBackboneWithFPN (or in common.py)",
    "DetectorBackboneWithFPN.forward": "DetectorBackboneWithFPN.forward: TODO not implemented yet: write it in the notebook cell that defines DetectorBackboneWithFPN (or in common.py)",
    "RPNPredictionNetwork.__init__": "RPNPredictionNetwork.__init__: TODO 1 of 2 not implemented yet: write it in the notebook cell that defines RPNPredictionNetwork (or in two_stage_detector.py)",
    "RPNPredictionNetwork.forward": "RPNPredictionNetwork.forward: TODO not implemented yet: write it in the notebook cell that defines RPNPredictionNetwork (or in two_stage_detector.py)",
    "generate_fpn_anchors": "generate_fpn_anchors: TODO not implemented yet: write it in the notebook cell that defines generate_fpn_anchors (or in two_stage_detector.py)",
    "iou": "iou: TODO not implemented yet: write it in the notebook cell that defines iou (or in two_stage_detector.py)",
    "rcnn_get_deltas_from_anchors": "rcnn_get_deltas_from_anchors: TODO not implemented yet: write it in the notebook cell that defines rcnn_get_deltas_from_anchors (or in two_stage_detector.py)",
    "rcnn_apply_deltas_to_anchors": "rcnn_apply_deltas_to_anchors: TODO not implemented yet: write it in the notebook cell that defines rcnn_apply_deltas_to_anchors (or in two_stage_detector.py)",
    "RPN.forward": "RPN.forward: TODO 1 of 3 not implemented yet: write it in the notebook cell that defines RPN (or in two_stage_detector.py)",
    "RPN.predict_proposals": "RPN.predict_proposals: TODO not implemented yet: write it in the notebook cell that defines RPN (or in two_stage_detector.py)",
    "FasterRCNN.__init__": "FasterRCNN.__init__: TODO not implemented yet: write it in the notebook cell that defines FasterRCNN (or in two_stage_detector.py)",
    "FasterRCNN.forward": "FasterRCNN.forward: TODO 1 of 3 not implemented yet: write it in the notebook cell that defines FasterRCNN (or in two_stage_detector.py)",
    "FasterRCNN.inference": "FasterRCNN.inference: TODO not implemented yet: write it in the notebook cell that defines FasterRCNN (or in two_stage_detector.py)",
}


def test_graded_definitions_of_the_stubs_raise_not_implemented():
    env = dict(os.environ, PYTHONPATH=str(ROOT / "student"), DETECTOR_BACKBONE_WEIGHTS="random")
    done = subprocess.run(
        [sys.executable, "-c", STUB_PROBE],
        cwd=ROOT / "student",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    raised = json.loads(done.stdout.strip().splitlines()[-1])
    assert raised == {name: ["NotImplementedError", message] for name, message in GRADED.items()}


def test_every_solution_region_is_covered_by_the_probe():
    """The probe above calls each function that holds a solution region."""
    qualnames = set()
    for module in release_paths.MODULES:
        for line in read(f"student/{module}").splitlines():
            if "raise NotImplementedError(" in line:
                qualnames.add(line.split('("', 1)[1].split(":", 1)[0])
    assert qualnames == set(GRADED)
