"""The network judges read behaviour, not construction (issue 11 item 1, issue 12 item 2).

Variants of the reference, built the ways the spec leaves open (no bias,
`padding='same'`, wrappers, other registration orders, the seed's provided
backbone constructor), pass every structure, initialisation, merge and
sampling judge; one mistake each fails the right judge with a hint that names
it; and layers that only claim weights count for nothing. The probes run here
in-process on the variant (no sandbox: these test the judges), the judges as
the graded tests call them.
"""
import math
import os

import pytest
import torch
from torch import nn

from autograder import layer_evidence
from autograder.units.invariant_checks import (REGNET_X_400MF_CHANNELS, judge_classifier_head, judge_fpn_layers,
                                         judge_fpn_merge, judge_rpn_initialisation, judge_rpn_prediction_layers,
                                         judge_rpn_sampling, judge_rpn_stem_layers, judge_second_stage_sampling,
                                         rpn_sampling_case)
from autograder.units.judge import JudgeError
from autograder.units.network_cases import (CHANNELS, HEAD_STEM, NUM_CLASSES, SECOND_STAGE_SAMPLES_PER_IMAGE, STRIDES,
                                      head_init, rpn_case, rpn_init, second_stage_case, second_stage_sampling_case)
from autograder.sandbox.probe_api import SubmissionModules
from autograder.probes import networks
from autograder.course.reference_solution import load_reference
from tests.grading_corpus.plausible_bugs import COMMON, DETECTOR, BUGS_BY_NAME, Edit, apply_edits, reference_sources

os.environ["DETECTOR_BACKBONE_WEIGHTS"] = "random"  # as in the graded tests: no download
SEED = 1234
IN_CHANNELS, STEM, ANCHORS = 16, [24, 16], 3
FPN_CHANNELS = 8

RPN_STEM = ("            conv = nn.Conv2d(channels, out_channels, kernel_size=3, padding=1)\n"
            "            nn.init.normal_(conv.weight, mean=0.0, std=0.01)\n"
            "            nn.init.zeros_(conv.bias)\n"
            "            stem_rpn += [conv, nn.ReLU()]\n")
RPN_PREDICTORS = ("        self.pred_obj = nn.Conv2d(channels, num_anchors, kernel_size=1)\n"
                  "        self.pred_box = nn.Conv2d(channels, 4 * num_anchors, kernel_size=1)\n"
                  "        for conv in (self.pred_obj, self.pred_box):\n"
                  "            nn.init.normal_(conv.weight, mean=0.0, std=0.01)\n"
                  "            nn.init.zeros_(conv.bias)\n")
HEAD_CONV = ("            conv = nn.Conv2d(channels, out_channels, kernel_size=3, padding=1)\n"
             "            nn.init.normal_(conv.weight, mean=0.0, std=0.01)\n"
             "            nn.init.zeros_(conv.bias)\n"
             "            cls_pred += [conv, nn.ReLU()]\n")
HEAD_WRAP = "        self.cls_pred = nn.Sequential(*cls_pred)\n"
FPN_LATERAL = "                feature_shape[1], out_channels, kernel_size=1\n"
FPN_OUTPUT = "                out_channels, out_channels, kernel_size=3, padding=1\n"
DUMMY_FORWARD = ("        was_training = self.backbone.training\n"
                 "        self.backbone.eval()\n"
                 "        with torch.no_grad():\n"
                 "            dummy_out = self.backbone(torch.zeros(2, 3, 224, 224))\n"
                 "        self.backbone.train(was_training)\n")

