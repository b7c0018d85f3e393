"""PASCAL VOC mean Average Precision, computed exactly as Cartucho/mAP's ``main.py``.

A drop-in replacement for ``git clone https://github.com/Cartucho/mAP && python
main.py``: same input files, same rules, same numbers, same ``output.txt``.
Depends only on the standard library, numpy and (for the plot) matplotlib.

Input layout (one ``<image_id>.txt`` per image in each folder)::

    INPUT_DIR/ground-truth/<image_id>.txt       <class_name> <left> <top> <right> <bottom> [difficult]
    INPUT_DIR/detection-results/<image_id>.txt  <class_name> <confidence> <left> <top> <right> <bottom>

Boxes are inclusive pixel coordinates: a box's width is ``right - left + 1``.

The rules, as in Cartucho's ``main.py``:

* Classes: those with at least one non-difficult ground-truth box, sorted by
  name. A class with ground truth but no detections has AP 0 and counts in the
  mean; a class seen only in detections (or only on difficult boxes) does not.
* Ranking: per class, detections sorted by descending confidence with a stable
  sort, so ties keep file order (ground-truth file names sorted as strings,
  ``.txt`` included) and then line order.
* Matching: each detection is compared with every ground-truth box of its class
  in its image, difficult ones included; the box of highest IoU wins (the first
  in file order on a tie). IoU >= threshold (0.5) with an unused box is a true
  positive; with an already used box it is a false positive (there is no
  fallback to the second best box); with a difficult box it is ignored, neither
  true nor false positive. Below the threshold it is a false positive.
* AP: VOC2010+ all-point interpolation (``voc_ap``); mAP is the plain mean.

Deliberate differences, all on inputs Cartucho rejects or crashes on:

* A missing detection file means "no detections for that image", as an empty
  one does in both (Cartucho demands a detection file per ground-truth file).
* Blank lines are skipped (Cartucho rejects them).
* Class names may contain spaces: the last 4 (ground truth, after an optional
  ``difficult``) or 5 (detections) fields are the numbers and the words before
  them the name. To keep a line of the wrong kind from being misread, a
  multi-word name may not contain a numeric word after its first.
* A class whose top-ranked detection hits a difficult box gets precision 0 at
  that rank (Cartucho divides by zero); AP is not affected.

Not reproduced: Cartucho's other plots and its ``--ignore``,
``--set-class-iou`` and animation options; the output folder is not wiped.

Python API: :func:`evaluate` (in memory, e.g. model outputs) and
:func:`evaluate_directory` (files). Command line::

    python voc_map.py INPUT_DIR [--output DIR] [--no-plot] [--iou 0.5] [--quiet]
"""

# No ``from __future__ import annotations``: with string annotations, dataclasses
# look the module up in sys.modules, and this file is loaded by path, unregistered.
import argparse
import dataclasses
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_IOU_THRESHOLD = 0.5  # Cartucho's MINOVERLAP (PASCAL VOC)
GROUND_TRUTH_DIR = "ground-truth"
DETECTION_RESULTS_DIR = "detection-results"
RESULT_FILE_SUFFIX = ".txt"
DIFFICULT_FLAG = "difficult"
OUTPUT_TXT = "output.txt"
MAP_PLOT = "mAP.png"
DEFAULT_OUTPUT_DIR = "output"  # created next to INPUT_DIR, as in Cartucho's layout

_NUM_BOX_FIELDS = 4
_GROUND_TRUTH_FORMAT = "<class_name> <left> <top> <right> <bottom> [difficult]"
_DETECTION_FORMAT = "<class_name> <confidence> <left> <top> <right> <bottom>"

_PLOT_COLOR = "royalblue"
_PLOT_TICK_FONT_SIZE = 12
_PLOT_ROW_HEIGHT_PT = _PLOT_TICK_FONT_SIZE * 1.4
_PLOT_TOP_MARGIN = 0.15
_PLOT_BOTTOM_MARGIN = 0.05


class MapInputError(ValueError):
    """Input that cannot be evaluated: bad layout, malformed line, bad array."""


