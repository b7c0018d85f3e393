"""The trained weights in the grader's own detector: the view no student code can steer.

The detector the fresh workers measure runs the submission's ``forward``, so
any value in the checkpoint could switch on a hand-written detector in it
(issue 13: templates of the generator's shapes scored mAP 0.69 that way).
The grader therefore also measures the checkpoint's weights in its own
detector: the reference's code, built as the full-training cell builds it,
run in this process, where no student code ran. The checks take the worse
of the two views, so the points need a detector whose weights detect.

Which reference layer each student layer is: the RegNet by its state-dict
names (starter code); every other layer by its weight's shape, and where
several share a shape (the FPN's three output convs, the two 3x3 convs of
the RPN's and of the classifier's stems) or the box conv's channel order is
the student's choice (anchor-major or coordinate-major), by behaviour: the
assignment under which the reference part computes what the student's part
computed on the grader's inputs (``trained_detector._layer_report``). Any
assignment still makes a real detector of the trained weights, so a
dishonest report can only cost its own points; when none matches, the
layers go in registration order and the view says so. The report's size
and the assignments tried are bounded (``MAX_TRIED_ASSIGNMENTS``): this
process has no time limit.

Shapes: ``layer_inputs`` gives ``images`` (Tensor[1, 3, S, S]), ``feats``
({"p3", "p4", "p5"}: Tensor[1, C, s, s], s from ``LAYER_INPUT_LEVEL_SIZES``) and ``rois``
(Tensor[R, C, 7, 7]), C the FPN width.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import math
import os
from dataclasses import dataclass

import torch
from torch import nn

from autograder.errors import InvalidOutput
from autograder.layer_evidence import MAX_LEAVES, weighted_layers
from autograder.notebook.full_run_detector import build_detector, measure_detector
from autograder.course.reference_solution import load_reference

LAYER_INPUT_SIZE = 64  # image side of the FPN's input: divisible by the coarsest stride, 32
LAYER_INPUT_ROIS = 3
# Side of each level's input to the RPN's prediction network, which sees each level alone: any
# sizes do; these are the FPN's on a LAYER_INPUT_SIZE image.
LAYER_INPUT_LEVEL_SIZES = {"p3": 8, "p4": 4, "p5": 2}
# Same weights, same operations: only float rounding differs (float32 here; a student may
# compute in float64). A wrong assignment is off by the size of the activations.
MATCH_RTOL = 1e-3
PARTS = ("fpn", "rpn_pred", "cls_pred")
# Role assignments tried per part and box layout: 120 = the FPN's three output convs among six
# of that shape. A part with more ways is refused (the report is untrusted: this bounds the work).
MAX_TRIED_ASSIGNMENTS = 120


@dataclass(frozen=True)
class GradersView:
    """The grader's detector with the trained weights: its measurement (``measure_detector``'s
    reply) and the parts whose layers were matched by behaviour (the others: registration order)."""

    reply: dict
    matched: tuple[str, ...]

    @property
    def unmatched(self) -> tuple[str, ...]:
        return tuple(part for part in PARTS if part not in self.matched)


def layer_inputs(seed: int, fpn_channels: int) -> dict:
    """The grader's inputs for the parts' outputs (see the module's shape key), drawn from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return {
        "images": torch.rand(1, 3, LAYER_INPUT_SIZE, LAYER_INPUT_SIZE, generator=generator),
        "feats": {level: torch.randn(1, fpn_channels, size, size, generator=generator)
                  for level, size in LAYER_INPUT_LEVEL_SIZES.items()},
        "rois": torch.randn(LAYER_INPUT_ROIS, fpn_channels, 7, 7, generator=generator),
    }


