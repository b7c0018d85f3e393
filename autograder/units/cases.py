"""Input generators for the graded tests: boxes, scores, feature shapes.

Every generator takes a `torch.Generator`, so a case is a pure function of
its seed (see `grading_fixtures.case_rng`).

Shape shorthand: N boxes, M boxes of a second set.
"""
import torch

IMAGE_SIZE = 224.0


def random_boxes(num_boxes: int, rng: torch.Generator, image_size: float = IMAGE_SIZE,
                 min_size: float = 4.0, max_size: float = 120.0) -> torch.Tensor:
    """Tensor[N, 4] of XYXY boxes with sides in [min_size, max_size)."""
    xy = torch.rand(num_boxes, 2, generator=rng) * (image_size - min_size)
    wh = min_size + torch.rand(num_boxes, 2, generator=rng) * (max_size - min_size)
    return torch.cat([xy, xy + wh], dim=1)


def boxes_near(boxes: torch.Tensor, rng: torch.Generator, shift: float = 0.3, log_scale: float = 0.3) -> torch.Tensor:
    """Tensor[N, 4]: each box's centre moved by less than `shift` / 2 of its sides and its
    sides scaled by a factor within exp(+-`log_scale` / 2): with the defaults, it still
    overlaps the original (IoU in (0, 1) almost surely)."""
    wh = boxes[:, 2:] - boxes[:, :2]  # [N,2]
    offset = (torch.rand(len(boxes), 2, generator=rng) - 0.5) * shift * wh
    scale = torch.exp((torch.rand(len(boxes), 2, generator=rng) - 0.5) * log_scale)
    centre = boxes[:, :2] + 0.5 * wh + offset
    half = 0.5 * wh * scale
    return torch.cat([centre - half, centre + half], dim=1)


def overlapping_box_sets(num_boxes1: int, num_boxes2: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(Tensor[N, 4], Tensor[M, 4]): random boxes, where half of the second set (at least
    one box, at most N) are near boxes of the first, in random rows. Independent random
    boxes are often all disjoint, and then an IoU of zeros would pass."""
    boxes1 = random_boxes(num_boxes1, rng)
    num_near = min(num_boxes1, max(1, num_boxes2 // 2))
    near = boxes_near(boxes1[torch.randperm(num_boxes1, generator=rng)[:num_near]], rng)
    boxes2 = torch.cat([near, random_boxes(num_boxes2 - num_near, rng)])
    return boxes1, boxes2[torch.randperm(num_boxes2, generator=rng)]


def clustered_boxes(num_boxes: int, rng: torch.Generator, num_clusters: int = 6) -> torch.Tensor:
    """Tensor[N, 4] of boxes jittered around a few centres: many overlaps, as NMS sees."""
    centres = random_boxes(num_clusters, rng, min_size=30.0, max_size=90.0)
    picks = torch.randint(num_clusters, (num_boxes,), generator=rng)
    jitter = torch.randn(num_boxes, 4, generator=rng) * 6.0
    boxes = centres[picks] + jitter
    return torch.cat([boxes[:, :2], torch.maximum(boxes[:, 2:], boxes[:, :2] + 1.0)], dim=1)


def distinct_scores(num_boxes: int, rng: torch.Generator) -> torch.Tensor:
    """Tensor[N] of scores in (0, 1) without ties."""
    return (torch.randperm(num_boxes, generator=rng).float() + torch.rand(num_boxes, generator=rng) * 0.5 + 1) / (num_boxes + 2)


def matched_gt_boxes(anchors: torch.Tensor, rng: torch.Generator, num_classes: int = 20) -> torch.Tensor:
    """Tensor[N, 5]: a foreground GT box near each anchor, with a class id."""
    boxes = boxes_near(anchors, rng, shift=0.4, log_scale=0.8)
    classes = torch.randint(num_classes, (len(anchors), 1), generator=rng).float()
    return torch.cat([boxes, classes], dim=1)


def integer_shift(rng: torch.Generator, high: int = 64) -> float:
    """An integer translation: IoU, deltas and NMS are invariant to it, exactly in float32."""
    return float(torch.randint(high, (1,), generator=rng))


def disguise_boxes(boxes: torch.Tensor, rng: torch.Generator, shift: float):
    """Permute the rows and translate a literal case, so that its answer cannot be
    memorised. Returns (boxes, permutation): new row i is old row permutation[i]."""
    permutation = torch.randperm(len(boxes), generator=rng)
    moved = boxes[permutation].clone()
    moved[:, :4] += shift
    return moved, permutation
