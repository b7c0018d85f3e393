"""Every pinned rule is stated, caught by a graded test and broken by a corpus bug
(`grading_corpus/pinned_rules.py`); docs/grading_rules.md is that table."""
import importlib

import pytest

from grading_corpus.pinned_rules import (
    DOCUMENT,
    NOT_UNIT_GRADED,
    README,
    RULES,
    normalised,
    readme_conventions,
    render_markdown,
)
from grading_corpus.plausible_bugs import BUGS_BY_NAME, REPOSITORY

GRADED_TEST_MODULES = ("test_iou", "test_nms", "test_locations", "test_anchors", "test_deltas", "test_backbone",
                       "test_rpn_prediction", "test_rpn", "test_faster_rcnn")


def graded_tests() -> dict:
    """Graded test function name -> its tags (from its `points` marker)."""
    tests = {}
    for module_name in GRADED_TEST_MODULES:
        module = importlib.import_module(f"autograder.{module_name}")
        for name, function in vars(module).items():
            marks = [mark for mark in getattr(function, "pytestmark", []) if mark.name == "points"]
            if name.startswith("test_") and marks:
                tests[name] = tuple(marks[0].kwargs.get("tags", ()))
    return tests


def test_the_document_is_the_table():
    assert DOCUMENT.read_text() == render_markdown(), (
        "docs/grading_rules.md is stale: PYTHONPATH=tests python -m grading_corpus.pinned_rules")


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.bug)
def test_rule_is_stated_where_students_read_it(rule):
    assert normalised(rule.quote) in normalised((REPOSITORY / rule.source).read_text()), (
        f"{rule.source} no longer states {rule.quote!r}")


def test_every_rule_has_a_graded_test_tagged_with_what_its_bug_breaks():
    tests = graded_tests()
    problems = []
    for rule in RULES:
        bug = BUGS_BY_NAME.get(rule.bug)
        if bug is None:
            problems.append(f"{rule.rule}: no corpus bug {rule.bug!r}")
        elif rule.test not in tests:
            problems.append(f"{rule.rule}: no graded test {rule.test!r}")
        elif not set(bug.breaks) & set(tests[rule.test]):
            problems.append(f"{rule.rule}: {rule.test} is tagged {tests[rule.test]}, {rule.bug} breaks {bug.breaks}")
    assert problems == []


def test_every_readme_convention_is_a_rule_or_says_where_it_is_graded():
    readme_quotes = [normalised(rule.quote) for rule in RULES if rule.source == README]
    uncovered = [bullet[:80] for bullet in readme_conventions()
                 if not any(quote in bullet for quote in readme_quotes)
                 and not any(bullet.startswith(normalised(start)) for start in NOT_UNIT_GRADED)]
    stale = [start for start in NOT_UNIT_GRADED
             if not any(bullet.startswith(normalised(start)) for bullet in readme_conventions())]

    assert uncovered == [] and stale == []


def test_each_rule_has_its_own_bug():
    assert len({rule.bug for rule in RULES}) == len(RULES)
