"""A detector without learning, written with full knowledge of the synthetic generator.

It is the baseline the notebook stage's mAP threshold must stand above: what
the cues that are *not* shape (colour, size, aspect, "is it saturated?") can
reach. The generator (``synthetic_voc/generator.py``) paints objects
and distractors in saturated colours (HSV saturation and value at least
0.45, so a channel spread of at least about 50) on low-saturation
backgrounds (channel spread at most about 50 before noise), so:

1. **Segment**: a pixel is foreground when its channel spread
   ``max(R, G, B) - min(R, G, B)`` exceeds ``SATURATION_THRESHOLD``; a 5 x 5
   closing then bridges the grey bands where a two-colour texture passes
   through grey.
2. **Group**: 4-connected components of the foreground are the candidates
   (score weight 1). Shapes may touch (boxes overlap up to 30%), so the
   foreground is also cut along colour edges and the parts that are no
   near-duplicate of a whole blob are candidates too (weight
   ``SPLIT_WEIGHT``). Components under ``MIN_COMPONENT_PIXELS`` are noise or
   texture cells. Each candidate's extent is a box ``(x1, y1, x2, y2)`` with
   ``x1 <= x < x2``, as the ground truth.
3. **Classify by rules on size, aspect and colour** (never shape): the box's
   area (three bins) and orientation (wide or tall) pick one class, the mean
   hue (six sectors) another. Since the generator draws colour, size and
   aspect independently of the class, these rules are no better than chance,
   and that is what this baseline measures.

Each box is reported once per class (``labels_per_box="all"``, the default):
with uninformative rules, hedging over every class is what maximises VOC mAP,
so this is the strongest form of the baseline. The rule's favourite classes
score highest. ``labels_per_box="top1"`` reports only the best-scoring class.
Given ``class_colours`` (for data where colour does give the class away, as
in the generator's first version) the same pipeline names blobs by colour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from synthetic_voc.generator import DEFAULT_CLASSES

SATURATION_THRESHOLD = 52  # channel spread (0-255) above which a pixel is "object"
CLOSING_SIZE = 5  # side of the square closing that bridges grey texture bands
MIN_COMPONENT_PIXELS = 200  # at 192 x 192 an uncut object covers at least about 300
EDGE_THRESHOLD = 18  # colour jump (0-255, per smoothed pixel) that separates two touching shapes
EDGE_MARGIN = 2  # the edge band (3 x 3 smoothing) eats two pixels of each side of a split part
SPLIT_WEIGHT = 0.8  # split parts rank below whole blobs
DUPLICATE_IOU = 0.85  # a split part this close to a whole blob is the same box
AREA_BINS = (0.04, 0.12)  # box area over image area: small < 0.04 <= medium < 0.12 <= large

Detection = tuple[str, float, float, float, float, float]  # (class, score, x1, y1, x2, y2)


def channel_spread(image: np.ndarray) -> np.ndarray:
    """(H, W) float ``max - min`` over the colour channels of an (H, W, 3) uint8 image."""
    pixels = image.astype(np.int16)
    return (pixels.max(axis=2) - pixels.min(axis=2)).astype(np.float32)


def _box_filter(values: np.ndarray, size: int, reduce) -> np.ndarray:
    """``reduce`` (np.maximum, np.minimum or np.add) over a size x size window, edge-padded."""
    radius = size // 2
    padded = np.pad(values, radius, mode="edge")
    height, width = values.shape
    out = padded[:height, :width].copy()
    for dy in range(size):
        for dx in range(size):
            if dy or dx:
                out = reduce(out, padded[dy : dy + height, dx : dx + width])
    return out


def foreground_mask(image: np.ndarray) -> np.ndarray:
    """(H, W) bool: saturated pixels, closed (step 1 of the module docstring)."""
    mask = channel_spread(image) > SATURATION_THRESHOLD
    dilated = _box_filter(mask, CLOSING_SIZE, np.maximum)
    return _box_filter(dilated, CLOSING_SIZE, np.minimum)


def colour_edges(image: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels where the 3 x 3-smoothed colour jumps by more than ``EDGE_THRESHOLD``
    (any channel) to the next pixel right or below, or from the previous one."""
    smooth = np.stack([_box_filter(image[..., c].astype(np.float32), 3, np.add) / 9.0 for c in range(3)], axis=2)
    jump = np.zeros(image.shape[:2], dtype=np.float32)
    dx = np.abs(np.diff(smooth, axis=1)).max(axis=2)
    dy = np.abs(np.diff(smooth, axis=0)).max(axis=2)
    jump[:, :-1] = np.maximum(jump[:, :-1], dx)
    jump[:, 1:] = np.maximum(jump[:, 1:], dx)
    jump[:-1] = np.maximum(jump[:-1], dy)
    jump[1:] = np.maximum(jump[1:], dy)
    return jump > EDGE_THRESHOLD


