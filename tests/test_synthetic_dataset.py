"""Tests for synthetic_voc/generator.py: determinism, on-disk schema, geometry, safety."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # plain `pytest` does not put the repository root on sys.path
    sys.path.insert(0, str(ROOT))

from synthetic_voc import generator as sd  # noqa: E402
DETECTION_HELPERS = ROOT / "student" / "detection_helpers.py"

NUM_TRAIN, NUM_VAL, SEED = 24, 8, 7
MAX_GT_BOXES = 40


def _load(dataset_dir: Path, split: str) -> list:
    return json.loads((dataset_dir / sd.annotation_filename(split)).read_text(encoding="utf-8"))


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return sd.make_synthetic_dataset(tmp_path_factory.mktemp("synthetic") / "voc", NUM_TRAIN, NUM_VAL, SEED)


@pytest.fixture(scope="module")
def all_entries(dataset) -> list:
    return _load(dataset, "train") + _load(dataset, "val")


# ---------------------------------------------------------------------------
# Literal cases
# ---------------------------------------------------------------------------


def test_box_overlap_literal_cases():
    assert sd.box_overlap((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert sd.box_overlap((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0  # touching edges
    assert sd.box_overlap((0, 0, 10, 10), (5, 0, 15, 10)) == 0.5  # 50 / 100
    assert sd.box_overlap((0, 0, 10, 10), (2, 2, 4, 4)) == 1.0  # small box fully inside
    assert sd.box_overlap((0, 0, 10, 10), (8, 8, 28, 28)) == 4 / 100


@pytest.mark.parametrize("shape", sorted(sd.SHAPE_DRAWERS))
@pytest.mark.parametrize("width, height", [(24, 24), (25, 60), (97, 31), (224, 150)])
def test_shape_masks_touch_all_four_sides_of_their_box(shape, width, height):
    mask = sd.shape_mask(shape, width, height)
    assert mask.getbbox() == (0, 0, width, height), (shape, width, height)
    coverage = np.asarray(mask).astype(bool).mean()
    assert 0.2 < coverage <= 1.0, f"{shape} covers {coverage:.2f} of its box"


def test_every_class_has_a_distinct_shape_that_is_no_distractor():
    shapes = sd.class_shapes(sd.VOC_CLASSES[: sd.MAX_CLASSES])
    assert len(shapes) == sd.MAX_CLASSES and len(set(shapes.values())) == sd.MAX_CLASSES, shapes
    assert not set(shapes.values()) & set(sd.DISTRACTOR_SHAPES), (shapes, sd.DISTRACTOR_SHAPES)
    assert sd.DISTRACTOR_SHAPES and set(sd.DISTRACTOR_SHAPES) <= set(sd.SHAPE_DRAWERS)
    assert set(shapes.values()) <= set(sd.SHAPE_DRAWERS)


def test_class_validation_names_the_offending_value():
    with pytest.raises(ValueError, match="zebra"):
        sd.validate_classes(["car", "zebra"])
    with pytest.raises(ValueError, match="duplicates.*car"):
        sd.validate_classes(["car", "bus", "car"])
    with pytest.raises(ValueError, match="got 9"):
        sd.validate_classes(sd.VOC_CLASSES[:9])
    with pytest.raises(ValueError, match="got 0"):
        sd.validate_classes([])
    assert sd.validate_classes(["cat", "dog"]) == ("cat", "dog")


def test_bad_counts_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="at least one image, got 0 and 0"):
        sd.make_synthetic_dataset(tmp_path / "a", num_train=0, num_val=0)
    with pytest.raises(ValueError, match="num_val >= 0.*got 1 and -1"):
        sd.make_synthetic_dataset(tmp_path / "a", num_train=1, num_val=-1)
    with pytest.raises(ValueError, match="-1"):
        sd.make_synthetic_dataset(tmp_path / "b", num_train=1, num_val=0, seed=-1)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize("width, height", [(320, 160), (160, 320), (200, 200), (257, 171)])
def test_placed_boxes_are_sized_centred_and_spread_out(width, height):
    rng = np.random.default_rng(0)
    short = min(width, height)
    lo, hi = (round(f * short) for f in sd.OBJECT_SIDE_FRACTION_RANGE)
    boxes = np.array([sd.place_object_box(rng, width, height, []) for _ in range(500)], dtype=float)
    sides = boxes[:, 2:] - boxes[:, :2]
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= [width, height]).all()
    assert sides.min() == lo and sides.max() == hi, (sides.min(), sides.max(), lo, hi)
    # Centres stay in the central crop square (or as close to the edge as the smallest box allows).
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    size = np.array([width, height])
    lowest = np.maximum((size - short) / 2, lo / 2)
    highest = np.minimum((size + short) / 2, size - lo / 2)
    assert (centres >= lowest).all() and (centres <= highest).all(), (centres.min(0), centres.max(0))
    spread_slack = 0.05 * short
    assert (centres.min(0) < lowest + spread_slack).all(), (centres.min(0), lowest)
    assert (centres.max(0) > highest - spread_slack).all(), (centres.max(0), highest)


def test_placement_respects_overlap_limit_or_gives_up():
    rng = np.random.default_rng(1)
    crowd = [(0, 0, 150, 150)]  # covers most of a 160 x 160 image
    results = [sd.place_object_box(rng, 160, 160, crowd) for _ in range(50)]
    assert any(box is None for box in results)
    for box in filter(None, results):
        assert sd.box_overlap(box, crowd[0]) <= sd.MAX_BOX_OVERLAP, box


# ---------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------


def test_same_arguments_give_identical_bytes(tmp_path, dataset):
    again = sd.make_synthetic_dataset(tmp_path / "again", NUM_TRAIN, NUM_VAL, SEED)
    assert _tree_bytes(again) == _tree_bytes(dataset)


def test_different_seed_gives_different_data(tmp_path, dataset):
    other = sd.make_synthetic_dataset(tmp_path / "other", NUM_TRAIN, NUM_VAL, SEED + 1)
    assert _load(other, "train") != _load(dataset, "train")


def test_train_images_do_not_depend_on_val_count(tmp_path, dataset):
    fewer = sd.make_synthetic_dataset(tmp_path / "fewer", NUM_TRAIN, 1, SEED)
    assert _load(fewer, "train") == _load(dataset, "train")


# ---------------------------------------------------------------------------
# Schema and content
# ---------------------------------------------------------------------------


def test_files_and_marker(dataset):
    assert sorted(p.name for p in dataset.iterdir()) == sorted(
        [sd.IMAGE_DIRNAME, sd.MARKER_FILENAME, "voc07_train.json", "voc07_val.json"]
    )
    marker = sd.read_marker(dataset)
    assert marker["seed"] == SEED and marker["num_train"] == NUM_TRAIN and marker["num_val"] == NUM_VAL
    assert sd.is_synthetic_dataset(dataset)
    assert sd.synthetic_classes(dataset) == sd.DEFAULT_CLASSES
    assert len(_load(dataset, "train")) == NUM_TRAIN and len(_load(dataset, "val")) == NUM_VAL


def test_every_entry_has_the_reader_schema(dataset, all_entries):
    for entry in all_entries:
        assert isinstance(entry, list) and len(entry) == 2, entry
        image_path, objects = entry
        assert isinstance(image_path, str) and not Path(image_path).is_absolute(), image_path
        with Image.open(dataset / image_path) as image:
            assert image.format == "JPEG" and image.mode == "RGB", image_path
            width, height = image.size
        lo, hi = sd.OBJECTS_PER_IMAGE_RANGE
        assert isinstance(objects, list) and lo <= len(objects) <= hi, (image_path, len(objects))
        for obj in objects:
            assert set(obj) == {"xyxy", "name"}, obj
            assert obj["name"] in sd.DEFAULT_CLASSES, obj
            x1, y1, x2, y2 = obj["xyxy"]
            assert all(isinstance(v, float) for v in obj["xyxy"]), obj  # the reader divides in place
            assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height, (image_path, (width, height), obj)


def test_geometry_is_varied_and_bounded(dataset, all_entries):
    low, high = sd.OBJECT_SIDE_FRACTION_RANGE
    orientations, counts = Counter(), Counter()
    for image_path, objects in all_entries:
        with Image.open(dataset / image_path) as image:
            width, height = image.size
        assert sd.IMAGE_SHORT_SIDE_RANGE[0] <= min(width, height) and max(width, height) <= sd.IMAGE_MAX_SIDE
        orientations["portrait" if height > width else "landscape" if width > height else "square"] += 1
        counts[len(objects)] += 1
        short = min(width, height)
        boxes = [obj["xyxy"] for obj in objects]
        for i, (x1, y1, x2, y2) in enumerate(boxes):
            for side in (x2 - x1, y2 - y1):
                assert low - 0.01 <= side / short <= high + 0.01, (image_path, boxes[i], short)
            # Centre inside the central crop square, so the reader's crop never removes it entirely.
            assert (width - short) / 2 <= (x1 + x2) / 2 <= (width + short) / 2, (image_path, boxes[i])
            assert (height - short) / 2 <= (y1 + y2) / 2 <= (height + short) / 2, (image_path, boxes[i])
            for other in boxes[i + 1 :]:
                assert sd.box_overlap(boxes[i], other) <= sd.MAX_BOX_OVERLAP, (image_path, boxes[i], other)
    assert orientations["portrait"] >= 3 and orientations["landscape"] >= 3, orientations
    assert counts[1] >= 1 and counts[3] + counts[4] >= 3, counts


def test_all_classes_occur(all_entries):
    per_class = Counter(obj["name"] for _, objects in all_entries for obj in objects)
    assert set(per_class) == set(sd.DEFAULT_CLASSES), per_class


def test_train_and_val_images_are_disjoint(dataset):
    train = {path for path, _ in _load(dataset, "train")}
    val = {path for path, _ in _load(dataset, "val")}
    assert len(train) == NUM_TRAIN and len(val) == NUM_VAL and not train & val
    on_disk = {f"{sd.IMAGE_DIRNAME}/{p.name}" for p in (dataset / sd.IMAGE_DIRNAME).iterdir()}
    assert on_disk == train | val


# Each pasted shape painted one pure colour of its own, so its drawn pixels can be
# found exactly: red 255, green 40 * k (k-th shape drawn), blue 0. Backgrounds
# never reach 255 in any channel (grey <= 150 plus chroma <= 25).
def _marker_colour(k: int) -> tuple[int, int, int]:
    return (255, 40 * k, 0)


def _render_with_marked_fills(monkeypatch, seed: int) -> tuple[np.ndarray, list[dict], list[str]]:
    """``render_image`` for ``seed`` with every shape flat in ``_marker_colour(k)`` and no pixel noise.

    Returns the (H, W, 3) uint8 pixels, the annotations and the shapes in drawing order.
    The generator's random draws are unchanged (the real fill is drawn and discarded),
    so the annotations are those of the unpatched render with the same seed.
    """
    drawn_shapes: list[str] = []
    real_mask, real_fill = sd.shape_mask, sd._object_fill

    def recording_mask(shape, width, height):
        drawn_shapes.append(shape)
        return real_mask(shape, width, height)

    def marker_fill(rng, width, height):
        real_fill(rng, width, height)  # keep the random stream as in a real render
        return Image.new("RGB", (width, height), _marker_colour(len(drawn_shapes) - 1))

    with monkeypatch.context() as patch:
        patch.setattr(sd, "shape_mask", recording_mask)
        patch.setattr(sd, "_object_fill", marker_fill)
        patch.setattr(sd, "PIXEL_NOISE_STD", 0.0)
        image, annotations = sd.render_image(np.random.default_rng(seed))
    assert len(drawn_shapes) <= 6, "marker colours assume at most 6 shapes per image"
    return np.asarray(image), annotations, drawn_shapes


def _pixel_box(pixels: np.ndarray, colour: tuple[int, int, int]) -> tuple[float, ...] | None:
    """Tight xyxy box (x2, y2 exclusive) of the pixels exactly ``colour``, or None."""
    ys, xs = np.nonzero((pixels == np.array(colour, dtype=np.uint8)).all(axis=2))
    if len(xs) == 0:
        return None
    return (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))


def _inside(inner: Sequence[float], outer: Sequence[float]) -> bool:
    return inner[0] >= outer[0] and inner[1] >= outer[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def test_marked_render_keeps_the_real_annotations(monkeypatch):
    for seed in range(5):
        _, marked, _ = _render_with_marked_fills(monkeypatch, seed)
        _, real = sd.render_image(np.random.default_rng(seed))
        assert marked == real, seed


def test_boxes_are_exactly_tight_around_the_drawn_pixels(monkeypatch):
    """Each annotated box is the extent of its object's pixels: exactly, when no later
    (smaller) shape covers part of it; a superset (the amodal box) when one does."""
    shape_of = sd.class_shapes(sd.DEFAULT_CLASSES)
    exact = 0
    for seed in range(60):
        pixels, annotations, drawn_shapes = _render_with_marked_fills(monkeypatch, seed)
        drawn = [(k, shape) for k, shape in enumerate(drawn_shapes) if shape not in sd.DISTRACTOR_SHAPES]
        assert len(drawn) == len(annotations), (seed, drawn_shapes, annotations)
        boxes = [_pixel_box(pixels, _marker_colour(k)) for k in range(len(drawn_shapes))]
        for (k, shape), obj in zip(drawn, annotations):
            assert shape_of[obj["name"]] == shape, (seed, obj, shape)
            visible = boxes[k]
            assert visible is not None, (seed, obj, "object entirely hidden")
            covered = any(
                later is not None and sd.box_overlap(later, obj["xyxy"]) > 0 for later in boxes[k + 1 :]
            )
            if covered:
                assert _inside(visible, obj["xyxy"]), (seed, obj, visible)
            else:
                assert tuple(obj["xyxy"]) == visible, (seed, obj, visible)
                exact += 1
    assert exact >= 60, f"only {exact} uncovered objects checked exactly"


def test_distractors_are_drawn_and_never_annotated(monkeypatch):
    num_images = 40
    expected = num_images * sum(sd.DISTRACTORS_PER_IMAGE_RANGE) / 2  # before placement failures
    assert expected >= num_images / 2, sd.DISTRACTORS_PER_IMAGE_RANGE
    images_with_distractors = distractors = 0
    for seed in range(num_images):
        pixels, annotations, drawn_shapes = _render_with_marked_fills(monkeypatch, seed)
        distractor_ids = [k for k, shape in enumerate(drawn_shapes) if shape in sd.DISTRACTOR_SHAPES]
        assert len(annotations) == len(drawn_shapes) - len(distractor_ids), (seed, drawn_shapes, annotations)
        annotated = [tuple(obj["xyxy"]) for obj in annotations]
        for k in distractor_ids:
            visible = _pixel_box(pixels, _marker_colour(k))
            assert visible is not None, (seed, drawn_shapes[k], "distractor entirely hidden")
            assert not any(_inside(visible, box) and sd.box_overlap(visible, box) > 0.9 for box in annotated), (
                seed, drawn_shapes[k], visible, annotated)
        distractors += len(distractor_ids)
        images_with_distractors += bool(distractor_ids)
    assert images_with_distractors >= num_images / 4 and distractors >= expected / 2, (
        images_with_distractors, distractors, expected)


def _object_features(num_images: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per annotated object of real renders: class index (K,), colour features (K, 5) = mean
    R, G, B of its shape's pixels, mean saturation, mean value; geometry (K, 3) = box width
    and height over the image's shorter side, log aspect ratio."""
    shape_of = sd.class_shapes(sd.DEFAULT_CLASSES)
    labels, colours, geometry = [], [], []
    for index in range(num_images):
        image, annotations = sd.render_image(np.random.default_rng([seed, index]))
        pixels = np.asarray(image, dtype=np.float64) / 255.0
        short = min(image.size)
        for obj in annotations:
            x1, y1, x2, y2 = (int(v) for v in obj["xyxy"])
            mask = np.asarray(sd.shape_mask(shape_of[obj["name"]], x2 - x1, y2 - y1)) > 0
            rgb = pixels[y1:y2, x1:x2][mask]
            value, low = rgb.max(axis=1), rgb.min(axis=1)
            saturation = (value - low) / np.maximum(value, 1e-6)
            labels.append(sd.DEFAULT_CLASSES.index(obj["name"]))
            colours.append([*rgb.mean(axis=0), saturation.mean(), value.mean()])
            geometry.append([(x2 - x1) / short, (y2 - y1) / short, np.log((x2 - x1) / (y2 - y1))])
    return np.array(labels), np.array(colours), np.array(geometry)


