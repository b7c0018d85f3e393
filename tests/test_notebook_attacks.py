"""Attacks on the notebook stage (issue 13) score 0 there.

The attacks (``tests/grading_corpus/notebook_attacks/``) are written as an
outsider would submit them: a forged loss file, regenerated or guessed
validation boxes, a rule-based detector with a "trained" flag that also
forges its loss, and a kernel hijack from an imported ``.py`` module.

Two versions of each:

* **fast** (CI): graded through the command line with
  ``AUTOGRADER_NOTEBOOK_PROFILE=smoke``, asserting 0 on the notebook stage
  and *why* (what the grader found to judge), so a test cannot pass for a
  reason the attack did not test. The smoke profile's thresholds are
  trivial (``min_map`` 0, any finite loss ratio): a rule detector that runs
  at all passes them, so for attack 3 the smoke grade only proves the
  attack is live (its checkpoint is judged and its forged loss falls), and
  the meaningful fast check runs the stage in-process with the grading
  profile's image size, validation split and thresholds, on a small
  training split and a few iterations (the attack learns nothing, so
  neither changes what it does).
* **real profile**: graded through the command line with the grading
  profile, 30 to 60 s of wall time per attack: set ``NOTEBOOK_ATTACKS_REAL=1``
  (as ``SLOW_MACHINE`` and ``BATCH_20`` elsewhere).

Attack 3 comes in two variants: blobs named by colour, size and aspect
(``rule_detector.py``), and blobs named by the generator's own shape
templates (``shape_templates.py``). The latter reaches mAP 0.685 in its own
forward: a program that knows the generator's shapes detects them without
learning, and the detector's forward (student code) can switch it on with
any value in the checkpoint. It scores nothing because the checks also
measure the checkpoint's weights in the grader's own detector
(``notebook/graders_view.py``), where no student code runs.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.notebook.grading_profile import GRADING_PROFILE, PROFILE_ENV, SMOKE_PROFILE
from autograder.notebook.checks import CheckFailed, check_loss_decreases, check_map, class_matched_map, map_summary
from autograder.notebook.checks import loss_summary
from autograder.notebook.stage import run_notebook_stage
from autograder.sandbox.client import Sandbox
from autograder.intake.submission import NormalizedSubmission
from tests.grading_corpus.notebook_attacks import build_notebook_attack, build_py_attack

ROOT = Path(__file__).resolve().parents[1]
GRADING_TIMEOUT_S = 1800
REAL_PROFILE = pytest.mark.skipif(os.environ.get("NOTEBOOK_ATTACKS_REAL") != "1",
                                  reason="the grading profile: set NOTEBOOK_ATTACKS_REAL=1")
NOT_SAVED = "The checkpoint of the full run (outputs/full_run_checkpoint.pt) is not saved"
STUB_EVALUATION = "The grader could not evaluate the detector of your full run"
NOTEBOOK_STOPPED = "The notebook stopped"


@dataclasses.dataclass
class NotebookGrade:
    tests: list[dict]  # the notebook stage's two tests in results.json
    wall_s: float

    @property
    def score(self) -> float:
        return sum(test["score"] for test in self.tests)

    @property
    def output(self) -> str:
        return "\n".join(test["output"] for test in self.tests)


def grade_notebook_stage(submission: Path, out: Path, profile: str) -> NotebookGrade:
    """The notebook stage of ``submission`` graded by the command line with ``profile``."""
    results = out / "results.json"
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "autograder", f"--submission={submission}", f"--results={results}",
         "--stages=notebook", "-p", "no:cacheprovider", "-q"],
        cwd=ROOT, env=os.environ | {PROFILE_ENV: profile}, capture_output=True, text=True, timeout=GRADING_TIMEOUT_S)
    wall_s = time.monotonic() - started
    assert completed.returncode in (0, 1), completed.stdout[-3000:] + completed.stderr[-3000:]
    tests = [test for test in json.loads(results.read_text())["tests"] if test["name"].startswith("notebook:")]
    assert len(tests) == 2, tests
    print(f"\n{submission.name} ({profile}): notebook stage {sum(t['score'] for t in tests)} in {wall_s:.0f} s wall")
    return NotebookGrade(tests, wall_s)


def notebook_attack(name: str, tmp_path: Path) -> Path:
    return build_notebook_attack(name, tmp_path)


def py_attack(name: str, tmp_path: Path) -> Path:
    return build_py_attack(name, tmp_path / name)


def assert_judged_nothing(grade: NotebookGrade) -> None:
    """Every cell ran (the attack did what it meant to) and there was no trained detector to judge."""
    assert grade.score == 0, grade.tests
    assert [test["status"] for test in grade.tests] == ["failed", "failed"], grade.tests
    assert NOTEBOOK_STOPPED not in grade.output, grade.output


# ------------------------------------------------------------------ 1. forged loss file
def check_forged_loss_file(grade: NotebookGrade) -> None:
    assert_judged_nothing(grade)
    assert NOT_SAVED in grade.output, grade.output


def test_forged_loss_file_scores_nothing(tmp_path):
    grade = grade_notebook_stage(notebook_attack("forged_loss_file", tmp_path), tmp_path / "out", SMOKE_PROFILE.name)
    check_forged_loss_file(grade)


@REAL_PROFILE
def test_forged_loss_file_scores_nothing_on_the_grading_profile(tmp_path):
    grade = grade_notebook_stage(notebook_attack("forged_loss_file", tmp_path), tmp_path / "out",
                                 GRADING_PROFILE.name)
    check_forged_loss_file(grade)


# --------------------------------------------------------- 2. regenerated or guessed boxes
def check_guessed_boxes(grade: NotebookGrade) -> None:
    assert_judged_nothing(grade)
    assert NOT_SAVED in grade.output, grade.output


def test_guessed_validation_boxes_score_nothing(tmp_path):
    grade = grade_notebook_stage(notebook_attack("guessed_validation_boxes", tmp_path), tmp_path / "out",
                                 SMOKE_PROFILE.name)
    check_guessed_boxes(grade)


@REAL_PROFILE
def test_guessed_validation_boxes_score_nothing_on_the_grading_profile(tmp_path):
    grade = grade_notebook_stage(notebook_attack("guessed_validation_boxes", tmp_path), tmp_path / "out",
                                 GRADING_PROFILE.name)
    check_guessed_boxes(grade)


# -------------------------------------------------------------------- 3. rule detector
# Real thresholds, the real validation split's size and images, few training images and steps:
# the attack's detector does not learn, so only the number of data-loading steps changes.
RULE_PROFILE = dataclasses.replace(GRADING_PROFILE, name="rule-attack", num_train=32, iterations=3, warmup_iters=0)
RULE_SEED = 13


# The rules that name a blob: colour, size and aspect (``rule_detector.py``), or the generator's
# own shape templates (``shape_templates.py``).
RULE_VARIANTS = {"colour_size_aspect": False, "shape_templates": True}

def rule_attack(variant: str, tmp_path: Path) -> Path:
    return build_py_attack("rule_detector_flag", tmp_path / variant, shapes=RULE_VARIANTS[variant])


@pytest.fixture(scope="module", params=sorted(RULE_VARIANTS))
def rule_detector_run(request, tmp_path_factory):
    folder = rule_attack(request.param, tmp_path_factory.mktemp("rule_attack"))
    started = time.monotonic()
    with Sandbox(folder) as sandbox:
        run = run_notebook_stage(sandbox, NormalizedSubmission(folder, "folder"), RULE_PROFILE, RULE_SEED)
    print(f"\nrule detector attack ({request.param}), in-process stage: {time.monotonic() - started:.0f} s wall")
    return run


def test_rule_detector_attack_is_live(rule_detector_run):
    """Control: every cell ran, the checkpoint holds a set flag, and the forged loss falls far enough."""
    run = rule_detector_run
    assert run.failure is None and run.evaluation_problem is None, (run.failure, run.evaluation_problem)
    summary = loss_summary(run)
    assert summary.ratio < RULE_PROFILE.max_loss_ratio, summary  # the loss forgery alone would pass
    assert map_summary(run).untrained.map == 0.0  # the unset flag: no detections at all
    found = sum(len(d["boxes"]) for d in run.trained.detections.values())
    assert found >= len(run.data.image_ids), found  # the set flag: the rules find boxes


# Why each variant fails the mAP check: colour rules detect badly even in their own forward;
# shape templates detect well there, and the trained weights detect nothing in the grader's detector.
RULE_MAP_FAILURES = {
    "colour_size_aspect": r"Validation mAP@0.5 is 0\.\d+; at least",
    "shape_templates": r"Validation mAP@0.5 is 0\.\d+ with your detector's own forward, but 0\.\d+ in the grader's",
}


def test_rule_detector_attack_fails_both_checks(rule_detector_run, request):
    run = rule_detector_run
    matched = class_matched_map(run.data.ground_truth, run.trained.detections)
    summary = map_summary(run)
    print(f"\nrule detector attack: mAP {summary.map:.3f} (grader's detector {summary.graders.map:.3f}), "
          f"class-matched {matched:.3f}, min_map {RULE_PROFILE.min_map}")
    with pytest.raises(CheckFailed, match="does not tell the classes apart"):
        check_loss_decreases(run, RULE_PROFILE)
    with pytest.raises(CheckFailed, match=RULE_MAP_FAILURES[request.node.callspec.params["rule_detector_run"]]):
        check_map(summary, RULE_PROFILE)


def test_rule_detector_attack_is_judged_through_the_command_line(tmp_path):
    """Smoke profile: plumbing only. Its thresholds pass any detector that runs, so this proves
    that the grade judges the attack's checkpoint (not that it fails): the real verdict is the
    in-process test above and the real-profile test below."""
    grade = grade_notebook_stage(rule_attack("colour_size_aspect", tmp_path), tmp_path / "out", SMOKE_PROFILE.name)
    assert NOTEBOOK_STOPPED not in grade.output and STUB_EVALUATION not in grade.output, grade.output
    assert "Training loss: mean loss on the grader's" in grade.output, grade.output


@REAL_PROFILE
@pytest.mark.parametrize("variant", sorted(RULE_VARIANTS))
def test_rule_detector_attack_scores_nothing_on_the_grading_profile(tmp_path, variant):
    grade = grade_notebook_stage(rule_attack(variant, tmp_path), tmp_path / "out", GRADING_PROFILE.name)
    assert grade.score == 0, grade.tests
    assert NOTEBOOK_STOPPED not in grade.output and STUB_EVALUATION not in grade.output, grade.output
    assert "does not tell the classes apart" in grade.output, grade.output
    assert "Validation mAP@0.5 is 0." in grade.output, grade.output


# ---------------------------------------------------------------------- 4. kernel hijack
def check_kernel_hijack(grade: NotebookGrade) -> None:
    # Every cell ran although every graded definition is a stub: the hijack rewrote the cells
    # (an un-hijacked run stops at the first cell calling nms). Its checkpoint is judged with
    # the stubs, which cannot even build a detector.
    assert_judged_nothing(grade)
    assert STUB_EVALUATION in grade.output, grade.output
    assert "NotImplementedError raised at common.py" in grade.output, grade.output


def test_kernel_hijack_scores_nothing(tmp_path):
    grade = grade_notebook_stage(py_attack("kernel_hijack", tmp_path), tmp_path / "out", SMOKE_PROFILE.name)
    check_kernel_hijack(grade)


@REAL_PROFILE
def test_kernel_hijack_scores_nothing_on_the_grading_profile(tmp_path):
    grade = grade_notebook_stage(py_attack("kernel_hijack", tmp_path), tmp_path / "out", GRADING_PROFILE.name)
    check_kernel_hijack(grade)
