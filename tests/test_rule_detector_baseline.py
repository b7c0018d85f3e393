"""The notebook stage's mAP threshold is above what a detector without learning reaches.

``tests/grading_corpus/rule_detector.py`` finds every saturated blob (objects
and distractors) and names it by colour, size and aspect rules, written with
full knowledge of the synthetic generator. Classes differ by shape alone, so
it must stay below ``GRADING_PROFILE.min_map``, scored exactly as the grader
scores a notebook: a fresh validation split read through the course's
``VOC2007DetectionTiny`` at the profile's image size, ground truth as
``autograder/notebook/grading_data.py`` builds it, mAP by the course's ``voc_map``.

Two controls prove the baseline a real detector rather than a straw man:

* its class-agnostic recall at IoU 0.5 (every box called "object") is high,
  so its low mAP comes from naming, not from finding;
* on a colour-coded variant of the same generator (each class painted one
  flat colour of its own, as in the generator's first version; everything
  else, distractors included, unchanged) the same pipeline told those colours
  reaches the mAP threshold, so the threshold test can fail.

Run with ``-s`` to see its numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from autograder.course.course_files import load_course_module
from autograder.notebook.grading_profile import GRADING_PROFILE
from autograder.notebook.checks import class_matched_map
from synthetic_voc import generator as sd
from synthetic_voc.generator import make_synthetic_dataset
from tests.grading_corpus import rule_detector

NUM_VAL, SEED = 128, 90210  # a seed of its own, unrelated to the grading profile's
BOX_FORMAT = "{:.2f}"  # as the notebook writes boxes and the grader reads them back
MIN_AGNOSTIC_RECALL = 0.6
# The colour-coded control's palette (the generator's first version): red, blue, yellow, green, magenta, cyan.
CLASS_COLOURS = dict(zip(sd.DEFAULT_CLASSES, [(215, 25, 25), (30, 70, 230), (245, 220, 30), (30, 190, 60),
                                              (230, 40, 220), (30, 220, 230)]))


def _read_validation(root) -> tuple[dict[str, dict], dict[str, np.ndarray]]:
    """Ground truth {image id: {"boxes" (N, 4), "labels" (N,)}} as the grader builds it, and
    {image id: (S, S, 3) uint8 image} as the notebook's dataset yields it, un-normalised."""
    helpers = load_course_module("detection_helpers")
    dataset = helpers.VOC2007DetectionTiny(str(root), "val", image_size=GRADING_PROFILE.image_size)
    truth, images = {}, {}
    for index in range(len(dataset)):
        path, image, gt_boxes = dataset[index]
        key = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        gt_boxes = gt_boxes[gt_boxes[:, 4] != helpers.PADDING_LABEL]
        truth[key] = {
            "boxes": np.array([[float(BOX_FORMAT.format(v)) for v in row] for row in gt_boxes[:, :4].tolist()])
            .reshape(-1, 4),
            "labels": np.array([dataset.idx_to_class[int(c)] for c in gt_boxes[:, 4]], dtype=str),
        }
        pixels = helpers.inverse_norm(image).clamp(0, 1).permute(1, 2, 0).numpy()
        images[key] = np.rint(pixels * 255).astype(np.uint8)
    return truth, images


def _as_detections(found: list[tuple]) -> dict:
    rows = np.array([[float(BOX_FORMAT.format(v)) for v in d[2:]] for d in found]).reshape(-1, 4)
    return {
        "boxes": rows,
        "scores": np.array([d[1] for d in found], dtype=np.float64),
        "labels": np.array([d[0] for d in found], dtype=str),
    }


def _class_agnostic(records: dict[str, dict]) -> dict[str, dict]:
    return {key: {**record, "labels": np.full(len(record["labels"]), "object")} for key, record in records.items()}


def _colour_coded_dataset(root):
    """``make_synthetic_dataset`` with each class shape painted flat in its ``CLASS_COLOURS`` entry."""
    colour_of_shape = {shape: CLASS_COLOURS[name] for name, shape in sd.class_shapes(sd.DEFAULT_CLASSES).items()}
    last_shape = []
    real_mask, real_fill = sd.shape_mask, sd._object_fill

    def recording_mask(shape, width, height):
        last_shape[:] = [shape]
        return real_mask(shape, width, height)

    def class_coloured_fill(rng, width, height):
        fill = real_fill(rng, width, height)
        colour = colour_of_shape.get(last_shape[0])
        return fill if colour is None else Image.new("RGB", (width, height), colour)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sd, "shape_mask", recording_mask)
        patch.setattr(sd, "_object_fill", class_coloured_fill)
        return make_synthetic_dataset(root, num_train=0, num_val=NUM_VAL, seed=SEED)