def _nearest_class_mean_accuracy(labels: np.ndarray, features: np.ndarray) -> float:
    """Fit class means on the first half (standardised features), classify the second half."""
    features = (features - features.mean(axis=0)) / features.std(axis=0)
    half = len(labels) // 2
    classes = np.unique(labels[:half])
    means = np.stack([features[:half][labels[:half] == c].mean(axis=0) for c in classes])
    distances = ((features[half:, None, :] - means[None]) ** 2).sum(axis=2)
    return float((classes[distances.argmin(axis=1)] == labels[half:]).mean())


@pytest.fixture(scope="module")
def object_features():
    return _object_features(num_images=240, seed=11)


@pytest.mark.parametrize("kind", ["colour", "geometry"])
def test_colour_size_and_aspect_do_not_predict_the_class(object_features, kind):
    """A nearest-class-mean classifier on colour (or on box size and aspect) is near chance."""
    labels, colours, geometry = object_features
    features = colours if kind == "colour" else geometry
    chance = 1 / len(sd.DEFAULT_CLASSES)
    accuracy = _nearest_class_mean_accuracy(labels, features)
    assert len(labels) >= 400, len(labels)
    assert accuracy < chance + 0.1, f"{kind} predicts the class with accuracy {accuracy:.2f} (chance {chance:.2f})"
    # Per-class means of each feature lie within a small fraction of its spread of the overall mean.
    spread = features.std(axis=0)
    for c in range(len(sd.DEFAULT_CLASSES)):
        gap = np.abs(features[labels == c].mean(axis=0) - features.mean(axis=0)) / spread
        assert (gap < 0.4).all(), (kind, sd.DEFAULT_CLASSES[c], gap.round(2))


