"""Graded: `DetectorBackboneWithFPN`, RegNet features merged by an FPN."""
import os

import pytest
import torch

from autograder.grading_fixtures import case_rng, reference, student, submission_seed  # noqa: F401
from autograder.invariant_checks import judge_fpn_feature_shapes, judge_fpn_layers
from autograder.judge import allclose, check_tensor
from autograder.network_weights import conv_params

os.environ["DETECTOR_BACKBONE_WEIGHTS"] = "random"  # the parent never downloads weights
OUT_CHANNELS = 24
STRIDES = {"p3": 8, "p4": 16, "p5": 32}
TAGS = ("DetectorBackboneWithFPN",)


@pytest.fixture(scope="module")
def reference_backbone(reference):
    torch.manual_seed(0)
    return reference.DetectorBackboneWithFPN(OUT_CHANNELS).eval()


def backbone_call(sandbox, **kwargs):
    return sandbox.call("networks.backbone", out_channels=OUT_CHANNELS, seed=0, **kwargs)


@pytest.mark.points(3, tags=TAGS)
def test_fpn_layers(sandbox, reference_backbone):
    """DetectorBackboneWithFPN: three lateral 1x1 and three output 3x3 convs"""
    c_channels = sorted(c.in_channels for c in reference_backbone.modules()
                        if isinstance(c, torch.nn.Conv2d) and c.kernel_size == (1, 1) and c.out_channels == OUT_CHANNELS)
    judge_fpn_layers(backbone_call(sandbox)["layers"], c_channels, OUT_CHANNELS)


@pytest.mark.points(4, tags=TAGS)
def test_fpn_feature_shapes(sandbox):
    """DetectorBackboneWithFPN: p3/p4/p5 shapes for several image and batch sizes"""
    for shape in [(2, 3, 224, 224), (1, 3, 160, 256), (3, 3, 96, 64)]:
        images = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
        judge_fpn_feature_shapes(backbone_call(sandbox, images=images)["outputs"][0], shape, OUT_CHANNELS)


@pytest.mark.points(3, tags=TAGS)
def test_fpn_features_match_reference_with_its_weights(sandbox, reference_backbone, case_rng):
    """DetectorBackboneWithFPN: top-down merge, with the reference's weights"""
    images = torch.randn(2, 3, 96, 128, generator=case_rng)
    params = reference_backbone.fpn_params
    lateral = {params[f"lateral_{k}"].in_channels: conv_params(params[f"lateral_{k}"]) for k in "345"}
    output = [conv_params(params[f"output_{k}"]) for k in "345"]
    reply = backbone_call(sandbox, images=images, lateral=lateral, output=output)
    with torch.no_grad():
        expected = reference_backbone(images)
    if any(all(allclose(candidate[n], expected[n], atol=1e-4) for n in STRIDES) for candidate in reply["outputs"]):
        return
    best = reply["outputs"][0]
    for name in ("p5", "p4", "p3"):  # the coarsest level first: its error propagates down
        check_tensor(f"DetectorBackboneWithFPN.forward(images)['{name}']", best[name], expected[name], atol=1e-4,
                     hints=(lambda a, e, n=name: ("p5 must be output_conv(lateral(c5)); p4 and p3 add the "
                                                  "upsampled coarser merged feature to their lateral before "
                                                  "their output conv") if n != "p5" else None,))
