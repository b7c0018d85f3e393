"""Check a ``results.json`` against Gradescope's schema.

https://gradescope-autograders.readthedocs.io/en/latest/specs/ : every key is
optional except that the submission needs a score, either top-level
``score`` or a ``score`` on every test.  On top of the published types this
checks what Gradescope takes for granted: finite, non-negative numbers, a
test's score within its ``max_score``, and no unknown keys (a misspelt key is
silently ignored by Gradescope, so it is reported here).

    python -m autograder.results.schema results/results.json   # exit 0 valid, 1 not

Used by ``run_autograder`` (is there a valid file to hand to Gradescope?),
by batch grading (is a submission's result complete?) and by the tests.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

STATUSES = ("passed", "failed")
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
RESULTS_FILE = "results.json"  # the name Gradescope reads
OUTPUT_FORMATS = ("text", "html", "simple_format", "md", "ansi")
MAX_PROBLEMS_SHOWN = 10

_NUMBER = "number"
_STRING = "string"
_LIST = "list"
_OBJECT = "object"

TOP_LEVEL_KEYS = {
    "score": _NUMBER,
    "execution_time": _NUMBER,
    "output": _STRING,
    "output_format": _STRING,
    "test_output_format": _STRING,
    "test_name_format": _STRING,
    "visibility": _STRING,
    "stdout_visibility": _STRING,
    "extra_data": _OBJECT,
    "tests": _LIST,
    "leaderboard": _LIST,
}
TEST_KEYS = {
    "score": _NUMBER,
    "max_score": _NUMBER,
    "status": _STRING,
    "name": _STRING,
    "name_format": _STRING,
    "number": _STRING,
    "output": _STRING,
    "output_format": _STRING,
    "tags": _LIST,
    "visibility": _STRING,
    "extra_data": _OBJECT,
}
LEADERBOARD_KEYS = {"name": _STRING, "value": None, "order": _STRING}  # value: number or string
_ALLOWED_VALUES = {
    "status": STATUSES,
    "visibility": VISIBILITIES,
    "stdout_visibility": VISIBILITIES,
    "output_format": OUTPUT_FORMATS,
    "test_output_format": OUTPUT_FORMATS,
    "test_name_format": OUTPUT_FORMATS,
    "name_format": OUTPUT_FORMATS,
    "order": ("asc", "desc"),
}


class ResultsSchemaError(ValueError):
    """A results file that Gradescope would reject or misread; the message lists why."""


def schema_problems(document: object) -> list[str]:
    """Every way ``document`` (parsed JSON) departs from the schema; empty when valid."""
    if not isinstance(document, dict):
        return [f"the document must be a JSON object, got {_json_type(document)}"]
    problems = _object_problems(document, TOP_LEVEL_KEYS, "")
    tests = document.get("tests", [])
    if isinstance(tests, list):
        for index, test in enumerate(tests):
            where = f"tests[{index}]"
            if not isinstance(test, dict):
                problems.append(f"{where}: must be an object, got {_json_type(test)}")
                continue
            problems += _object_problems(test, TEST_KEYS, where)
            problems += _test_score_problems(test, where)
        if "score" not in document and (not tests or any(isinstance(t, dict) and "score" not in t for t in tests)):
            problems.append("score: missing; needed at the top level unless every test has a score")
    leaderboard = document.get("leaderboard", [])
    for index, entry in enumerate(leaderboard if isinstance(leaderboard, list) else []):
        where = f"leaderboard[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be an object, got {_json_type(entry)}")
            continue
        problems += _object_problems(entry, LEADERBOARD_KEYS, where)
    return problems


def load_results(path: str | Path) -> dict:
    """Parse and check ``path``; raise ``ResultsSchemaError`` naming the file and every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ResultsSchemaError(f"{path}: cannot be read: {error}") from None
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except ValueError as error:
        raise ResultsSchemaError(f"{path}: not valid JSON: {error}") from None
    problems = schema_problems(document)
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = f"\n  … and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise ResultsSchemaError(f"{path}: not a valid Gradescope results file:\n  " + "\n  ".join(shown) + more)
    return document


def is_valid_results_file(path: str | Path) -> bool:
    """Whether ``path`` exists and passes ``load_results``."""
    try:
        load_results(path)
    except ResultsSchemaError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m autograder.results.schema FILE...``: 0 when every file is valid, else 1."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m autograder.results.schema RESULTS_JSON...", file=sys.stderr)
        return 2
    status = 0
    for path in paths:
        try:
            load_results(path)
        except ResultsSchemaError as error:
            print(error, file=sys.stderr)
            status = 1
    return status


# -------------------------------------------------------------------- helpers
def _object_problems(values: dict, spec: dict, where: str) -> list[str]:
    problems = []
    prefix = f"{where}." if where else ""
    for key, value in values.items():
        if key not in spec:
            problems.append(f"{prefix}{key}: unknown key (known: {', '.join(sorted(spec))})")
            continue
        expected = spec[key]
        if expected is None:  # a leaderboard value: number or string
            if not (_is_number(value) or isinstance(value, str)):
                problems.append(f"{prefix}{key}: must be a number or a string, got {_json_type(value)}")
            continue
        if not _has_type(value, expected):
            problems.append(f"{prefix}{key}: must be a {expected}, got {_json_type(value)}")
            continue
        if expected == _NUMBER and value < 0:
            problems.append(f"{prefix}{key}: must not be negative, got {value!r}")
        if key in _ALLOWED_VALUES and value not in _ALLOWED_VALUES[key]:
            problems.append(f"{prefix}{key}: must be one of {', '.join(_ALLOWED_VALUES[key])}, got {value!r}")
        if key == "tags" and not all(isinstance(tag, str) for tag in value):
            problems.append(f"{prefix}tags: must be a list of strings")
    return problems


def _test_score_problems(test: dict, where: str) -> list[str]:
    score, max_score = test.get("score"), test.get("max_score")
    if _is_number(score) and _is_number(max_score) and score > max_score:
        return [f"{where}.score: {score!r} is above its max_score {max_score!r}"]
    return []


def _has_type(value: object, expected: str) -> bool:
    if expected == _NUMBER:
        return _is_number(value)
    return isinstance(value, {_STRING: str, _LIST: list, _OBJECT: dict}[expected])


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    names = {str: "a string", list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


if __name__ == "__main__":
    sys.exit(main())
