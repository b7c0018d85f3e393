"""The notebook stage's plumbing, fast: a tiny profile and small notebooks.

What is checked: the grading parameters reach the kernel, the kernel never
sees a validation box, the loss history and the detection files come back,
the mAP is computed here against the grader's own boxes, a failing or
running-over cell is named with its first line and traceback, and a `.py`
submission runs the release notebook with its definitions substituted. The
calibrated profile's training itself is exercised by
`benchmarks/calibrate_notebook_grading.py`, not here.
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

from autograder.errors import SubmissionFormatError
from autograder.graded_notebook import (
    RELEASE_NOTEBOOK,
    graded_cells,
    read_notebook,
    substitute_definitions,
    substituted_names,
)
from autograder.grading_data import build_grading_data
from autograder.grading_profile import PROFILE_ENV, SMOKE_PROFILE, GradingProfile
from autograder.layout import GRADED_NAMES, KNOWN_NAMES
from autograder.notebook_checks import (
    CheckFailed,
    check_loss_decreases,
    check_map,
    parse_detections,
    parse_loss_history,
    validation_map,
)
from autograder.notebook_stage import SLOW_RUN_CAUSES, run_notebook_stage
from autograder.sandbox import Sandbox
from autograder.submission import NormalizedSubmission

ROOT = Path(__file__).resolve().parents[1]
PROFILE = SMOKE_PROFILE
STUDENT_FILES = ("common.py", "two_stage_detector.py")
STUB_FAILURE = "NotImplementedError: nms: TODO not implemented yet: write it in the notebook cell that defines nms (or in common.py)"

# A stand-in for the student notebook: the release's parameters cell, then cells of the test's own.
PARAMETER_DEFAULTS = {name: None for name in PROFILE.notebook_parameters()}

KERNEL_CHECKS = """\
import json, os
assert (IMAGE_SIZE, BATCH_SIZE, FULL_ITERS, EVALUATE_MAP) == ({image_size}, {batch_size}, {iterations}, False)
val = json.load(open(os.path.join(DATA_DIR, "voc07_val.json")))
train = json.load(open(os.path.join(DATA_DIR, "voc07_train.json")))
assert len(val) == {num_val} and all(boxes == [] for _, boxes in val), "validation boxes reached the kernel"
assert len(train) == {num_train} and all(boxes for _, boxes in train)
assert all(os.path.isfile(os.path.join(DATA_DIR, path)) for path, _ in val + train)
assert not os.path.exists(os.path.join(DATA_DIR, "SYNTHETIC.json"))
assert os.path.isfile(os.path.join(COURSE_DIR, "detection_helpers.py"))
assert os.environ["DETECTOR_BACKBONE_WEIGHTS"] == "random"
"""

WRITE_OUTPUTS = """\
os.makedirs(os.path.join(OUTPUT_DIR, "mAP", "input", "detection-results"))
with open(os.path.join(OUTPUT_DIR, "loss_history.json"), "w") as f:
    json.dump([3.0 - i for i in range(FULL_ITERS)], f)
with open(os.path.join(OUTPUT_DIR, "mAP", "input", "detection-results", "val_000000.txt"), "w") as f:
    f.write("car 0.9 1 2 30 40\\n")
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
                                iterations=profile.iterations, num_val=profile.num_val, num_train=profile.num_train)


# ----------------------------------------------------------------------------- the run
def test_kernel_gets_the_parameters_and_no_validation_box_and_outputs_come_back(reference_sandbox, tmp_path):
    notebook = make_notebook(tmp_path / "nb.ipynb", kernel_checks(PROFILE), WRITE_OUTPUTS)
    run = run_notebook_stage(reference_sandbox, notebook_submission(notebook), PROFILE)
    assert run.failure is None and run.cells_run == run.cell_count == 4  # parameters, injected, two cells
    assert parse_loss_history(run.loss_history_text, PROFILE.iterations) == [3.0, 2.0, 1.0]
    assert run.detection_texts == {"val_000000.txt": "car 0.9 1 2 30 40\n"}


