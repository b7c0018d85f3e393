"""``python -m autograder.results.check_run``: a results.json as a GitHub check run's body."""

from __future__ import annotations

import json

from autograder.results import check_run
from autograder.results.document import TestResult, results_document

SHA = "0123456789abcdef" * 2 + "01234567"


def document(*tests: TestResult, output: str = "Graded: folder") -> dict:
    return json.loads(json.dumps(results_document(list(tests), output, 1.0)))


def test_partial_score_is_neutral_with_the_score_and_the_table():
    body = check_run.check_run_body(document(TestResult("iou: random boxes", 2.0, fraction=1.0, passed=True),
                                             TestResult("nms: ties | order", 3.0, output="keep the best box")), SHA)

    assert body["name"] == "Autograder" and body["head_sha"] == SHA and body["status"] == "completed"
    assert body["conclusion"] == "neutral"
    assert body["output"]["title"] == "Score: 2 / 5"
    assert "| ✅ | iou: random boxes | 2 / 2 |" in body["output"]["summary"]
    assert r"| ❌ | nms: ties \| order | 0 / 3 | keep the best box |" in body["output"]["summary"]


def test_full_marks_succeed():
    body = check_run.check_run_body(document(TestResult("iou: random boxes", 2.0, fraction=1.0, passed=True)), SHA)

    assert body["conclusion"] == "success" and body["output"]["title"] == "Score: 2 / 2"


def test_tests_not_yet_visible_are_counted_never_named():
    hidden = TestResult("nms: hidden case", 3.0, fraction=1.0, passed=True, visibility="after_due_date")
    body = check_run.check_run_body(document(TestResult("iou: random boxes", 2.0, fraction=1.0, passed=True),
                                             hidden), SHA)

    assert body["output"]["title"] == "Score: 2 / 2 (shown tests)"
    assert "hidden case" not in body["output"]["summary"]
    assert "1 more test(s) are graded but not shown yet." in body["output"]["summary"]


def test_results_without_tests_fail_with_their_message():
    body = check_run.check_run_body(document(output="Grading was stopped after 1800 s"), SHA)

    assert body["conclusion"] == "failure"
    assert "Grading was stopped after 1800 s" in body["output"]["summary"]


def test_long_summary_is_cut_to_githubs_limit():
    tests = [TestResult(f"iou: case {index}", 1.0, output="x" * 1000) for index in range(300)]
    body = check_run.check_run_body(document(*tests), SHA)

    assert len(body["output"]["summary"]) == check_run.MAX_SUMMARY_CHARS


def test_command_line_falls_back_to_grader_failed(tmp_path, capsys):
    missing = tmp_path / "results.json"

    assert check_run.main([str(missing), "--sha", SHA]) == 1
    assert "check_run:" in capsys.readouterr().err
    assert check_run.main(["--grader-failed", "--sha", SHA]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["conclusion"] == "failure" and check_run.GRADER_FAILED_TEXT in body["output"]["summary"]