# Valid constructions: every judge passes.
VALID = {
    "reference": (),
    "no_bias_same_padding_reversed_order": (
        Edit(DETECTOR, RPN_STEM, "            conv = nn.Conv2d(channels, out_channels, 3, padding='same', bias=False)\n"
                                 "            nn.init.normal_(conv.weight, mean=0.0, std=0.01)\n"
                                 "            stem_rpn += [conv, nn.ReLU()]\n"),
        Edit(DETECTOR, RPN_PREDICTORS,
             "        self.pred_box = nn.Sequential(nn.Conv2d(channels, 4 * num_anchors, 1, bias=False))\n"
             "        self.pred_obj = nn.Conv2d(channels, num_anchors, 1)\n"
             "        for conv in (self.pred_obj, self.pred_box[0]):\n"
             "            nn.init.normal_(conv.weight, mean=0.0, std=0.01)\n"
             "        nn.init.zeros_(self.pred_obj.bias)\n"),
        Edit(DETECTOR, HEAD_CONV,
             "            conv = nn.Conv2d(channels, out_channels, 3, padding='same', bias=False)\n"
             "            nn.init.normal_(conv.weight, mean=0.0, std=0.01)\n"
             "            cls_pred += [nn.Sequential(conv, nn.ReLU())]\n"),
        Edit(DETECTOR, HEAD_WRAP, "        self.cls_pred = nn.Sequential(nn.ModuleList(cls_pred[:-2]) and "
             "nn.Sequential(*cls_pred[:-2]), nn.Sequential(*cls_pred[-2:]))\n"),
        Edit(COMMON, FPN_LATERAL, "                feature_shape[1], out_channels, kernel_size=1, bias=False\n"),
        Edit(COMMON, FPN_OUTPUT, "                out_channels, out_channels, kernel_size=3, padding='same', bias=False\n"),
    ),
    "zero_pad_before_unpadded_convs": (  # the same function as padding=1
        Edit(DETECTOR, RPN_STEM, RPN_STEM.replace("kernel_size=3, padding=1", "kernel_size=3").replace(
            "stem_rpn += [conv, nn.ReLU()]", "stem_rpn += [nn.ZeroPad2d(1), conv, nn.ReLU()]")),
        Edit(DETECTOR, HEAD_CONV, HEAD_CONV.replace("kernel_size=3, padding=1", "kernel_size=3").replace(
            "cls_pred += [conv, nn.ReLU()]", "cls_pred += [nn.ZeroPad2d(1), conv, nn.ReLU()]")),
    ),
    "seed_backbone_constructor": (  # the seed's dummy forward, in training mode
        Edit(COMMON, DUMMY_FORWARD, "        dummy_out = self.backbone(torch.randn(2, 3, 224, 224))\n"),
    ),
}

# One mistake each: (edits, the judge that must fail, words its message must hold).
MISTAKES = {
    "rpn_stem_without_relu": (BUGS_BY_NAME["rpn_stem_without_relu"].edits, "rpn_stem", "no ReLU"),
    "rpn_stem_default_init": (BUGS_BY_NAME["rpn_stem_default_init"].edits, "rpn_init", "N(0, 0.01)"),
    "rpn_stem_1x1": ((Edit(DETECTOR, RPN_STEM, RPN_STEM.replace("kernel_size=3, padding=1", "kernel_size=1")),),
                     "rpn_stem", "it is 1x1; expected 3x3"),
    "rpn_stem_unpadded": ((Edit(DETECTOR, RPN_STEM, RPN_STEM.replace(", padding=1", "")),),
                          "rpn_stem", "its padding is 0"),
    "rpn_objectness_per_coordinate": ((Edit(DETECTOR, "        self.pred_obj = nn.Conv2d(channels, num_anchors, kernel_size=1)\n",
                                            "        self.pred_obj = nn.Conv2d(channels, 4 * num_anchors, kernel_size=1)\n"),),
                                      "rpn_prediction", "expected one 1x1 conv 16 -> 3"),
    "fpn_output_conv_without_padding": (BUGS_BY_NAME["fpn_output_conv_without_padding"].edits, "fpn_layers",
                                        "its padding is 0"),
    "fpn_without_top_down_pathway": (BUGS_BY_NAME["fpn_without_top_down_pathway"].edits, "fpn_merge",
                                     "each level is its own lateral"),
    "fpn_bilinear_upsampling": ((Edit(COMMON, 'merged, size=lateral.shape[-2:], mode="nearest"',
                                      'merged, size=lateral.shape[-2:], mode="bilinear"'),), "fpn_merge", "nearest"),
    "head_without_relu": ((Edit(DETECTOR, "            cls_pred += [conv, nn.ReLU()]\n",
                                "            cls_pred += [conv]\n"),), "head", "no ReLU"),
    "head_default_init": ((Edit(DETECTOR, HEAD_CONV, "            conv = nn.Conv2d(channels, out_channels, 3, padding=1)\n"
                                "            cls_pred += [conv, nn.ReLU()]\n"),), "head", "N(0, 0.01)"),
    "rpn_foreground_fraction_quarter": (BUGS_BY_NAME["rpn_foreground_fraction_quarter"].edits, "rpn_sampling",
                                        "fg_fraction must be 0.5"),
    "rpn_samples_only_foreground": (BUGS_BY_NAME["rpn_samples_only_foreground"].edits, "rpn_sampling",
                                    "background anchors must be trained on"),
    "rpn_objectness_without_sampling": (BUGS_BY_NAME["rpn_objectness_without_sampling"].edits, "rpn_sampling",
                                        "not on every anchor (neutral ones"),
    "second_stage_half_foreground": ((Edit(DETECTOR, "                    matched, self.batch_size_per_image, fg_fraction=0.25\n",
                                           "                    matched, self.batch_size_per_image, fg_fraction=0.5\n"),),
                                     "second_stage_sampling", "fg_fraction must be 0.25"),
}