def test_a_failing_cell_is_named_with_its_first_line_and_traceback(reference_sandbox, tmp_path):
    notebook = make_notebook(tmp_path / "nb.ipynb", "x = 1",
                             "# Train the model\ndef step(k):\n    return k / 0\n\nstep(1)", "never = 1")
    run = run_notebook_stage(reference_sandbox, notebook_submission(notebook), PROFILE)
    assert run.cells_run == 3 and run.loss_history_text is None and run.detection_texts is None
    assert run.failure.startswith("The notebook stopped: code cell 3 (first line: `# Train the model`) raised an error.")
    assert "code cell 3, line 5, in <module>\n    step(1)\n" in run.failure
    assert "code cell 3, line 3, in step\n    return k / 0\n" in run.failure
    assert run.failure.endswith("ZeroDivisionError: division by zero")
    assert "IPython" not in run.failure and "autograder" not in run.failure


def test_a_syntax_error_names_its_cell(reference_sandbox, tmp_path):
    notebook = make_notebook(tmp_path / "nb.ipynb", "def broken(:\n    pass")
    run = run_notebook_stage(reference_sandbox, notebook_submission(notebook), PROFILE)
    assert "code cell 2 (first line: `def broken(:`) raised an error" in run.failure
    assert "SyntaxError" in run.failure and "ipython-input" not in run.failure


BURN_ONE_CPU_SECOND = "started = time.process_time()\nwhile time.process_time() - started < 1:\n    pass"


def test_a_cell_over_its_cpu_time_limit_is_stopped_and_named(reference_sandbox, tmp_path):
    profile = dataclasses.replace(PROFILE, cell_cpu_limit_s=1.0)
    notebook = make_notebook(tmp_path / "nb.ipynb", "import time\nwhile True:\n    pass")
    run = run_notebook_stage(reference_sandbox, notebook_submission(notebook), profile)
    assert run.failure.startswith("The notebook stopped: code cell 2 (first line: `import time`) ran out of time.")
    assert "its 1 s CPU-time limit" in run.failure and "code cell 2, line 2, in <module>\n    while True:" in run.failure
    assert run.failure.endswith(SLOW_RUN_CAUSES)  # the measured causes of slow runs, as hints


def test_the_total_cpu_time_limit_covers_the_whole_run(reference_sandbox, tmp_path):
    profile = dataclasses.replace(PROFILE, cell_cpu_limit_s=10.0, total_cpu_limit_s=1.5)
    notebook = make_notebook(tmp_path / "nb.ipynb", "import time", *[BURN_ONE_CPU_SECOND] * 3)
    run = run_notebook_stage(reference_sandbox, notebook_submission(notebook), profile)
    assert run.cells_run == 4 and "code cell 4" in run.failure
    assert "1.5 s CPU-time limit for the whole run" in run.failure


def test_sleeping_uses_no_cpu_time(reference_sandbox, tmp_path):
    profile = dataclasses.replace(PROFILE, cell_cpu_limit_s=0.5, total_cpu_limit_s=1.0)
    notebook = make_notebook(tmp_path / "nb.ipynb", "import time\ntime.sleep(1.5)")
    assert run_notebook_stage(reference_sandbox, notebook_submission(notebook), profile).failure is None


def test_a_notebook_without_the_grading_parameters_is_refused(reference_sandbox, tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("FULL_ITERS = 9000", metadata={"tags": ["parameters"]})]
    nbformat.write(notebook, str(tmp_path / "old.ipynb"))
    with pytest.raises(SubmissionFormatError, match="cannot set its parameters in your notebook: unknown parameter"):
        run_notebook_stage(reference_sandbox, notebook_submission(tmp_path / "old.ipynb"), PROFILE)


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
    run = run_notebook_stage(reference_sandbox, submission, PROFILE)
    assert run.failure is None and run.cells_run == run.cell_count
    history = parse_loss_history(run.loss_history_text, PROFILE.iterations)
    check_loss_decreases(history, PROFILE)
    detections = parse_detections(run.detection_texts, run.data.image_ids)
    assert sorted(detections) == sorted(run.data.image_ids)
    result = validation_map(detections, run.data.ground_truth)
    assert 0.0 <= result.map <= 1.0 and sorted(result.ap_per_class) == sorted(
        {name for truth in run.data.ground_truth.values() for name in truth["labels"]})


