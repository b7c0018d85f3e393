"""The whole grade's time bound: slow definitions fail fast, the unit stage's calls have a total."""
import pytest

from autograder.sandbox.call_budget import SLOW_FRACTION, STRIKES_BEFORE_FAIL_FAST, CallBudget
from autograder.errors import Timeout

LIMIT_S = 30.0


def test_a_definition_fails_fast_after_its_strikes_and_only_it():
    budget = CallBudget()
    budget.start_test(("iou",), counted=True)
    budget.before_call()
    budget.after_call(LIMIT_S, LIMIT_S, timed_out=True)
    budget.before_call()  # one strike: still runs
    budget.after_call(SLOW_FRACTION * LIMIT_S + 1, LIMIT_S, timed_out=False)  # slow: a strike too

    with pytest.raises(Timeout, match=r"Not run: 2 earlier calls of iou timed out or took more than 50%"):
        budget.before_call()
    budget.start_test(("nms",), counted=True)
    budget.before_call()
    assert budget.strikes == {"iou": STRIKES_BEFORE_FAIL_FAST}


def test_fast_calls_are_no_strike():
    budget = CallBudget()
    budget.start_test(("nms",), counted=True)
    for _ in range(100):
        budget.before_call()
        budget.after_call(0.05, LIMIT_S, timed_out=False)

    assert budget.strikes == {} and budget.spent_s == pytest.approx(5.0)


def test_every_call_fails_fast_once_the_stage_total_is_spent():
    budget = CallBudget(total_s=10.0)
    for name in ("iou", "nms", "RPN"):
        budget.start_test((name,), counted=True)
        budget.before_call()
        budget.after_call(4.0, LIMIT_S, timed_out=False)

    with pytest.raises(Timeout, match="used up the 10 s this grade allows"):
        budget.before_call()


def test_calls_outside_counted_tests_are_never_refused_or_charged():
    budget = CallBudget(total_s=1.0)
    budget.start_test(("iou",), counted=False)  # e.g. the notebook stage
    for _ in range(3):
        budget.before_call()
        budget.after_call(LIMIT_S, LIMIT_S, timed_out=True)

    assert budget.spent_s == 0 and budget.strikes == {}
