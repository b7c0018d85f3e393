"""Facts about a student's layers, established in the trusted process from their behaviour.

The probes never describe a layer: for every layer holding a `weight` they
return its parameters as plain tensors and its output on an input drawn from
a seed the grader picks per case (`leaf_input`). Here that input is drawn
again and the layer recomputed with `F.conv2d` / `F.linear` from the returned
parameters: a layer whose output matches IS a convolution (linear layer) with
those weights, so its channels, kernel, stride, padding (read from the
output's shape: `padding='same'` and `padding=1` are the same layer) and
initialisation statistics are evidence. A layer whose output does not match
proves nothing and counts for nothing. How the layers are built (bias or not,
`nn.Sequential`, `ModuleList`, `ModuleDict`, names, registration order) is
not judged.
"""
import itertools
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from autograder.untrusted_text import one_line

LEAF_BATCH = 2
LEAF_SIZE = (9, 11)  # odd and unequal: padding, stride and transposed kernels all change the output's shape
MAX_LEAVES = 64  # layers a probe reports at most (the graded modules have a dozen)
MAX_PADDING = 4
STRIDES = (1, 2)
MAX_ROLE_ASSIGNMENTS = 24  # role assignments tried for layers of equal shapes (3! for the FPN outputs)
SEED_SPAN = 1_000_003  # leaf inputs use seed * SEED_SPAN + index: distinct per layer
# Bounded trusted work: a layer taking more inputs is no graded layer (the largest, the
# head's linear layer, takes stem_channels[-1] * 7 * 7) and is neither run nor recomputed.
MAX_LAYER_INPUTS = 1 << 14
MAX_NAME_CHARS = 80


def accepted_weight(weight) -> bool:
    """A 2-D or 4-D floating weight whose layer takes at most `MAX_LAYER_INPUTS` channels/features."""
    return (isinstance(weight, torch.Tensor) and weight.dim() in (2, 4) and weight.dtype.is_floating_point
            and 0 < weight.shape[1] <= MAX_LAYER_INPUTS)


def weighted_layers(module: nn.Module, skip: tuple = ()) -> list:
    """(name, layer, its own parameters) of every submodule holding a conv or linear `weight`
    (`accepted_weight`), in registration order, except those inside the modules of `skip`."""
    skipped = {id(m) for part in skip if isinstance(part, nn.Module) for m in part.modules()}
    found = []
    for name, layer in module.named_modules():
        if id(layer) in skipped:
            continue
        params = dict(layer.named_parameters(recurse=False))
        if accepted_weight(params.get("weight")):
            found.append((name, layer, params))
    return found[:MAX_LEAVES]


def leaf_input(weight_shape, seed: int, index: int) -> torch.Tensor:
    """The input of the `index`-th reported layer: `(2, in, 9, 11)` for a conv weight
    `(out, in, kh, kw)`, `(2, in)` for a linear weight `(out, in)`."""
    generator = torch.Generator().manual_seed(int(seed) * SEED_SPAN + int(index))
    if len(weight_shape) == 4:
        return torch.randn(LEAF_BATCH, int(weight_shape[1]), *LEAF_SIZE, generator=generator)
    return torch.randn(LEAF_BATCH, int(weight_shape[1]), generator=generator)


def _tensor(value, ndim=None) -> bool:
    return isinstance(value, torch.Tensor) and (ndim is None or value.dim() == ndim)


def _close(actual, expected) -> bool:
    return (_tensor(actual) and tuple(actual.shape) == tuple(expected.shape)
            and bool(torch.allclose(actual.double(), expected.double(), atol=1e-4, rtol=1e-4)))


def _conv_geometry(weight: torch.Tensor, output: torch.Tensor):
    """(stride, padding) pairs under which a conv with `weight` maps a `LEAF_SIZE` input to `output`'s size."""
    if not _tensor(output, 4) or output.shape[:2] != (LEAF_BATCH, weight.shape[0]):
        return []
    found = []
    for stride in STRIDES:
        paddings = []
        for size, kernel, out_size in zip(LEAF_SIZE, weight.shape[2:], output.shape[2:]):
            options = [p for p in range(MAX_PADDING + 1) if (size + 2 * p - kernel) // stride + 1 == out_size
                       and size + 2 * p >= kernel]
            paddings.append(options)
        found += [(stride, (ph, pw)) for ph in paddings[0] for pw in paddings[1]]
    return found


