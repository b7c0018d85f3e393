"""Graded: `RPNPredictionNetwork`, objectness and deltas for every anchor."""
import pytest
import torch

from autograder.grading_fixtures import case_rng, reference, student, submission_seed  # noqa: F401
from autograder.invariant_checks import judge_rpn_initialisation, judge_rpn_prediction_layers, judge_rpn_stem_layers
from autograder.judge import allclose, check_tensor
from autograder.network_weights import conv_params, convs_in_order

TAGS = ("RPNPredictionNetwork",)
IN_CHANNELS, STEM, ANCHORS = 16, [24, 16], 3


def describe(sandbox):
    return sandbox.call("networks.rpn_prediction", in_channels=IN_CHANNELS, stem_channels=STEM,
                        num_anchors=ANCHORS, seed=0)


@pytest.mark.points(2, tags=TAGS)
def test_stem_layers(sandbox):
    """RPNPredictionNetwork: a stem of 3x3 conv + ReLU per stem channel"""
    judge_rpn_stem_layers(describe(sandbox)["stem"], IN_CHANNELS, STEM)


@pytest.mark.points(1, tags=TAGS)
def test_prediction_layers(sandbox):
    """RPNPredictionNetwork: 1x1 convs to A objectness and 4A delta channels"""
    judge_rpn_prediction_layers(describe(sandbox), STEM, ANCHORS)


@pytest.mark.points(2, tags=TAGS)
def test_weight_initialisation(sandbox):
    """RPNPredictionNetwork: conv weights ~ N(0, 0.01), zero biases"""
    judge_rpn_initialisation(describe(sandbox))


@pytest.mark.points(3, tags=TAGS)
def test_predictions_match_reference_with_its_weights(sandbox, reference, case_rng):
    """RPNPredictionNetwork: output shapes (B, HWA) and (B, HWA, 4) and values"""
    torch.manual_seed(0)
    model = reference.RPNPredictionNetwork(IN_CHANNELS, STEM, num_anchors=ANCHORS)
    for conv in convs_in_order(model):  # non-trivial weights make every mistake visible
        torch.nn.init.normal_(conv.weight, std=0.2, generator=case_rng)
        torch.nn.init.normal_(conv.bias, std=0.2, generator=case_rng)
    feats = {name: torch.randn(2, IN_CHANNELS, h, w, generator=case_rng)
             for name, (h, w) in {"p3": (6, 10), "p4": (3, 5), "p5": (2, 3)}.items()}
    reply = sandbox.call(
        "networks.rpn_prediction", in_channels=IN_CHANNELS, stem_channels=STEM, num_anchors=ANCHORS, seed=0,
        feats=feats, stem=[conv_params(c) for c in convs_in_order(model.stem_rpn)],
        obj=conv_params(model.pred_obj), box=conv_params(model.pred_box),
    )
    with torch.no_grad():
        expected_obj, expected_box = model(feats)
    for candidate in reply["outputs"]:
        if all(allclose(candidate[0][n], expected_obj[n]) and allclose(candidate[1][n], expected_box[n]) for n in feats):
            return
    obj, box = reply["outputs"][0]

    def anchor_major_flattening(actual, expected):
        b, n = expected.shape[:2]
        h, w = feats[name].shape[-2:]
        wrong = expected.reshape(b, h * w, ANCHORS, *expected.shape[2:]).transpose(1, 2).reshape(expected.shape)
        if allclose(actual, wrong):
            return ("rows are ordered anchor by anchor; permute the (B, A, H, W) prediction to (B, H, W, A) before "
                    "flattening, so row (h * W + w) * A + a is anchor a at location (h, w)")
        return None

    for name in feats:
        check_tensor(f"RPNPredictionNetwork objectness['{name}']", obj[name], expected_obj[name], hints=(anchor_major_flattening,))
        check_tensor(f"RPNPredictionNetwork box deltas['{name}']", box[name], expected_box[name], hints=(anchor_major_flattening,))
