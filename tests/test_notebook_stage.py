"""The notebook stage's plumbing, fast: a tiny profile and small notebooks.

What is checked: the grading parameters reach the kernel, the kernel sees
the training split only, the checkpoint's weights come back and fresh
workers evaluate them (and an untrained detector) on the grader's secret
split, the checks are computed here, a failing or running-over cell is named
with its first line and traceback, and a `.py` submission runs the release
notebook with its definitions substituted. The calibrated profile's training
itself is exercised by `benchmarks/calibrate_notebook_grading.py`, not here;
attacks on the stage are in `tests/test_notebook_attacks.py`.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from autograder.errors import SubmissionFormatError
from autograder.notebook.graded_notebook import (
    RELEASE_NOTEBOOK,
    graded_cells,
    read_notebook,
    substitute_definitions,
    substituted_names,
)
from autograder.errors import InvalidOutput
from autograder.notebook.grading_data import KERNEL_VAL_IMAGES, LOSS_BATCHES, build_grading_data, validation_seed
from autograder.notebook.grading_profile import PROFILE_ENV, SMOKE_PROFILE, GradingProfile
from autograder.submission_layout import GRADED_NAMES, KNOWN_NAMES
from autograder.notebook.checks import CheckFailed, check_loss_decreases, check_map, loss_summary, map_summary
from autograder.notebook.stage import (
    SLOW_RUN_CAUSES,
    DetectorEvaluation,
    NotebookRun,
    _parse_evaluation,
    _parse_graders_view,
    _parse_report,
    run_notebook_stage,
)
from autograder.sandbox.client import Sandbox
from autograder.intake.submission import NormalizedSubmission

ROOT = Path(__file__).resolve().parents[1]
PROFILE = SMOKE_PROFILE
STUDENT_FILES = ("common.py", "two_stage_detector.py")
SEED = 11
STUB_FAILURE = "NotImplementedError: nms: TODO not implemented yet: write it in the notebook cell that defines nms (or in common.py)"

# A stand-in for the student notebook: the release's parameters cell, then cells of the test's own.
PARAMETER_DEFAULTS = {name: None for name in PROFILE.notebook_parameters()}

KERNEL_CHECKS = """\
import json, os
assert (IMAGE_SIZE, BATCH_SIZE, FULL_ITERS, EVALUATE_MAP) == ({image_size}, {batch_size}, {iterations}, False)
assert CHECKPOINT_PERIOD == FULL_ITERS
val = json.load(open(os.path.join(DATA_DIR, "voc07_val.json")))
train = json.load(open(os.path.join(DATA_DIR, "voc07_train.json")))
assert len(train) == {num_train} and all(boxes for _, boxes in train)
assert val == train[:{kernel_val}], "the kernel's validation split lists training images"
assert sorted(os.listdir(os.path.join(DATA_DIR, "JPEGImages"))) == sorted(os.path.basename(p) for p, _ in train)
assert not os.path.exists(os.path.join(DATA_DIR, "SYNTHETIC.json"))
assert os.path.isfile(os.path.join(COURSE_DIR, "detection_helpers.py"))
assert os.environ["DETECTOR_BACKBONE_WEIGHTS"] == "random"
"""

# The full-training cell's detector (the submission's classes), trained for no step, saved as
# train_detector saves it.
SAVE_CHECKPOINT = """\
import os
import torch
from common import DetectorBackboneWithFPN
from two_stage_detector import RPN, FasterRCNN
C = FULL_FPN_CHANNELS
rpn = RPN(fpn_channels=C, stem_channels=[C, C], batch_size_per_image=16, pre_nms_topk=500,
          post_nms_topk=FULL_POST_NMS_TOPK)
detector = FasterRCNN(DetectorBackboneWithFPN(out_channels=C), rpn, num_classes=20, roi_size=(7, 7),
                      stem_channels=[C, C], batch_size_per_image=32)
