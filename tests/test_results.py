"""Points, messages and results.json: autograder/results/document.py directly, plugin.py through a fake graded suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder.plugin import assertion_text
from autograder.results.document import TestResult, cap, results_document, score_table, write_results

REPOSITORY = Path(__file__).resolve().parent.parent

FAKE_SUITE = textwrap.dedent('''\
    import pytest
    import torch

    from autograder.errors import SubmissionFormatError


    @pytest.mark.points(2, tags=("iou",))
    def test_passes():
        """passes"""


    @pytest.mark.points(1, tags="nms", visibility="hidden")
    def test_fails_with_message():
        """fails with a message"""
        kept = 3
        assert kept == 4, "nms should keep 4 boxes, kept 3"


    @pytest.mark.points(4)
    def test_partial_then_fails(points):
        """partial then fails"""
        points.award(0.5, "Shapes are right.")
        assert False, "Values are wrong."


    @pytest.mark.points(4)
    def test_partial_passes(points):
        """partial passes"""
        points.award(0.25)


    @pytest.fixture
    def broken_fixture():
        raise SubmissionFormatError("cannot load this")


    @pytest.mark.points(1)
    def test_setup_error(broken_fixture):
        """setup error"""


    @pytest.mark.points(1, tags=("nms",))
    def test_student_not_implemented(sandbox):
        """student stub"""
        sandbox.call("raw_calls.call_definition", name="nms", args=[])


    @pytest.mark.points(1, tags=("iou",))
    def test_iou_in_sandbox(sandbox):
        """iou in the sandbox"""
        result = sandbox.call("raw_calls.call_iou", boxes1=torch.zeros(1, 4), boxes2=torch.zeros(2, 4))
        assert result["iou"].shape == (1, 2)


    @pytest.mark.points(1)
    def test_skipped():
        """skipped"""
        pytest.skip("needs a GPU")


    @pytest.mark.points(1)
    def test_grader_bug():
        """grader bug"""
        {}["missing"]


    @pytest.mark.points(1)
    @pytest.mark.parametrize("case", ["a", "b"])
    def test_parametrized(case):
        """parametrized"""
        assert case == "a", f"case {case} fails"


    @pytest.mark.points(3)
    @pytest.mark.stage("units")
    def test_without_docstring():
        pass
''')

FAKE_COMMON = "def nms(*args):\n    raise NotImplementedError\n"
FAKE_DETECTOR = textwrap.dedent('''\
    import torch
    from common import nms


    def iou(boxes1, boxes2):
        print('{"score": 1000}')
        return torch.zeros(len(boxes1), len(boxes2))
''')


# ------------------------------------------------------- results/document.py
def test_score_status_and_partial_credit():
    full = TestResult("a", max_score=2, fraction=1.0, passed=True)
    partial = TestResult("b", max_score=4, fraction=0.25, passed=True)
    failed = TestResult("c", max_score=1, output="nope")

    assert (full.score, full.status) == (2.0, "passed")
    assert (partial.score, partial.status) == (1.0, "failed")
    assert (failed.score, failed.status) == (0.0, "failed")
    document = results_document([full, partial, failed], "top", execution_time=1.23456)
    assert document["score"] == 3.0 and document["execution_time"] == 1.23
    assert document["tests"][2] == {"name": "c", "score": 0.0, "max_score": 1, "status": "failed",
                                    "output": "nope", "visibility": "visible", "tags": []}


def test_long_messages_are_capped():
    capped = cap("x" * 10_000, 100)
    assert len(capped) == 100 and capped.endswith("(truncated)")
    assert cap("short", 100) == "short"
    assert len(TestResult("t", 1, output="y" * 100_000).to_json()["output"]) <= 4000


def test_write_results_is_atomic(tmp_path):
    target = tmp_path / "out" / "results.json"
    write_results(target, {"score": 1})

    assert json.loads(target.read_text()) == {"score": 1}
    assert os.listdir(target.parent) == ["results.json"]


def test_score_table_lists_every_test_and_the_total():
    table = score_table([TestResult("iou: overlap", 2, fraction=0.5, passed=True), TestResult("nms", 1)])

    assert "iou: overlap" in table and "1 / 2" in table and "0 / 1" in table
    per_test, per_definition = table.split("\n\n")
    assert per_test.splitlines()[-1].split() == ["TOTAL", "1", "/", "3"]
    assert [line.split() for line in per_definition.splitlines()] == [
        ["definition", "tests", "passed", "points"],
        ["notebook", "0", "/", "2", "1", "/", "3"],  # no tags: the notebook stage's row
    ]


def test_assertion_text_keeps_the_message_only():
    assert assertion_text(AssertionError("iou is wrong\nassert False\n +  where False = ...")) == "iou is wrong"
    assert assertion_text(AssertionError("assert 3 == 4\n +  where 3 = f()")) == "assert 3 == 4"
    assert assertion_text(AssertionError()) == "assertion failed"


# ---------------------------------------------------------------- plugin.py
def run_suite(tmp_path: Path, submission: Path, suite: str = FAKE_SUITE) -> tuple[subprocess.CompletedProcess, dict | None]:
    suite_dir = tmp_path / "suite"
    suite_dir.mkdir()
    (suite_dir / "conftest.py").write_text("from autograder.plugin import *  # noqa: F403\n")
    (suite_dir / "test_graded.py").write_text(suite)
    results = tmp_path / "out" / "results.json"
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--strict-markers", f"--rootdir={suite_dir}",
         str(suite_dir), f"--submission={submission}", f"--results={results}"],
        cwd=suite_dir, capture_output=True, text=True, timeout=600,
        env=os.environ | {"PYTHONPATH": str(REPOSITORY)},
    )
    return completed, json.loads(results.read_text()) if results.exists() else None


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("graded")
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "common.py").write_text(FAKE_COMMON)
    (submission / "two_stage_detector.py").write_text(FAKE_DETECTOR)
    return run_suite(tmp_path, submission)


def by_name(document: dict) -> dict[str, dict]:
    return {test["name"]: test for test in document["tests"]}


def test_plugin_scores_each_outcome(graded):
    completed, document = graded
    tests = by_name(document)

    assert completed.returncode == 1, completed.stdout[-3000:]  # some tests failed: grading completed
    assert {name: test["score"] for name, test in tests.items()} == {
        "passes": 2.0, "fails with a message": 0.0, "partial then fails": 2.0, "partial passes": 1.0,
        "setup error": 0.0, "student stub": 0.0, "iou in the sandbox": 1.0, "skipped": 0.0, "grader bug": 0.0,
        "parametrized [a]": 1.0, "parametrized [b]": 0.0, "test_graded.py::test_without_docstring": 3.0,
    }
    assert document["score"] == 10.0
    assert sum(test["max_score"] for test in document["tests"]) == 21.0


def test_plugin_messages_are_teaching_text(graded):
    tests = by_name(graded[1])

    assert tests["fails with a message"]["output"] == "nms should keep 4 boxes, kept 3"
    assert tests["partial then fails"]["output"] == "```text\nShapes are right.\nValues are wrong.\n```"
    assert tests["setup error"]["output"] == "cannot load this"
    assert tests["student stub"]["output"].startswith("Not implemented yet: NotImplementedError raised at common.py:2")
    assert tests["skipped"]["output"] == "Not run: needs a GPU"
    assert tests["grader bug"]["output"].startswith("The grader could not check this test (KeyError")
    assert tests["parametrized [b]"]["output"] == "case b fails"
    assert tests["passes"]["output"] == ""


def test_plugin_reports_tags_visibility_status_and_isolation(graded):
    completed, document = graded
    tests = by_name(document)

    assert tests["passes"]["tags"] == ["iou"] and tests["fails with a message"]["tags"] == ["nms"]
    assert tests["fails with a message"]["visibility"] == "hidden"
    assert tests["partial passes"]["status"] == "failed" and tests["passes"]["status"] == "passed"
    assert document["output"].startswith("```text\nGraded: folder: common.py, two_stage_detector.py\nIsolation")
    assert (document["output_format"], document["test_output_format"]) == ("md", "md")
    assert "| ❌ | `nms` | 0 / 2 | 0 / 2 |" in document["output"]  # points per definition
    assert "1000" not in json.dumps(document)  # what the student printed never counts
    assert "TOTAL" in completed.stdout and "10 / 21" in completed.stdout


def test_unloadable_submission_scores_zero_with_the_reason(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    suite = textwrap.dedent('''\
        import pytest

        @pytest.mark.points(5, tags=("iou",))
        def test_uses_sandbox(sandbox):
            """uses the sandbox"""
    ''')

    completed, document = run_suite(tmp_path, empty, suite)

    assert completed.returncode == 1
    assert document["score"] == 0 and document["tests"][0]["score"] == 0
    assert "No submission found" in document["tests"][0]["output"]
    assert document["output"].startswith("```text\nThe submission could not be loaded: No submission found")


def test_invalid_points_markers_stop_the_run(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    suite = textwrap.dedent('''\
        import pytest

        @pytest.mark.points(1, tags=("iuo",))
        def test_typo_in_tag():
            pass

        def test_without_points():
            pass
    ''')

    completed, _ = run_suite(tmp_path, empty, suite)

    assert completed.returncode == pytest.ExitCode.USAGE_ERROR
    assert "unknown tag(s) iuo" in completed.stderr and "need @pytest.mark.points" in completed.stderr
