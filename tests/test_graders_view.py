"""The grader's view of trained weights (autograder/notebook/graders_view.py).

The notebook stage measures the checkpoint's weights in the grader's own
detector. That is fair only if, for every valid way of writing the detector,
the grader's detector with the student's weights computes what the student's
detector computes: proved here on the reference and every valid alternative
(``tests/grading_corpus/valid_alternatives/``), with random weights in every
layer, in this process (the corpus is ours, not untrusted).
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from autograder.notebook.full_run_detector import build_detector, measure_detector
from autograder.notebook.graders_view import (
    PARTS,
    _box_conv_from_coordinate_major,
    layer_inputs,
    measure_in_graders_detector,
)
from autograder.probes.trained_detector import _layer_report
from autograder.course.reference_solution import load_reference

ROOT = Path(__file__).resolve().parents[1]
ALTERNATIVES = ROOT / "tests" / "grading_corpus" / "valid_alternatives"
SUBMISSIONS = ["reference"] + sorted(p.name for p in ALTERNATIVES.iterdir() if (p / "common.py").is_file())
FPN_CHANNELS = 16  # narrow: the mapping does not depend on the width
POST_NMS_TOPK = 20
NUM_CLASSES = 20
SEED = 3
# Random weights outside the RegNet: every output depends on them, no score ties, and the head's
# logits spread enough that some class scores pass the score threshold (0.2).
WEIGHT_STD = 0.05
LINEAR_WEIGHT_STD = 2.0


def folder(name: str) -> Path:
    return ROOT / "reference" if name == "reference" else ALTERNATIVES / name


def students_detector(name: str, monkeypatch) -> torch.nn.Module:
    """The submission's full-run detector with random weights and biases outside the RegNet
    (the linear layer's weights larger: see LINEAR_WEIGHT_STD)."""
    monkeypatch.setenv("DETECTOR_BACKBONE_WEIGHTS", "random")
    modules = load_reference(folder(name))
    torch.manual_seed(SEED)
    detector = build_detector(lambda definition: getattr(modules, definition), FPN_CHANNELS, POST_NMS_TOPK,
                              NUM_CLASSES)
    trunk = {id(p) for p in detector.backbone.backbone.parameters()}
    generator = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for parameter in detector.parameters():
            if id(parameter) not in trunk:
                std = LINEAR_WEIGHT_STD if parameter.dim() == 2 else WEIGHT_STD
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * std)
    return detector


def grading_inputs() -> dict:
    generator = torch.Generator().manual_seed(SEED + 1)
    boxes = torch.full((2, 40, 5), -1.0)
    boxes[:, :3] = torch.tensor([[10.0, 20.0, 90.0, 120.0, 3.0], [100.0, 30.0, 200.0, 180.0, 7.0],
                                 [50.0, 60.0, 150.0, 100.0, 11.0]])
    return {"loss_images": [torch.rand(2, 3, 224, 224, generator=generator)], "loss_boxes": [boxes],
            "images": torch.rand(3, 3, 224, 224, generator=generator), "seed": SEED}


def captured(detector) -> tuple[dict, dict, dict]:
    """What the stage hands the grader's view: layer inputs, the worker's layer report, the weights."""
    inputs = layer_inputs(SEED, FPN_CHANNELS)
    report = _layer_report(detector, **inputs)
    return inputs, report, {key: value.detach().clone() for key, value in detector.state_dict().items()}