def measure_in_graders_detector(weights: dict, report: dict, inputs: dict, fpn_channels: int, post_nms_topk: int,
                                num_classes: int, loss_images: list, loss_boxes: list, images, seed: int) -> GradersView:
    """Build the grader's detector, load ``weights`` (the checkpoint's state dict) as ``report``
    places them, and measure it as the workers measure the submission's.

    Raises ``InvalidOutput`` (for the student) when the weights do not fit."""
    with torch.random.fork_rng():  # this process's random state is not the evaluation's business
        torch.manual_seed(seed)
        detector = graders_detector(fpn_channels, post_nms_topk, num_classes)
        try:
            matched = load_trained_weights(detector, weights, report, inputs)
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as error:
            raise InvalidOutput(f"The grader could not put the weights of your full run into its own detector "
                                f"({str(error)[:300]}). Keep the starter code's modules (`backbone`, `rpn.pred_net`, "
                                "`cls_pred`) and the layers their TODOs ask for.") from None
        try:
            reply = measure_detector(detector, loss_images, loss_boxes, images, seed)
        except (RuntimeError, ValueError) as error:  # the reference's own code on weights a run diverged to
            raise InvalidOutput(f"Your trained weights make the grader's own detector fail "
                                f"({str(error).splitlines()[0][:200]}): the full run's training probably "
                                "diverged.") from None
    return GradersView(reply, matched)


def graders_detector(fpn_channels: int, post_nms_topk: int, num_classes: int) -> nn.Module:
    """The full-training cell's detector, built from the reference (its RegNet randomly initialised)."""
    reference = load_reference()
    saved = os.environ.get("DETECTOR_BACKBONE_WEIGHTS")
    os.environ["DETECTOR_BACKBONE_WEIGHTS"] = "random"
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the backbone prints its feature shapes
            return build_detector(lambda name: getattr(reference, name), fpn_channels, post_nms_topk, num_classes)
    finally:
        if saved is None:
            os.environ.pop("DETECTOR_BACKBONE_WEIGHTS")
        else:
            os.environ["DETECTOR_BACKBONE_WEIGHTS"] = saved


def load_trained_weights(detector: nn.Module, weights: dict, report: dict, inputs: dict) -> tuple[str, ...]:
    """Put ``weights`` into the grader's ``detector`` as ``report`` places them; returns the parts
    matched by behaviour."""
    trunk = detector.backbone.backbone
    trunk.load_state_dict({name: weights[key] for name, key in report["trunk"].items()}, strict=True)
    detector.eval()
    parts = {
        "fpn": (detector.backbone, (trunk,), lambda: detector.backbone(inputs["images"]), (_as_is,)),
        "rpn_pred": (detector.rpn.pred_net, (), lambda: detector.rpn.pred_net(inputs["feats"]),
                     (_as_is, _box_conv_from_coordinate_major(detector.rpn.pred_net.num_anchors))),
        "cls_pred": (detector.cls_pred, (), lambda: detector.cls_pred(inputs["rois"]), (_as_is,)),
    }
    matched = []
    for name, (part, skip, run, layouts) in parts.items():
        if _assign(part, skip, _reported_layers(weights, report[name]["layers"], name), run,
                   report[name]["output"], layouts):
            matched.append(name)
    return tuple(matched)


def _reported_layers(weights: dict, entries, part: str) -> list:
    """The (weight, bias or None) tensors of an untrusted report's ``[[weight key, bias key or None], ...]``:
    at most ``MAX_LEAVES`` entries, existing keys, each weight once."""
    if type(entries) is not list or len(entries) > MAX_LEAVES:
        raise ValueError(f"the report of {part} lists {type(entries).__name__} of layers, not at most {MAX_LEAVES}")
    layers, seen = [], set()
    for entry in entries:
        weight_key, bias_key = entry
        if type(weight_key) is not str or not (bias_key is None or type(bias_key) is str):
            raise ValueError(f"the report of {part} names a layer by {type(weight_key).__name__}")
        if weight_key not in seen:
            seen.add(weight_key)
            layers.append((weights[weight_key], None if bias_key is None else weights[bias_key]))
    return layers