@pytest.fixture(scope="module")
def reference():
    return load_reference()


@pytest.fixture(scope="module")
def reference_trunk(reference):
    torch.manual_seed(0)
    return reference.DetectorBackboneWithFPN(FPN_CHANNELS).eval().backbone


def submission(tmp_path, edits) -> SubmissionModules:
    for name, text in apply_edits(reference_sources(), tuple(edits)).items():
        (tmp_path / name).write_text(text)
    return SubmissionModules(str(tmp_path))


def rpn_prediction_replies(sub):
    generator = torch.Generator().manual_seed(SEED)
    stem_input, head_input = (torch.randn(2, c, 5, 7, generator=generator) for c in (IN_CHANNELS, STEM[-1]))
    reply = networks.rpn_prediction(sub, IN_CHANNELS, STEM, ANCHORS, seed=0, leaf_seed=SEED,
                                    stem_input=stem_input, head_input=head_input)
    return reply, stem_input, head_input


def judges(sub, reference, reference_trunk, only=None) -> dict:
    """Judge name -> failure message (None when it passes), `only` those named."""
    def backbone_reply():
        images = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(SEED))
        reply = networks.backbone(sub, FPN_CHANNELS, seed=0, images=images, leaf_seed=SEED)
        with torch.no_grad():
            return reply, reference_trunk(images)

    def rpn_sampling():
        base = rpn_case(reference, torch.Generator().manual_seed(SEED))
        case = rpn_sampling_case(dict(base, init=rpn_init(16), strides=STRIDES), torch.Generator().manual_seed(SEED))
        kwargs = {k: case[k] for k in ("init", "feats", "strides", "predictions", "locations", "anchors", "training",
                                       "gt_boxes")}
        judge_rpn_sampling(networks.rpn(sub, **kwargs)["output"], case)

    def second_stage_sampling():
        case, logits = second_stage_sampling_case(torch.Generator().manual_seed(SEED))
        reply = networks.faster_rcnn(sub, init=head_init(SECOND_STAGE_SAMPLES_PER_IMAGE), strides=STRIDES,
                                     training=True, seed=0, head_logits=logits, **case)
        judge_second_stage_sampling(reply["losses"], case, logits, SECOND_STAGE_SAMPLES_PER_IMAGE)

    def head():
        case = second_stage_case(torch.Generator().manual_seed(SEED), 1)
        head_input = torch.randn(5, CHANNELS, 7, 7, generator=torch.Generator().manual_seed(SEED))
        reply = networks.faster_rcnn(sub, init=head_init(16), feats=case["feats"], strides=STRIDES,
                                     proposals=case["proposals"], training=False, seed=0, leaf_seed=SEED,
                                     head_input=head_input)
        judge_classifier_head(reply, SEED, head_input, reply["head"], CHANNELS, HEAD_STEM, NUM_CLASSES)

    checks = {
        "fpn_layers": lambda: judge_fpn_layers(networks.backbone(sub, FPN_CHANNELS, seed=0, leaf_seed=SEED)["leaves"],
                                               SEED, REGNET_X_400MF_CHANNELS, FPN_CHANNELS),
        "fpn_merge": lambda: judge_fpn_merge(*backbone_reply(), SEED, FPN_CHANNELS),
        "rpn_stem": lambda: (lambda r, x, _: judge_rpn_stem_layers(r, SEED, x, IN_CHANNELS, STEM))(
            *rpn_prediction_replies(sub)),
        "rpn_prediction": lambda: (lambda r, _, y: judge_rpn_prediction_layers(r, SEED, y, STEM, ANCHORS))(
            *rpn_prediction_replies(sub)),
        "rpn_init": lambda: judge_rpn_initialisation(rpn_prediction_replies(sub)[0], SEED, IN_CHANNELS, STEM, ANCHORS),
        "head": head,
        "rpn_sampling": rpn_sampling,
        "second_stage_sampling": second_stage_sampling,
    }
    failures = {}
    for name, check in checks.items():
        if only is not None and name not in only:
            continue
        try:
            check()
            failures[name] = None
        except JudgeError as error:
            failures[name] = str(error)
    return failures


@pytest.mark.parametrize("variant", sorted(VALID))
def test_valid_construction_passes_every_judge(variant, tmp_path, reference, reference_trunk):
    failures = judges(submission(tmp_path, VALID[variant]), reference, reference_trunk)
    assert {name: message for name, message in failures.items() if message} == {}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_mistake_fails_its_judge_with_a_hint_naming_it(mistake, tmp_path, reference, reference_trunk):
    edits, judge, words = MISTAKES[mistake]
    message = judges(submission(tmp_path, edits), reference, reference_trunk, only={judge})[judge]
    assert message is not None and words in message, message