def test_colour_test_would_catch_a_class_dependent_tint(object_features):
    """The check above is not blind: shift each class's mean colour by 0.2 (of 1) along its
    own direction and the classifier beats chance by more than the allowed margin."""
    labels, colours, _ = object_features
    tinted = colours.copy()
    tinted[:, :3] += 0.2 * np.eye(3)[labels % 3] * np.where(labels < 3, 1.0, -1.0)[:, None]
    assert _nearest_class_mean_accuracy(labels, tinted) >= 1 / len(sd.DEFAULT_CLASSES) + 0.1


def test_a_validation_only_dataset_can_be_written(tmp_path):
    out = sd.make_synthetic_dataset(tmp_path / "val_only", num_train=0, num_val=3, seed=2)
    assert _load(out, "train") == [] and len(_load(out, "val")) == 3


def test_custom_classes_are_used_and_recorded(tmp_path):
    classes = ("cat", "dog", "person", "sheep")
    out = sd.make_synthetic_dataset(tmp_path / "pets", num_train=16, num_val=2, seed=3, classes=classes)
    names = {obj["name"] for _, objects in _load(out, "train") for obj in objects}
    assert names == set(classes), names
    assert sd.synthetic_classes(out) == classes
    marker = sd.read_marker(out)
    assert marker["shapes"] == {"cat": "ellipse", "dog": "rectangle", "person": "triangle", "sheep": "cross"}
    assert marker["distractor_shapes"] == list(sd.DISTRACTOR_SHAPES)
    assert marker["format_version"] == sd.FORMAT_VERSION


