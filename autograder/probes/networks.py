"""Probes for the graded modules: the backbone, the RPN and Faster R-CNN.

Modules are built inside the sandbox, loaded with weights the parent sends
(so that values can be compared with the reference), and run on the
parent's inputs. Facts about layers come from their behaviour, judged in the
parent (layer_evidence.py): the probes return parameters and outputs, never
descriptions. `isolate` swaps the student's other graded functions for
stand-ins (see fakes.py), so a test judges one definition at a time.
"""
import os

import torch
from torch import nn

from autograder.errors import InvalidOutput
from autograder.layer_evidence import leaf_input, weighted_layers
from autograder.sandbox.probe_api import SubmissionModules, plain
from autograder.probes import fakes

# Stand-ins for the student's definitions, by name (see `isolate`).
PEERS = {
    "iou": fakes.peer_iou,
    "nms": fakes.peer_nms,
    "rcnn_get_deltas_from_anchors": fakes.peer_get_deltas,
    "rcnn_apply_deltas_to_anchors": fakes.peer_apply_deltas,
}


def isolate(sub: SubmissionModules, **replacements) -> None:
    """Rebind names in both student modules (only where they are defined)."""
    for module in (sub.common, sub.two_stage_detector):
        for name, value in replacements.items():
            if hasattr(module, name):
                setattr(module, name, value)


def constant(value):
    """A function that ignores its arguments and returns a copy of `value`."""
    return lambda *args, **kwargs: plain_copy(value)


def plain_copy(value):
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return {k: plain_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_copy(v) for v in value]
    return value


# ------------------------------------------------------------ layer evidence


def leaf_behaviour(module: nn.Module, seed: int, skip: tuple = ()) -> list:
    """Every layer with a weight: its parameters as plain tensors and its output on
    `layer_evidence.leaf_input` (the grader recomputes it: see layer_evidence.py)."""
    leaves = []
    for index, (name, layer, params) in enumerate(weighted_layers(module, skip)):
        x = leaf_input(params["weight"].shape, seed, index)
        try:
            with torch.no_grad():
                output = layer(x)
        except (RuntimeError, TypeError, ValueError):  # not a layer that takes one tensor: no evidence
            output = None
        leaves.append({"name": name, "params": {k: plain(v, f"{name}.{k}") for k, v in params.items()},
                       "output": plain(output, f"layer {name or 'self'}") if isinstance(output, torch.Tensor) else None})
    return leaves


def run_part(module, x, what: str):
    """`module(x)` without gradients, as a plain value."""
    if not isinstance(module, nn.Module):
        raise InvalidOutput(f"{what} is not a module (found {type(module).__name__})")
    with torch.no_grad():
        return plain(module(x), f"{what}(x)")


def load_by_shape(module: nn.Module, weights: list, what: str, skip: tuple = ()) -> list:
    """Load each [weight, bias] into the first unused layer whose weight has that shape
    (registration order); a layer without a bias takes the weight only. Returns, per
    entry, whether its bias was loaded (the grader then recomputes with a zero bias)."""
    layers = weighted_layers(module, skip)
    used, bias_loaded = set(), []
    for weight, bias in weights:
        match = next((i for i, (_, _, params) in enumerate(layers)
                      if i not in used and tuple(params["weight"].shape) == tuple(weight.shape)), None)
        if match is None:
            shapes = [tuple(params["weight"].shape) for _, _, params in layers]
            raise InvalidOutput(f"{what}: no layer has a weight of shape {tuple(weight.shape)} "
                                       f"(the layers' weights have shapes {shapes})")
        used.add(match)
        params = layers[match][2]
        with torch.no_grad():
            params["weight"].copy_(weight)
            has_bias = isinstance(params.get("bias"), torch.Tensor) and tuple(params["bias"].shape) == tuple(bias.shape)
            if has_bias:
                params["bias"].copy_(bias)
        bias_loaded.append(has_bias)
    return bias_loaded


