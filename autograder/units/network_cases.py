"""Inputs of the network tests (RPN and Faster R-CNN), shared with the golden fixtures.

A case is a pure function of its `torch.Generator`. Images are 128 px; the
FPN has 8 channels: small enough to keep grading fast.
"""
from functools import lru_cache

import torch
import torchvision

from autograder.units.network_weights import sequential_params
from autograder.course.reference_solution import load_reference
from autograder.probes.fakes import FakeBackbone, FakeRPN

STRIDES = {"p3": 8, "p4": 16, "p5": 32}
IMAGE_SIZE = 128
CHANNELS = 8
NUM_CLASSES = 20
RPN_BATCH = 2
RPN_IOU_THRESHOLDS = (0.3, 0.6)
RPN_IMAGE_HW = (IMAGE_SIZE, IMAGE_SIZE * 3 // 2)  # (height, width): clipping x and y to the wrong side shows
PRE_NMS_TOPK, POST_NMS_TOPK = 60, 25
CLUSTER_SIZE = PRE_NMS_TOPK + 10  # more than the pre-NMS top-k: NMS keeps one box of them
RPN_CLUSTERS = ((0, "p3"), (1, "p4"))  # (image, level) pairs with a cluster; the others keep random scores
HEAD_STEM = [8]
# IoU bands of proposals that the RPN's thresholds (0.3, 0.6) call neutral, while the
# second stage's (0.5, 0.5) call them background and foreground: matching with the wrong
# thresholds changes which proposals are trained on.
MIDDLE_IOU_BANDS = ((0.35, 0.45), (0.52, 0.58))
MIDDLE_PER_BAND = 2  # proposals per band, image and level
# The loss with the RPN's thresholds differs from the right one by at least this fraction
# (five times the test's tolerance); cases are drawn again until it does.
VISIBLE_LOSS_CHANGE = 5e-3
MAX_CASE_DRAWS = 50
# So many samples per image that every non-neutral anchor (or proposal) is
# sampled: losses then do not depend on the random sampling.
EXHAUSTIVE = 10**6


def rpn_init(batch_size_per_image):
    return dict(fpn_channels=CHANNELS, stem_channels=[CHANNELS], batch_size_per_image=batch_size_per_image,
                anchor_stride_scale=4, anchor_aspect_ratios=[0.5, 1.0, 2.0], anchor_iou_thresholds=RPN_IOU_THRESHOLDS,
                nms_thresh=0.7, pre_nms_topk=PRE_NMS_TOPK, post_nms_topk=POST_NMS_TOPK)


def rpn_case(reference, rng, image_hw=(IMAGE_SIZE, IMAGE_SIZE), clusters=()):
    """FPN features, fixed predictions, locations, anchors and GT boxes near some anchors, for
    images of `image_hw` (height, width). `clusters` lists (image, level) pairs whose
    `CLUSTER_SIZE` best-scoring anchors all decode to nearly one box: NMS collapses that
    level's pre-NMS top-k to a few proposals (see `rpn_init`), while NMS over all its
    anchors would keep `post_nms_topk`."""
    height, width = image_hw
    shapes = {name: (RPN_BATCH, CHANNELS, height // s, width // s) for name, s in STRIDES.items()}
    feats = {name: torch.randn(*shape, generator=rng) for name, shape in shapes.items()}
    locations = reference.get_fpn_location_coords(shapes, STRIDES)
    anchors = reference.generate_fpn_anchors(locations, STRIDES, 4, [0.5, 1.0, 2.0])
    num_anchors = {name: len(a) for name, a in anchors.items()}
    predictions = [
        {name: torch.randn(RPN_BATCH, n, generator=rng) * 2 for name, n in num_anchors.items()},
        {name: torch.randn(RPN_BATCH, n, 4, generator=rng) * 0.2 for name, n in num_anchors.items()},
    ]
    for image, name in clusters:
        _collapse_top_anchors(reference, predictions, anchors[name], image, name, image_hw, rng)
    all_anchors = torch.cat(list(anchors.values()))
    gt_boxes = torch.full((RPN_BATCH, 6, 5), -1.0)
    for image, count in enumerate((3, 2)):
        picks = torch.randperm(len(all_anchors), generator=rng)[:count]
        boxes = all_anchors[picks] + torch.randn(count, 4, generator=rng) * 2
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
        classes = torch.randint(20, (count, 1), generator=rng).float()
        gt_boxes[image, :count] = torch.cat([boxes, classes], dim=1)
    return dict(feats=feats, predictions=predictions, locations=locations, anchors=anchors, gt_boxes=gt_boxes)


def _collapse_top_anchors(reference, predictions, anchors, image, name, image_hw, rng):
    """Give `CLUSTER_SIZE` random anchors of level `name` the highest objectness of `image`
    and deltas that decode them to one box inside the image, jittered by about a pixel."""
    logits, deltas = predictions[0][name][image], predictions[1][name][image]
    picks = torch.randperm(len(anchors), generator=rng)[:CLUSTER_SIZE]
    height, width = image_hw
    xy = torch.rand(2, generator=rng) * torch.tensor([width / 2.0, height / 2.0])
    box = torch.cat([xy, xy + 24 + torch.rand(2, generator=rng) * 24])
    targets = box + torch.randn(CLUSTER_SIZE, 4, generator=rng) * 0.5
    deltas[picks] = reference.rcnn_get_deltas_from_anchors(anchors[picks], targets)
    logits[picks] = logits.max() + 1 + torch.rand(CLUSTER_SIZE, generator=rng)


def head_init(batch_size_per_image):
    return dict(stem_channels=HEAD_STEM, num_classes=NUM_CLASSES, batch_size_per_image=batch_size_per_image, roi_size=(7, 7))


def second_stage_case(rng, batch):
    """Features, proposals on every level of every image (some near the GT, some at an IoU
    between the RPN's and the second stage's thresholds), GT boxes."""
    feats = {name: torch.randn(batch, CHANNELS, IMAGE_SIZE // s, IMAGE_SIZE // s, generator=rng)
             for name, s in STRIDES.items()}
    gt_boxes = torch.full((batch, 5, 5), -1.0)
    proposals = {name: [] for name in STRIDES}
    for image in range(batch):
        xy = torch.rand(3, 2, generator=rng) * 60
        wh = 20 + torch.rand(3, 2, generator=rng) * 40
        boxes = torch.cat([xy, xy + wh], dim=1)
        gt_boxes[image, :3] = torch.cat([boxes, torch.randint(NUM_CLASSES, (3, 1), generator=rng).float()], dim=1)
        for name in STRIDES:
            near = boxes + torch.randn(3, 4, generator=rng) * 3  # IoU mostly above 0.5
            far_xy = torch.rand(4, 2, generator=rng) * 100
            far = torch.cat([far_xy, far_xy + 8 + torch.rand(4, 2, generator=rng) * 20], dim=1)
            proposals[name].append(torch.cat([near, far]).clamp(0, IMAGE_SIZE))
        for name, band in zip(STRIDES, MIDDLE_IOU_BANDS * len(STRIDES)):
            middle = _proposals_at_iou(boxes, band, MIDDLE_PER_BAND, rng)
            proposals[name][image] = torch.cat([proposals[name][image], middle])
    return dict(feats=feats, proposals=proposals, gt_boxes=gt_boxes)


SECOND_STAGE_SAMPLES_PER_IMAGE = 8  # 2 foreground at 25%, 4 at 50%


def second_stage_sampling_case(rng):
    """(second-stage case, a row of C + 1 logits) whose mean loss reads the sample's mix:
    one image has plenty of foreground proposals (near its 3 GT boxes, class c0), the other
    one or two (its GT box, class c1, mixed in, and a near proposal or none: only IoUs
    tell), both plenty of background; which image is which is drawn too. The logits give
    background, c0 and c1 distinct losses."""
    batch = 2
    feats = {name: torch.randn(batch, CHANNELS, IMAGE_SIZE // s, IMAGE_SIZE // s, generator=rng)
             for name, s in STRIDES.items()}
    classes = torch.randperm(NUM_CLASSES, generator=rng)[:2].float()
    gt_boxes = torch.full((batch, 3, 5), -1.0)
    proposals = {name: [] for name in STRIDES}
    plenty = int(torch.randint(2, (), generator=rng))  # the image with 3 GT boxes and their near proposals
    scarce_near_level = list(STRIDES)[int(torch.randint(len(STRIDES) + 1, (), generator=rng)) - 1]
    scarce_has_near = bool(torch.randint(2, (), generator=rng))
    for image in range(batch):
        count = 3 if image == plenty else 1
        xy = 64 + torch.rand(count, 2, generator=rng) * 20  # GT boxes inside [64, 124]
        boxes = torch.cat([xy, xy + 24 + torch.rand(count, 2, generator=rng) * 16], dim=1)
        gt_boxes[image, :count] = torch.cat([boxes, classes[int(image != plenty)].expand(count, 1)], dim=1)
        for name in STRIDES:
            far_xy = torch.rand(4, 2, generator=rng) * 30  # inside [0, 56]: IoU 0 with every GT box
            far = torch.cat([far_xy, far_xy + 8 + torch.rand(4, 2, generator=rng) * 18], dim=1)
            near = boxes + (torch.rand(count, 4, generator=rng) - 0.5)  # IoU above 0.9
            with_near = image == plenty or (scarce_has_near and name == scarce_near_level)
            proposals[name].append(torch.cat([near, far]) if with_near else far)
    logits = torch.zeros(NUM_CLASSES + 1)
    logits[0] = 1.3
    logits[1 + classes.long()] = torch.tensor([2.1, -0.7])
    return dict(feats=feats, proposals=proposals, gt_boxes=gt_boxes), logits


def _proposals_at_iou(gt_boxes, band, count, rng):
    """Tensor[K, 4], K <= count (K < count only where the GT boxes crowd each other): GT boxes
    shifted along x or y so that their highest IoU with any of `gt_boxes` (Tensor[M, 4])
    lies in `band` (low, high), inside the image."""
    low, high = band
    target = (low + high) / 2
    sides = gt_boxes[:, 2:] - gt_boxes[:, :2]  # [M,2]
    shifts = sides * (1 - target) / (1 + target)  # IoU of a box with its copy moved by `shift` along one axis
    moves = torch.zeros(len(gt_boxes), 4, 4)  # [M, (+x, -x, +y, -y), 4]
    for move, (axis, sign) in enumerate(((0, 1.0), (0, -1.0), (1, 1.0), (1, -1.0))):
        moves[:, move, axis] = moves[:, move, axis + 2] = sign * shifts[:, axis]
    candidates = (gt_boxes[:, None, :] + moves).reshape(-1, 4).clamp(0, IMAGE_SIZE)
    candidates = candidates[torch.randperm(len(candidates), generator=rng)]
    best_iou = torchvision.ops.box_iou(candidates, gt_boxes).max(dim=1).values
    inside = ((best_iou > low) & (best_iou < high)).nonzero().squeeze(1)
    return candidates[inside[:count]]


def reference_head_model(reference, case, init, rng, seed=0):
    """The reference's `FasterRCNN` on a fake backbone and RPN (the case's features and
    proposals), its classifier head drawn from N(0, 0.1) with `rng`."""
    torch.manual_seed(seed)
    model = reference.FasterRCNN(FakeBackbone(case["feats"], CHANNELS, STRIDES), FakeRPN(case["proposals"]), **init)
    for layer in model.cls_pred.modules():  # non-trivial weights make every mistake visible
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.normal_(layer.weight, std=0.1, generator=rng)
            torch.nn.init.normal_(layer.bias, std=0.1, generator=rng)
    return model


def second_stage_loss_case(reference, rng):
    """(kwargs of the `networks.faster_rcnn` probe, the reference's loss_cls, its wrong
    variants): a training forward on two images, every proposal sampled, with the
    reference's head weights. The variants, for hints, are (function giving the loss of
    one mistake, the mistake): computed only when called."""
    init = head_init(EXHAUSTIVE)
    for draw in range(MAX_CASE_DRAWS):  # until matching with the RPN's thresholds shows in the loss
        case = second_stage_case(rng, 2)
        model = reference_head_model(reference, case, init, rng)
        for layer in model.cls_pred.modules():  # the spec is silent on bias: a head without one loses nothing
            if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
                torch.nn.init.zeros_(layer.bias)
        model.train()
        with torch.no_grad():
            expected = model(torch.zeros(2, 3, 8, 8), case["gt_boxes"])["loss_cls"]
        if abs(_loss_with_rpn_thresholds(case, init, model) - expected) > VISIBLE_LOSS_CHANGE * abs(expected):
            break
    else:
        raise AssertionError(f"no case in {MAX_CASE_DRAWS} draws where the RPN's thresholds change the loss")
    kwargs = dict(init=init, feats=case["feats"], strides=STRIDES, proposals=case["proposals"], training=True,
                  seed=0, gt_boxes=case["gt_boxes"], head=sequential_params(model.cls_pred))
    num_rois = sum(len(props) for level in reference.mix_gt_with_proposals(case["proposals"], case["gt_boxes"]).values()
                   for props in level)  # every proposal is sampled: none is neutral at (0.5, 0.5)
    variants = (
        (lambda: expected * num_rois, f"the loss is summed over the {num_rois} RoIs: average it (F.cross_entropy's "
                                      "default reduction='mean')"),
        (lambda: expected / num_rois, f"the loss is divided by the number of RoIs ({num_rois}) twice: "
                                      "F.cross_entropy already averages"),
        (lambda: _loss_with_rpn_thresholds(case, init, model),
         "proposals were matched with the RPN's IoU thresholds (0.3, 0.6): the second stage calls IoU > 0.5 "
         "foreground and everything else background (no neutral proposals): iou_thresholds=(0.5, 0.5)"),
    )
    return kwargs, expected, variants


@lru_cache(maxsize=1)
def _reference_matching_with_rpn_thresholds():
    """A private copy of the reference whose second stage matches with the RPN's thresholds."""
    variant = load_reference.__wrapped__()
    match = variant.two_stage_detector.rcnn_match_anchors_to_gt
    variant.two_stage_detector.rcnn_match_anchors_to_gt = (
        lambda boxes, gt_boxes, iou_thresholds: match(boxes, gt_boxes, RPN_IOU_THRESHOLDS))
    return variant


def _loss_with_rpn_thresholds(case, init, model):
    """loss_cls of `model`'s weights when proposals are matched with the RPN's thresholds,
    computed on a private copy of the reference (the shared one is never patched)."""
    wrong = _reference_matching_with_rpn_thresholds().FasterRCNN(FakeBackbone(case["feats"], CHANNELS, STRIDES), FakeRPN(case["proposals"]), **init)
    wrong.cls_pred.load_state_dict(model.cls_pred.state_dict())
    wrong.train()
    torch.manual_seed(0)
    with torch.no_grad():
        return wrong(torch.zeros(2, 3, 8, 8), case["gt_boxes"])["loss_cls"]


def inference_case(rng):
    proposals = {name: [torch.cat([xy := torch.rand(8, 2, generator=rng) * 90,
                                   xy + 10 + torch.rand(8, 2, generator=rng) * 30], dim=1)] for name in STRIDES}
    logits = torch.randn(24, NUM_CLASSES + 1, generator=rng) * 2
    # Rows 0-3: background is the most probable class, but one object class has probability ~0.4.
    logits[:4] = -4.0
    logits[:4, 0] = 2.0
    logits[torch.arange(4), 1 + torch.randint(NUM_CLASSES, (4,), generator=rng)] = 1.6
    return proposals, logits


