"""Parameter injection (papermill's convention) into the notebook."""

from pathlib import Path

import nbformat
import pytest

from autograder.notebook.parameters import INJECTED_TAG, ParameterError, inject_parameters, parameter_defaults

ROOT = Path(__file__).resolve().parents[1]


def notebook(parameters: str = 'DATA_DIR = "data"\nBATCH_SIZE = 16\nLR = 1e-2\nOUT = None'):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(BATCH_SIZE)"),
    ]
    return nb


def test_defaults_of_the_student_notebook():
    nb = nbformat.read(ROOT / "notebooks" / "two_stage_detector.ipynb", as_version=4)
    defaults = parameter_defaults(nb)
    assert defaults["IMAGE_SIZE"] == 224 and defaults["BATCH_SIZE"] == 16
    assert (defaults["RPN_OVERFIT_ITERS"], defaults["DETECTOR_OVERFIT_ITERS"], defaults["FULL_ITERS"]) == (1000, 1000, 9000)
    assert (defaults["OVERFIT_FPN_CHANNELS"], defaults["FULL_FPN_CHANNELS"]) == (64, 128)
    assert (defaults["OVERFIT_BATCHES"], defaults["VAL_SUBSET_SIZE"]) == (10, 20)
    assert defaults["DEVICE"] == "auto" and defaults["DOWNLOAD"] is True


def test_injection_adds_a_tagged_cell_after_the_parameters_cell():
    original = notebook()
    injected = inject_parameters(original, {"BATCH_SIZE": 2, "DATA_DIR": "/tmp/data", "OUT": None})
    assert [c.source for c in original.cells][1:] == ['DATA_DIR = "data"\nBATCH_SIZE = 16\nLR = 1e-2\nOUT = None', "print(BATCH_SIZE)"]
    assert len(injected.cells) == 4
    cell = injected.cells[2]
    assert cell.metadata.tags == [INJECTED_TAG]
    assert cell.source.splitlines()[1:] == ["BATCH_SIZE = 2", "DATA_DIR = '/tmp/data'", "OUT = None"]
    nbformat.validate(injected)


def test_injecting_again_replaces_the_injected_cell():
    twice = inject_parameters(inject_parameters(notebook(), {"BATCH_SIZE": 2}), {"LR": 0.5})
    injected = [c for c in twice.cells if INJECTED_TAG in c.metadata.get("tags", [])]
    assert len(twice.cells) == 4 and [c.source.splitlines()[1:] for c in injected] == [["LR = 0.5"]]


@pytest.mark.parametrize(
    "values, words",
    [
        ({"BATCH": 2}, "unknown parameter(s) BATCH; the notebook's are: DATA_DIR, BATCH_SIZE, LR, OUT"),
        ({"LR": float("nan")}, "parameter LR: nan is not a Python literal"),
    ],
)
def test_bad_values_are_rejected(values, words):
    with pytest.raises(ParameterError) as raised:
        inject_parameters(notebook(), values)
    assert str(raised.value) == words


@pytest.mark.parametrize(
    "parameters, words",
    [
        ("import os\nX = 1", "only `NAME = literal` assignments"),
        ("X = os.getcwd()", "X is not a literal"),
    ],
)
def test_parameters_cell_must_hold_literal_assignments(parameters, words):
    with pytest.raises(ParameterError, match=words):
        parameter_defaults(notebook(parameters))


def test_exactly_one_parameters_cell():
    nb = notebook()
    nb.cells[2].metadata["tags"] = ["parameters"]
    with pytest.raises(ParameterError, match="exactly one code cell tagged 'parameters', found 2"):
        inject_parameters(nb, {})