# ---------------------------------------------------------------------------
# Overwriting and interruption
# ---------------------------------------------------------------------------


def test_refuses_a_foreign_non_empty_directory_unless_forced(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a synthetic dataset"):
        sd.make_synthetic_dataset(out, num_train=2, num_val=1)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]

    sd.make_synthetic_dataset(out, num_train=2, num_val=1, force=True)
    assert sd.is_synthetic_dataset(out) and len(_load(out, "train")) == 2
    assert (out / "notes.txt").read_text() == "keep me"  # force replaces only generator-owned paths
    assert not list(tmp_path.glob(".*staging*"))


def test_writes_into_an_empty_directory(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    sd.make_synthetic_dataset(out, num_train=2, num_val=1)
    assert len(_load(out, "val")) == 1


def test_regenerating_a_synthetic_dataset_replaces_it_without_stale_images(tmp_path):
    out = sd.make_synthetic_dataset(tmp_path / "regen", num_train=5, num_val=2)
    sd.make_synthetic_dataset(out, num_train=3, num_val=1, seed=1)
    assert len(list((out / sd.IMAGE_DIRNAME).iterdir())) == 4
    assert sd.read_marker(out)["seed"] == 1


def test_interrupted_run_leaves_the_previous_dataset_intact(tmp_path, monkeypatch):
    out = sd.make_synthetic_dataset(tmp_path / "safe", num_train=3, num_val=1)
    before = _tree_bytes(out)
    real_render, calls = sd.render_image, []

    def render_then_fail(rng, classes):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_render(rng, classes)

    monkeypatch.setattr(sd, "render_image", render_then_fail)
    for target in (out, tmp_path / "fresh"):
        calls.clear()
        with pytest.raises(KeyboardInterrupt):
            sd.make_synthetic_dataset(target, num_train=5, num_val=1, seed=9)
    assert _tree_bytes(out) == before
    assert not (tmp_path / "fresh").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["safe"]  # no staging left behind


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def test_command_line_writes_and_reports(tmp_path, capsys):
    out = tmp_path / "cli"
    assert sd.main(["--out", str(out), "--train", "4", "--val", "2", "--seed", "5", "--classes", "car", "bus"]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "voc07_train.json: 4 images" in printed and "voc07_val.json: 2 images" in printed
    assert sd.synthetic_classes(out) == ("car", "bus")


def test_command_line_refuses_foreign_directory(tmp_path, capsys):
    (tmp_path / "data.bin").write_bytes(b"\0")
    assert sd.main(["--out", str(tmp_path), "--train", "2"]) == 1
    assert "--force" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_command_line_rejects_unknown_class(tmp_path):
    with pytest.raises(SystemExit):
        sd.main(["--out", str(tmp_path / "x"), "--classes", "zebra"])


# ---------------------------------------------------------------------------
# Compatibility with the course's dataset class
# ---------------------------------------------------------------------------


def test_loads_through_course_dataset_class(dataset):
    if not DETECTION_HELPERS.exists():
        pytest.skip(f"{DETECTION_HELPERS.relative_to(ROOT)} not written yet")
    spec = importlib.util.spec_from_file_location("detection_helpers", DETECTION_HELPERS)
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)

    for split in sd.SPLITS:
        ds = helpers.VOC2007DetectionTiny(str(dataset), split, image_size=128)
        assert len(ds) == {"train": NUM_TRAIN, "val": NUM_VAL}[split]
        for index in range(len(ds)):
            image_path, image, gt_boxes = ds[index]
            num_objects = len(_load(dataset, split)[index][1])
            assert tuple(image.shape) == (3, 128, 128), (image_path, tuple(image.shape))
            assert tuple(gt_boxes.shape) == (MAX_GT_BOXES, 5), (image_path, tuple(gt_boxes.shape))
            assert (gt_boxes[num_objects:] == -1).all(), image_path
            valid = gt_boxes[:num_objects]
            assert (valid[:, 4] >= 0).all(), (image_path, valid)  # centred objects survive the crop
            assert ((valid[:, :4] >= 0) & (valid[:, :4] <= 128)).all(), (image_path, valid)
