"""Probe of the notebook stage's evidence: the graded run's detector, judged in a fresh worker.

A worker that never ran a notebook cell builds the detector from the
student's definitions as the full-training cell does
(``full_run_detector.build_detector``), loads the weights the graded run's
checkpoint holds (or keeps the freshly built ones: the untrained start), and
measures it (``full_run_detector.measure_detector``): the training loss on
the grader's batches and inference on the grader's validation images.

With ``layer_inputs`` it also says where the checkpoint keeps each graded
part's layers and what the parts compute on those inputs, so that the
grader can put the same weights into its own detector
(``notebook/graders_view.py``). Every reply is untrusted: the parent
validates it and judges it.
"""

import os

import torch
from torch import nn

from autograder.errors import InvalidOutput
from autograder.layer_evidence import weighted_layers
from autograder.notebook.full_run_detector import CHECKPOINT_MODEL_KEY, build_detector, measure_detector
from autograder.sandbox.probe_api import SubmissionModules, plain


def evaluate(sub: SubmissionModules, state, fpn_channels: int, post_nms_topk: int, num_classes: int,
             loss_images: list, loss_boxes: list, images, seed: int, layer_inputs: dict | None = None) -> dict:
    """``measure_detector``'s reply, plus ``"layers"`` (see ``_layer_report``) with ``layer_inputs``."""
    os.environ["DETECTOR_BACKBONE_WEIGHTS"] = "random"  # no download; the checkpoint's weights replace them
    torch.manual_seed(seed)
    detector = build_detector(sub.definition, fpn_channels, post_nms_topk, num_classes)
    if state is not None:
        _load(detector, state)
    reply = {}
    if layer_inputs is not None:  # first: measuring in train mode moves the BatchNorm statistics
        reply["layers"] = _layer_report(detector, **layer_inputs)
    return {**reply, **measure_detector(detector, loss_images, loss_boxes, images, seed)}


def _load(detector: nn.Module, state: dict) -> None:
    try:
        detector.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise InvalidOutput(
            f"The weights in the checkpoint of your full run do not fit the detector that the full-training "
            f"cell builds ({str(error).splitlines()[0]}). Keep that cell's `FasterRCNN(...)`, `RPN(...)` and "
            f"`DetectorBackboneWithFPN(...)` calls as the release notebook has them, and save "
            f"`detector.state_dict()` under `{CHECKPOINT_MODEL_KEY!r}` (train_detector does)."
        ) from None


def _layer_report(detector: nn.Module, images, feats: dict, rois) -> dict:
    """Where the state dict keeps each graded part's layers, and the part's output in eval mode.

    ``{"trunk": {RegNet key: state dict key}, "fpn" | "rpn_pred" | "cls_pred": {"layers":
    [[weight key, bias key or None] per layer with a weight, in registration order], "output": ...}}``:
    the FPN (the backbone without its RegNet) on ``images`` (Tensor[1, 3, H, W]), the RPN's
    prediction network on ``feats`` ({"p3", "p4", "p5"}: Tensor[1, C, h, w]) and the
    classifier head on ``rois`` (Tensor[R, C, 7, 7]).
    """
    key_of = {id(tensor): key for key, tensor in detector.state_dict(keep_vars=True).items()}
    backbone = _part(detector, "backbone", "FasterRCNN.backbone")
    trunk = _part(backbone, "backbone", "DetectorBackboneWithFPN.backbone")
    rpn_pred = _part(_part(detector, "rpn", "FasterRCNN.rpn"), "pred_net", "RPN.pred_net")
    cls_pred = _part(detector, "cls_pred", "FasterRCNN.cls_pred")
    detector.eval()
    with torch.no_grad():
        outputs = {"fpn": backbone(images), "rpn_pred": rpn_pred(feats), "cls_pred": cls_pred(rois)}
    report = {"trunk": {name: key_of[id(tensor)] for name, tensor in trunk.state_dict(keep_vars=True).items()}}
    for name, part, skip in (("fpn", backbone, (trunk,)), ("rpn_pred", rpn_pred, ()), ("cls_pred", cls_pred, ())):
        layers = [[key_of.get(id(params["weight"])), key_of.get(id(params.get("bias")))]
                  for _, _, params in weighted_layers(part, skip)]
        report[name] = {"layers": layers, "output": plain(outputs[name], f"{name} of the trained detector")}
    return report


def _part(module, name: str, what: str) -> nn.Module:
    part = getattr(module, name, None)
    if not isinstance(part, nn.Module):
        raise InvalidOutput(f"{what} is not a module (found {type(part).__name__}): the release notebook's "
                            "starter code sets it")
    return part
