"""Graded: `RPNPredictionNetwork`, objectness and deltas for every anchor.

Evidence (layer_evidence.py): layers and their initialisation from their
parameters and outputs on inputs drawn per case, recomputed here; `stem_rpn`,
`pred_obj` and `pred_box` from their outputs on secret inputs; the forward
from its outputs with the grader's weights loaded by shape.
"""
import pytest
import torch

from autograder.units.grading_fixtures import case_rng, reference, student, submission_seed  # noqa: F401
from autograder.units.invariant_checks import judge_rpn_initialisation, judge_rpn_prediction_layers, judge_rpn_stem_layers
from autograder.units.judge import allclose, check_tensor
from autograder.units.network_weights import conv_params, convs_in_order

TAGS = ("RPNPredictionNetwork",)
IN_CHANNELS, STEM, ANCHORS = 16, [24, 16], 3  # every layer's weight shape differs: weights load by shape


def behaviour(sandbox, case_rng):
    """(leaf seed, stem input, head input, the probe's reply)."""
    seed = int(torch.randint(2**31, (1,), generator=case_rng))
    stem_input = torch.randn(2, IN_CHANNELS, 5, 7, generator=case_rng)
    head_input = torch.randn(2, STEM[-1], 5, 7, generator=case_rng)
    reply = sandbox.call("networks.rpn_prediction", in_channels=IN_CHANNELS, stem_channels=STEM,
                         num_anchors=ANCHORS, seed=0, leaf_seed=seed, stem_input=stem_input, head_input=head_input)
    return seed, stem_input, head_input, reply


@pytest.mark.points(2, tags=TAGS)
def test_stem_layers(sandbox, case_rng):
    """RPNPredictionNetwork: a stem of 3x3 conv + ReLU per stem channel"""
    seed, stem_input, _, reply = behaviour(sandbox, case_rng)
    judge_rpn_stem_layers(reply, seed, stem_input, IN_CHANNELS, STEM)


@pytest.mark.points(1, tags=TAGS)
def test_prediction_layers(sandbox, case_rng):
    """RPNPredictionNetwork: 1x1 convs to A objectness and 4A delta channels"""
    seed, _, head_input, reply = behaviour(sandbox, case_rng)
    judge_rpn_prediction_layers(reply, seed, head_input, STEM, ANCHORS)


@pytest.mark.points(2, tags=TAGS)
def test_weight_initialisation(sandbox, case_rng):
    """RPNPredictionNetwork: conv weights ~ N(0, 0.01), zero biases"""
    seed, _, _, reply = behaviour(sandbox, case_rng)
    judge_rpn_initialisation(reply, seed, IN_CHANNELS, STEM, ANCHORS)


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
    layers = convs_in_order(model.stem_rpn) + [model.pred_obj, model.pred_box]
    reply = sandbox.call(
        "networks.rpn_prediction", in_channels=IN_CHANNELS, stem_channels=STEM, num_anchors=ANCHORS, seed=0,
        feats=feats, weights=[conv_params(layer) for layer in layers],
    )
    for layer, loaded in zip(layers, reply["bias_loaded"]):
        if not loaded:  # a conv without bias is a conv with a zero bias: no penalty
            torch.nn.init.zeros_(layer.bias)
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