os.makedirs(OUTPUT_DIR, exist_ok=True)
torch.save({"format": 1, "model": detector.state_dict()}, os.path.join(OUTPUT_DIR, "full_run_checkpoint.pt"))
"""


def make_notebook(path: Path, *cells: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    parameters = "\n".join(f"{name} = {value!r}" for name, value in PARAMETER_DEFAULTS.items())
    notebook.cells = [nbformat.v4.new_markdown_cell("# A notebook"),
                      nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(notebook, str(path))
    return path


@pytest.fixture(scope="module")
def reference_sandbox():
    with Sandbox(ROOT / "reference") as sandbox:
        yield sandbox


def notebook_submission(path: Path) -> NormalizedSubmission:
    return NormalizedSubmission(ROOT / "reference", f"notebook {path.name}", notebook=path)


def kernel_checks(profile: GradingProfile) -> str:
    return KERNEL_CHECKS.format(image_size=profile.image_size, batch_size=profile.batch_size,
                                iterations=profile.iterations, num_train=profile.num_train, kernel_val=KERNEL_VAL_IMAGES)


# ----------------------------------------------------------------------------- the run
def test_kernel_gets_the_parameters_and_the_training_split_only(reference_sandbox, tmp_path):
    notebook = make_notebook(tmp_path / "nb.ipynb", kernel_checks(PROFILE))
    run = run_notebook_stage(reference_sandbox, notebook_submission(notebook), PROFILE, SEED)
    assert run.failure is None and run.cells_run == run.cell_count == 3  # parameters, injected, the checks
    assert run.trained is None and run.untrained is None
    assert run.evaluation_problem.startswith("The checkpoint of the full run (outputs/full_run_checkpoint.pt) is "
                                             "not saved: the grader judges the detector it holds.")
    with pytest.raises(CheckFailed, match="is not saved"):
        loss_summary(run)


GENERATOR_OUT_OF_REACH = """\
import importlib, sys
for name in ("synthetic_voc.generator", "data_scripts.synthetic_dataset", "autograder.notebook.grading_data"):
    try:
        importlib.import_module(name)
    except ImportError:
        continue
    raise AssertionError(f"the kernel can import {name}")
assert not [name for name in sys.modules if name.startswith(("synthetic_voc", "data_scripts", "autograder.notebook.grading"))]
"""


def test_the_kernel_cannot_import_the_data_generator(reference_sandbox, tmp_path):
    """With private mounts (root), the generator and the grading data module are out of the kernel's reach."""
    if not reference_sandbox.isolation.private_mounts:
        pytest.skip("without private mounts the grader's files are readable (README: Isolation)")
    notebook = make_notebook(tmp_path / "nb.ipynb", GENERATOR_OUT_OF_REACH)
    run = run_notebook_stage(reference_sandbox, notebook_submission(notebook), PROFILE, SEED)
    assert run.failure is None, run.failure


