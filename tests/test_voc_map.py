"""Tests for student/voc_map.py, the in-repo replacement of Cartucho/mAP's main.py.

Three kinds of evidence:
* agreement with numbers Cartucho's main.py produced on committed input sets
  (tests/fixtures/map_sets, see its README for provenance);
* seeded random cases against a slow, obvious reference written here;
* small literal cases whose expectations are worked out in the comments.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from torch.testing import assert_close

REPO_ROOT = Path(__file__).resolve().parents[1]
VOC_MAP_PATH = REPO_ROOT / "student" / "voc_map.py"
MAP_SETS = Path(__file__).resolve().parent / "fixtures" / "map_sets"
CARTUCHO_SETS = ["random_many_classes", "missing_and_duplicates", "difficult_and_ties"]
CARTUCHO_TOLERANCE = 1e-4
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _load_by_path():
    # Loaded like the notebook and the autograder do: by path, not registered in sys.modules.
    spec = importlib.util.spec_from_file_location("voc_map_under_test", VOC_MAP_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


vm = _load_by_path()


def gt(boxes, labels, difficult=None):
    record = {"boxes": np.array(boxes, dtype=float).reshape(-1, 4), "labels": list(labels)}
    if difficult is not None:
        record["difficult"] = np.array(difficult, dtype=bool)
    return record


def dets(boxes, scores, labels):
    return {"boxes": np.array(boxes, dtype=float).reshape(-1, 4), "scores": list(scores), "labels": list(labels)}


def write_set(root, ground_truth_lines, detection_lines):
    """{image_id: [line]} -> a Cartucho folder under root; None means no file."""
    for sub, files in (("ground-truth", ground_truth_lines), ("detection-results", detection_lines)):
        (root / sub).mkdir(parents=True, exist_ok=True)
        for image_id, lines in files.items():
            if lines is not None:
                (root / sub / f"{image_id}.txt").write_text("".join(f"{line}\n" for line in lines))
    return root


# ----------------------------------------------------------------------------- Cartucho agreement


@pytest.mark.parametrize("name", CARTUCHO_SETS)
def test_agrees_with_cartucho_on_committed_sets(name, tmp_path):
    expected = json.loads((MAP_SETS / name / "expected_cartucho.json").read_text())

    result = vm.evaluate_directory(MAP_SETS / name, tmp_path)

    assert list(result.ap_per_class) == list(expected["ap_per_class"])
    assert_close(
        np.array(list(result.ap_per_class.values())),
        np.array(list(expected["ap_per_class"].values())),
        rtol=0,
        atol=CARTUCHO_TOLERANCE,
    )
    assert result.map == pytest.approx(expected["map"], rel=0, abs=CARTUCHO_TOLERANCE)
    # Same precision/recall lists, counts, wording and rounding as Cartucho's file.
    assert (tmp_path / "output.txt").read_text() == (MAP_SETS / name / "cartucho_output.txt").read_text()
    assert (tmp_path / "mAP.png").read_bytes().startswith(PNG_SIGNATURE)


def test_committed_sets_contain_the_cases_they_claim():
    # Guards the agreement test above against a regenerated fixture losing its point.
    gt_dir = MAP_SETS / "missing_and_duplicates" / "ground-truth"
    det_dir = MAP_SETS / "missing_and_duplicates" / "detection-results"
    missing = sorted(p.name for p in gt_dir.glob("*.txt") if not (det_dir / p.name).exists())
    empty = sorted(p.name for p in det_dir.glob("*.txt") if p.read_text() == "")
    assert missing == ["a03.txt", "a07.txt", "a10.txt"]
    assert empty == ["a05.txt", "a11.txt"]
    expected = json.loads((MAP_SETS / "missing_and_duplicates" / "expected_cartucho.json").read_text())
    assert expected["ap_per_class"]["cow"] == 0.0  # ground truth, no detections, still in the mean

    ties = MAP_SETS / "difficult_and_ties"
    assert sum("difficult" in p.read_text() for p in (ties / "ground-truth").glob("*.txt")) >= 3
    # "b-1.txt" sorts before "b.txt", although the id "b" sorts before "b-1".
    assert sorted(p.name for p in (ties / "ground-truth").glob("*.txt")) == ["b-1.txt", "b.txt", "b_2.txt", "c.txt"]


def test_cartucho_tie_order_is_file_name_order(tmp_path):
    # One car in "b"; tied 0.9 detections: a miss in "b-1" and a hit in "b".
    # Cartucho ranks "b-1.txt" first ('-' < '.'): precision [0, 1/2] -> AP 0.5.
    # Ranking by id ("b" < "b-1") would give precision [1, 1/2] -> AP 1.0.
    root = write_set(
        tmp_path,
        {"b": ["car 0 0 9 9"], "b-1": []},
        {"b": ["car 0.9 0 0 9 9"], "b-1": ["car 0.9 50 50 59 59"]},
    )
    assert vm.evaluate_directory(root).ap_per_class == {"car": 0.5}


# ----------------------------------------------------------------------------- slow reference


def reference_iou(a, b):
    iw = min(a[2], b[2]) - max(a[0], b[0]) + 1
    ih = min(a[3], b[3]) - max(a[1], b[1]) + 1
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter)


def reference_map(images_gt, images_det, iou_threshold):
    """images_gt[i]: [(cls, box, difficult)], images_det[i]: [(cls, score, box)].

    AP as its definition reads: every true positive raises recall by 1/npos,
    over which the interpolated precision is the best precision at that rank
    or any later one.
    """
    classes = sorted({c for image in images_gt for c, _, difficult in image if not difficult})
    aps = {}
    for cls in classes:
        npos = sum(1 for image in images_gt for c, _, difficult in image if c == cls and not difficult)
        ranked = sorted(
            [(score, i, box) for i, image in enumerate(images_det) for c, score, box in image if c == cls],
            key=lambda item: -item[0],  # sorted() is stable: ties keep image, then detection order
        )
        used, outcomes = set(), []
        for _, i, box in ranked:
            best, best_iou = None, 0.0
            for j, (c, gt_box, _) in enumerate(images_gt[i]):
                if c == cls and reference_iou(box, gt_box) > best_iou:
                    best, best_iou = j, reference_iou(box, gt_box)
            if best is None or best_iou < iou_threshold:
                outcomes.append(False)
            elif images_gt[i][best][2]:
                continue  # difficult: ignored
            elif (i, best) in used:
                outcomes.append(False)
            else:
                used.add((i, best))
                outcomes.append(True)
        precisions = [sum(outcomes[: k + 1]) / (k + 1) for k in range(len(outcomes))]
        aps[cls] = sum(max(precisions[k:]) for k, hit in enumerate(outcomes) if hit) / npos
    return aps, sum(aps.values()) / len(aps)


def random_case(rng, num_images=8, classes=("a", "b", "c"), span=12):
    """Small coordinates and a few score values, so overlaps, IoU ties,
    duplicates and score ties are all common."""

    def box():
        left, top = rng.integers(0, span, size=2)
        return [float(left), float(top), float(left + rng.integers(0, span)), float(top + rng.integers(0, span))]

    def near(gt_box):  # an exact copy or a shifted copy of a ground-truth box
        return [float(v) for v in np.asarray(gt_box) + rng.integers(-2, 3, size=4) * (rng.random() < 0.7)]

    images_gt, images_det = [], []
    for i in range(num_images):
        image_gt = [(str(rng.choice(classes)), box(), bool(rng.random() < 0.2)) for _ in range(rng.integers(0, 5))]
        if i == 0:
            image_gt.append((classes[0], box(), False))  # at least one class to average over
        image_det = []
        for _ in range(rng.integers(0, 7)):
            if image_gt and rng.random() < 0.7:
                cls, gt_box, _ = image_gt[rng.integers(len(image_gt))]
                cls, det_box = (cls if rng.random() < 0.9 else str(rng.choice(classes))), near(gt_box)
            else:
                cls, det_box = str(rng.choice(classes)), box()
            image_det.append((cls, float(rng.choice([0.2, 0.5, 0.7, 0.9])), det_box))
        images_gt.append(image_gt)
        images_det.append(image_det)
    return images_gt, images_det


def to_records(images_gt, images_det):
    ground_truth = [gt(*zip(*[(b, c, d) for c, b, d in image])) if image else gt([], []) for image in images_gt]
    detections = [dets(*zip(*[(b, s, c) for c, s, b in image])) if image else dets([], [], []) for image in images_det]
    return ground_truth, detections


@pytest.mark.parametrize("iou_threshold", [0.5, 0.3, 0.75])
def test_matches_slow_reference_on_random_cases(iou_threshold):
    rng = np.random.default_rng(20240501)
    strictly_between = 0
    for case in range(150):
        images_gt, images_det = random_case(rng)
        expected_aps, expected_map = reference_map(images_gt, images_det, iou_threshold)

        result = vm.evaluate(*to_records(images_gt, images_det), iou_threshold=iou_threshold)

        assert list(result.ap_per_class) == list(expected_aps), f"case {case}"
        assert_close(
            np.array(list(result.ap_per_class.values())),
            np.array(list(expected_aps.values())),
            rtol=0,
            atol=1e-12,
            msg=lambda m: f"case {case}: {m}",
        )
        assert result.map == pytest.approx(expected_map, rel=0, abs=1e-12), f"case {case}"
        strictly_between += sum(0 < ap < 1 for ap in expected_aps.values())
    assert strictly_between > 100  # the cases are not all trivially 0 or 1


def test_directory_and_in_memory_entry_points_agree(tmp_path):
    rng = np.random.default_rng(7)
    images_gt, images_det = random_case(rng, num_images=12)
    # Zero-padded ids: file name order is then image order, as in memory.
    gt_lines = {
        f"{i:02d}": [f"{c} {' '.join(map(repr, b))}" + (" difficult" if d else "") for c, b, d in image]
        for i, image in enumerate(images_gt)
    }
    det_lines = {
        f"{i:02d}": [f"{c} {s!r} {' '.join(map(repr, b))}" for c, s, b in image] for i, image in enumerate(images_det)
    }

    from_files = vm.evaluate_directory(write_set(tmp_path, gt_lines, det_lines))
    in_memory = vm.evaluate(*to_records(images_gt, images_det))

    assert from_files.ap_per_class == in_memory.ap_per_class
    assert from_files.map == in_memory.map
    assert from_files.num_detections == in_memory.num_detections
    assert from_files.num_true_positives == in_memory.num_true_positives


# ----------------------------------------------------------------------------- literal cases


def test_duplicate_detection_is_false_positive_but_ap_is_one():
    # Ranks: TP (p=1, r=1), duplicate FP (p=1/2, r=1). Envelope at r=1 is 1 -> AP 1.
    detections = dets([[0, 0, 9, 9], [0, 0, 9, 9]], [0.9, 0.8], ["cat", "cat"])
    result = vm.evaluate([gt([[0, 0, 9, 9]], ["cat"])], [detections])
    assert result.ap_per_class == {"cat": 1.0}
    assert result.num_true_positives == {"cat": 1}
    assert_close(result.precision["cat"], np.array([1.0, 0.5]))
    assert_close(result.recall["cat"], np.array([1.0, 1.0]))


def test_missed_object_halves_ap():
    # Two cats, one found: recall reaches 1/2 at precision 1 -> AP 0.5.
    result = vm.evaluate([gt([[0, 0, 9, 9], [50, 50, 59, 59]], ["cat", "cat"])], [dets([[0, 0, 9, 9]], [0.9], ["cat"])])
    assert result.ap_per_class == {"cat": 0.5}
    assert result.map == 0.5


def test_false_positive_ranked_first():
    # FP then TP: precision [0, 1/2], recall [0, 1] -> AP = 1 * 1/2.
    detections = dets([[50, 50, 59, 59], [0, 0, 9, 9]], [0.9, 0.8], ["cat", "cat"])
    result = vm.evaluate([gt([[0, 0, 9, 9]], ["cat"])], [detections])
    assert result.ap_per_class == {"cat": 0.5}


def test_iou_of_exactly_the_threshold_matches():
    # (0,0,9,9) has area 100, (0,0,9,19) area 200, intersection 100: IoU = 100/200.
    ground_truth = [gt([[0, 0, 9, 19]], ["car"])]
    detections = [dets([[0, 0, 9, 9]], [0.9], ["car"])]
    assert vm.evaluate(ground_truth, detections, iou_threshold=0.5).ap_per_class == {"car": 1.0}
    assert vm.evaluate(ground_truth, detections, iou_threshold=0.5001).ap_per_class == {"car": 0.0}


def test_box_iou_voc_uses_inclusive_pixels():
    boxes = np.array([[0, 0, 9, 9]], dtype=float)
    others = np.array(
        [
            [0, 0, 9, 19],  # 100 / 200
            [10, 0, 19, 9],  # touching: iw = 9 - 10 + 1 = 0
            [9, 0, 18, 9],  # one shared column: 10 / (100 + 100 - 10)
            [0, 0, 9, 9],  # identical
            [2, 2, 5, 5],  # inside: 16 / 100
        ]
    )
    assert_close(vm.box_iou_voc(boxes, others), np.array([[0.5, 0.0, 10 / 190, 1.0, 0.16]]))
    assert vm.box_iou_voc(np.zeros((0, 4)), others).shape == (0, 5)
    assert vm.box_iou_voc(boxes, np.zeros((0, 4))).shape == (1, 0)


def test_best_box_is_taken_even_if_used_no_fallback():
    # The detection overlaps both people equally (IoU 2800/3600); the first box
    # wins the tie both times, so the second detection is a duplicate (FP)
    # although the second person is free: precision [1, 1/2], recall [1/2, 1/2].
    people = gt([[50, 50, 89, 129], [60, 50, 99, 129]], ["person", "person"])
    result = vm.evaluate([people], [dets([[55, 50, 94, 129]] * 2, [0.7, 0.7], ["person"] * 2)])
    assert result.ap_per_class == {"person": 0.5}


def test_iou_ties_go_to_the_earliest_box():
    # The 0.9 detection is the second person exactly (TP). The 0.8 one overlaps
    # both equally; the first person wins the tie and is free: TP, AP 1. Were the
    # tie given to the second (used) person, it would be a FP and AP 1/2.
    people = gt([[50, 50, 89, 129], [60, 50, 99, 129]], ["person", "person"])
    detections = dets([[60, 50, 99, 129], [55, 50, 94, 129]], [0.9, 0.8], ["person"] * 2)
    assert vm.evaluate([people], [detections]).ap_per_class == {"person": 1.0}


def test_a_lower_iou_box_does_not_steal_the_match():
    # The detection overlaps both cats; the better one (IoU 1) is used by the
    # first detection, so the second detection is FP even though it overlaps
    # the other cat with IoU 81/100 >= 0.5 (but 0.81 < 1: not its best box).
    cats = gt([[0, 0, 9, 9], [1, 1, 9, 9]], ["cat", "cat"])
    result = vm.evaluate([cats], [dets([[0, 0, 9, 9], [0, 0, 9, 9]], [0.9, 0.8], ["cat", "cat"])])
    assert result.num_true_positives == {"cat": 1}


def test_difficult_boxes_are_ignored():
    # A hit on a difficult box is neither TP nor FP and the difficult box is not
    # in npos. Ranks: 0.9 -> difficult (ignored), 0.8 -> TP, 0.7 -> FP.
    # Counted: TP, FP -> precision [0 (nothing counted yet), 1, 1/2], recall [0, 1, 1] -> AP 1.
    ground_truth = [gt([[0, 0, 9, 9], [50, 50, 59, 59]], ["cat", "cat"], [True, False])]
    detections = [dets([[0, 0, 9, 9], [50, 50, 59, 59], [100, 100, 109, 109]], [0.9, 0.8, 0.7], ["cat"] * 3)]
    result = vm.evaluate(ground_truth, detections)
    assert result.num_ground_truth == {"cat": 1}
    assert result.ap_per_class == {"cat": 1.0}
    assert_close(result.precision["cat"], np.array([0.0, 1.0, 0.5]))
    assert_close(result.recall["cat"], np.array([0.0, 1.0, 1.0]))
    assert result.num_detections == {"cat": 3}
    assert result.num_true_positives == {"cat": 1}


def test_class_set_is_the_non_difficult_ground_truth_classes():
    # dog: ground truth, no detections -> AP 0, still averaged. bird: only a
    # difficult box -> not a class. train: detections only -> not a class.
    boxes = [[0, 0, 9, 9], [20, 20, 29, 29], [40, 40, 49, 49]]
    ground_truth = [gt(boxes, ["cat", "dog", "bird"], [False, False, True])]
    detections = [dets([[0, 0, 9, 9], [40, 40, 49, 49], [60, 60, 69, 69]], [0.9, 0.8, 0.7], ["cat", "bird", "train"])]
    result = vm.evaluate(ground_truth, detections)
    assert result.ap_per_class == {"cat": 1.0, "dog": 0.0}
    assert result.map == 0.5
    assert result.num_detections == {"bird": 1, "cat": 1, "train": 1}
    assert result.num_true_positives == {"bird": 0, "cat": 1, "dog": 0, "train": 0}


def test_images_without_detections_still_count():
    # Two images, one cat each; only the first has detections -> AP 0.5.
    ground_truth = {"x": gt([[0, 0, 9, 9]], ["cat"]), "y": gt([[0, 0, 9, 9]], ["cat"])}
    assert vm.evaluate(ground_truth, {"x": dets([[0, 0, 9, 9]], [0.9], ["cat"])}).ap_per_class == {"cat": 0.5}
    assert vm.evaluate(ground_truth, {"x": dets([[0, 0, 9, 9]], [0.9], ["cat"]), "y": dets([], [], [])}).map == 0.5


def test_score_ties_keep_image_order_in_memory():
    # Tied 0.9s: the miss in image 0 ranks first -> precision [0, 1/2] -> AP 0.5;
    # with the images swapped the hit ranks first -> precision [1, 1/2] -> AP 1.
    images_gt = [gt([], []), gt([[0, 0, 9, 9]], ["cat"])]
    images_det = [dets([[50, 50, 59, 59]], [0.9], ["cat"]), dets([[0, 0, 9, 9]], [0.9], ["cat"])]
    assert vm.evaluate(images_gt, images_det).map == 0.5
    assert vm.evaluate(images_gt[::-1], images_det[::-1]).map == 1.0


def test_average_precision_all_point_interpolation():
    # Envelope over recall steps 0 -> 1/2 -> 1: max precision at or after each
    # step is 1 and 2/3 -> AP = 1/2 * 1 + 1/2 * 2/3.
    recall = np.array([0.5, 0.5, 1.0])
    precision = np.array([1.0, 0.5, 2 / 3])
    assert vm.average_precision(recall, precision) == pytest.approx(5 / 6, abs=1e-15)
    assert vm.average_precision(np.array([]), np.array([])) == 0.0
    # VOC2010+ is not the 11-point rule: one TP at recall 1/2 only gives 1/2 here (11-point: 6/11).
    assert vm.average_precision(np.array([0.5]), np.array([1.0])) == 0.5


def test_average_precision_sums_in_rank_order_like_cartucho():
    # Cartucho adds the areas one by one in a Python loop; np.sum (pairwise) or
    # Python 3.12's sum() (compensated) can differ in the last bit.
    rng = np.random.default_rng(3)
    for _ in range(50):
        hits = rng.random(200) < 0.4
        hits[0] = True
        recall = np.cumsum(hits) / hits.sum()
        precision = np.cumsum(hits) / np.arange(1, 201)
        mrec, mpre = [0.0, *recall.tolist(), 1.0], [0.0, *precision.tolist(), 0.0]
        for i in range(len(mpre) - 2, -1, -1):
            mpre[i] = max(mpre[i], mpre[i + 1])
        expected = 0.0
        for i in range(1, len(mrec)):
            if mrec[i] != mrec[i - 1]:
                expected += (mrec[i] - mrec[i - 1]) * mpre[i]
        assert vm.average_precision(recall, precision) == expected


def test_precision_recall_counts_only_tp_and_fp():
    tp = np.array([False, True, False, True])
    fp = np.array([False, False, True, False])  # rank 0 is ignored
    precision, recall = vm.precision_recall(tp, fp, num_positives=4)
    assert_close(precision, np.array([0.0, 1.0, 0.5, 2 / 3]))
    assert_close(recall, np.array([0.0, 0.25, 0.25, 0.5]))
    with pytest.raises(ValueError, match="num_positives"):
        vm.precision_recall(tp, fp, num_positives=0)


def test_match_detections_ranks_by_score_stably():
    order, tp, fp = vm.match_detections(
        scores=[0.5, 0.9, 0.5, 0.1],
        det_boxes=[[0, 0, 9, 9], [0, 0, 9, 9], [100, 100, 109, 109], [0, 0, 9, 9]],
        det_images=[0, 0, 0, 1],
        gt_boxes=[[0, 0, 9, 9]],
        gt_images=[0],
        gt_difficult=[False],
    )
    assert order.tolist() == [1, 0, 2, 3]
    assert tp.tolist() == [True, False, False, False]
    assert fp.tolist() == [False, True, True, True]  # duplicate, miss, image without ground truth
    order, tp, fp = vm.match_detections([], np.zeros((0, 4)), [], [[0, 0, 9, 9]], [0], [False])
    assert order.shape == tp.shape == fp.shape == (0,)


# ----------------------------------------------------------------------------- in-memory inputs


def test_integer_labels_and_class_names():
    ground_truth = [{"boxes": [[0, 0, 9, 9], [20, 20, 29, 29]], "labels": [0, 1]}]
    detections = [{"boxes": [[0, 0, 9, 9]], "scores": [0.9], "labels": [0]}]
    assert vm.evaluate(ground_truth, detections).ap_per_class == {"0": 1.0, "1": 0.0}
    named = vm.evaluate(ground_truth, detections, class_names=["cat", "dog"])
    assert named.ap_per_class == {"cat": 1.0, "dog": 0.0}
    with pytest.raises(vm.MapInputError, match=r"label 1 outside class_names"):
        vm.evaluate(ground_truth, detections, class_names=["cat"])


def test_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    ground_truth = [{"boxes": torch.tensor([[0.0, 0, 9, 9], [50, 50, 59, 59]]), "labels": torch.tensor([1, 1])}]
    detections = [
        {
            "boxes": torch.tensor([[0.0, 0, 9, 9]], requires_grad=True),
            "scores": torch.tensor([0.9], requires_grad=True),
            "labels": torch.tensor([1]),
        }
    ]
    assert vm.evaluate(ground_truth, detections, class_names=["__background__", "cat"]).ap_per_class == {"cat": 0.5}


ONE_CAT = gt([[0, 0, 9, 9]], ["cat"])
NO_DETS = dets([], [], [])


@pytest.mark.parametrize(
    ("ground_truth", "detections", "message"),
    [
        ([ONE_CAT], [], r"ground_truth has 1 images but detections has 0"),
        ({"x": ONE_CAT}, [NO_DETS], r"both be mappings"),
        ({"x": ONE_CAT}, {"y": NO_DETS}, r"detections for images without ground truth: 'y'"),
        ([{"boxes": [[0, 0, 9]], "labels": ["cat"]}], [NO_DETS], r"ground_truth\[0\]\['boxes'\] must have shape \(N, 4\)"),
        ([gt([[0, 0, 9, 9]], ["cat", "dog"])], [NO_DETS], r"ground_truth\[0\]\['labels'\] has 2 entries for 1 boxes"),
        ([ONE_CAT], [{"boxes": [[0, 0, 9, 9]], "labels": ["cat"]}], r"detections\[0\] lacks \['scores'\]"),
        ([ONE_CAT], [dets([[0, 0, 9, 9]], [float("nan")], ["cat"])], r"detections\[0\] has non-finite"),
        ([gt([[0, 0, 9, 9]], ["cat"], [True])], [NO_DETS], r"no ground-truth boxes"),
        ([gt([[0, 0, 9, 9]], [0.5])], [NO_DETS], r"class names or integer ids"),
    ],
)
def test_invalid_inputs_say_what_and_where(ground_truth, detections, message):
    with pytest.raises(vm.MapInputError, match=message):
        vm.evaluate(ground_truth, detections)


@pytest.mark.parametrize("iou_threshold", [0.0, -0.1, 1.5])
def test_iou_threshold_must_be_in_unit_interval(iou_threshold):
    with pytest.raises(vm.MapInputError, match="iou_threshold"):
        vm.evaluate([ONE_CAT], [NO_DETS], iou_threshold=iou_threshold)


# ----------------------------------------------------------------------------- files


@pytest.mark.parametrize(
    ("line", "detection", "expected"),
    [
        ("car 1 2 3 4", False, ("car", [1.0, 2.0, 3.0, 4.0], False)),
        ("  car 1.5 2 3e1 4  \n", False, ("car", [1.5, 2.0, 30.0, 4.0], False)),
        ("car 1 2 3 4 difficult", False, ("car", [1.0, 2.0, 3.0, 4.0], True)),
        ("traffic light 1 2 3 4", False, ("traffic light", [1.0, 2.0, 3.0, 4.0], False)),
        ("7 1 2 3 4", False, ("7", [1.0, 2.0, 3.0, 4.0], False)),
        ("car 0.5 1 2 3 4", True, ("car", [0.5, 1.0, 2.0, 3.0, 4.0], False)),
        ("potted plant 0.5 1 2 3 4", True, ("potted plant", [0.5, 1.0, 2.0, 3.0, 4.0], False)),
        ("   \n", False, None),
    ],
)
def test_parse_line(line, detection, expected):
    assert vm.parse_line(line, detection=detection) == expected


@pytest.mark.parametrize(
    ("line", "detection", "message"),
    [
        ("car 1 2 3", False, r"4 fields, need 5"),
        ("car 1 2 3 4", True, r"5 fields, need 6"),  # a ground-truth line among detections
        ("car 0.9 1 2 3 4", False, r"more than 4 numbers"),  # a detection line among ground truth
        ("car 1 2 3 4 0", False, r"more than 4 numbers"),  # a 0/1 difficult column
        ("car 1 2 3 4 difficult", True, r"'difficult' is not a number"),
        ("car 1 2 x 4", False, r"'x' is not a number"),
        ("car nan 1 2 3 4", True, r"non-finite"),
    ],
)
def test_parse_line_rejects(line, detection, message):
    with pytest.raises(ValueError, match=message):
        vm.parse_line(line, detection=detection)


def test_malformed_line_names_file_and_line(tmp_path):
    root = write_set(tmp_path, {"img": ["cat 0 0 9 9", "", "cat 0 0 9"]}, {"img": []})
    with pytest.raises(vm.MapInputError, match=r"ground-truth[/\\]img\.txt:3: 4 fields, need 5 in 'cat 0 0 9'"):
        vm.evaluate_directory(root)


def test_directory_layout_errors(tmp_path):
    with pytest.raises(vm.MapInputError, match=r"no 'ground-truth/' folder"):
        vm.evaluate_directory(tmp_path)
    (tmp_path / "ground-truth").mkdir()
    with pytest.raises(vm.MapInputError, match=r"no 'detection-results/' folder"):
        vm.evaluate_directory(tmp_path)
    (tmp_path / "detection-results").mkdir()
    with pytest.raises(vm.MapInputError, match=r"no ground-truth files"):
        vm.evaluate_directory(tmp_path)
    write_set(tmp_path, {"a": ["cat 0 0 9 9"]}, {"b": ["cat 0.9 0 0 9 9"]})
    with pytest.raises(vm.MapInputError, match=r"detection files without a ground-truth file: 'b\.txt'"):
        vm.evaluate_directory(tmp_path)


def test_only_visible_txt_files_are_read(tmp_path):
    root = write_set(tmp_path, {"a": ["cat 0 0 9 9"]}, {"a": ["cat 0.9 0 0 9 9"]})
    (root / "ground-truth" / ".hidden.txt").write_text("not a valid line\n")
    (root / "ground-truth" / "notes.md").write_text("not a valid line\n")
    result = vm.evaluate_directory(root)
    assert result.num_images == 1
    assert result.ap_per_class == {"cat": 1.0}


def test_write_outputs_and_plot_height(tmp_path):
    from PIL import Image

    names = [f"class_{i:02d}" for i in range(40)]
    ground_truth = [gt([[0, 0, 9, 9]] * len(names), names)]
    detections = [dets([[0, 0, 9, 9]] * 20, [0.5] * 20, names[:20])]
    result = vm.evaluate(ground_truth, detections)
    assert result.map == 0.5

    vm.write_outputs(result, tmp_path / "out")
    text = (tmp_path / "out" / "output.txt").read_text()
    assert "100.00% = class_00 AP \n" in text and "0.00% = class_39 AP \n" in text
    assert "\n# mAP of all classes\nmAP = 50.00%\n" in text
    with Image.open(tmp_path / "out" / "mAP.png") as image:
        # 40 rows of 12 pt * 1.4 need 40 * 16.8 / 0.8 = 840 pt = 8.4 in > the default 4.8 in.
        assert image.height == pytest.approx(840, abs=2)

    vm.write_outputs(result, tmp_path / "no_plot", draw_plot=False)
    assert sorted(p.name for p in (tmp_path / "no_plot").iterdir()) == ["output.txt"]


def test_evaluate_directory_writes_nothing_without_output_dir(tmp_path):
    root = write_set(tmp_path, {"a": ["cat 0 0 9 9"]}, {"a": None})
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert vm.evaluate_directory(root).map == 0.0
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


# ----------------------------------------------------------------------------- command line


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, str(VOC_MAP_PATH), *map(str, args)], cwd=cwd, capture_output=True, text=True)


def test_cli_prints_cartucho_lines_and_writes_next_to_input(tmp_path):
    root = write_set(tmp_path / "input", {"a": ["cat 0 0 9 9", "dog 20 20 29 29"]}, {"a": ["cat 0.9 0 0 9 9"]})

    done = run_cli(root, "--no-plot", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stdout == "100.00% = cat AP \n0.00% = dog AP \nmAP = 50.00%\n"
    assert sorted(p.name for p in (tmp_path / "output").iterdir()) == ["output.txt"]


def test_cli_options(tmp_path):
    # IoU 100/200 = 0.5: a match at --iou 0.5, not at --iou 0.6.
    root = write_set(tmp_path / "in", {"a": ["car 0 0 9 19"]}, {"a": ["car 0.9 0 0 9 9"]})
    done = run_cli(root, "--output", tmp_path / "out", "--iou", "0.6", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "mAP = 0.00%\n"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["mAP.png", "output.txt"]


def test_cli_reports_errors(tmp_path):
    done = run_cli(tmp_path / "missing", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "voc_map.py: error:" in done.stderr and "no 'ground-truth/' folder" in done.stderr


def test_import_does_not_pull_in_torch_or_pyplot():
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('voc_map', {str(VOC_MAP_PATH)!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print(sorted(m for m in ('torch', 'matplotlib.pyplot', 'cv2') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"
