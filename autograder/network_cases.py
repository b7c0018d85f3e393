"""Inputs of the network tests (RPN and Faster R-CNN), shared with the golden fixtures.

A case is a pure function of its `torch.Generator`. Images are 128 px; the
FPN has 8 channels: small enough to keep grading fast.
"""
import torch

from autograder.network_weights import sequential_params
from autograder.probes.fakes import FakeBackbone, FakeRPN

STRIDES = {"p3": 8, "p4": 16, "p5": 32}
IMAGE_SIZE = 128
CHANNELS = 8
NUM_CLASSES = 20
RPN_BATCH = 2
HEAD_STEM = [8]
# So many samples per image that every non-neutral anchor (or proposal) is
# sampled: losses then do not depend on the random sampling.
EXHAUSTIVE = 10**6


def rpn_init(batch_size_per_image):
    return dict(fpn_channels=CHANNELS, stem_channels=[CHANNELS], batch_size_per_image=batch_size_per_image,
                anchor_stride_scale=4, anchor_aspect_ratios=[0.5, 1.0, 2.0], anchor_iou_thresholds=(0.3, 0.6),
                nms_thresh=0.7, pre_nms_topk=60, post_nms_topk=25)


def rpn_case(reference, rng):
    """FPN features, fixed predictions, locations, anchors and GT boxes near some anchors."""
    shapes = {name: (RPN_BATCH, CHANNELS, IMAGE_SIZE // s, IMAGE_SIZE // s) for name, s in STRIDES.items()}
    feats = {name: torch.randn(*shape, generator=rng) for name, shape in shapes.items()}
    locations = reference.get_fpn_location_coords(shapes, STRIDES)
    anchors = reference.generate_fpn_anchors(locations, STRIDES, 4, [0.5, 1.0, 2.0])
    num_anchors = {name: len(a) for name, a in anchors.items()}
    predictions = [
        {name: torch.randn(RPN_BATCH, n, generator=rng) * 2 for name, n in num_anchors.items()},
        {name: torch.randn(RPN_BATCH, n, 4, generator=rng) * 0.2 for name, n in num_anchors.items()},
    ]
    all_anchors = torch.cat(list(anchors.values()))
    gt_boxes = torch.full((RPN_BATCH, 6, 5), -1.0)
    for image, count in enumerate((3, 2)):
        picks = torch.randperm(len(all_anchors), generator=rng)[:count]
        boxes = all_anchors[picks] + torch.randn(count, 4, generator=rng) * 2
        boxes = boxes.clamp(0, IMAGE_SIZE)
        classes = torch.randint(20, (count, 1), generator=rng).float()
        gt_boxes[image, :count] = torch.cat([boxes, classes], dim=1)
    return dict(feats=feats, predictions=predictions, locations=locations, anchors=anchors, gt_boxes=gt_boxes)


def head_init(batch_size_per_image):
    return dict(stem_channels=HEAD_STEM, num_classes=NUM_CLASSES, batch_size_per_image=batch_size_per_image, roi_size=(7, 7))


def second_stage_case(rng, batch):
    """Features, proposals on every level of every image (some near the GT), GT boxes."""
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
    return dict(feats=feats, proposals=proposals, gt_boxes=gt_boxes)


SECOND_STAGE_SAMPLES_PER_IMAGE = 8  # 2 foreground at 25%, 4 at 50%


def second_stage_sampling_case(rng):
    """(second-stage case, a row of C + 1 logits) whose mean loss reads the sample's mix:
    image 0 has plenty of foreground proposals (near its 3 GT boxes, class c0), image 1
    one (its GT box, class c1, mixed in; its proposals are far from it), both plenty of
    background. The logits give background, c0 and c1 distinct losses."""
    batch = 2
    feats = {name: torch.randn(batch, CHANNELS, IMAGE_SIZE // s, IMAGE_SIZE // s, generator=rng)
             for name, s in STRIDES.items()}
    classes = torch.randperm(NUM_CLASSES, generator=rng)[:2].float()
    gt_boxes = torch.full((batch, 3, 5), -1.0)
    proposals = {name: [] for name in STRIDES}
    for image, count in enumerate((3, 1)):
        xy = 64 + torch.rand(count, 2, generator=rng) * 20  # GT boxes inside [64, 124]
        boxes = torch.cat([xy, xy + 24 + torch.rand(count, 2, generator=rng) * 16], dim=1)
        gt_boxes[image, :count] = torch.cat([boxes, classes[image].expand(count, 1)], dim=1)
        for name in STRIDES:
            far_xy = torch.rand(4, 2, generator=rng) * 30  # inside [0, 56]: IoU 0 with every GT box
            far = torch.cat([far_xy, far_xy + 8 + torch.rand(4, 2, generator=rng) * 18], dim=1)
            near = boxes + (torch.rand(count, 4, generator=rng) - 0.5)  # IoU above 0.9
            proposals[name].append(torch.cat([near, far]) if image == 0 else far)
    logits = torch.zeros(NUM_CLASSES + 1)
    logits[0] = 1.3
    logits[1 + classes.long()] = torch.tensor([2.1, -0.7])
    return dict(feats=feats, proposals=proposals, gt_boxes=gt_boxes), logits


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
    """(kwargs of the `networks.faster_rcnn` probe, the reference's loss_cls): a training
    forward on two images, every proposal sampled, with the reference's head weights."""
    case = second_stage_case(rng, 2)
    init = head_init(EXHAUSTIVE)
    model = reference_head_model(reference, case, init, rng)
    for layer in model.cls_pred.modules():  # the spec is silent on bias: a head without one loses nothing
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.zeros_(layer.bias)
    model.train()
    with torch.no_grad():
        expected = model(torch.zeros(2, 3, 8, 8), case["gt_boxes"])["loss_cls"]
    kwargs = dict(init=init, feats=case["feats"], strides=STRIDES, proposals=case["proposals"], training=True,
                  seed=0, gt_boxes=case["gt_boxes"], head=sequential_params(model.cls_pred))
    return kwargs, expected


def inference_case(rng):
    proposals = {name: [torch.cat([xy := torch.rand(8, 2, generator=rng) * 90,
                                   xy + 10 + torch.rand(8, 2, generator=rng) * 30], dim=1)] for name in STRIDES}
    logits = torch.randn(24, NUM_CLASSES + 1, generator=rng) * 2
    # Rows 0-3: background is the most probable class, but one object class has probability ~0.4.
    logits[:4] = -4.0
    logits[:4, 0] = 2.0
    logits[torch.arange(4), 1 + torch.randint(NUM_CLASSES, (4,), generator=rng)] = 1.6
    return proposals, logits