def test_the_checkpoint_is_judged_by_fresh_workers_on_the_secret_split(reference_sandbox, tmp_path):
    notebook = make_notebook(tmp_path / "nb.ipynb", SAVE_CHECKPOINT)
    run = run_notebook_stage(reference_sandbox, notebook_submission(notebook), PROFILE, SEED)
    assert run.failure is None and run.evaluation_problem is None
    batches = min(LOSS_BATCHES, PROFILE.num_train // PROFILE.batch_size)
    for evaluation in (run.untrained, run.trained):
        assert len(evaluation.losses) == batches and all(math.isfinite(v) for v in evaluation.losses)
        assert sorted(evaluation.detections) == sorted(run.data.image_ids)
    assert run.data.image_ids == tuple(f"val_{i:06d}" for i in range(PROFILE.num_val))
    # The saved detector was never trained, yet built after other random draws than the untrained one.
    assert run.trained.losses != run.untrained.losses


@pytest.mark.parametrize("cell, words", [
    ('import os\nos.makedirs(OUTPUT_DIR, exist_ok=True)\nopen(os.path.join(OUTPUT_DIR, "full_run_checkpoint.pt"), "w").write("x")',
     "is unreadable (UnpicklingError)"),
    ('import os, torch\nos.makedirs(OUTPUT_DIR, exist_ok=True)\n'
     'torch.save({"model": [1]}, os.path.join(OUTPUT_DIR, "full_run_checkpoint.pt"))',
     "is without a state dict under 'model'"),
    ('import os, torch\nos.makedirs(OUTPUT_DIR, exist_ok=True)\n'
     'torch.save({"model": {"w": torch.zeros(2)}}, os.path.join(OUTPUT_DIR, "full_run_checkpoint.pt"))',
     "do not fit the detector that the full-training cell builds"),
])
def test_an_unusable_checkpoint_is_named(reference_sandbox, tmp_path, cell, words):
    notebook = make_notebook(tmp_path / "nb.ipynb", cell)
    run = run_notebook_stage(reference_sandbox, notebook_submission(notebook), PROFILE, SEED)
    assert run.trained is None and words in run.evaluation_problem, run.evaluation_problem


def test_a_failing_cell_is_named_with_its_first_line_and_traceback(reference_sandbox, tmp_path):
    notebook = make_notebook(tmp_path / "nb.ipynb", "x = 1",
                             "# Train the model\ndef step(k):\n    return k / 0\n\nstep(1)", "never = 1")
    run = run_notebook_stage(reference_sandbox, notebook_submission(notebook), PROFILE, SEED)
    assert run.cells_run == 3 and run.trained is None and run.evaluation_problem == run.failure
    assert run.failure.startswith("The notebook stopped: code cell 3 (first line: `# Train the model`) raised an error.")
    assert "code cell 3, line 5, in <module>\n    step(1)\n" in run.failure
    assert "code cell 3, line 3, in step\n    return k / 0\n" in run.failure
    assert run.failure.endswith("ZeroDivisionError: division by zero")
    assert "IPython" not in run.failure and "autograder" not in run.failure


def test_a_syntax_error_names_its_cell(reference_sandbox, tmp_path):
    notebook = make_notebook(tmp_path / "nb.ipynb", "def broken(:\n    pass")
    run = run_notebook_stage(reference_sandbox, notebook_submission(notebook), PROFILE, SEED)
    assert "code cell 2 (first line: `def broken(:`) raised an error" in run.failure
    assert "SyntaxError" in run.failure and "ipython-input" not in run.failure


BURN_ONE_CPU_SECOND = "started = time.process_time()\nwhile time.process_time() - started < 1:\n    pass"


def test_a_cell_over_its_cpu_time_limit_is_stopped_and_named(reference_sandbox, tmp_path):
    profile = dataclasses.replace(PROFILE, cell_cpu_limit_s=1.0)
    notebook = make_notebook(tmp_path / "nb.ipynb", "import time\nwhile True:\n    pass")
    run = run_notebook_stage(reference_sandbox, notebook_submission(notebook), profile, SEED)
    assert run.failure.startswith("The notebook stopped: code cell 2 (first line: `import time`) ran out of time.")
    assert "its 1 s CPU-time limit" in run.failure and "code cell 2, line 2, in <module>\n    while True:" in run.failure
    assert run.failure.endswith(SLOW_RUN_CAUSES)  # the measured causes of slow runs, as hints


def test_the_total_cpu_time_limit_covers_the_whole_run(reference_sandbox, tmp_path):
    profile = dataclasses.replace(PROFILE, cell_cpu_limit_s=10.0, total_cpu_limit_s=1.5)
    notebook = make_notebook(tmp_path / "nb.ipynb", "import time", *[BURN_ONE_CPU_SECOND] * 3)
    run = run_notebook_stage(reference_sandbox, notebook_submission(notebook), profile, SEED)
    assert run.cells_run == 4 and "code cell 4" in run.failure
    assert "1.5 s CPU-time limit for the whole run" in run.failure


def test_sleeping_uses_no_cpu_time(reference_sandbox, tmp_path):
    profile = dataclasses.replace(PROFILE, cell_cpu_limit_s=0.5, total_cpu_limit_s=1.0)
    notebook = make_notebook(tmp_path / "nb.ipynb", "import time\ntime.sleep(1.5)")
    assert run_notebook_stage(reference_sandbox, notebook_submission(notebook), profile, SEED).failure is None


def test_a_notebook_without_the_grading_parameters_is_refused(reference_sandbox, tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("FULL_ITERS = 9000", metadata={"tags": ["parameters"]})]
    nbformat.write(notebook, str(tmp_path / "old.ipynb"))
    with pytest.raises(SubmissionFormatError, match="cannot set its parameters in your notebook: unknown parameter"):
        run_notebook_stage(reference_sandbox, notebook_submission(tmp_path / "old.ipynb"), PROFILE, SEED)


# ------------------------------------------------------------ .py submissions: the release notebook
def test_substitution_imports_every_graded_definition_from_the_submission():
    release = read_notebook(RELEASE_NOTEBOOK)
    assert GRADED_NAMES <= substituted_names(release)
    substituted = substitute_definitions(release)
    assert substituted_names(substituted) == set()
    code = "\n".join(cell.source for cell in substituted.cells if cell.cell_type == "code")
    assert "from two_stage_detector import FasterRCNN  # the submission's FasterRCNN" in code
    assert "from common import nms  # the submission's nms" in code
    assert len([c for c in substituted.cells if c.cell_type == "code"]) == len(
        [c for c in release.cells if c.cell_type == "code"])


def test_reference_files_run_the_release_notebook_end_to_end(reference_sandbox):
    submission = NormalizedSubmission(ROOT / "reference", "folder")
    run = run_notebook_stage(reference_sandbox, submission, PROFILE, SEED)
    assert run.failure is None and run.cells_run == run.cell_count and run.evaluation_problem is None
    check_loss_decreases(run, PROFILE)
    summary = map_summary(run)
    check_map(summary, PROFILE)
    assert 0.0 <= summary.trained.map <= 1.0 and sorted(summary.trained.ap_per_class) == sorted(
        {name for truth in run.data.ground_truth.values() for name in truth["labels"]})


def test_student_stubs_stop_at_the_first_check_cell(tmp_path):
    for name in STUDENT_FILES:
        shutil.copy(ROOT / "student" / name, tmp_path / name)
    with Sandbox(tmp_path) as sandbox:
        run = run_notebook_stage(sandbox, NormalizedSubmission(tmp_path, "folder"), PROFILE, SEED)
    assert run.failure.startswith("The notebook stopped: code cell 7 (first line: `reset_seed(0)`) raised an error.")
    assert run.failure.endswith(STUB_FAILURE)
    assert "common.py:" in run.failure


# ------------------------------------------------------------------ the graded tests
def graded(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *arguments], cwd=ROOT, env=os.environ | {PROFILE_ENV: SMOKE_PROFILE.name},
                          capture_output=True, text=True, timeout=900)