def test_student_stubs_stop_at_the_first_check_cell(tmp_path):
    for name in STUDENT_FILES:
        shutil.copy(ROOT / "student" / name, tmp_path / name)
    with Sandbox(tmp_path) as sandbox:
        run = run_notebook_stage(sandbox, NormalizedSubmission(tmp_path, "folder"), PROFILE)
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
    assert loss["output"].startswith("```text\nTraining loss: mean loss of the first 1 iterations")
    assert "Training loss of the graded run:\n" in loss["output"] and " +---" in loss["output"]  # the text chart
    assert mean_ap["output"].startswith("```text\nValidation mAP@0.5: ")
    assert "AP@0.5 per class:\n" in mean_ap["output"] and "|" in mean_ap["output"]
    for name in ("loss_history.png", "mAP.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
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
def test_grading_data_withholds_the_validation_boxes():
    data = build_grading_data(PROFILE)
    val = json.loads(data.kernel_files["voc07_val.json"])
    assert len(val) == PROFILE.num_val and all(boxes == [] for _, boxes in val)
    assert "SYNTHETIC.json" not in data.kernel_files
    assert all(json.loads(data.kernel_files["voc07_train.json"])[i][1] for i in range(PROFILE.num_train))
    assert data.image_ids == tuple(f"val_{i:06d}" for i in range(PROFILE.num_val))
    for truth in data.ground_truth.values():
        boxes = truth["boxes"]
        assert boxes.shape == (len(truth["labels"]), 4) and len(boxes) >= 1
        assert (boxes >= 0).all() and (boxes <= PROFILE.image_size).all()
        assert np.array_equal(boxes, np.round(boxes, 2))


def test_grading_data_is_deterministic():
    first, second = build_grading_data(PROFILE), build_grading_data(PROFILE)
    assert first.kernel_files == second.kernel_files
    assert all(np.array_equal(first.ground_truth[k]["boxes"], second.ground_truth[k]["boxes"])
               for k in first.ground_truth)


def detection_text(truth: dict, score: float = 0.9) -> str:
    return "".join(f"{label} {score} {' '.join(f'{v:.2f}' for v in box)}\n"
                   for label, box in zip(truth["labels"], truth["boxes"]))


def test_map_is_computed_here_against_the_withheld_boxes():
    data = build_grading_data(PROFILE)
    perfect = {f"{image}.txt": detection_text(truth) for image, truth in data.ground_truth.items()}
    assert validation_map(parse_detections(perfect, data.image_ids), data.ground_truth).map == 1.0
    assert validation_map(parse_detections({}, data.image_ids), data.ground_truth).map == 0.0
    malformed = {"val_000000.txt": "car 0.9 1 2\n", "notes.txt": "hello"}
    with pytest.raises(CheckFailed, match=r"not in the expected format: notes.txt is not a validation image's file; "
                                          r"val_000000.txt, line 1: 4 fields, need 6"):
        parse_detections(malformed, data.image_ids)


def test_map_threshold():
    data = build_grading_data(PROFILE)
    result = validation_map({}, data.ground_truth)
    with pytest.raises(CheckFailed, match=r"Validation mAP@0.5 is 0.000; at least 0.5 is needed"):
        check_map(result, dataclasses.replace(PROFILE, min_map=0.5))


def test_missing_outputs_say_which_file():
    with pytest.raises(CheckFailed, match="did not write outputs/loss_history.json"):
        parse_loss_history(None, 3)
    with pytest.raises(CheckFailed, match="did not write outputs/mAP/input/detection-results/"):
        parse_detections(None, ("val_000000",))


@pytest.mark.parametrize("text, words", [
    ("[3.0, 2.0", "not valid JSON"),
    ('{"loss": 1}', "a list of numbers"),
    ("[3.0, 2.0]", "has 2 values; the graded run trains FULL_ITERS = 3"),
])
def test_malformed_loss_histories_are_refused(text, words):
    with pytest.raises(CheckFailed, match=words):
        parse_loss_history(text, 3)


def test_loss_check():
    profile = dataclasses.replace(PROFILE, max_loss_ratio=0.5, iterations=100)
    falling = [4.0 - 3.0 * i / 99 for i in range(100)]
    summary = check_loss_decreases(falling, profile)
    assert summary.head_mean == pytest.approx(np.mean(falling[:10])) and summary.ratio < 0.5
    with pytest.raises(CheckFailed, match=r"did not decrease enough: mean loss of the first 10 iterations 2.000, "
                                          r"of the last 20 2.000 \(ratio 1.00\)"):
        check_loss_decreases([2.0] * 100, profile)
    with pytest.raises(CheckFailed, match="not finite at iteration 50"):
        check_loss_decreases(falling[:50] + [math.nan] + falling[51:], profile)
