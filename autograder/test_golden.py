"""Golden cases: the reference's stored answers on fixed inputs (0 points).

They show students and staff a stable, reproducible comparison, and pin the
reference itself (see `python -m data_scripts.golden_fixtures --check`).
They carry no points: their inputs are fixed, so answers could be memorised;
the points are on the fresh cases of the other tests.
"""
import pytest

from autograder.units.golden_cases import golden_cases
from autograder.units.golden_judge import judge_golden
from autograder.course.reference_solution import load_reference
from autograder.units.golden_records import load_golden


def _pairs():
    return list(zip(golden_cases(load_reference()), load_golden()))


@pytest.mark.parametrize(
    "case, record",
    [pytest.param(case, record, id=f"{case.definition}-{case.name}",
                  marks=pytest.mark.points(0, tags=(case.definition,))) for case, record in _pairs()],
)
def test_golden_case(sandbox, case, record):
    """golden case (not scored)"""
    assert (case.definition, case.name) == (record["definition"], record["name"]), "golden cases out of order"
    reply = sandbox.call(case.probe, **case.kwargs)
    judge_golden(case.definition, case.name, reply[case.reply_key], record["expected"], case.as_row_sets)