def reset_batchnorm_statistics(module) -> None:
    """Fresh BatchNorm statistics (not the student's business: the seed's dummy forward ran
    in training mode and changed them), as in the reference's freshly built backbone."""
    if isinstance(module, nn.Module):
        for layer in module.modules():
            if isinstance(layer, nn.modules.batchnorm._BatchNorm):
                layer.reset_running_stats()


# ---------------------------------------------------------------- backbone
def backbone(sub: SubmissionModules, out_channels: int, seed: int, images=None, leaf_seed=None,
             return_trunk: bool = False) -> dict:
    """
    Build `DetectorBackboneWithFPN(out_channels)` after `torch.manual_seed(seed)`
    (so its RegNet matches the parent's, BatchNorm statistics reset). With
    `leaf_seed`: `leaves`, the evidence of its layers outside the RegNet; with
    `images`: `outputs`, [p3/p4/p5 on them] (its own weights), and with
    `return_trunk` the RegNet's c3/c4/c5 (for the public checks, which have no
    reference).
    """
    os.environ["DETECTOR_BACKBONE_WEIGHTS"] = "random"
    torch.manual_seed(seed)
    model = sub.DetectorBackboneWithFPN(out_channels).eval()
    trunk = getattr(model, "backbone", None)
    reset_batchnorm_statistics(trunk)
    reply = {}
    if leaf_seed is not None:
        reply["leaves"] = leaf_behaviour(model, leaf_seed, skip=(trunk,))
    if images is not None:
        with torch.no_grad():
            reply["outputs"] = [plain(model(images), "DetectorBackboneWithFPN.forward")]
        if return_trunk:
            reply["trunk"] = run_part(trunk, images, "DetectorBackboneWithFPN.backbone")
    return reply


# --------------------------------------------------------- RPN prediction
def rpn_prediction(sub: SubmissionModules, in_channels: int, stem_channels: list, num_anchors: int,
                   seed: int, leaf_seed=None, stem_input=None, head_input=None, feats=None, weights=None) -> dict:
    """
    Build `RPNPredictionNetwork`. With `leaf_seed`: `leaves` (layer evidence);
    `stem_input`: `stem`, `stem_rpn(stem_input)`; `head_input`: `pred_obj` and
    `pred_box` on it. With `feats` and `weights` ([w, b] per layer, loaded by
    shape, see `load_by_shape`): `outputs`, the forward on `feats`, once with
    the box conv's channels anchor-major (a * 4 + k) and once coordinate-major
    (k * A + a), since either layout is the student's choice; `bias_loaded`.
    """
    torch.manual_seed(seed)
    model = sub.RPNPredictionNetwork(in_channels, stem_channels, num_anchors=num_anchors)
    reply = {}
    if leaf_seed is not None:
        reply["leaves"] = leaf_behaviour(model, leaf_seed)
    if stem_input is not None:
        reply["stem"] = run_part(getattr(model, "stem_rpn", None), stem_input, "RPNPredictionNetwork.stem_rpn")
    if head_input is not None:
        for key in ("pred_obj", "pred_box"):
            reply[key] = run_part(getattr(model, key, None), head_input, f"RPNPredictionNetwork.{key}")
    if feats is None:
        return reply
    reply["bias_loaded"] = load_by_shape(model, weights, "RPNPredictionNetwork")
    box_weight, box_bias = weights[-1]
    coordinate_major = [t.reshape(num_anchors, 4, *t.shape[1:]).transpose(0, 1).reshape(t.shape)
                        for t in (box_weight, box_bias)]
    reply["outputs"] = []
    for box in (weights[-1], coordinate_major):
        load_by_shape(model, weights[:-1] + [box], "RPNPredictionNetwork")
        with torch.no_grad():
            reply["outputs"].append(plain(model(feats), "RPNPredictionNetwork.forward"))
    return reply


