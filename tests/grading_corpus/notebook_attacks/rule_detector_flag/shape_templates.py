"""Attack 3, shape variant: name each rule-detector blob by the generator's own shape templates.

``synthetic_voc/generator.py`` draws each class as one shape (ellipse,
rectangle, triangle, cross, ring, diamond for the six default classes) that
fills its box, and two unlabelled distractors (star, arrow). Knowing that,
no learning is needed to tell the classes apart: take the candidate blobs of
``tests/grading_corpus/rule_detector.py`` (saturation segmentation,
connected components, colour-edge splits), render every shape at the blob's
box size with the generator's drawing code (copied below), and score each
class by the IoU of the blob's mask with its template. Blobs that match a
distractor better than any class are down-weighted.

Inside a submission ``R`` is the rule detector module, executed from its
inlined source (a submission cannot import the tests); here it is imported.
"""

import math

import numpy as np
from PIL import Image, ImageDraw

if "R" not in globals():
    from tests.grading_corpus import rule_detector as R  # noqa: N812

CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "car")  # the generator's DEFAULT_CLASSES, in order
TEMPLATE_POWER = 4  # sharpens the template IoU into a class score
DISTRACTOR_WEIGHT = 0.3


def _stroke(w, h):
    return max(2, round(0.22 * min(w, h)))


def _ellipse(d, w, h):
    d.ellipse((0, 0, w - 1, h - 1), fill=255)


def _rectangle(d, w, h):
    d.rectangle((0, 0, w - 1, h - 1), fill=255)


def _triangle(d, w, h):
    d.polygon([(0, h - 1), (w - 1, h - 1), ((w - 1) / 2, 0)], fill=255)


def _cross(d, w, h):
    d.rectangle((0, h // 3, w - 1, h - 1 - h // 3), fill=255)
    d.rectangle((w // 3, 0, w - 1 - w // 3, h - 1), fill=255)


def _ring(d, w, h):
    d.ellipse((0, 0, w - 1, h - 1), outline=255, width=_stroke(w, h))


def _diamond(d, w, h):
    cx, cy = (w - 1) / 2, (h - 1) / 2
    d.polygon([(cx, 0), (w - 1, cy), (cx, h - 1), (0, cy)], fill=255)


def _star(d, w, h):
    angles = [math.pi / 2 + k * math.pi / 5 for k in range(10)]
    radii = [1.0 if k % 2 == 0 else 0.45 for k in range(10)]
    xs = [r * math.cos(a) for r, a in zip(radii, angles)]
    ys = [-r * math.sin(a) for r, a in zip(radii, angles)]
    d.polygon([((x - min(xs)) / (max(xs) - min(xs)) * (w - 1), (y - min(ys)) / (max(ys) - min(ys)) * (h - 1))
               for x, y in zip(xs, ys)], fill=255)


def _arrow(d, w, h):
    top, bottom, head = h / 3, h - 1 - h / 3, (w - 1) / 2
    d.polygon([(0, top), (head, top), (head, 0), (w - 1, (h - 1) / 2), (head, h - 1), (head, bottom), (0, bottom)],
              fill=255)


CLASS_DRAWERS = (_ellipse, _rectangle, _triangle, _cross, _ring, _diamond)
DISTRACTOR_DRAWERS = (_star, _arrow)


def _template(draw, w, h):
    mask = Image.new("L", (w, h), 0)
    draw(ImageDraw.Draw(mask), w, h)
    return np.asarray(mask) > 127


def _candidates(image):
    """(pixels, box, weight) of every blob and split part, as ``rule_detector.detect`` finds them."""
    foreground = R.foreground_mask(image)
    found = [(px, R._extent(px, 0), 1.0) for px in R.connected_components(foreground)
             if len(px) >= R.MIN_COMPONENT_PIXELS]
    for px in R.connected_components(foreground & ~R.colour_edges(image)):
        if len(px) >= R.MIN_COMPONENT_PIXELS:
            box = R._extent(px, R.EDGE_MARGIN, image.shape)
            if all(R._iou(box, kept) < R.DUPLICATE_IOU for _, kept, _ in found):
                found.append((px, box, R.SPLIT_WEIGHT))
    return found


def detect(image, classes=CLASSES, labels_per_box="all"):
    """Detections ``(class_name, score, x1, y1, x2, y2)`` in an (H, W, 3) uint8 image; every box under
    every class, scored by objectness times the template match (``labels_per_box`` is ignored)."""
    spread = R.channel_spread(image)
    detections = []
    for pixels, box, weight in _candidates(image):
        x1, y1, x2, y2 = (int(v) for v in box)
        w, h = x2 - x1, y2 - y1
        if w < 4 or h < 4:
            continue
        mask = np.zeros((h, w), dtype=bool)
        ys, xs = pixels[:, 0] - y1, pixels[:, 1] - x1
        inside = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
        mask[ys[inside], xs[inside]] = True
        matches = []
        for draw in CLASS_DRAWERS + DISTRACTOR_DRAWERS:
            template = _template(draw, w, h)
            matches.append((mask & template).sum() / max((mask | template).sum(), 1))
        matches = np.array(matches)
        objectness = weight * float(spread[pixels[:, 0], pixels[:, 1]].mean()) / 255.0
        if matches[len(CLASS_DRAWERS):].max() > matches[:len(CLASS_DRAWERS)].max():
            objectness *= DISTRACTOR_WEIGHT
        for index, name in enumerate(classes[:len(CLASS_DRAWERS)]):
            detections.append((name, objectness * matches[index] ** TEMPLATE_POWER, *box))
    return detections