def test_grade_runs_the_notebook_stage_after_the_units_and_writes_its_figures(tmp_path):
    completed = graded("-m", "autograder", "grade", str(ROOT / "reference"), "--out", str(tmp_path))
    assert completed.returncode == 0, completed.stderr[-3000:]
    tests = json.loads((tmp_path / "results.json").read_text())["tests"]
    stages = ["notebook" if test["name"].startswith("notebook:") else "units" for test in tests]
    assert stages == sorted(stages, key=["units", "notebook"].index) and stages.count("notebook") == 2
    loss, mean_ap = tests[-2:]
    assert (loss["status"], mean_ap["status"]) == ("passed", "passed")
    assert loss["output"].startswith("Training loss: mean loss on the grader's ")
    assert mean_ap["output"].startswith("```text\nValidation mAP@0.5: ") and "; untrained: " in mean_ap["output"]
    assert "(your weights in the grader's detector: " in mean_ap["output"]
    assert "AP@0.5 per class:\n" in mean_ap["output"] and "|" in mean_ap["output"]
    assert (tmp_path / "mAP.png").read_bytes().startswith(b"\x89PNG")
    assert "mAP = " in (tmp_path / "mAP_output.txt").read_text()


def test_graded_tests_report_the_failing_cell(tmp_path):
    for name in STUDENT_FILES:
        shutil.copy(ROOT / "student" / name, tmp_path / name)
    results = tmp_path / "out" / "results.json"
    results.parent.mkdir()
    completed = graded("-m", "pytest", "autograder", f"--submission={tmp_path}", f"--results={results}",
                       "--stages=notebook", "-p", "no:cacheprovider", "-q")
    assert completed.returncode == 1, completed.stderr[-3000:]  # tests failed, grading completed
    tests = json.loads(results.read_text())["tests"]
    assert [test["status"] for test in tests] == ["failed", "failed"]
    for test in tests:
        assert test["output"].startswith("```text\nThe notebook stopped: code cell 7 (first line: `reset_seed(0)`)")
        assert test["output"].endswith(STUB_FAILURE + "\n```")