# ---------------------------------------------------------------------- RPN
def rpn(sub: SubmissionModules, init: dict, feats: dict, strides: dict, predictions: list,
        locations: dict, anchors: dict, training: bool, gt_boxes=None) -> dict:
    """
    Run the student's `RPN.forward` with everything else fixed: the
    prediction network returns `predictions`, locations and anchors are the
    parent's, and IoU, NMS and the box transforms are torchvision's.
    """
    isolate(
        sub,
        RPNPredictionNetwork=lambda *args, **kwargs: fakes.FixedOutput(predictions),
        get_fpn_location_coords=constant(locations),
        generate_fpn_anchors=constant(anchors),
        **PEERS,
    )
    model = sub.RPN(**init)
    model.train(training)
    output = model(feats, strides, gt_boxes)
    if not isinstance(output, dict):
        raise InvalidOutput(f"RPN.forward returned {type(output).__name__}; expected a dict")
    reply = {key: plain(value, f"RPN.forward()[{key!r}]") for key, value in output.items()}
    return {"output": reply}


# ---------------------------------------------------------------- Faster R-CNN
def faster_rcnn(sub: SubmissionModules, init: dict, feats: dict, strides: dict, proposals: dict,
                training: bool, seed: int, gt_boxes=None, head=None, capture: bool = False,
                score_thresh=None, nms_thresh=None, leaf_seed=None, head_input=None, head_logits=None) -> dict:
    """
    Run the student's `FasterRCNN` on a fake backbone (fixed `feats`) and a
    fake RPN (fixed `proposals`), with torchvision's IoU and NMS. `head`
    ([w, b] per stem conv, then the linear layer's [w, b]) loads the
    classifier by shape (`load_by_shape`; `head_bias_loaded`); `capture`
    replaces it to return the RoI features it receives; `head_logits` replaces
    it with one returning that row of logits for every RoI. With `leaf_seed`:
    `leaves` (evidence of the classifier's layers); `head_input`: `head`,
    `cls_pred(head_input)`; neither runs the forward.
    """
    isolate(sub, **PEERS)
    out_channels = next(iter(feats.values())).shape[1]
    torch.manual_seed(seed)
    model = sub.FasterRCNN(
        fakes.FakeBackbone(feats, out_channels, strides), fakes.FakeRPN(proposals), **init
    )
    reply = {}
    if leaf_seed is not None or head_input is not None:
        head_module = getattr(model, "cls_pred", None)
        if leaf_seed is not None:
            reply["leaves"] = leaf_behaviour(head_module, leaf_seed) if isinstance(head_module, nn.Module) else None
        if head_input is not None:
            reply["head"] = run_part(head_module, head_input, "FasterRCNN.cls_pred")
        return reply
    if head is not None:
        reply["head_bias_loaded"] = load_by_shape(model.cls_pred, head, "FasterRCNN.cls_pred")
    capture_module = None
    if capture:
        capture_module = fakes.CaptureHead(init["num_classes"] + 1)
        model.cls_pred = capture_module
    if head_logits is not None:
        model.cls_pred = fakes.ConstantLogits(head_logits)
    model.train(training)
    images = torch.zeros(1 if gt_boxes is None else len(gt_boxes), 3, 8, 8)
    torch.manual_seed(seed)
    if training:
        output = model(images, gt_boxes)
        reply["losses"] = {k: plain(v, f"FasterRCNN.forward()[{k!r}]") for k, v in output.items()}
    else:
        output = model(images, test_score_thresh=score_thresh, test_nms_thresh=nms_thresh)
        reply["detections"] = plain(list(output), "FasterRCNN.forward() in eval mode")
    if capture_module is not None:
        reply["roi_feats"] = capture_module.seen
    return reply


def faster_rcnn_inference(sub: SubmissionModules, num_classes: int, proposals: dict, logits,
                          score_thresh, nms_thresh) -> dict:
    """Call `FasterRCNN.inference` directly, without running the constructor."""
    isolate(sub, **PEERS)
    cls = sub.FasterRCNN
    model = cls.__new__(cls)
    nn.Module.__init__(model)
    model.num_classes = num_classes
    model.roi_size = (7, 7)
    output = model.inference(torch.zeros(1, 3, 8, 8), plain_copy(proposals), logits.clone(),
                             test_score_thresh=score_thresh, test_nms_thresh=nms_thresh)
    return {"detections": plain(list(output), "FasterRCNN.inference")}
