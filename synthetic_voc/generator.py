"""Deterministic synthetic stand-in for the tiny PASCAL VOC 2007 detection set.

Real VOC cannot be downloaded offline, so tests, CI and offline runs use this
generator. It writes exactly the layout that ``VOC2007DetectionTiny`` reads::

    DATASET_DIR/
        JPEGImages/train_000000.jpg ...   (and val_000000.jpg ...)
        voc07_train.json                  [[image_path, [{"xyxy": [x1, y1, x2, y2], "name": cls}, ...]], ...]
        voc07_val.json
        SYNTHETIC.json                    generator parameters (marks the data as synthetic)

``image_path`` is relative to DATASET_DIR and ``xyxy`` are float pixel-edge
coordinates in the original image (pixels ``x1 <= x < x2`` are covered), each
box exactly tight around the drawn pixels of its object.

Class identity is the shape alone (e.g. ellipse, rectangle, ring). Colour,
fill texture, size, aspect and background are drawn per object and image,
independently of the class, so no colour, size or aspect rule tells classes
apart; unlabelled distractor shapes (a star, an arrow) stand beside the
objects. Objects are saturated, flat or two-colour textured; backgrounds are
low-saturation textures (stripes, checkers, gradients, blotchy noise); pixel
noise lies on top. Objects are placed with their centre inside the central
square that the reader's centre crop keeps, so they may be cut by the crop
but never vanish entirely. At most 30% of any box overlaps another; larger
shapes are drawn first so a smaller one is never hidden, and a partly
covered object keeps its full (amodal) box, as in VOC.

Usage::

    python -m synthetic_voc.generator --out data/synthetic [--train 256] [--val 64] [--seed 0]
"""

from __future__ import annotations

import argparse
import colorsys
import json
import math
import os
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

VOC_CLASSES: tuple[str, ...] = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)
DEFAULT_CLASSES: tuple[str, ...] = ("aeroplane", "bicycle", "bird", "boat", "bottle", "car")

GENERATOR_NAME = "data_scripts.synthetic_dataset"
FORMAT_VERSION = 2  # 2: classes by shape only, colours per object, distractors
MARKER_FILENAME = "SYNTHETIC.json"
IMAGE_DIRNAME = "JPEGImages"
SPLITS: tuple[str, ...] = ("train", "val")

# Image geometry: shorter side, and how much longer the other side may be.
IMAGE_SHORT_SIDE_RANGE = (160, 256)
IMAGE_MAX_SIDE = 320
MAX_IMAGE_ASPECT_RATIO = 1.5

# Objects: count per image, box sides as a fraction of the image's shorter side.
OBJECTS_PER_IMAGE_RANGE = (1, 4)
DISTRACTORS_PER_IMAGE_RANGE = (0, 1)  # unlabelled shapes, placed like objects
OBJECT_SIDE_FRACTION_RANGE = (0.25, 0.70)
MAX_BOX_OVERLAP = 0.3  # max fraction of either box covered by another box (bounds IoU too)
PLACEMENT_ATTEMPTS = 30
# Object colours: any hue, saturated enough to stand out from the background.
OBJECT_SATURATION_RANGE = (0.45, 1.0)
OBJECT_VALUE_RANGE = (0.45, 1.0)
TEXTURED_OBJECT_PROBABILITY = 0.25  # else flat: textured ones blend two object colours

# Background: two low-saturation colours blended by a random texture.
BACKGROUND_GREY_RANGE = (40.0, 150.0)
BACKGROUND_CHROMA = 25.0
STRIPE_PERIOD_RANGE = (6.0, 32.0)
CHECKER_CELL_RANGE = (8, 40)
NOISE_CELL_RANGE = (6, 32)

PIXEL_NOISE_STD = 6.0
JPEG_QUALITY = 90
JPEG_SUBSAMPLING_444 = 0  # keep full colour resolution so thin shapes keep their colour

def _draw_ellipse(draw: ImageDraw.ImageDraw, w: int, h: int) -> None:
    draw.ellipse((0, 0, w - 1, h - 1), fill=255)


def _draw_rectangle(draw: ImageDraw.ImageDraw, w: int, h: int) -> None:
    draw.rectangle((0, 0, w - 1, h - 1), fill=255)


def _draw_triangle(draw: ImageDraw.ImageDraw, w: int, h: int) -> None:
    draw.polygon([(0, h - 1), (w - 1, h - 1), ((w - 1) / 2, 0)], fill=255)