@pytest.fixture(scope="module")
def colour_coded_map(tmp_path_factory) -> float:
    truth, images = _read_validation(_colour_coded_dataset(tmp_path_factory.mktemp("colour_coded") / "voc"))
    detections = {key: _as_detections(rule_detector.detect(image, class_colours=CLASS_COLOURS))
                  for key, image in images.items()}
    result = load_course_module("voc_map").evaluate(truth, detections).map
    print(f"\nrule baseline told the class colours, on colour-coded data: map_all {result:.3f}")
    return result


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> dict[str, float]:
    root = make_synthetic_dataset(tmp_path_factory.mktemp("rule_baseline") / "voc", num_train=0,
                                  num_val=NUM_VAL, seed=SEED)
    truth, images = _read_validation(root)
    voc_map = load_course_module("voc_map")
    results = {}
    for labels_per_box in ("all", "top1"):
        detections = {key: _as_detections(rule_detector.detect(image, labels_per_box=labels_per_box))
                      for key, image in images.items()}
        results[f"map_{labels_per_box}"] = voc_map.evaluate(truth, detections).map
        results[f"class_matched_map_{labels_per_box}"] = class_matched_map(truth, detections)
        if labels_per_box == "top1":  # one detection per found blob
            agnostic = voc_map.evaluate(_class_agnostic(truth), _class_agnostic(detections))
            results["agnostic_recall"] = agnostic.num_true_positives["object"] / agnostic.num_ground_truth["object"]
            results["agnostic_ap"] = agnostic.map
            results["detections_per_image"] = sum(len(d["labels"]) for d in detections.values()) / len(images)
            results["objects_per_image"] = sum(len(t["labels"]) for t in truth.values()) / len(images)
    print(f"\nrule baseline on {NUM_VAL} validation images (seed {SEED}, {GRADING_PROFILE.image_size} px): "
          + ", ".join(f"{name} {value:.3f}" for name, value in results.items())
          + f"; GRADING_PROFILE.min_map {GRADING_PROFILE.min_map}")
    return results


def test_rule_detector_finds_most_objects(baseline):
    """Control: class-agnostic recall at IoU 0.5 is high, so it is a real detector."""
    assert baseline["agnostic_recall"] > MIN_AGNOSTIC_RECALL, baseline


def test_rule_detector_passes_when_colour_gives_the_class_away(colour_coded_map):
    """Control: the threshold test is not vacuous; the same pipeline passes on colour-coded classes."""
    assert colour_coded_map >= GRADING_PROFILE.min_map, (colour_coded_map, GRADING_PROFILE.min_map)


@pytest.mark.parametrize("labels_per_box", ["all", "top1"])
def test_rule_detector_stays_below_the_map_threshold(baseline, labels_per_box):
    """Colour, size and aspect rules do not reach the mAP a passing notebook needs."""
    assert baseline[f"map_{labels_per_box}"] < GRADING_PROFILE.min_map, (baseline, GRADING_PROFILE.min_map)


@pytest.mark.parametrize("labels_per_box", ["all", "top1"])
def test_rule_detector_does_not_earn_the_loss_points(baseline, labels_per_box):
    """The loss check counts a reported loss only for a detector that tells the classes apart, whatever its
    labels (notebook_checks.class_matched_map): rules that do not, with a forged loss, stay below."""
    assert baseline[f"class_matched_map_{labels_per_box}"] < GRADING_PROFILE.min_map, (baseline, GRADING_PROFILE.min_map)


def test_rule_detector_rejects_a_bad_image():
    with pytest.raises(ValueError, match="uint8"):
        rule_detector.detect(np.zeros((8, 8, 3), dtype=np.float32))


def test_connected_components_are_four_connected():
    mask = np.zeros((6, 8), dtype=bool)
    mask[0, 0:3] = mask[1, 2] = mask[2, 2:6] = mask[1, 5:7] = True  # one U-shaped component
    mask[4, 0] = mask[5, 1] = True  # diagonal neighbours: two components
    sizes = sorted(len(pixels) for pixels in rule_detector.connected_components(mask))
    assert sizes == [1, 1, 10], sizes


def test_rule_detector_finds_a_saturated_shape_on_grey():
    image = np.full((64, 64, 3), 100, dtype=np.uint8)
    image[10:30, 20:50] = (200, 40, 40)
    found = rule_detector.detect(image, labels_per_box="top1")
    assert [d[2:] for d in found] == [(20.0, 10.0, 50.0, 30.0)], found
