"""The points of the graded tests, read from their ``@pytest.mark.points`` markers.

The one source of the points tables in the READMEs and the student notebook
(rendered by ``data_scripts.release``): a table cannot drift from the grader
because it is made from the markers themselves.  Tests are read by importing
the ``autograder/test_*.py`` modules, not by a pytest run (seconds, not half
a minute); ``tests/test_points_table.py`` checks the result against pytest's
own collection, parametrisation included.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from pathlib import Path

from autograder.submission_layout import GRADED_DEFINITIONS
from autograder.plugin import _points_spec
from autograder.stages import DEFAULT_STAGE, STAGES

GRADED_TEST_MODULES = tuple(sorted(path.stem for path in Path(__file__).resolve().parents[1].glob("test_*.py")))


@dataclass(frozen=True)
class GradedTest:
    """One collected graded test (a parametrised function counts once per parameter set)."""

    nodeid: str  # "test_nms.py::test_name" (parameter ids are not kept)
    points: float
    tags: tuple[str, ...]
    stage: str


@dataclass(frozen=True)
class PointsRow:
    label: str  # a graded definition, or a stage's description for untagged tests
    tests: int
    points: float


def graded_tests() -> list[GradedTest]:
    """Every graded test of the autograder, with its points, tags and stage."""
    tests = []
    for module_name in GRADED_TEST_MODULES:
        module = importlib.import_module(f"autograder.{module_name}")
        for name, function in vars(module).items():
            if name.startswith("test_") and callable(function):
                tests += _tests_of(f"{module_name}.py::{name}", getattr(function, "pytestmark", []))
    return tests


def _tests_of(nodeid: str, marks: list) -> list[GradedTest]:
    """The tests one function's marks make: parametrize multiplies them; a
    ``pytest.param``'s own marks override the function's."""
    parametrize = [mark for mark in marks if mark.name == "parametrize"]
    own = [mark for mark in marks if mark.name != "parametrize"]
    param_sets = [list(mark.args[1]) for mark in parametrize]
    tests = []
    for index in range(math.prod(len(values) for values in param_sets)):
        extra, rest = [], index
        for values in param_sets:
            value = values[rest % len(values)]
            rest //= len(values)
            extra += list(getattr(value, "marks", ()))
        test = _graded_test(nodeid, extra + own)
        if test is not None:
            tests.append(test)
    return tests


def _graded_test(nodeid: str, marks: list) -> GradedTest | None:
    points = next((mark for mark in marks if mark.name == "points"), None)
    if points is None:
        return None
    stage = next((mark.args[0] for mark in marks if mark.name == "stage"), DEFAULT_STAGE)
    n, tags, _ = _points_spec(*points.args, **points.kwargs)
    return GradedTest(nodeid, n, tags, stage)


def points_rows(tests: list[GradedTest] | None = None) -> list[PointsRow]:
    """One row per graded definition (in ``submission_layout.GRADED_DEFINITIONS`` order), then one per
    stage for its untagged tests; tests worth 0 points (golden cases) are left out."""
    tests = [test for test in (graded_tests() if tests is None else tests) if test.points > 0]
    rows = []
    definitions = [name for names in GRADED_DEFINITIONS.values() for name in names]
    for definition in definitions:
        tagged = [test for test in tests if definition in test.tags]
        if tagged:
            rows.append(PointsRow(f"`{definition}`", len(tagged), sum(test.points for test in tagged)))
    for stage in STAGES:
        untagged = [test for test in tests if test.stage == stage.name and not test.tags]
        if untagged:
            rows.append(PointsRow(f"{stage.name}: {stage.description}", len(untagged),
                                  sum(test.points for test in untagged)))
    multiply_tagged = [test.nodeid for test in tests if len(test.tags) > 1]
    if multiply_tagged:
        raise ValueError(f"a points table row per definition needs one tag per graded test: {multiply_tagged}")
    return rows


def stage_points(tests: list[GradedTest] | None = None) -> dict[str, float]:
    """Stage name -> its points."""
    tests = graded_tests() if tests is None else tests
    return {stage.name: sum(test.points for test in tests if test.stage == stage.name) for stage in STAGES}


def points_table_markdown(tests: list[GradedTest] | None = None) -> str:
    """The Markdown points table: definition, tests, points, and the total."""
    rows = points_rows(tests)
    lines = ["| graded | tests | points |", "| --- | ---: | ---: |"]
    lines += [f"| {row.label} | {row.tests} | {_number(row.points)} |" for row in rows]
    lines.append(f"| **total** | {sum(row.tests for row in rows)} | **{_number(sum(row.points for row in rows))}** |")
    return "\n".join(lines)


def _number(value: float) -> str:
    return f"{value:g}"
