"""Probes for the graded modules: the backbone, the RPN and Faster R-CNN.

Modules are built inside the sandbox, loaded with weights the parent sends
(so that values can be compared with the reference), and run on the
parent's inputs. `isolate` swaps the student's other graded functions for
stand-ins (see fakes.py), so a test judges one definition at a time.
"""
import inspect
import itertools
import os

import torch
from torch import nn

from autograder.probe_api import InvalidStudentOutput, SubmissionModules
from autograder.probes import fakes
from autograder.probes.definitions import plain

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


def record_sampling(sub: SubmissionModules) -> list:
    """Wrap the student's `sample_rpn_training` to log [num_samples, fg_fraction] per call."""
    calls = []
    module = sub.two_stage_detector
    original = getattr(module, "sample_rpn_training", None)
    if original is None:
        return calls
    signature = inspect.signature(original)

    def recording(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs).arguments
            calls.append([int(bound["num_samples"]), float(bound["fg_fraction"])])
        except (TypeError, KeyError, ValueError):
            calls.append(None)
        return original(*args, **kwargs)

    module.sample_rpn_training = recording
    return calls


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


def describe_layers(module: nn.Module, skip_prefix: str = "") -> list:
    """Every Conv2d/Linear/ReLU/Flatten, in registration order, as plain data."""
    layers = []
    for name, layer in module.named_modules():
        if skip_prefix and name.startswith(skip_prefix):
            continue
        if isinstance(layer, nn.Conv2d):
            layers.append({
                "name": name, "type": "Conv2d", "in": layer.in_channels, "out": layer.out_channels,
                "kernel": list(layer.kernel_size), "stride": list(layer.stride),
                "padding": list(layer.padding) if isinstance(layer.padding, tuple) else [-1, -1],
                "weight_mean": float(layer.weight.mean()), "weight_std": float(layer.weight.std()),
                "bias_abs_max": float(layer.bias.abs().max()) if layer.bias is not None else None,
            })
        elif isinstance(layer, nn.Linear):
            layers.append({"name": name, "type": "Linear", "in": layer.in_features, "out": layer.out_features})
        elif isinstance(layer, (nn.ReLU, nn.Flatten)):
            layers.append({"name": name, "type": type(layer).__name__})
    return layers


def convs_of(module: nn.Module, skip_prefix: str = "") -> list:
    return [m for name, m in module.named_modules()
            if isinstance(m, nn.Conv2d) and not (skip_prefix and name.startswith(skip_prefix))]


def load_conv(conv: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor, what: str) -> None:
    if tuple(conv.weight.shape) != tuple(weight.shape):
        raise InvalidStudentOutput(
            f"{what}: expected a conv weight of shape {tuple(weight.shape)}, found {tuple(conv.weight.shape)}")
    with torch.no_grad():
        conv.weight.copy_(weight)
        if conv.bias is None:
            raise InvalidStudentOutput(f"{what}: the conv has no bias")
        conv.bias.copy_(bias)


# ---------------------------------------------------------------- backbone
def backbone(sub: SubmissionModules, out_channels: int, seed: int, images=None,
             lateral=None, output=None) -> dict:
    """
    Build `DetectorBackboneWithFPN(out_channels)` after `torch.manual_seed(seed)`
    (so its RegNet matches the parent's), describe its FPN layers and, given
    `images`, return p3/p4/p5. With `lateral` (in_channels -> [w, b]) and
    `output` ([w, b] per level p3, p4, p5) the FPN convs are loaded first:
    laterals by input channels, output convs in every order (`outputs[k]`),
    since their names are the student's choice.
    """
    os.environ["DETECTOR_BACKBONE_WEIGHTS"] = "random"
    torch.manual_seed(seed)
    model = sub.DetectorBackboneWithFPN(out_channels).eval()
    reply = {"layers": describe_layers(model, skip_prefix="backbone")}
    if images is None:
        return reply
    fpn_convs = convs_of(model, skip_prefix="backbone")
    if lateral is None:
        with torch.no_grad():
            reply["outputs"] = [plain(model(images), "DetectorBackboneWithFPN.forward")]
        return reply
    laterals = [c for c in fpn_convs if tuple(c.kernel_size) == (1, 1)]
    outputs = [c for c in fpn_convs if tuple(c.kernel_size) == (3, 3)]
    if len(laterals) != 3 or len(outputs) != 3:
        raise InvalidStudentOutput(
            f"DetectorBackboneWithFPN: expected 3 lateral 1x1 and 3 output 3x3 convs, "
            f"found {len(laterals)} and {len(outputs)}")
    for conv in laterals:
        if conv.in_channels not in lateral:
            raise InvalidStudentOutput(
                f"DetectorBackboneWithFPN: a 1x1 conv takes {conv.in_channels} channels; "
                f"the c3/c4/c5 features have {sorted(lateral)}")
        load_conv(conv, *lateral[conv.in_channels], "DetectorBackboneWithFPN lateral conv")
    reply["outputs"] = []
    for order in itertools.permutations(range(3)):
        for conv, level in zip(outputs, order):
            load_conv(conv, *output[level], "DetectorBackboneWithFPN output conv")
        with torch.no_grad():
            reply["outputs"].append(plain(model(images), "DetectorBackboneWithFPN.forward"))
    return reply