# ------------------------------------------------------------- literal layer evidence
def leaf(module: nn.Module, index: int = 0, seed: int = SEED) -> dict:
    """What the probe reports of one layer, made by hand."""
    params = dict(module.named_parameters(recurse=False))
    with torch.no_grad():
        output = module(layer_evidence.leaf_input(params["weight"].shape, seed, index))
    return {"name": "layer", "params": {k: v.detach().clone() for k, v in params.items()}, "output": output}


def test_a_conv_is_described_by_its_behaviour_whatever_its_construction():
    same = layer_evidence.describe_leaf(leaf(nn.Conv2d(4, 6, 3, padding="same", bias=False)), SEED, 0)
    assert (same["type"], same["in"], same["out"], same["kernel"], same["stride"], same["padding"],
            same["bias_abs_max"]) == ("Conv2d", 4, 6, [3, 3], [1, 1], [1, 1], None)
    strided = layer_evidence.describe_leaf(leaf(nn.Conv2d(4, 6, 3, stride=2), index=3), SEED, 3)
    assert (strided["stride"], strided["padding"]) == ([2, 2], [0, 0])
    linear = layer_evidence.describe_leaf(leaf(nn.Linear(5, 2)), SEED, 0)
    assert (linear["type"], linear["in"], linear["out"]) == ("Linear", 5, 2)


def test_claimed_weights_that_do_not_compute_the_output_are_no_evidence():
    class Pretender(nn.Module):
        """Holds a conv-shaped weight of std 0.01 but computes something else."""

        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(6, 4, 3, 3) * 0.01)
            self.bias = nn.Parameter(torch.zeros(6))

        def forward(self, x):
            return torch.zeros(x.shape[0], 6, *x.shape[2:])

    pretender = layer_evidence.describe_leaf(leaf(Pretender()), SEED, 0)
    assert pretender["type"] == "unverified"
    # Another seed's input: the output was computed on an input the layer was not given.
    honest = leaf(nn.Conv2d(4, 6, 3, padding=1), seed=SEED + 1)
    assert layer_evidence.describe_leaf(honest, SEED, 0)["type"] == "unverified"
    assert layer_evidence.verified_layers([leaf(Pretender())], SEED) == [pretender]


@pytest.mark.parametrize("case_seed", [SEED, SEED + 1])
def test_sampling_losses_count_the_sample(reference, case_seed):
    """The RPN case's losses are those of (sampled, foreground) = (16, 8) for the reference (8 per
    image, 50%), with the case's own logit l and delta d: a constant loss cannot pass two cases."""
    base = rpn_case(reference, torch.Generator().manual_seed(SEED))
    case = rpn_sampling_case(dict(base, init=rpn_init(16), strides=STRIDES), torch.Generator().manual_seed(case_seed))
    model = reference.RPN(**case["init"])
    from autograder.probes.fakes import FixedOutput
    model.pred_net = FixedOutput(case["predictions"])
    model.train()
    torch.manual_seed(0)
    losses = model(case["feats"], STRIDES, case["gt_boxes"])
    logit = float(case["predictions"][0]["p3"][0, 0])
    delta = float(case["predictions"][1]["p3"][0, 0, 0])
    total = 8 * 2
    assert 0.5 <= abs(logit) <= 2 and 500 <= delta <= 1500
    assert float(losses["loss_rpn_obj"]) * total == pytest.approx(
        8 * math.log1p(math.exp(-logit)) + 8 * math.log1p(math.exp(logit)), abs=1e-3)
    assert float(losses["loss_rpn_box"]) * total / (4 * delta) == pytest.approx(8, abs=0.05)
    judge_rpn_sampling(losses, case)


def test_sampling_cases_differ_so_constant_losses_cannot_pass(reference):
    base = rpn_case(reference, torch.Generator().manual_seed(SEED))
    logits = {float(rpn_sampling_case(dict(base, init=rpn_init(16), strides=STRIDES),
                                      torch.Generator().manual_seed(seed))["predictions"][0]["p3"][0, 0])
              for seed in range(5)}
    assert len(logits) == 5


def test_a_layer_taking_more_inputs_than_any_graded_layer_is_neither_run_nor_recomputed():
    huge = {"name": "huge", "params": {"weight": torch.zeros(1, layer_evidence.MAX_LAYER_INPUTS + 1, 1, 1)},
            "output": None}
    assert layer_evidence.describe_leaf(huge, SEED, 0) is None
    assert networks.weighted_layers(nn.Conv2d(layer_evidence.MAX_LAYER_INPUTS + 1, 1, 1)) == []