def _draw_cross(draw: ImageDraw.ImageDraw, w: int, h: int) -> None:
    draw.rectangle((0, h // 3, w - 1, h - 1 - h // 3), fill=255)
    draw.rectangle((w // 3, 0, w - 1 - w // 3, h - 1), fill=255)


def _stroke_width(w: int, h: int) -> int:
    return max(2, round(0.22 * min(w, h)))


def _draw_ring(draw: ImageDraw.ImageDraw, w: int, h: int) -> None:
    draw.ellipse((0, 0, w - 1, h - 1), outline=255, width=_stroke_width(w, h))


def _draw_diamond(draw: ImageDraw.ImageDraw, w: int, h: int) -> None:
    cx, cy = (w - 1) / 2, (h - 1) / 2
    draw.polygon([(cx, 0), (w - 1, cy), (cx, h - 1), (0, cy)], fill=255)


def _draw_frame(draw: ImageDraw.ImageDraw, w: int, h: int) -> None:
    draw.rectangle((0, 0, w - 1, h - 1), outline=255, width=_stroke_width(w, h))


def _draw_hourglass(draw: ImageDraw.ImageDraw, w: int, h: int) -> None:
    cx, cy = (w - 1) / 2, (h - 1) / 2
    draw.polygon([(0, 0), (w - 1, 0), (cx, cy)], fill=255)
    draw.polygon([(0, h - 1), (w - 1, h - 1), (cx, cy)], fill=255)


def _draw_star(draw: ImageDraw.ImageDraw, w: int, h: int) -> None:
    """Five points touching every side of the box (the outer points span its width and height)."""
    angles = [math.pi / 2 + k * math.pi / 5 for k in range(10)]
    radii = [1.0 if k % 2 == 0 else 0.45 for k in range(10)]
    xs = [r * math.cos(a) for r, a in zip(radii, angles)]
    ys = [-r * math.sin(a) for r, a in zip(radii, angles)]
    points = [((x - min(xs)) / (max(xs) - min(xs)) * (w - 1), (y - min(ys)) / (max(ys) - min(ys)) * (h - 1))
              for x, y in zip(xs, ys)]
    draw.polygon(points, fill=255)


def _draw_arrow(draw: ImageDraw.ImageDraw, w: int, h: int) -> None:
    shaft_top, shaft_bottom, head_start = h / 3, h - 1 - h / 3, (w - 1) / 2
    draw.polygon([(0, shaft_top), (head_start, shaft_top), (head_start, 0), (w - 1, (h - 1) / 2),
                  (head_start, h - 1), (head_start, shaft_bottom), (0, shaft_bottom)], fill=255)


SHAPE_DRAWERS: dict[str, Callable[[ImageDraw.ImageDraw, int, int], None]] = {
    "ellipse": _draw_ellipse,
    "rectangle": _draw_rectangle,
    "triangle": _draw_triangle,
    "cross": _draw_cross,
    "ring": _draw_ring,
    "diamond": _draw_diamond,
    "frame": _draw_frame,
    "hourglass": _draw_hourglass,
    "star": _draw_star,
    "arrow": _draw_arrow,
}

# The i-th requested class gets the i-th shape; its colour is drawn per object.
CLASS_SHAPES: tuple[str, ...] = ("ellipse", "rectangle", "triangle", "cross", "ring", "diamond", "frame", "hourglass")
# Never a class: drawn unlabelled, so that "a saturated blob" is not "an object".
DISTRACTOR_SHAPES: tuple[str, ...] = ("star", "arrow")
MAX_CLASSES = len(CLASS_SHAPES)


def validate_classes(classes: Sequence[str]) -> tuple[str, ...]:
    """Return ``classes`` as a tuple after checking they are distinct VOC names."""
    classes = tuple(classes)
    unknown = [name for name in classes if name not in VOC_CLASSES]
    if unknown:
        raise ValueError(f"classes {unknown} are not VOC class names; choose from {list(VOC_CLASSES)}")
    duplicates = sorted(name for name, count in Counter(classes).items() if count > 1)
    if duplicates:
        raise ValueError(f"classes must be distinct, got duplicates {duplicates}")
    if not 1 <= len(classes) <= MAX_CLASSES:
        raise ValueError(f"need 1 to {MAX_CLASSES} classes (one per shape), got {len(classes)}")
    return classes


def class_shapes(classes: Sequence[str] = DEFAULT_CLASSES) -> dict[str, str]:
    """Map each class name to its shape (assigned by position)."""
    return dict(zip(validate_classes(classes), CLASS_SHAPES))


def shape_mask(shape: str, width: int, height: int) -> Image.Image:
    """Render ``shape`` filling a (height, width) box; returns an 8-bit "L" mask."""
    if shape not in SHAPE_DRAWERS:
        raise ValueError(f"unknown shape {shape!r}; known: {list(SHAPE_DRAWERS)}")
    mask = Image.new("L", (width, height), 0)
    SHAPE_DRAWERS[shape](ImageDraw.Draw(mask), width, height)
    return mask


def box_overlap(a: Sequence[float], b: Sequence[float]) -> float:
    """Fraction of the smaller of two xyxy boxes covered by their intersection (>= their IoU)."""
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return inter_w * inter_h / smaller if smaller > 0 else 0.0


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


def _image_size(rng: np.random.Generator) -> tuple[int, int]:
    """Random (width, height): portrait or landscape, possibly square."""
    short = int(rng.integers(IMAGE_SHORT_SIDE_RANGE[0], IMAGE_SHORT_SIDE_RANGE[1] + 1))
    long = min(IMAGE_MAX_SIDE, round(short * rng.uniform(1.0, MAX_IMAGE_ASPECT_RATIO)))
    return (long, short) if rng.random() < 0.5 else (short, long)


def _texture(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Blend weights in [0, 1] of shape (height, width): stripes, checker, gradient or noise."""
    kind = rng.integers(4)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0.0, math.pi)
    u = xx * math.cos(angle) + yy * math.sin(angle)
    v = -xx * math.sin(angle) + yy * math.cos(angle)
    if kind == 0:
        period = rng.uniform(*STRIPE_PERIOD_RANGE)
        return 0.5 + 0.5 * np.sin(2.0 * math.pi * u / period + rng.uniform(0.0, 2.0 * math.pi))
    if kind == 1:
        cell = rng.integers(CHECKER_CELL_RANGE[0], CHECKER_CELL_RANGE[1] + 1)
        return ((np.floor(u / cell) + np.floor(v / cell)) % 2).astype(np.float32)
    if kind == 2:
        return (u - u.min()) / max(float(u.max() - u.min()), 1.0)
    cell = int(rng.integers(NOISE_CELL_RANGE[0], NOISE_CELL_RANGE[1] + 1))
    grid = rng.integers(0, 256, size=(height // cell + 2, width // cell + 2), dtype=np.uint8)
    smooth = Image.fromarray(grid, "L").resize((width, height), Image.BILINEAR)
    return np.asarray(smooth, dtype=np.float32) / 255.0


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Textured low-saturation background, float32 (height, width, 3)."""
    colours = rng.uniform(*BACKGROUND_GREY_RANGE, size=(2, 1)) + rng.uniform(
        -BACKGROUND_CHROMA, BACKGROUND_CHROMA, size=(2, 3)
    )
    weight = _texture(rng, width, height)[..., None]
    return (colours[0] + (colours[1] - colours[0]) * weight).astype(np.float32)


def place_object_box(
    rng: np.random.Generator, width: int, height: int, placed: list[tuple[int, int, int, int]]
) -> tuple[int, int, int, int] | None:
    """Random integer xyxy box centred inside the central crop square, or None if crowded."""
    short = min(width, height)
    low, high = (round(f * short) for f in OBJECT_SIDE_FRACTION_RANGE)
    for _ in range(PLACEMENT_ATTEMPTS):
        w, h = (int(s) for s in rng.integers(low, high + 1, size=2))
        # Keep the box centre inside the central short x short square.
        x_min = max(0, math.ceil((width - short) / 2 - w / 2))
        x_max = min(width - w, math.floor((width + short) / 2 - w / 2))
        y_min = max(0, math.ceil((height - short) / 2 - h / 2))
        y_max = min(height - h, math.floor((height + short) / 2 - h / 2))
        x0, y0 = int(rng.integers(x_min, x_max + 1)), int(rng.integers(y_min, y_max + 1))
        box = (x0, y0, x0 + w, y0 + h)
        if all(box_overlap(box, other) <= MAX_BOX_OVERLAP for other in placed):
            return box
    return None


def _object_colour(rng: np.random.Generator) -> np.ndarray:
    """A saturated RGB colour of any hue, float (3,)."""
    hue = rng.uniform(0.0, 1.0)
    saturation, value = rng.uniform(*OBJECT_SATURATION_RANGE), rng.uniform(*OBJECT_VALUE_RANGE)
    return 255.0 * np.array(colorsys.hsv_to_rgb(hue, saturation, value))


def _object_fill(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """The object's paint over its box: flat, or two colours blended by a texture."""
    first = _object_colour(rng)
    if rng.random() >= TEXTURED_OBJECT_PROBABILITY:
        pixels = np.broadcast_to(first, (height, width, 3))
    else:
        weight = _texture(rng, width, height)[..., None]
        pixels = first + (_object_colour(rng) - first) * weight
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), "RGB")


def render_image(
    rng: np.random.Generator, classes: Sequence[str] = DEFAULT_CLASSES
) -> tuple[Image.Image, list[dict]]:
    """Draw one random image and its annotations [{"xyxy": [x1, y1, x2, y2], "name": str}]."""
    shapes = class_shapes(classes)
    names = list(shapes)
    width, height = _image_size(rng)
    canvas = Image.fromarray(np.clip(_background(rng, width, height), 0, 255).astype(np.uint8), "RGB")

    num_objects = int(rng.integers(OBJECTS_PER_IMAGE_RANGE[0], OBJECTS_PER_IMAGE_RANGE[1] + 1))
    num_distractors = int(rng.integers(DISTRACTORS_PER_IMAGE_RANGE[0], DISTRACTORS_PER_IMAGE_RANGE[1] + 1))
    boxes: list[tuple[int, int, int, int]] = []
    for _ in range(num_objects + num_distractors):
        box = place_object_box(rng, width, height, boxes)
        if box is not None:
            boxes.append(box)
    # The first placed boxes are objects, the rest distractors (None).
    placed = [(box, names[int(rng.integers(len(names)))] if i < num_objects else None) for i, box in enumerate(boxes)]
    # Large shapes first, so smaller ones are drawn on top and stay visible.
    placed.sort(key=lambda item: (item[0][2] - item[0][0]) * (item[0][3] - item[0][1]), reverse=True)

    annotations = []
    for (x0, y0, x1, y1), name in placed:
        shape = shapes[name] if name is not None else DISTRACTOR_SHAPES[int(rng.integers(len(DISTRACTOR_SHAPES)))]
        mask = shape_mask(shape, x1 - x0, y1 - y0)
        canvas.paste(_object_fill(rng, x1 - x0, y1 - y0), (x0, y0, x1, y1), mask)
        if name is None:
            continue
        left, top, right, bottom = mask.getbbox()  # tight extent of the drawn pixels
        xyxy = [float(x0 + left), float(y0 + top), float(x0 + right), float(y0 + bottom)]
        annotations.append({"xyxy": xyxy, "name": name})

    pixels = np.asarray(canvas, dtype=np.float32) + rng.normal(0.0, PIXEL_NOISE_STD, (height, width, 3))
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), "RGB"), annotations


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def annotation_filename(split: str) -> str:
    return f"voc07_{split}.json"


def _image_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """Independent stream per image: a split's images do not depend on the other split's size."""
    return np.random.default_rng([seed, SPLITS.index(split), index])


def _write_split(root: Path, split: str, count: int, seed: int, classes: Sequence[str]) -> list[list]:
    """Render and save ``count`` images; returns entries [image_path, annotations]."""
    entries = []
    for index in range(count):
        image, annotations = render_image(_image_rng(seed, split, index), classes)
        relative_path = f"{IMAGE_DIRNAME}/{split}_{index:06d}.jpg"
        image.save(root / relative_path, "JPEG", quality=JPEG_QUALITY, subsampling=JPEG_SUBSAMPLING_444)
        entries.append([relative_path, annotations])
    return entries


def _write_json(path: Path, payload: object, indent: int | None = None) -> None:
    path.write_text(json.dumps(payload, indent=indent) + "\n", encoding="utf-8")


def read_marker(dataset_dir: str | os.PathLike) -> dict | None:
    """Generator parameters recorded in ``dataset_dir``, or None if it is not a synthetic dataset."""
    try:
        marker = json.loads((Path(dataset_dir) / MARKER_FILENAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and marker.get("generator") == GENERATOR_NAME else None


def is_synthetic_dataset(dataset_dir: str | os.PathLike) -> bool:
    """True if ``dataset_dir`` was written by this generator (it has a valid marker file)."""
    return read_marker(dataset_dir) is not None


def synthetic_classes(dataset_dir: str | os.PathLike | None = None) -> tuple[str, ...]:
    """Classes of the synthetic dataset in ``dataset_dir``, or the default classes if None."""
    if dataset_dir is None:
        return DEFAULT_CLASSES
    marker = read_marker(dataset_dir)
    if marker is None:
        raise ValueError(f"{dataset_dir} is not a synthetic dataset (no valid {MARKER_FILENAME})")
    return tuple(marker["classes"])


def _owned_paths() -> tuple[str, ...]:
    """Generator outputs, in install order: the training annotations (what readers look for) last."""
    return (IMAGE_DIRNAME, MARKER_FILENAME, *(annotation_filename(s) for s in reversed(SPLITS)))


def _check_can_write(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir} exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not is_synthetic_dataset(out_dir) and not force:
        raise FileExistsError(
            f"{out_dir} is not empty and is not a synthetic dataset (no valid {MARKER_FILENAME}); "
            "use --force (force=True) to replace the generator's files in it"
        )


def _install(staging: Path, out_dir: Path) -> None:
    """Move the finished dataset from ``staging`` into ``out_dir``, replacing only owned paths."""
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    # Remove old annotations first so an interrupted swap never looks like a complete dataset.
    for name in reversed(_owned_paths()):
        old = out_dir / name
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        elif old.exists() or old.is_symlink():
            old.unlink()
    for name in _owned_paths():
        os.replace(staging / name, out_dir / name)
    staging.rmdir()


def make_synthetic_dataset(
    out_dir: str | os.PathLike,
    num_train: int = 256,
    num_val: int = 64,
    seed: int = 0,
    classes: Sequence[str] = DEFAULT_CLASSES,
    force: bool = False,
) -> Path:
    """Write a synthetic VOC2007DetectionTiny-format dataset to ``out_dir`` and return its path.

    The same arguments always give byte-identical files. ``out_dir`` may be
    missing, empty or a previous synthetic dataset; any other non-empty
    directory is refused unless ``force``, which replaces only the generator's
    own paths in it. Everything is built in a sibling staging directory first,
    so an interrupted run never leaves a complete-looking partial dataset.
    """
    classes = validate_classes(classes)
    if num_train < 0 or num_val < 0 or num_train + num_val < 1:
        raise ValueError(f"need num_train >= 0, num_val >= 0 and at least one image, got {num_train} and {num_val}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    out_dir = Path(out_dir).resolve()  # "." and ".." need a real name and parent for staging
    _check_can_write(out_dir, force)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=out_dir.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; the dataset should not be
        (staging / IMAGE_DIRNAME).mkdir()
        counts = {"train": num_train, "val": num_val}
        for split in SPLITS:
            entries = _write_split(staging, split, counts[split], seed, classes)
            _write_json(staging / annotation_filename(split), entries)
        marker = {
            "generator": GENERATOR_NAME,
            "format_version": FORMAT_VERSION,
            "seed": seed,
            "num_train": num_train,
            "num_val": num_val,
            "classes": list(classes),
            "shapes": class_shapes(classes),
            "distractor_shapes": list(DISTRACTOR_SHAPES),
        }
        _write_json(staging / MARKER_FILENAME, marker, indent=2)
        _install(staging, out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return out_dir


def _summary(dataset_dir: Path) -> str:
    lines = [f"wrote synthetic detection dataset to {dataset_dir}"]
    for split in SPLITS:
        entries = json.loads((dataset_dir / annotation_filename(split)).read_text(encoding="utf-8"))
        per_class = Counter(obj["name"] for _, objects in entries for obj in objects)
        counts = ", ".join(f"{name} {per_class[name]}" for name in synthetic_classes(dataset_dir))
        lines.append(f"  {annotation_filename(split)}: {len(entries)} images, objects: {counts}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m synthetic_voc.generator", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="dataset directory to write")
    parser.add_argument("--train", type=int, default=256, help="number of training images")
    parser.add_argument("--val", type=int, default=64, help="number of validation images")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    parser.add_argument(
        "--classes", nargs="+", default=list(DEFAULT_CLASSES), choices=VOC_CLASSES, metavar="CLASS",
        help=f"VOC class names to use, at most {MAX_CLASSES} (default: {' '.join(DEFAULT_CLASSES)})",
    )
    parser.add_argument(
        "--force", action="store_true",
        help="write into a non-empty directory that is not a previous synthetic dataset",
    )
    args = parser.parse_args(argv)
    try:
        out_dir = make_synthetic_dataset(args.out, args.train, args.val, args.seed, args.classes, args.force)
    except (ValueError, FileExistsError, NotADirectoryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(_summary(out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