# --------------------------------------------------------- RPN prediction
def rpn_prediction(sub: SubmissionModules, in_channels: int, stem_channels: list, num_anchors: int,
                   seed: int, feats=None, stem=None, obj=None, box=None) -> dict:
    """
    Build `RPNPredictionNetwork`, describe it and, given `feats`, run it with
    the parent's weights: `stem` ([w, b] per conv, in order), `obj` and `box`
    ([w, b]). The box conv is tried with the parent's channel layout (anchor
    major: channel a * 4 + k) and the coordinate-major one (k * A + a), since
    either is a valid choice: `outputs[0]`, `outputs[1]`.
    """
    torch.manual_seed(seed)
    model = sub.RPNPredictionNetwork(in_channels, stem_channels, num_anchors=num_anchors)
    reply = {
        "stem": describe_layers(model.stem_rpn) if isinstance(model.stem_rpn, nn.Module) else None,
        "pred_obj": describe_layers(model.pred_obj) if isinstance(model.pred_obj, nn.Module) else None,
        "pred_box": describe_layers(model.pred_box) if isinstance(model.pred_box, nn.Module) else None,
    }
    if feats is None:
        return reply
    stem_convs = convs_of(model.stem_rpn)
    if len(stem_convs) != len(stem):
        raise InvalidStudentOutput(
            f"RPNPredictionNetwork: expected {len(stem)} stem convs for stem_channels={stem_channels}, "
            f"found {len(stem_convs)}")
    for conv, (weight, bias) in zip(stem_convs, stem):
        load_conv(conv, weight, bias, "RPNPredictionNetwork stem conv")
    load_conv(model.pred_obj, *obj, "RPNPredictionNetwork.pred_obj")
    coordinate_major = [t.reshape(num_anchors, 4, *t.shape[1:]).transpose(0, 1).reshape(t.shape) for t in box]
    reply["outputs"] = []
    for weight, bias in (box, coordinate_major):
        load_conv(model.pred_box, weight, bias, "RPNPredictionNetwork.pred_box")
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
    sampling_calls = record_sampling(sub)
    model = sub.RPN(**init)
    model.train(training)
    output = model(feats, strides, gt_boxes)
    if not isinstance(output, dict):
        raise InvalidStudentOutput(f"RPN.forward returned {type(output).__name__}; expected a dict")
    reply = {key: plain(value, f"RPN.forward()[{key!r}]") for key, value in output.items()}
    return {"output": reply, "sampling_calls": sampling_calls}


# ---------------------------------------------------------------- Faster R-CNN
def faster_rcnn(sub: SubmissionModules, init: dict, feats: dict, strides: dict, proposals: dict,
                training: bool, seed: int, gt_boxes=None, head=None, capture: bool = False,
                score_thresh=None, nms_thresh=None) -> dict:
    """
    Run the student's `FasterRCNN` on a fake backbone (fixed `feats`) and a
    fake RPN (fixed `proposals`), with torchvision's IoU and NMS. `head`
    ([w, b] per stem conv, then the linear layer's [w, b]) loads the
    classifier; `capture` replaces it to return the RoI features it receives.
    """
    isolate(sub, **PEERS)
    sampling_calls = record_sampling(sub)
    out_channels = next(iter(feats.values())).shape[1]
    torch.manual_seed(seed)
    model = sub.FasterRCNN(
        fakes.FakeBackbone(feats, out_channels, strides), fakes.FakeRPN(proposals), **init
    )
    reply = {"layers": describe_layers(model.cls_pred) if isinstance(model.cls_pred, nn.Module) else None}
    if head is not None:
        convs = convs_of(model.cls_pred)
        linears = [m for m in model.cls_pred.modules() if isinstance(m, nn.Linear)]
        if len(convs) != len(head) - 1 or len(linears) != 1:
            raise InvalidStudentOutput(
                f"FasterRCNN.cls_pred: expected {len(head) - 1} convs and 1 linear layer, "
                f"found {len(convs)} and {len(linears)}")
        for conv, (weight, bias) in zip(convs, head[:-1]):
            load_conv(conv, weight, bias, "FasterRCNN.cls_pred conv")
        weight, bias = head[-1]
        if tuple(linears[0].weight.shape) != tuple(weight.shape):
            raise InvalidStudentOutput(
                f"FasterRCNN.cls_pred: expected the linear layer's weight of shape {tuple(weight.shape)}, "
                f"found {tuple(linears[0].weight.shape)}")
        with torch.no_grad():
            linears[0].weight.copy_(weight)
            linears[0].bias.copy_(bias)
    capture_module = None
    if capture:
        capture_module = fakes.CaptureHead(init["num_classes"] + 1)
        model.cls_pred = capture_module
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
    reply["sampling_calls"] = sampling_calls
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