# ------------------------------------------------------------------- data and checks
def test_grading_data_keeps_the_validation_split_to_the_grader():
    data = build_grading_data(PROFILE, SEED)
    train = json.loads(data.kernel_files["voc07_train.json"])
    assert len(train) == PROFILE.num_train and all(boxes for _, boxes in train)
    assert json.loads(data.kernel_files["voc07_val.json"]) == train[:KERNEL_VAL_IMAGES]
    assert "SYNTHETIC.json" not in data.kernel_files
    assert not [path for path in data.kernel_files if "val_" in path]
    assert data.image_ids == tuple(f"val_{i:06d}" for i in range(PROFILE.num_val))
    assert data.images.shape == (PROFILE.num_val, 3, PROFILE.image_size, PROFILE.image_size)
    for truth in data.ground_truth.values():
        boxes = truth["boxes"]
        assert boxes.shape == (len(truth["labels"]), 4) and len(boxes) >= 1
        assert (boxes >= 0).all() and (boxes <= PROFILE.image_size).all()
        assert np.array_equal(boxes, np.round(boxes, 2))
    batch = PROFILE.batch_size
    assert [tuple(images.shape) for images in data.loss_images] == [(batch, 3, PROFILE.image_size,
                                                                     PROFILE.image_size)] * len(data.loss_images)
    assert [tuple(boxes.shape) for boxes in data.loss_boxes] == [(batch, 40, 5)] * len(data.loss_boxes)


def test_grading_data_follows_its_seed():
    first, again, other = (build_grading_data(PROFILE, seed) for seed in (SEED, SEED, SEED + 1))
    assert first.kernel_files == again.kernel_files == other.kernel_files  # the training split is the profile's
    assert torch.equal(first.images, again.images) and not torch.equal(first.images, other.images)
    assert all(np.array_equal(first.ground_truth[k]["boxes"], again.ground_truth[k]["boxes"]) for k in first.ground_truth)


def test_validation_seed_is_deterministic_and_not_the_submission_seed():
    assert validation_seed(123) == validation_seed(123)
    assert len({validation_seed(seed) for seed in range(100)} - set(range(100))) == 100


def evaluation_of(data, detections: dict, losses=(2.0,)) -> DetectorEvaluation:
    return DetectorEvaluation(tuple(losses), detections)


def perfect(data) -> dict:
    return {image: {"boxes": truth["boxes"], "scores": np.full(len(truth["boxes"]), 0.9), "labels": truth["labels"]}
            for image, truth in data.ground_truth.items()}


