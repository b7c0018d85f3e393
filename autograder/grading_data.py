"""The data of the notebook stage: what the kernel sees, and what it never sees.

The grader generates a synthetic dataset (``data_scripts.synthetic_dataset``,
deterministic for a profile) in a private temporary folder, reads it into
memory and deletes the folder before any student code runs. The kernel
receives the training split with its boxes and the validation *images* with
a ``voc07_val.json`` that lists them without any box; the validation
annotations stay in the grader, which scores the detections the notebook
writes against them.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autograder.course_files import load_course_module
from autograder.grading_profile import GradingProfile

TRAIN_SPLIT, VAL_SPLIT = "train", "val"
# Box co-ordinates as the notebook's Cartucho writer prints them.
BOX_FORMAT = "{:.2f}"


@dataclass(frozen=True)
class GradingData:
    """``kernel_files``: path (relative to the kernel's DATA_DIR) -> bytes.
    ``ground_truth``: validation image id -> ``{"boxes": (N, 4), "labels": (N,) names}``
    in the pixels of the resized and cropped image, as the notebook evaluates."""

    kernel_files: dict[str, bytes]
    ground_truth: dict[str, dict]
    image_ids: tuple[str, ...]


def image_id(image_path: str) -> str:
    """``JPEGImages/val_000003.jpg`` -> ``val_000003`` (the notebook's result file name)."""
    return os.path.splitext(os.path.basename(image_path))[0]


def build_grading_data(profile: GradingProfile) -> GradingData:
    """Generate the profile's dataset and split it into the kernel's files and the withheld truth."""
    from data_scripts.synthetic_dataset import MARKER_FILENAME, annotation_filename, make_synthetic_dataset

    with tempfile.TemporaryDirectory(prefix="autograder-grading-data-") as private:
        root = make_synthetic_dataset(
            Path(private) / "data", num_train=profile.num_train, num_val=profile.num_val, seed=profile.dataset_seed
        )
        ground_truth = _validation_ground_truth(root, profile.image_size)
        files = {
            path.relative_to(root).as_posix(): path.read_bytes()
            for path in sorted(root.rglob("*"))
            if path.is_file() and path.name != MARKER_FILENAME  # the marker names the seed
        }
    val_name = annotation_filename(VAL_SPLIT)
    val_entries = json.loads(files[val_name])
    files[val_name] = json.dumps([[path, []] for path, _ in val_entries]).encode()
    return GradingData(
        kernel_files=files,
        ground_truth=ground_truth,
        image_ids=tuple(image_id(path) for path, _ in val_entries),
    )


def _validation_ground_truth(root: Path, image_size: int) -> dict[str, dict]:
    """The validation boxes exactly as the notebook's dataset yields and writes them."""
    helpers = load_course_module("detection_helpers")
    dataset = helpers.VOC2007DetectionTiny(str(root), VAL_SPLIT, image_size=image_size)
    truth = {}
    for index in range(len(dataset)):
        path, _, gt_boxes = dataset[index]
        gt_boxes = gt_boxes[gt_boxes[:, 4] != helpers.PADDING_LABEL]
        truth[image_id(path)] = {
            "boxes": np.array([[_as_written(v) for v in row] for row in gt_boxes[:, :4].tolist()]).reshape(-1, 4),
            "labels": np.array([dataset.idx_to_class[int(c)] for c in gt_boxes[:, 4]], dtype=str),
        }
    return truth


def _as_written(value: float) -> float:
    """``value`` after the notebook's writer printed it and Cartucho's reader parsed it."""
    return float(BOX_FORMAT.format(value))