def describe_leaf(leaf: dict, seed: int, index: int) -> Optional[dict]:
    """The verified description of one reported layer, or None when it holds no conv or
    linear weight. `leaf`: {"name", "params": {name: tensor}, "output": tensor}.
    Unverified layers come back as {"name", "type": "unverified", "reason"}."""
    params = leaf.get("params") if isinstance(leaf, dict) else None
    weight = params.get("weight") if isinstance(params, dict) else None
    if not accepted_weight(weight):
        return None
    name = one_line(leaf.get("name", ""), MAX_NAME_CHARS)  # student-chosen: it reaches feedback text
    bias = params.get("bias")
    if bias is not None and not (_tensor(bias, 1) and bias.shape[0] == weight.shape[0]):
        return {"name": name, "type": "unverified", "reason": f"its bias has shape {tuple(getattr(bias, 'shape', ()))}"}
    x = leaf_input(weight.shape, seed, index).double()
    w, b = weight.double(), None if bias is None else bias.double()
    output = leaf.get("output")
    stats = {"weight_mean": float(weight.double().mean()), "weight_std": float(weight.double().std()),
             "bias_abs_max": None if bias is None else float(bias.double().abs().max()), "weight": weight, "bias": bias}
    if weight.dim() == 2:
        if _close(output, F.linear(x, w, b)):
            return {"name": name, "type": "Linear", "in": int(weight.shape[1]), "out": int(weight.shape[0]), **stats}
        return {"name": name, "type": "unverified", "reason": "its output is not x @ weight.T + bias"}
    for stride, padding in _conv_geometry(weight, output):
        if _close(output, F.conv2d(x, w, b, stride=stride, padding=padding)):
            return {"name": name, "type": "Conv2d", "in": int(weight.shape[1]), "out": int(weight.shape[0]),
                    "kernel": list(weight.shape[2:]), "stride": [stride, stride], "padding": list(padding), **stats}
    return {"name": name, "type": "unverified",
            "reason": "its output is not a convolution of its input with its own weight and bias"}


def verified_layers(leaves, seed: int) -> list:
    """`describe_leaf` of every reported layer (at most `MAX_LEAVES`), the non-layers dropped."""
    if not isinstance(leaves, list):
        return []
    described = (describe_leaf(leaf, seed, index) for index, leaf in enumerate(leaves[:MAX_LEAVES]))
    return [layer for layer in described if layer is not None]


def convs(layers: list) -> list:
    return [layer for layer in layers if layer["type"] == "Conv2d"]


def summary(layers: list) -> str:
    """The layers as the student would write them, for messages."""
    parts = []
    for layer in layers:
        if layer["type"] == "Conv2d":
            parts.append(f"{layer['name'] or 'conv'}: {layer['kernel'][0]}x{layer['kernel'][1]} conv "
                         f"{layer['in']} -> {layer['out']}, stride {layer['stride'][0]}, padding {layer['padding']}")
        elif layer["type"] == "Linear":
            parts.append(f"{layer['name'] or 'linear'}: linear {layer['in']} -> {layer['out']}")
        else:
            parts.append(f"{layer['name'] or 'layer'}: {layer['reason']}")
    return "; ".join(parts) or "no layer with a weight"


def conv_apply(layer: dict, x: torch.Tensor) -> torch.Tensor:
    """The verified conv on `x` (float64)."""
    bias = None if layer["bias"] is None else layer["bias"].double()
    return F.conv2d(x.double(), layer["weight"].double(), bias, stride=layer["stride"], padding=layer["padding"])


def linear_apply(layer: dict, x: torch.Tensor) -> torch.Tensor:
    bias = None if layer["bias"] is None else layer["bias"].double()
    return F.linear(x.double(), layer["weight"].double(), bias)


def chain_candidates(layers: list, channels: list) -> list:
    """Per step c_in -> c_out of `channels`, the verified convs of those channels."""
    return [[l for l in convs(layers) if (l["in"], l["out"]) == (c_in, c_out)]
            for c_in, c_out in zip(channels, channels[1:])]


def assignments(candidates: list):
    """Ways to pick one candidate per step, no layer twice (at most `MAX_ROLE_ASSIGNMENTS`)."""
    found = []
    for pick in itertools.product(*candidates):
        if len({id(layer) for layer in pick}) == len(pick):
            found.append(list(pick))
            if len(found) == MAX_ROLE_ASSIGNMENTS:
                break
    return found