@dataclasses.dataclass(frozen=True)
class MapResult:
    """Outcome of an evaluation.

    Attributes:
        map: mean of ``ap_per_class`` values, in [0, 1].
        ap_per_class: AP in [0, 1] per ground-truth class, sorted by class name.
        num_ground_truth: non-difficult ground-truth boxes per ground-truth class.
        num_detections: detections per class, for every class that has any
            (classes absent from the ground truth included), sorted by name.
        num_true_positives: true positives per class of ``ap_per_class`` or
            ``num_detections``.
        precision: per ground-truth class, (D,) cumulative precision over its
            D detections in ranked order. A detection ignored because it hits a
            difficult box repeats the previous value (0 before the first).
        recall: per ground-truth class, (D,) cumulative recall, same order.
        num_images: images evaluated (those with ground truth).
        iou_threshold: the IoU a match needed.
    """

    map: float
    ap_per_class: dict[str, float]
    num_ground_truth: dict[str, int]
    num_detections: dict[str, int]
    num_true_positives: dict[str, int]
    precision: dict[str, np.ndarray]
    recall: dict[str, np.ndarray]
    num_images: int
    iou_threshold: float


# --------------------------------------------------------------------------- kernels


def box_iou_voc(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """Pairwise IoU of inclusive-pixel boxes (``width = right - left + 1``).

    Args:
        boxes1: (N, 4) float boxes ``left, top, right, bottom``.
        boxes2: (M, 4) float boxes, same format.

    Returns:
        (N, M) float64 IoU; 0 where the boxes do not overlap. The arithmetic is
        Cartucho's, operation for operation, so thresholds tie the same way.
    """
    boxes1 = np.asarray(boxes1, dtype=np.float64).reshape(-1, _NUM_BOX_FIELDS)
    boxes2 = np.asarray(boxes2, dtype=np.float64).reshape(-1, _NUM_BOX_FIELDS)
    if boxes1.shape[0] == 0 or boxes2.shape[0] == 0:
        return np.zeros((boxes1.shape[0], boxes2.shape[0]))
    a = boxes1[:, None, :]
    b = boxes2[None, :, :]
    iw = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1
    ih = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1
    area1 = (a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1)
    area2 = (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)
    union = area1 + area2 - iw * ih
    # iw > 0 and ih > 0 imply both areas are positive, hence union > 0.
    overlap = (iw > 0) & (ih > 0)
    return np.divide(iw * ih, union, out=np.zeros(union.shape), where=overlap)


def match_detections(
    scores: np.ndarray,
    det_boxes: np.ndarray,
    det_images: np.ndarray,
    gt_boxes: np.ndarray,
    gt_images: np.ndarray,
    gt_difficult: np.ndarray,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy VOC matching of one class's detections to its ground truth.

    Args:
        scores: (D,) confidences.
        det_boxes: (D, 4) detection boxes.
        det_images: (D,) int image index of each detection.
        gt_boxes: (G, 4) ground-truth boxes, in file order within each image.
        gt_images: (G,) int image index of each ground-truth box.
        gt_difficult: (G,) bool.
        iou_threshold: a match needs IoU >= this.

    Returns:
        ``order`` (D,) detection indices by descending score (stable), and
        ``tp``, ``fp`` (D,) bool in that ranked order. A detection that is
        neither hit a difficult box and is ignored.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    det_boxes = np.asarray(det_boxes, dtype=np.float64).reshape(-1, _NUM_BOX_FIELDS)
    det_images = np.asarray(det_images, dtype=np.int64).reshape(-1)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, _NUM_BOX_FIELDS)
    gt_images = np.asarray(gt_images, dtype=np.int64).reshape(-1)
    gt_difficult = np.asarray(gt_difficult, dtype=bool).reshape(-1)
    num_dets = len(scores)
    order = np.argsort(-scores, kind="stable")
    tp = np.zeros(num_dets, dtype=bool)
    fp = np.zeros(num_dets, dtype=bool)
    if num_dets == 0:
        return order, tp, fp

    # The best box of a detection depends on IoU alone (a used box is not
    # skipped), so it is found for all detections at once, image by image.
    best_gt = np.full(num_dets, -1, dtype=np.int64)
    best_iou = np.zeros(num_dets)
    gt_by_image = _group_by(gt_images)
    for image, det_idx in _group_by(det_images).items():
        gt_idx = gt_by_image.get(image)
        if gt_idx is None:
            continue
        iou = box_iou_voc(det_boxes[det_idx], gt_boxes[gt_idx])
        column = iou.argmax(axis=1)  # first maximum: the earliest box wins ties
        best_gt[det_idx] = gt_idx[column]
        best_iou[det_idx] = iou[np.arange(len(det_idx)), column]

    used = np.zeros(len(gt_boxes), dtype=bool)
    for rank, det in enumerate(order):
        gt = best_gt[det]
        if gt < 0 or best_iou[det] < iou_threshold:
            fp[rank] = True
        elif gt_difficult[gt]:
            continue
        elif used[gt]:
            fp[rank] = True
        else:
            used[gt] = True
            tp[rank] = True
    return order, tp, fp


def precision_recall(tp: np.ndarray, fp: np.ndarray, num_positives: int) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative precision and recall over ranked detections.

    Args:
        tp: (D,) bool, true positive at each rank.
        fp: (D,) bool, false positive at each rank (neither: ignored).
        num_positives: non-difficult ground-truth boxes, > 0.

    Returns:
        ``precision``, ``recall``: (D,) float64. Precision is 0 while no
        detection has been counted yet.
    """
    if num_positives <= 0:
        raise ValueError(f"precision_recall: num_positives must be > 0, got {num_positives}")
    tp_cum = np.cumsum(tp, dtype=np.int64)
    counted = tp_cum + np.cumsum(fp, dtype=np.int64)
    precision = np.divide(tp_cum, counted, out=np.zeros(len(tp)), where=counted > 0)
    recall = tp_cum / num_positives
    return precision, recall


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC2010+ all-point interpolated AP (Cartucho's ``voc_ap``).

    Args:
        recall: (D,) non-decreasing recall at each rank.
        precision: (D,) precision at each rank.

    Returns:
        Area under the precision envelope ``max(precision at recall >= r)``.
        Summed sequentially in rank order, as Cartucho does, so equal to its
        value bit for bit.
    """
    mrec = np.concatenate(([0.0], np.asarray(recall, dtype=np.float64), [1.0]))
    mpre = np.concatenate(([0.0], np.asarray(precision, dtype=np.float64), [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    areas = (mrec[steps] - mrec[steps - 1]) * mpre[steps]
    # np.add.accumulate is a plain running sum; np.sum is pairwise, and
    # Python >= 3.12's sum() compensated: both may differ in the last bit.
    return float(np.add.accumulate(areas)[-1]) if areas.size else 0.0


def _group_by(keys: np.ndarray) -> dict[int, np.ndarray]:
    """{key: (K,) indices of that key, ascending} for a (N,) int array."""
    order = np.argsort(keys, kind="stable")
    unique, starts = np.unique(keys[order], return_index=True)
    return {int(k): idx for k, idx in zip(unique, np.split(order, starts[1:]))}


# --------------------------------------------------------------------------- evaluation


def evaluate(
    ground_truth: Mapping[Any, Mapping[str, Any]] | Sequence[Mapping[str, Any]],
    detections: Mapping[Any, Mapping[str, Any]] | Sequence[Mapping[str, Any]],
    *,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
    class_names: Sequence[str] | None = None,
) -> MapResult:
    """VOC mAP of in-memory boxes, e.g. a detector's outputs.

    Args:
        ground_truth: per image, a mapping with ``"boxes"`` (N, 4) inclusive
            pixel ``left, top, right, bottom``, ``"labels"`` (N,) class names or
            integer ids, and optionally ``"difficult"`` (N,) bool. Either a
            sequence (image i is position i) or a mapping keyed by image id.
        detections: per image, a mapping with ``"boxes"`` (M, 4), ``"scores"``
            (M,) and ``"labels"`` (M,). A sequence aligned with a sequence
            ``ground_truth``, or a mapping whose keys are ground-truth keys (an
            image without an entry has no detections).
        iou_threshold: a match needs IoU >= this, in (0, 1].
        class_names: names of integer labels (label i is ``class_names[i]``);
            without it an integer label's name is ``str(label)``.

    Arrays may be lists, numpy arrays or torch tensors (any device).
    Confidence ties keep image order, then order within the image.

    Returns:
        The :class:`MapResult`.

    Raises:
        MapInputError: on inconsistent inputs or when there is no
            non-difficult ground-truth box at all.
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise MapInputError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
    gt_per_image, det_per_image = _align_images(ground_truth, detections)
    gt = _flatten(gt_per_image, "ground_truth", class_names, with_scores=False)
    det = _flatten(det_per_image, "detections", class_names, with_scores=True)

    num_ground_truth = Counter(gt.labels[~gt.difficult].tolist())
    if not num_ground_truth:
        raise MapInputError("no ground-truth boxes (difficult ones aside): mAP is undefined")
    classes = sorted(num_ground_truth)

    ap_per_class, precision, recall = {}, {}, {}
    num_true_positives = dict.fromkeys(sorted(set(det.labels.tolist()) - set(classes)), 0)
    for name in classes:
        g = gt.labels == name
        d = det.labels == name
        _, tp, fp = match_detections(
            det.scores[d], det.boxes[d], det.images[d], gt.boxes[g], gt.images[g], gt.difficult[g], iou_threshold
        )
        precision[name], recall[name] = precision_recall(tp, fp, num_ground_truth[name])
        ap_per_class[name] = average_precision(recall[name], precision[name])
        num_true_positives[name] = int(tp.sum())

    total = 0.0
    for ap in ap_per_class.values():  # running sum in class order, as Cartucho
        total += ap
    return MapResult(
        map=total / len(classes),
        ap_per_class=ap_per_class,
        num_ground_truth={name: num_ground_truth[name] for name in classes},
        num_detections=dict(sorted(Counter(det.labels.tolist()).items())),
        num_true_positives=dict(sorted(num_true_positives.items())),
        precision=precision,
        recall=recall,
        num_images=len(gt_per_image),
        iou_threshold=float(iou_threshold),
    )


def evaluate_directory(
    input_dir: str | Path,
    output_dir: str | Path | None = None,
    *,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
    draw_plot: bool = True,
) -> MapResult:
    """VOC mAP of a Cartucho-layout folder (see the module docstring).

    Args:
        input_dir: folder holding ``ground-truth/`` and ``detection-results/``.
        output_dir: where to write ``output.txt`` (and ``mAP.png``); nothing is
            written when None.
        iou_threshold: a match needs IoU >= this, in (0, 1].
        draw_plot: also write the per-class AP bar chart ``mAP.png``.

    Raises:
        MapInputError: on a bad layout or a malformed line (with file and line).
    """
    ground_truth, detections = load_directory(input_dir)
    result = evaluate(ground_truth, detections, iou_threshold=iou_threshold)
    if output_dir is not None:
        write_outputs(result, output_dir, draw_plot=draw_plot)
    return result


@dataclasses.dataclass(frozen=True)
class _Flat:
    """All images' boxes of one kind, concatenated in image order."""

    labels: np.ndarray  # (K,) str
    boxes: np.ndarray  # (K, 4) float64
    images: np.ndarray  # (K,) int64 image index
    difficult: np.ndarray  # (K,) bool; all False for detections
    scores: np.ndarray  # (K,) float64; all 0 for ground truth


_NO_DETECTIONS = {"boxes": np.zeros((0, _NUM_BOX_FIELDS)), "scores": np.zeros(0), "labels": np.array([], dtype=str)}


def _align_images(ground_truth, detections) -> tuple[dict[Any, Mapping], dict[Any, Mapping]]:
    """Both inputs as {image id: record} with the same keys in the same order
    (the ground truth's), so that position i is the same image in both."""
    if isinstance(ground_truth, Mapping) != isinstance(detections, Mapping):
        raise MapInputError("ground_truth and detections must both be mappings (by image id) or both sequences")
    if isinstance(ground_truth, Mapping):
        unknown = [key for key in detections if key not in ground_truth]
        if unknown:
            raise MapInputError(f"detections for images without ground truth: {_preview(unknown)}")
        return dict(ground_truth), {key: detections.get(key, _NO_DETECTIONS) for key in ground_truth}
    if len(ground_truth) != len(detections):
        raise MapInputError(
            f"ground_truth has {len(ground_truth)} images but detections has {len(detections)}; "
            "sequences are aligned by position"
        )
    return dict(enumerate(ground_truth)), dict(enumerate(detections))


def _flatten(per_image: dict[Any, Mapping], what: str, class_names, *, with_scores: bool) -> _Flat:
    """Validate and concatenate per-image records (images numbered in order)."""
    labels, boxes, images, difficult, scores = [], [], [], [], []
    for index, (image_id, record) in enumerate(per_image.items()):
        where = f"{what}[{image_id!r}]"
        if not isinstance(record, Mapping):
            raise MapInputError(f"{where} must be a mapping with 'boxes' and 'labels', got {type(record).__name__}")
        required = ("boxes", "scores", "labels") if with_scores else ("boxes", "labels")
        missing = [key for key in required if key not in record]
        if missing:
            raise MapInputError(f"{where} lacks {missing}")
        b = _as_numpy(record["boxes"], np.float64)
        if b.size == 0:
            b = b.reshape(0, _NUM_BOX_FIELDS)
        if b.ndim != 2 or b.shape[1] != _NUM_BOX_FIELDS:
            raise MapInputError(f"{where}['boxes'] must have shape (N, 4), got {b.shape}")
        n = b.shape[0]
        fields = {"labels": _label_names(record["labels"], class_names, f"{where}['labels']")}
        fields["difficult"] = _as_numpy(record.get("difficult", np.zeros(n, bool)), bool).reshape(-1)
        fields["scores"] = _as_numpy(record["scores"], np.float64).reshape(-1) if with_scores else np.zeros(n)
        for key, value in fields.items():
            if value.shape != (n,):
                raise MapInputError(f"{where}['{key}'] has {value.shape[0]} entries for {n} boxes")
        if not (np.isfinite(b).all() and np.isfinite(fields["scores"]).all()):
            raise MapInputError(f"{where} has non-finite boxes or scores")
        labels.append(fields["labels"])
        boxes.append(b)
        images.append(np.full(n, index, dtype=np.int64))
        difficult.append(fields["difficult"])
        scores.append(fields["scores"])
    if not labels:
        return _Flat(np.array([], str), np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0))
    return _Flat(*(np.concatenate(parts) for parts in (labels, boxes, images, difficult, scores)))


def _label_names(labels, class_names: Sequence[str] | None, where: str) -> np.ndarray:
    """(N,) labels (names or integer ids) as a (N,) str array of class names."""
    labels = _as_numpy(labels).reshape(-1)
    if labels.size == 0:
        return np.array([], dtype=str)
    if labels.dtype.kind in "iu":
        if class_names is None:
            return labels.astype(str)
        bad = (labels < 0) | (labels >= len(class_names))
        if bad.any():
            raise MapInputError(f"{where}: label {labels[bad][0]} outside class_names (0..{len(class_names) - 1})")
        return np.asarray(class_names, dtype=str)[labels]
    if labels.dtype.kind in "UO" and all(isinstance(x, str) for x in labels.tolist()):
        return labels.astype(str)
    raise MapInputError(f"{where} must hold class names or integer ids, got dtype {labels.dtype}")


def _as_numpy(value, dtype=None) -> np.ndarray:
    """A list, numpy array or torch tensor (on any device) as a numpy array."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch, without importing it
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)


def _preview(items: Sequence, limit: int = 5) -> str:
    shown = ", ".join(repr(x) for x in list(items)[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


# --------------------------------------------------------------------------- files


def load_directory(input_dir: str | Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """Read a Cartucho-layout folder into :func:`evaluate`'s inputs.

    Images are the ``*.txt`` files of ``ground-truth/`` (hidden files skipped,
    as ``glob`` does), in Cartucho's order: file names sorted as strings. A
    missing or empty detection file means no detections.

    Returns:
        ``(ground_truth, detections)`` keyed by image id (file name without
        ``.txt``): ``{"boxes", "labels", "difficult"}`` and
        ``{"boxes", "scores", "labels"}`` records.

    Raises:
        MapInputError: on a bad layout or a malformed line.
    """
    input_dir = Path(input_dir)
    gt_dir, det_dir = input_dir / GROUND_TRUTH_DIR, input_dir / DETECTION_RESULTS_DIR
    for folder in (gt_dir, det_dir):
        if not folder.is_dir():
            raise MapInputError(
                f"{input_dir}: no '{folder.name}/' folder; expected the Cartucho/mAP layout "
                f"{GROUND_TRUTH_DIR}/<image_id>.txt and {DETECTION_RESULTS_DIR}/<image_id>.txt"
            )
    gt_files, det_files = _result_files(gt_dir), _result_files(det_dir)
    if not gt_files:
        raise MapInputError(f"{gt_dir}: no ground-truth files (*{RESULT_FILE_SUFFIX})")
    orphans = sorted(set(det_files) - set(gt_files))
    if orphans:
        raise MapInputError(
            f"{det_dir}: detection files without a ground-truth file: {_preview(orphans)} "
            "(an image without objects needs an empty ground-truth file)"
        )

    ground_truth, detections = {}, {}
    for name in gt_files:
        image_id = name[: -len(RESULT_FILE_SUFFIX)]
        labels, boxes, difficult = [], [], []
        for label, numbers, is_difficult in _read_lines(gt_dir / name, detection=False):
            labels.append(label)
            boxes.append(numbers)
            difficult.append(is_difficult)
        ground_truth[image_id] = _record(labels, boxes, difficult=np.array(difficult, dtype=bool))
        if name in det_files:
            labels, rows = [], []
            for label, numbers, _ in _read_lines(det_dir / name, detection=True):
                labels.append(label)
                rows.append(numbers)
            rows = np.array(rows, dtype=np.float64).reshape(-1, 1 + _NUM_BOX_FIELDS)
            detections[image_id] = _record(labels, rows[:, 1:], scores=rows[:, 0])
    return ground_truth, detections


def _record(labels: list[str], boxes, **fields) -> dict:
    return {
        "boxes": np.array(boxes, dtype=np.float64).reshape(-1, _NUM_BOX_FIELDS),
        "labels": np.array(labels, dtype=str),
        **fields,
    }


def _result_files(folder: Path) -> list[str]:
    """Names of the non-hidden ``*.txt`` files of ``folder``, sorted as strings."""
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.name.endswith(RESULT_FILE_SUFFIX) and not p.name.startswith(".") and p.is_file()
    )


def _read_lines(path: Path, *, detection: bool):
    """Yield :func:`parse_line`'s ``(class_name, numbers, difficult)`` for each
    non-blank line of a result file."""
    with open(path, encoding="utf-8") as f:
        for line_number, line in enumerate(f, start=1):
            try:
                parsed = parse_line(line, detection=detection)
            except ValueError as error:
                raise MapInputError(f"{path}:{line_number}: {error}") from None
            if parsed is not None:
                yield parsed


def parse_line(line: str, *, detection: bool) -> tuple[str, list[float], bool] | None:
    """Parse one ground-truth or detection line.

    Args:
        line: ``<class_name> <left> <top> <right> <bottom> [difficult]`` or,
            if ``detection``, ``<class_name> <confidence> <left> <top> <right> <bottom>``.
            The class name may have spaces, but no numeric word after its first.

    Returns:
        ``(class_name, numbers, difficult)`` with ``numbers`` the 4 box
        coordinates, preceded by the confidence for a detection; None for a
        blank line.

    Raises:
        ValueError: saying what is wrong with the line.
    """
    words = line.split()
    if not words:
        return None
    expected = _DETECTION_FORMAT if detection else _GROUND_TRUTH_FORMAT

    def invalid(reason: str) -> ValueError:
        return ValueError(f"{reason} in {line.strip()!r}; expected '{expected}'")

    num_numbers = _NUM_BOX_FIELDS + (1 if detection else 0)
    difficult = not detection and words[-1] == DIFFICULT_FLAG
    if difficult:
        words = words[:-1]
    if len(words) < num_numbers + 1:
        raise invalid(f"{len(words)} fields, need {num_numbers + 1}")
    name_words, number_words = words[:-num_numbers], words[-num_numbers:]
    if any(_is_number(word) for word in name_words[1:]):
        raise invalid(f"more than {num_numbers} numbers")
    for word in number_words:
        if not _is_number(word):
            raise invalid(f"{word!r} is not a number")
    numbers = [float(word) for word in number_words]
    if not np.isfinite(numbers).all():
        raise invalid("non-finite number")
    return " ".join(name_words), numbers, difficult


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- outputs


def format_output_txt(result: MapResult) -> str:
    """Cartucho's ``output.txt``, character for character."""
    parts = ["# AP and precision/recall per class\n"]
    for name, ap in result.ap_per_class.items():
        precision = [f"{p:.2f}" for p in result.precision[name].tolist()]
        recall = [f"{r:.2f}" for r in result.recall[name].tolist()]
        parts.append(f"{_ap_line(name, ap)}\n Precision: {precision}\n Recall :{recall}\n\n")
    parts.append(f"\n# mAP of all classes\n{_map_line(result.map)}\n")
    parts.append("\n# Number of ground-truth objects per class\n")
    parts.extend(f"{name}: {count}\n" for name, count in result.num_ground_truth.items())
    parts.append("\n# Number of detected objects per class\n")
    for name, count in result.num_detections.items():
        tp = result.num_true_positives[name]
        parts.append(f"{name}: {count} (tp:{tp}, fp:{count - tp})\n")
    return "".join(parts)


def _ap_line(name: str, ap: float) -> str:
    return f"{ap * 100:.2f}% = {name} AP "


def _map_line(map_value: float) -> str:
    return f"mAP = {map_value * 100:.2f}%"


def write_outputs(result: MapResult, output_dir: str | Path, *, draw_plot: bool = True) -> None:
    """Write ``output.txt`` and, if ``draw_plot``, ``mAP.png`` into ``output_dir``
    (created if needed; other files there are left alone)."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / OUTPUT_TXT).write_text(format_output_txt(result), encoding="utf-8")
    if draw_plot:
        plot_average_precision(result.ap_per_class, result.map, output_dir / MAP_PLOT)


def plot_average_precision(ap_per_class: Mapping[str, float], map_value: float, path: str | Path) -> None:
    """Save Cartucho's ``mAP.png``: one horizontal bar per class, ascending AP.

    Uses a bare Agg figure, so it works headless and leaves pyplot alone.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not ap_per_class:
        raise MapInputError("no classes to plot")
    names, values = zip(*sorted(ap_per_class.items(), key=lambda item: item[1]))
    rows = range(len(names))
    fig = Figure()
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.barh(rows, values, color=_PLOT_COLOR)
    labels = [
        ax.text(value, row, f" {value:.2f}" if value < 1.0 else f" {value}", color=_PLOT_COLOR, va="center",
                fontweight="bold")
        for row, value in zip(rows, values)
    ]
    # Widen the x axis so that the longest bar's label fits (Cartucho's adjust_axes).
    text_width = labels[-1].get_window_extent(renderer=canvas.get_renderer()).width / fig.dpi
    width = fig.get_figwidth()
    left, right = ax.get_xlim()
    ax.set_xlim(left, right * (width + text_width) / width)
    ax.set_yticks(rows)
    ax.set_yticklabels(names, fontsize=_PLOT_TICK_FONT_SIZE)
    height = len(names) * _PLOT_ROW_HEIGHT_PT / fig.dpi / (1 - _PLOT_TOP_MARGIN - _PLOT_BOTTOM_MARGIN)
    if height > fig.get_figheight():
        fig.set_figheight(height)
    ax.set_title(_map_line(map_value), fontsize=14)
    ax.set_xlabel("Average Precision", fontsize="large")
    fig.tight_layout()
    fig.savefig(path)


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="voc_map.py",
        description="PASCAL VOC mAP of INPUT_DIR/ground-truth and INPUT_DIR/detection-results, as Cartucho/mAP.",
    )
    parser.add_argument("input_dir", metavar="INPUT_DIR")
    parser.add_argument(
        "--output",
        metavar="DIR",
        help=f"where to write {OUTPUT_TXT} and {MAP_PLOT} (default: {DEFAULT_OUTPUT_DIR}/ next to INPUT_DIR)",
    )
    parser.add_argument("--no-plot", action="store_true", help=f"do not draw {MAP_PLOT}")
    parser.add_argument(
        "--iou", type=float, default=DEFAULT_IOU_THRESHOLD, help="IoU a match needs (default: %(default)s)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print the mAP line only")
    args = parser.parse_args(argv)
    output_dir = args.output if args.output is not None else Path(args.input_dir).resolve().parent / DEFAULT_OUTPUT_DIR
    try:
        result = evaluate_directory(args.input_dir, output_dir, iou_threshold=args.iou, draw_plot=not args.no_plot)
    except MapInputError as error:
        print(f"voc_map.py: error: {error}", file=sys.stderr)
        return 1
    if not args.quiet:
        for name, ap in result.ap_per_class.items():
            print(_ap_line(name, ap))
    print(_map_line(result.map))
    return 0


if __name__ == "__main__":
    sys.exit(main())
