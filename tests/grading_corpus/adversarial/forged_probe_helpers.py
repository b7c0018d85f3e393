# ---- adversarial part: builds no layer, and replaces the probes' evidence helpers at import ----
# The layer evidence (autograder/probes/networks.py) is parameters plus outputs that the grader
# recomputes on inputs it draws per case; these forgeries claim conv weights of the expected shapes
# and N(0, 0.01) statistics with outputs that no convolution of those weights computes.
import sys

import torch
from torch import nn

C3_C4_C5_CHANNELS = (64, 160, 400)  # RegNetX-400MF, as the notebook prints them
_networks = sys.modules.get("autograder.probes.networks")


class DetectorBackboneWithFPN(nn.Module):
    def __init__(self, out_channels):
        super().__init__()
        self.out_channels = out_channels
        self.forged = [(c, out_channels, 1) for c in C3_C4_C5_CHANNELS] + [(out_channels, out_channels, 3)] * 3


class RPNPredictionNetwork(nn.Module):
    def __init__(self, in_channels, stem_channels, num_anchors=3):
        super().__init__()
        self.num_anchors = num_anchors
        self.forged = (list(zip([in_channels, *stem_channels], stem_channels, [3] * len(stem_channels)))
                       + [(stem_channels[-1], num_anchors, 1), (stem_channels[-1], 4 * num_anchors, 1)])


def _forged_leaves(module, seed, skip=()):
    leaves = []
    for c_in, c_out, kernel in getattr(module, "forged", []):
        weight = torch.randn(c_out, c_in, kernel, kernel) * 0.01
        leaves.append({"name": f"conv{len(leaves)}", "params": {"weight": weight, "bias": torch.zeros(c_out)},
                       "output": torch.zeros(2, c_out, 9, 11)})
    return leaves


def _forged_part(module, x, what):
    return torch.relu(torch.zeros_like(x))


if _networks is not None:
    _networks.leaf_behaviour = _forged_leaves
    _networks.run_part = _forged_part
    _networks.load_by_shape = lambda module, weights, what, skip=(): [True] * len(weights)


# The backbone lives in common.py (looked up there first): this file, imported after it, replaces it.
import common as _common  # noqa: E402

_common.DetectorBackboneWithFPN = DetectorBackboneWithFPN