def connected_components(mask: np.ndarray) -> list[np.ndarray]:
    """4-connected components of an (H, W) bool mask, each as an (N, 2) array of (y, x).

    Scanline labelling: the horizontal runs of each row are joined (union-find)
    to the runs of the row above whose columns they share.
    """
    height, width = mask.shape
    padded = np.zeros((height, width + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    steps = np.diff(padded, axis=1)  # +1 where a run starts, -1 one past its end
    runs = []  # (row, start, stop)
    for y in range(height):
        runs.extend((y, int(a), int(b)) for a, b in zip(np.flatnonzero(steps[y] == 1), np.flatnonzero(steps[y] == -1)))
    parent = list(range(len(runs)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    previous_row, current_row, row = [], [], -1
    for index, (y, start, stop) in enumerate(runs):
        if y != row:
            previous_row, current_row, row = (current_row if y == row + 1 else []), [], y
        for other in previous_row:
            _, other_start, other_stop = runs[other]
            if other_start < stop and start < other_stop:
                parent[root(index)] = root(other)
        current_row.append(index)
    groups: dict[int, list[np.ndarray]] = {}
    for index, (y, start, stop) in enumerate(runs):
        xs = np.arange(start, stop)
        groups.setdefault(root(index), []).append(np.stack([np.full_like(xs, y), xs], axis=1))
    return [np.concatenate(parts) for parts in groups.values()]


def _extent(pixels: np.ndarray, margin: int, shape: tuple[int, ...] = (1 << 30, 1 << 30)) -> tuple[float, ...]:
    """xyxy box (x2, y2 exclusive) around (N, 2) (y, x) pixels, grown by ``margin`` inside the image."""
    ys, xs = pixels[:, 0], pixels[:, 1]
    return (float(max(xs.min() - margin, 0)), float(max(ys.min() - margin, 0)),
            float(min(xs.max() + 1 + margin, shape[1])), float(min(ys.max() + 1 + margin, shape[0])))


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _mean_hue(image: np.ndarray, pixels: np.ndarray) -> float:
    """Circular mean hue in [0, 1) of the component's pixels."""
    rgb = image[pixels[:, 0], pixels[:, 1]].astype(np.float64)
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    angle = np.arctan2(np.sqrt(3.0) * (g - b), 2.0 * r - g - b)  # hexagonal hue approximation
    return float(np.angle(np.exp(1j * angle).mean()) / (2 * np.pi)) % 1.0


def rule_scores(
    image: np.ndarray, pixels: np.ndarray, box: Sequence[float], num_classes: int,
    class_colours: np.ndarray | None = None,
) -> np.ndarray:
    """(num_classes,) scores in (0, 1] of one component ((N, 2) (y, x) pixels, xyxy box) from
    size, aspect and colour rules. Colour rule: the hue sector, or with ``class_colours``
    ((num_classes, 3) RGB) the class of the nearest colour, which then outweighs the rest."""
    x1, y1, x2, y2 = box
    height, width = image.shape[:2]
    area_bin = int(np.searchsorted(AREA_BINS, (x2 - x1) * (y2 - y1) / (width * height), side="right"))
    geometry_class = (2 * area_bin + int(x2 - x1 < y2 - y1)) % num_classes
    votes = np.full(num_classes, 0.5)
    votes[geometry_class] += 0.3
    if class_colours is None:
        votes[int(_mean_hue(image, pixels) * 6) % num_classes] += 0.2
    else:
        mean = image[pixels[:, 0], pixels[:, 1]].astype(np.float64).mean(axis=0)
        votes[int(((class_colours - mean) ** 2).sum(axis=1).argmin())] += 1.0
    return votes / votes.max()


def detect(
    image: np.ndarray,
    classes: Sequence[str] = DEFAULT_CLASSES,
    labels_per_box: str = "all",
    class_colours: Mapping[str, Sequence[int]] | None = None,
) -> list[Detection]:
    """Detections ``(class_name, score, x1, y1, x2, y2)`` in an (H, W, 3) uint8 RGB image.

    Boxes are in the image's pixels with ``x1 <= x < x2`` covered. ``score``
    is the component's saturation contrast (mean channel spread / 255, its
    "objectness") times the class rule's score. ``labels_per_box``: "all"
    (every class for every box) or "top1" (the rules' best class only).
    ``class_colours`` (class name -> RGB): for data where each class has its own
    colour (not this generator's); the nearest colour then decides the class.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"need an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
    if labels_per_box not in ("all", "top1"):
        raise ValueError(f"labels_per_box must be 'all' or 'top1', got {labels_per_box!r}")
    palette = None if class_colours is None else np.array([class_colours[name] for name in classes], dtype=np.float64)
    spread = channel_spread(image)
    foreground = foreground_mask(image)
    candidates = []  # (pixels, box, weight)
    for pixels in connected_components(foreground):
        if len(pixels) >= MIN_COMPONENT_PIXELS:
            candidates.append((pixels, _extent(pixels, 0), 1.0))
    for pixels in connected_components(foreground & ~colour_edges(image)):
        if len(pixels) >= MIN_COMPONENT_PIXELS:
            box = _extent(pixels, EDGE_MARGIN, image.shape)
            if all(_iou(box, kept) < DUPLICATE_IOU for _, kept, _ in candidates):
                candidates.append((pixels, box, SPLIT_WEIGHT))
    detections: list[Detection] = []
    for pixels, box, weight in candidates:
        objectness = weight * float(spread[pixels[:, 0], pixels[:, 1]].mean()) / 255.0
        scores = objectness * rule_scores(image, pixels, box, len(classes), palette)
        chosen = range(len(classes)) if labels_per_box == "all" else [int(scores.argmax())]
        detections.extend((classes[c], float(scores[c]), *box) for c in chosen)
    return detections
