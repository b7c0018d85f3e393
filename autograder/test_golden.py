"""Golden cases: the reference's stored answers on fixed inputs (0 points).

They show students and staff a stable, reproducible comparison, and pin the
reference itself (see `python -m data_scripts.golden_fixtures --check`).
They carry no points: their inputs are fixed, so answers could be memorised;
the points are on the fresh cases of the other tests.
"""
import pytest
import torch

from autograder.golden_cases import golden_cases
from autograder.judge import check_tensor, fail, rows_as_set_equal
from autograder.reference_solution import load_reference
from data_scripts.golden_fixtures import load_golden


def _pairs():
    return list(zip(golden_cases(load_reference()), load_golden()))


def _check_tree(what, actual, expected, as_row_sets):
    if isinstance(expected, torch.Tensor):
        if as_row_sets and expected.dim() == 2:
            if isinstance(actual, torch.Tensor) and rows_as_set_equal(actual.double(), expected.double(), atol=1e-3):
                return
        check_tensor(what, actual, expected, atol=1e-4, rtol=1e-4, integer=not expected.dtype.is_floating_point)
    elif isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            fail(what, f"expected a dict with keys {sorted(expected)}, got {actual!r:.120}")
        for key in expected:
            _check_tree(f"{what}[{key!r}]", actual[key], expected[key], as_row_sets)
    elif isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            fail(what, f"expected {len(expected)} items, got {actual!r:.120}")
        for index, (a, e) in enumerate(zip(actual, expected)):
            _check_tree(f"{what}[{index}]", a, e, as_row_sets)
    elif actual != expected:
        fail(what, f"expected {expected!r}, got {actual!r}")


@pytest.mark.parametrize(
    "case, record",
    [pytest.param(case, record, id=f"{case.definition}-{case.name}",
                  marks=pytest.mark.points(0, tags=(case.definition,))) for case, record in _pairs()],
)
def test_golden_case(sandbox, case, record):
    """golden case (not scored)"""
    assert (case.definition, case.name) == (record["definition"], record["name"]), "golden cases out of order"
    reply = sandbox.call(case.probe, **case.kwargs)
    if case.definition == "FasterRCNN":
        boxes, classes, scores = reply["detections"]
        actual = torch.cat([boxes.double(), classes.double()[:, None], scores.double()[:, None]], dim=1)
        boxes, classes, scores = record["expected"]
        expected = torch.cat([boxes.double(), classes.double()[:, None], scores.double()[:, None]], dim=1)
        if not rows_as_set_equal(actual, expected, atol=1e-4):
            fail("FasterRCNN.inference (golden)", f"detections differ from the reference's: expected "
                 f"{len(expected)} (boxes, class, score) rows, got {len(actual)}")
        return
    _check_tree(f"{case.definition} (golden case {case.name})", reply[case.reply_key], record["expected"],
                case.as_row_sets)