def assert_same_measurement(actual: dict, expected: dict) -> None:
    torch.testing.assert_close(actual["losses"], expected["losses"], rtol=1e-4, atol=1e-5)
    assert len(actual["detections"]) == len(expected["detections"])
    for found, wanted in zip(actual["detections"], expected["detections"]):
        assert found["boxes"].shape[0] > 0  # random weights still detect: a real comparison
        for key in ("boxes", "classes", "scores"):
            torch.testing.assert_close(found[key], wanted[key], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_graders_detector_computes_what_the_students_computes(name, monkeypatch):
    detector = students_detector(name, monkeypatch)
    inputs, report, weights = captured(detector)
    data = grading_inputs()
    own = measure_detector(detector, **data)
    view = measure_in_graders_detector(weights, report, inputs, FPN_CHANNELS, POST_NMS_TOPK, NUM_CLASSES, **data)
    assert view.matched == PARTS, f"{name}: unmatched {view.unmatched}"
    assert_same_measurement(view.reply, own)


def test_layers_in_any_order_are_matched_by_behaviour(monkeypatch):
    """The FPN's output convs and the stems' convs share shapes: the order the student registers
    them in does not decide their roles, what the parts compute does."""
    detector = students_detector("reference", monkeypatch)
    inputs, report, weights = captured(detector)
    for part in PARTS:
        report[part]["layers"] = report[part]["layers"][::-1]
    data = grading_inputs()
    view = measure_in_graders_detector(weights, report, inputs, FPN_CHANNELS, POST_NMS_TOPK, NUM_CLASSES, **data)
    assert view.matched == PARTS
    assert_same_measurement(view.reply, measure_detector(detector, **data))


def test_a_part_that_computes_something_else_is_loaded_in_registration_order(monkeypatch):
    """Control: with outputs no assignment reproduces, the view says so (and still measures)."""
    detector = students_detector("reference", monkeypatch)
    inputs, report, weights = captured(detector)
    report["cls_pred"]["output"] = report["cls_pred"]["output"] + 1.0
    view = measure_in_graders_detector(weights, report, inputs, FPN_CHANNELS, POST_NMS_TOPK, NUM_CLASSES,
                                       **grading_inputs())
    assert view.unmatched == ("cls_pred",)


def test_coordinate_major_box_channels_are_reordered_anchor_major():
    """Hand-checked, 2 anchors: coordinate-major channel k * 2 + a holds anchor a's coordinate k;
    the reference's channel a * 4 + k must get it."""
    coordinate_major = torch.tensor([10.0 * k + a for k in range(4) for a in range(2)])  # value 10 k + a
    weight = coordinate_major.reshape(8, 1, 1, 1)
    reordered, bias = _box_conv_from_coordinate_major(2)("pred_box", weight, coordinate_major)
    expected = torch.tensor([0.0, 10.0, 20.0, 30.0, 1.0, 11.0, 21.0, 31.0])  # anchor 0's k = 0..3, then anchor 1's
    torch.testing.assert_close(reordered.flatten(), expected)
    torch.testing.assert_close(bias, expected)
    untouched, _ = _box_conv_from_coordinate_major(2)("pred_obj", weight, None)
    assert untouched is weight


def test_weights_that_do_not_fit_are_named(monkeypatch):
    from autograder.errors import InvalidOutput

    detector = students_detector("reference", monkeypatch)
    inputs, report, weights = captured(detector)
    weights[report["cls_pred"]["layers"][-1][0]] = torch.zeros(5, 7)  # the linear layer: wrong shape
    with pytest.raises(InvalidOutput, match=r"could not put the weights of your full run into its own detector "
                                            r"\(no layer with a weight of shape \(21, 784\)"):
        measure_in_graders_detector(weights, report, inputs, FPN_CHANNELS, POST_NMS_TOPK, NUM_CLASSES,
                                    **grading_inputs())


def test_spare_layers_of_a_shared_shape_are_told_apart_by_behaviour(monkeypatch):
    """Two unused 3x3 convs registered before the FPN's output convs: 60 orders, one right."""
    detector = students_detector("reference", monkeypatch)
    spare = torch.nn.ModuleList([torch.nn.Conv2d(FPN_CHANNELS, FPN_CHANNELS, 3, padding=1) for _ in range(2)])
    fpn_params = detector.backbone.fpn_params
    detector.backbone.fpn_params = torch.nn.ModuleDict({"spare": spare, **dict(fpn_params.items())})
    inputs, report, weights = captured(detector)
    assert len(report["fpn"]["layers"]) == 8
    data = grading_inputs()
    view = measure_in_graders_detector(weights, report, inputs, FPN_CHANNELS, POST_NMS_TOPK, NUM_CLASSES, **data)
    assert view.matched == PARTS
    assert_same_measurement(view.reply, measure_detector(detector, **data))


def test_a_report_that_would_make_the_grader_search_forever_is_refused(monkeypatch):
    """The report is untrusted: many same-shape layers (here one layer listed again and again, and
    the head's two stem convs given 40 rivals) give too many assignments to try, and are refused."""
    from autograder.errors import InvalidOutput

    detector = students_detector("reference", monkeypatch)
    inputs, report, weights = captured(detector)
    stem, linear = report["cls_pred"]["layers"][0], report["cls_pred"]["layers"][-1]
    for rival in range(40):
        weights[f"rival.{rival}"] = weights[stem[0]].clone()
    report["cls_pred"]["layers"] = [stem] * 1000 + [[f"rival.{rival}", None] for rival in range(40)]
    with pytest.raises(InvalidOutput, match=r"lists list of layers, not at most 64"):
        measure_in_graders_detector(weights, report, inputs, FPN_CHANNELS, POST_NMS_TOPK, NUM_CLASSES,
                                    **grading_inputs())
    report["cls_pred"]["layers"] = [stem] * 10 + [[f"rival.{rival}", None] for rival in range(40)] + [linear]
    with pytest.raises(InvalidOutput, match=r"1640 ways to assign the layers of equal shapes; at most 120"):
        measure_in_graders_detector(weights, report, inputs, FPN_CHANNELS, POST_NMS_TOPK, NUM_CLASSES,
                                    **grading_inputs())


def test_a_coordinate_major_box_conv_is_read_in_the_students_order(monkeypatch):
    """A valid RPN head may keep its box channels coordinate-major (k * A + a) and reshape them
    accordingly: the grader's detector must read them anchor-major (a * 4 + k)."""
    detector = students_detector("reference", monkeypatch)
    data = grading_inputs()
    anchor_major = measure_detector(copy.deepcopy(detector), **data)  # measuring moves BatchNorm statistics
    pred_net = detector.rpn.pred_net
    anchors = pred_net.num_anchors
    with torch.no_grad():  # the same function, stored coordinate-major
        for tensor in (pred_net.pred_box.weight, pred_net.pred_box.bias):
            tensor.copy_(tensor.reshape(anchors, 4, *tensor.shape[1:]).transpose(0, 1).reshape(tensor.shape))

    def coordinate_major_forward(feats):
        objectness, boxes = {}, {}
        for level, x in feats.items():
            stem = pred_net.stem_rpn(x)
            batch = x.shape[0]
            objectness[level] = pred_net.pred_obj(stem).permute(0, 2, 3, 1).reshape(batch, -1)
            raw = pred_net.pred_box(stem)  # (B, 4A, H, W), channel k * A + a
            boxes[level] = raw.reshape(batch, 4, anchors, *raw.shape[2:]).permute(0, 3, 4, 2, 1).reshape(batch, -1, 4)
        return [objectness, boxes]

    monkeypatch.setattr(pred_net, "forward", coordinate_major_forward)
    assert_same_measurement(measure_detector(copy.deepcopy(detector), **data), anchor_major)  # valid indeed
    inputs, report, weights = captured(detector)
    view = measure_in_graders_detector(weights, report, inputs, FPN_CHANNELS, POST_NMS_TOPK, NUM_CLASSES, **data)
    assert view.matched == PARTS
    assert_same_measurement(view.reply, anchor_major)
