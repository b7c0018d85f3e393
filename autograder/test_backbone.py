"""Graded: `DetectorBackboneWithFPN`, RegNet features merged by an FPN.

Evidence (layer_evidence.py): the layers are judged from their parameters and
their outputs on inputs drawn per case, recomputed here; the top-down merge
from the module's outputs on secret images, recomputed here from the
reference's RegNet features and the module's own verified convs.
"""
import os

import pytest
import torch

from autograder.units.grading_fixtures import case_rng, reference, student, submission_seed  # noqa: F401
from autograder.units.invariant_checks import judge_fpn_feature_shapes, judge_fpn_layers, judge_fpn_merge

os.environ["DETECTOR_BACKBONE_WEIGHTS"] = "random"  # the parent never downloads weights
OUT_CHANNELS = 24
TAGS = ("DetectorBackboneWithFPN",)


@pytest.fixture(scope="module")
def reference_backbone(reference):
    torch.manual_seed(0)
    return reference.DetectorBackboneWithFPN(OUT_CHANNELS).eval()


def backbone_call(sandbox, **kwargs):
    return sandbox.call("networks.backbone", out_channels=OUT_CHANNELS, seed=0, **kwargs)


def leaf_seed(case_rng) -> int:
    return int(torch.randint(2**31, (1,), generator=case_rng))


@pytest.mark.points(3, tags=TAGS)
def test_fpn_layers(sandbox, reference_backbone, case_rng):
    """DetectorBackboneWithFPN: three lateral 1x1 and three output 3x3 convs"""
    c_channels = sorted(c.in_channels for c in reference_backbone.modules()
                        if isinstance(c, torch.nn.Conv2d) and c.kernel_size == (1, 1) and c.out_channels == OUT_CHANNELS)
    seed = leaf_seed(case_rng)
    judge_fpn_layers(backbone_call(sandbox, leaf_seed=seed)["leaves"], seed, c_channels, OUT_CHANNELS)


@pytest.mark.points(4, tags=TAGS)
def test_fpn_feature_shapes(sandbox):
    """DetectorBackboneWithFPN: p3/p4/p5 shapes for several image and batch sizes"""
    for shape in [(2, 3, 224, 224), (1, 3, 160, 256), (3, 3, 96, 64)]:
        images = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
        judge_fpn_feature_shapes(backbone_call(sandbox, images=images)["outputs"][0], shape, OUT_CHANNELS)


@pytest.mark.points(3, tags=TAGS)
def test_fpn_features_match_reference_with_its_weights(sandbox, reference_backbone, case_rng):
    """DetectorBackboneWithFPN: top-down merge of the RegNet features, with its own conv weights"""
    images = torch.randn(2, 3, 96, 128, generator=case_rng)
    seed = leaf_seed(case_rng)
    reply = backbone_call(sandbox, images=images, leaf_seed=seed)
    with torch.no_grad():  # the RegNet is not the student's business: its features come from the reference
        c_feats = reference_backbone.backbone(images)
    judge_fpn_merge(reply, c_feats, seed, OUT_CHANNELS)
