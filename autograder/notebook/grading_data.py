"""The data of the notebook stage: what the kernel sees, and what only the grader sees.

The grader generates two synthetic datasets (``synthetic_voc.generator``)
in a private temporary folder, reads them into memory and deletes the
folder before any student code runs:

* the **training split**, from the profile's fixed seed: the kernel trains on
  it. Its ``voc07_val.json`` lists a few *training* images, so that the
  notebook's inference and evaluation cells run as in Colab; nothing they
  write is graded.
* the **validation split**, from a seed drawn per grade (``validation_seed``:
  the staff secret and the submission's content, as every graded case) and
  unrelated to the training seed. The kernel never sees it; fresh workers
  run the checkpointed detector on its images (``probes/trained_detector``)
  and this process scores the detections against its boxes.

The loss batches (training images the grader picks with the same seed) are
where the checkpointed detector's training loss is measured.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from autograder.course.course_files import load_course_module
from autograder.notebook.grading_profile import GradingProfile
from synthetic_voc.generator import MARKER_FILENAME, annotation_filename, make_synthetic_dataset

TRAIN_SPLIT, VAL_SPLIT = "train", "val"
# Box co-ordinates as the notebook's Cartucho writer prints them.
BOX_FORMAT = "{:.2f}"
# Training images the kernel's validation split lists: the notebook's evaluation cells need some.
KERNEL_VAL_IMAGES = 2
LOSS_BATCHES = 8  # of the profile's batch size: 32 images at the grading profile's 4 per batch
_VALIDATION_SEED_PURPOSE = b"notebook stage: validation split"
_EVALUATION_SEED_PURPOSE = b"notebook stage: evaluations"


@dataclass(frozen=True)
class GradingData:
    """``kernel_files``: path (relative to the kernel's DATA_DIR) -> bytes.
    ``ground_truth``: validation image id -> ``{"boxes": (N, 4), "labels": (N,) names}``
    in the pixels of the resized and cropped image, as the notebook evaluates.
    ``images`` (Tensor[V, 3, S, S]): the validation images as the notebook's dataset yields them,
    in ``image_ids`` order. ``loss_images`` (Tensor[B, 3, S, S]) and ``loss_boxes``
    (Tensor[B, 40, 5]): one entry per loss batch."""

    kernel_files: dict[str, bytes]
    ground_truth: dict[str, dict]
    image_ids: tuple[str, ...]
    images: torch.Tensor
    loss_images: tuple[torch.Tensor, ...]
    loss_boxes: tuple[torch.Tensor, ...]


def validation_seed(submission_seed: int) -> int:
    """The validation split's seed for a grade: as secret as ``submission_seed``, and distinct from it."""
    return _derived_seed(_VALIDATION_SEED_PURPOSE, submission_seed)


def evaluation_seed(validation: int) -> int:
    """The seed the evaluations of a grade's detectors use (untrained weights, the loss batches'
    sampling), from its ``validation_seed``: sandboxed workers get this one, which does not
    reveal the validation split's."""
    return _derived_seed(_EVALUATION_SEED_PURPOSE, validation)


def _derived_seed(purpose: bytes, seed: int) -> int:
    digest = hashlib.sha256(purpose + seed.to_bytes(8, "little")).digest()
    return int.from_bytes(digest[:4], "little")


def image_id(image_path: str) -> str:
    """``JPEGImages/val_000003.jpg`` -> ``val_000003`` (the notebook's result file name)."""
    return os.path.splitext(os.path.basename(image_path))[0]


def build_grading_data(profile: GradingProfile, seed: int) -> GradingData:
    """The profile's training split for the kernel; a validation split and loss batches from ``seed``."""
    helpers = load_course_module("detection_helpers")
    with tempfile.TemporaryDirectory(prefix="autograder-grading-data-") as private:
        train_root = make_synthetic_dataset(Path(private) / "train", num_train=profile.num_train, num_val=0,
                                            seed=profile.dataset_seed)
        val_root = make_synthetic_dataset(Path(private) / "val", num_train=0, num_val=profile.num_val, seed=seed)
        kernel_files = _kernel_files(train_root, annotation_filename, MARKER_FILENAME)
        validation = helpers.VOC2007DetectionTiny(str(val_root), VAL_SPLIT, image_size=profile.image_size)
        samples = [validation[index] for index in range(len(validation))]
        training = helpers.VOC2007DetectionTiny(str(train_root), TRAIN_SPLIT, image_size=profile.image_size)
        loss_images, loss_boxes = _loss_batches(training, profile.batch_size, seed)
    return GradingData(
        kernel_files=kernel_files,
        ground_truth={image_id(path): _written_truth(gt_boxes, validation.idx_to_class, helpers.PADDING_LABEL)
                      for path, _, gt_boxes in samples},
        image_ids=tuple(image_id(path) for path, _, _ in samples),
        images=torch.stack([image for _, image, _ in samples]) if samples else torch.empty(0),
        loss_images=loss_images,
        loss_boxes=loss_boxes,
    )


def _kernel_files(train_root: Path, annotation_filename, marker: str) -> dict[str, bytes]:
    """The training split's images and boxes (not the generator's marker), with a validation list of
    its first ``KERNEL_VAL_IMAGES`` images."""
    files = {path.relative_to(train_root).as_posix(): path.read_bytes()
             for path in sorted(train_root.rglob("*")) if path.is_file() and path.name != marker}
    entries = json.loads(files[annotation_filename(TRAIN_SPLIT)])
    files[annotation_filename(VAL_SPLIT)] = json.dumps(entries[:KERNEL_VAL_IMAGES]).encode()
    return files


def _loss_batches(training, batch_size: int, seed: int) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """``LOSS_BATCHES`` batches of distinct training images drawn with ``seed``."""
    count = min(LOSS_BATCHES * batch_size, len(training))
    order = torch.randperm(len(training), generator=torch.Generator().manual_seed(seed))[:count].tolist()
    batches = [order[start:start + batch_size] for start in range(0, count, batch_size)]
    images = tuple(torch.stack([training[i][1] for i in batch]) for batch in batches)
    boxes = tuple(torch.stack([training[i][2] for i in batch]) for batch in batches)
    return images, boxes


def _written_truth(gt_boxes: torch.Tensor, idx_to_class: dict, padding_label: float) -> dict:
    """One image's boxes exactly as the notebook's writer prints them and Cartucho's reader parses them."""
    gt_boxes = gt_boxes[gt_boxes[:, 4] != padding_label]
    return {
        "boxes": boxes_as_written(gt_boxes[:, :4].tolist()),
        "labels": np.array([idx_to_class[int(c)] for c in gt_boxes[:, 4]], dtype=str),
    }


def boxes_as_written(rows) -> np.ndarray:
    """(N, 4) co-ordinates as the notebook's writer prints them and Cartucho's reader parses them."""
    return np.array([[float(BOX_FORMAT.format(v)) for v in row] for row in rows], dtype=np.float64).reshape(-1, 4)
