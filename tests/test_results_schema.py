"""The Gradescope results.json checker (``autograder.results.schema``)."""

from __future__ import annotations

import json

import pytest

from autograder.results.document import TestResult, results_document
from autograder.results.schema import ResultsSchemaError, is_valid_results_file, load_results, main, schema_problems


def graded_document() -> dict:
    tests = [TestResult("iou: random boxes", 2.0, tags=("iou",), fraction=1.0, passed=True),
             TestResult("nms: ties", 1.0, visibility="after_due_date", output="keep the best box")]
    return results_document(tests, "Graded: folder", 3.2)


def test_the_graders_own_documents_are_valid():
    assert schema_problems(graded_document()) == []
    assert schema_problems(results_document([], "could not grade", 0.0)) == []
    assert schema_problems({"tests": [{"score": 1, "max_score": 1}]}) == []  # no top-level score: tests carry it


@pytest.mark.parametrize("document, problem", [
    ([], "must be a JSON object, got a list"),
    ({"tests": []}, "score: missing"),
    ({"tests": [{"max_score": 1}]}, "score: missing"),
    ({"score": "10"}, "score: must be a number, got a string"),
    ({"score": True}, "score: must be a number, got a boolean"),
    ({"score": -1}, "score: must not be negative"),
    ({"score": 1, "output": None}, "output: must be a string, got null"),
    ({"score": 1, "tests": {}}, "tests: must be a list, got an object"),
    ({"score": 1, "tests": [3]}, "tests[0]: must be an object, got the number 3"),
    ({"score": 1, "tests": [{"status": "ok"}]}, "tests[0].status: must be one of passed, failed, got 'ok'"),
    ({"score": 1, "tests": [{"visibility": "secret"}]}, "tests[0].visibility: must be one of"),
    ({"score": 1, "tests": [{"tags": ["iou", 2]}]}, "tests[0].tags: must be a list of strings"),
    ({"score": 1, "tests": [{"score": 3, "max_score": 2}]}, "tests[0].score: 3 is above its max_score 2"),
    ({"score": 1, "tests": [{"maxscore": 2}]}, "tests[0].maxscore: unknown key"),
    ({"score": 1, "scroe": 2}, "scroe: unknown key"),
    ({"score": 1, "leaderboard": [{"name": "mAP", "value": [1]}]}, "leaderboard[0].value: must be a number or a string"),
])
def test_departures_from_the_schema_are_named(document, problem):
    assert any(problem in found for found in schema_problems(document)), schema_problems(document)


def test_files_are_checked_with_their_path_in_the_message(tmp_path):
    good, bad, nan, missing = (tmp_path / name for name in ("good.json", "bad.json", "nan.json", "missing.json"))
    good.write_text(json.dumps(graded_document()))
    bad.write_text(json.dumps({"score": "x", "tests": [{"status": "ok"}]}))
    nan.write_text('{"score": NaN}')

    assert load_results(good) == graded_document()
    with pytest.raises(ResultsSchemaError, match=r"bad\.json: not a valid Gradescope results file:\n  score: .*\n  tests\[0\]"):
        load_results(bad)
    with pytest.raises(ResultsSchemaError, match=r"nan\.json: not valid JSON: NaN"):
        load_results(nan)
    with pytest.raises(ResultsSchemaError, match=r"missing\.json: cannot be read"):
        load_results(missing)
    assert is_valid_results_file(good) and not is_valid_results_file(bad) and not is_valid_results_file(missing)
    assert main([str(good)]) == 0 and main([str(good), str(bad)]) == 1 and main([]) == 2