def empty(data) -> dict:
    return {image: {"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "labels": np.zeros(0, dtype=str)}
            for image in data.image_ids}


def judged_run(data, untrained: DetectorEvaluation, trained: DetectorEvaluation,
               graders: DetectorEvaluation | None = None) -> NotebookRun:
    """A run whose grader's view (the trained weights in the grader's detector) is ``graders``,
    by default the same as the submission's own."""
    return NotebookRun("a notebook", data, 3, 3, (0.1,) * 3, None, 1.0, None, untrained, trained,
                       graders=trained if graders is None else graders)


def test_map_check_needs_a_trained_detector_that_an_untrained_one_is_not():
    data = build_grading_data(PROFILE, SEED)
    profile = dataclasses.replace(PROFILE, min_map=0.5, max_untrained_map=0.05)
    learned = map_summary(judged_run(data, evaluation_of(data, empty(data)), evaluation_of(data, perfect(data))))
    assert (learned.trained.map, learned.untrained.map) == (1.0, 0.0)
    check_map(learned, profile)
    nothing = map_summary(judged_run(data, evaluation_of(data, empty(data)), evaluation_of(data, empty(data))))
    with pytest.raises(CheckFailed, match=r"Validation mAP@0.5 is 0.000; at least 0.5 is needed"):
        check_map(nothing, profile)
    rules = map_summary(judged_run(data, evaluation_of(data, perfect(data)), evaluation_of(data, perfect(data))))
    with pytest.raises(CheckFailed, match=r"scores an mAP@0.5 of 1.000 before any training"):
        check_map(rules, profile)


def test_loss_check_compares_the_trained_with_the_untrained_detector():
    data = build_grading_data(PROFILE, SEED)
    profile = dataclasses.replace(PROFILE, max_loss_ratio=0.5)
    run = judged_run(data, evaluation_of(data, {}, (4.0, 2.0)), evaluation_of(data, {}, (1.0, 0.5)))
    summary = check_loss_decreases(run, profile)
    assert (summary.untrained, summary.trained, summary.ratio) == (3.0, 0.75, 0.25)
    flat = judged_run(data, evaluation_of(data, {}, (2.0,)), evaluation_of(data, {}, (2.0,)))
    with pytest.raises(CheckFailed, match=r"did not decrease enough: mean loss on the grader's 1 batches 2.000 "
                                          r"untrained, 2.000 after the full run \(ratio 1.00\)"):
        check_loss_decreases(flat, profile)
    diverged = judged_run(data, evaluation_of(data, {}, (2.0,)), evaluation_of(data, {}, (math.nan,)))
    with pytest.raises(CheckFailed, match="trained detector's training loss is nan on a grader batch: training diverged"):
        check_loss_decreases(diverged, profile)


def test_both_checks_need_the_trained_weights_to_detect_in_the_graders_detector():
    """A forward that ignores its weights (a rule switched on by a checkpoint value) looks trained
    in its own view; the grader's view, the same weights in the reference's code, tells."""
    data = build_grading_data(dataclasses.replace(PROFILE, num_val=12), SEED)
    profile = dataclasses.replace(PROFILE, min_map=0.5, max_untrained_map=0.05, max_loss_ratio=0.5)
    run = judged_run(data, evaluation_of(data, empty(data), (4.0,)), evaluation_of(data, perfect(data), (1.0,)),
                     graders=evaluation_of(data, empty(data), (4.0,)))
    with pytest.raises(CheckFailed, match=r"Validation mAP@0.5 is 1.000 with your detector's own forward, but "
                                          r"0.000 in the grader's own detector .* with the weights your full run"):
        check_map(map_summary(run), profile)
    with pytest.raises(CheckFailed, match=r"does not tell the classes apart in the grader's own detector"):
        check_loss_decreases(run, profile)
    unmatched = dataclasses.replace(run, graders_unmatched=("fpn",))
    with pytest.raises(CheckFailed, match=r"Your fpn did not compute what the reference computes"):
        check_map(map_summary(unmatched), profile)
    both_detect = judged_run(data, run.untrained, run.trained)  # control: the grader's view detects too
    check_map(map_summary(both_detect), profile)
    check_loss_decreases(both_detect, profile)


def relabelled(detections: dict, rename) -> dict:
    return {image: {**found, "labels": np.array([rename(name) for name in found["labels"]], dtype=str)}
            for image, found in detections.items()}


def test_loss_points_need_a_detector_that_tells_the_classes_apart():
    """A loss the forward reports counts with class-specific detections, whatever their labels."""
    data = build_grading_data(dataclasses.replace(PROFILE, num_val=12), SEED)
    profile = dataclasses.replace(PROFILE, max_loss_ratio=0.5, min_map=0.5)
    classes = sorted({name for truth in data.ground_truth.values() for name in truth["labels"]})
    assert len(classes) >= 3, classes
    shifted = relabelled(perfect(data), lambda name: classes[(classes.index(name) + 1) % len(classes)])
    falling = (evaluation_of(data, empty(data), (4.0,)), )
    run = judged_run(data, *falling, evaluation_of(data, shifted, (1.0,)))
    check_loss_decreases(run, profile)  # every label wrong, consistently: the classes are told apart
    assert map_summary(run).trained.map == 0.0
    one_label = relabelled(perfect(data), lambda name: classes[0])
    with pytest.raises(CheckFailed, match=r"does not tell the classes apart: .* mAP@0.5 is 0\.\d+ even with its labels"):
        check_loss_decreases(judged_run(data, *falling, evaluation_of(data, one_label, (1.0,))), profile)


def reply_for(data, **changes) -> dict:
    detection = {"boxes": torch.tensor([[1.0, 2.0, 30.0, 40.0]]), "classes": torch.tensor([6.0]),
                 "scores": torch.tensor([0.9])}
    reply = {"losses": [1.0] * len(data.loss_images), "detections": [dict(detection) for _ in data.image_ids]}
    for key, value in changes.items():
        reply["detections"][0][key] = value
    return reply


def test_a_checkpoint_with_non_finite_weights_is_a_diverged_run_not_a_grader_failure():
    data = build_grading_data(PROFILE, SEED)
    report = {"cells_run": 0, "seconds": [], "failure": None,
              "checkpoint": {"model": {"rpn.pred_net.pred_box.bias": torch.tensor([0.0, math.nan]),
                                       "cls_pred.5.weight": torch.zeros(2, 2)}}}
    run, weights = _parse_report(report, "a notebook", data, [], 1.0)
    assert weights is None
    assert run.evaluation_problem.startswith("The checkpoint of your full run holds weights that are not finite "
                                             "(NaN or infinite) in 1 tensors, the first `rpn.pred_net.pred_box.bias`: "
                                             "training diverged.")
    report["checkpoint"]["model"]["rpn.pred_net.pred_box.bias"] = torch.zeros(2)
    assert _parse_report(report, "a notebook", data, [], 1.0)[1] is not None  # control: finite weights go on


def test_a_non_finite_output_of_the_graders_detector_is_the_students_diverged_run():
    data = build_grading_data(PROFILE, SEED)
    with pytest.raises(InvalidOutput, match=r"Your trained weights in the grader's own detector give .*not finite.*"
                                            r"diverged"):
        _parse_graders_view(reply_for(data, scores=torch.tensor([math.nan])), data)
    assert _parse_graders_view(reply_for(data), data).losses  # control


def test_evaluation_replies_are_validated_here():
    data = build_grading_data(PROFILE, SEED)
    parsed = _parse_evaluation(reply_for(data), data)
    first = parsed.detections[data.image_ids[0]]
    assert first["labels"].tolist() == ["car"] and first["boxes"].tolist() == [[1.0, 2.0, 30.0, 40.0]]
    padded = _parse_evaluation(reply_for(data, classes=torch.tensor([-1.0])), data)
    assert len(padded.detections[data.image_ids[0]]["boxes"]) == 0  # padding rows are no detection
    for bad in ({"classes": torch.tensor([20.0])}, {"classes": torch.tensor([2.5])},
                {"scores": torch.tensor([math.nan])}, {"boxes": torch.zeros(1, 5)},
                {"boxes": torch.zeros(1, 4, dtype=torch.float64)}):
        with pytest.raises(ValueError):
            _parse_evaluation(reply_for(data, **bad), data)
    with pytest.raises(ValueError):
        _parse_evaluation({"losses": [1.0], "detections": []}, data)


def test_a_malformed_evaluation_reply_is_an_invalid_output(reference_sandbox, monkeypatch):
    """What the probe returns is untrusted: `_evaluate` turns a bad reply into InvalidOutput."""
    from autograder.notebook import stage as notebook_stage

    data = build_grading_data(PROFILE, SEED)
    monkeypatch.setattr(reference_sandbox, "call", lambda *args, **kwargs: {"losses": "low", "detections": []})
    with pytest.raises(InvalidOutput, match="The evaluation of your detector returned something unexpected"):
        notebook_stage._evaluate(reference_sandbox, None, data, PROFILE, SEED, 1.0)