def _assign(part: nn.Module, skip: tuple, layers: list, run, expected, layouts: tuple) -> bool:
    """Load ``layers`` ([(weight, bias or None)], the student's) into ``part``'s layers: the first
    role assignment (``_role_assignments``) and layout under which ``run()`` reproduces
    ``expected``; else the first assignment (registration order), as-is. Returns whether one
    reproduced it."""
    targets = weighted_layers(part, skip)
    picks = _role_assignments(targets, layers)
    for layout in layouts:
        for pick in picks:
            _load(targets, pick, layout)
            with torch.no_grad():
                if _close(run(), expected):
                    return True
    _load(targets, picks[0], layouts[0])
    return False


def _role_assignments(targets: list, layers: list) -> list:
    """Every way to give each of the grader's ``targets`` one of the student's ``layers`` of its
    weight's shape, no layer twice; registration order first. Only roles sharing a shape are
    permuted, so the count is the product, over shapes, of k-permutations of the layers of that
    shape; more than ``MAX_TRIED_ASSIGNMENTS`` is refused."""
    groups = {}  # shape -> indices of the targets with that weight shape
    for index, (_, _, params) in enumerate(targets):
        groups.setdefault(tuple(params["weight"].shape), []).append(index)
    options = []
    for shape, roles in groups.items():
        found = [layer for layer in layers if tuple(layer[0].shape) == shape]
        if len(found) < len(roles):
            names = ", ".join(f"`{targets[i][0]}`" for i in roles)
            raise ValueError(f"no layer with a weight of shape {shape} for the grader's {names} "
                             f"({len(found)} found); the weights have shapes {[tuple(w.shape) for w, _ in layers]}")
        options.append((roles, found))
    count = math.prod(math.perm(len(found), len(roles)) for roles, found in options)
    if count > MAX_TRIED_ASSIGNMENTS:
        raise ValueError(f"{count} ways to assign the layers of equal shapes; at most {MAX_TRIED_ASSIGNMENTS} are "
                         "tried: remove the layers the TODOs do not ask for")
    picks = []
    for orderings in itertools.product(*(itertools.permutations(found, len(roles)) for roles, found in options)):
        pick = [None] * len(targets)
        for (roles, _), ordering in zip(options, orderings):
            for role, layer in zip(roles, ordering):
                pick[role] = layer
        picks.append(pick)
    return picks


def _load(targets: list, pick: list, layout) -> None:
    with torch.no_grad():
        for (name, _, params), (weight, bias) in zip(targets, pick):
            weight, bias = layout(name, weight, bias)
            params["weight"].copy_(weight)
            target_bias = params.get("bias")
            if target_bias is None:
                continue
            if isinstance(bias, torch.Tensor) and bias.shape == target_bias.shape:
                target_bias.copy_(bias)
            else:  # a layer without a bias computes what the reference's computes with a zero one
                target_bias.zero_()


def _as_is(name: str, weight: torch.Tensor, bias):
    return weight, bias


def _box_conv_from_coordinate_major(num_anchors: int):
    """The box conv's channels k * A + a (coordinate-major) in the reference's order a * 4 + k."""
    def layout(name: str, weight: torch.Tensor, bias):
        if name != "pred_box":
            return weight, bias
        reorder = lambda t: t.reshape(4, num_anchors, *t.shape[1:]).transpose(0, 1).reshape(t.shape)  # noqa: E731
        return reorder(weight), None if bias is None else reorder(bias)
    return layout


def _close(actual, expected) -> bool:
    """``actual`` (the grader's part) equals ``expected`` (the student's, untrusted) up to rounding."""
    if isinstance(actual, torch.Tensor):
        if type(expected) is not torch.Tensor or expected.shape != actual.shape:
            return False
        scale = float(expected.double().abs().max()) if expected.numel() else 0.0
        return bool(torch.allclose(actual.double(), expected.double(), rtol=MATCH_RTOL, atol=MATCH_RTOL * scale))
    if isinstance(actual, dict):
        return type(expected) is dict and set(expected) == set(actual) and all(
            _close(value, expected[key]) for key, value in actual.items())
    if isinstance(actual, (list, tuple)):
        return type(expected) in (list, tuple) and len(expected) == len(actual) and all(
            _close(a, e) for a, e in zip(actual, expected))
    return False
