"""Parameter injection, papermill's convention, without papermill.

Used by the grader (``graded_notebook``: the notebook stage's own values) and
by the build tools (``data_scripts.release``, ``data_scripts.student_environment``).

The notebook's first code cell is tagged `parameters` and assigns every
parameter a literal default. To run with other values, a cell tagged
`injected-parameters` that assigns them is inserted right after it (an
earlier injected cell is replaced), so the defaults stay visible and the
overrides are explicit. Only names the parameters cell assigns may be
injected, and only literal values (repr round-trips), so a typo or an
unserialisable value is an error rather than a silently ignored setting.
"""

import ast
import copy
from typing import Any, Dict, Mapping

import nbformat
from nbformat import NotebookNode

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
INJECTED_CELL_ID = "injected-parameters"
INJECTED_HEADER = "# Parameters injected by autograder.notebook.parameters"


class ParameterError(ValueError):
    """The notebook has no single parameters cell, or the values cannot be injected into it; the message says which."""


def _tags(cell: NotebookNode) -> list:
    return cell.get("metadata", {}).get("tags", [])


def parameters_cell_index(notebook: NotebookNode) -> int:
    """Index of the one code cell tagged `parameters`."""
    indices = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and PARAMETERS_TAG in _tags(c)]
    if len(indices) != 1:
        raise ParameterError(f"expected exactly one code cell tagged {PARAMETERS_TAG!r}, found {len(indices)}")
    return indices[0]


def parameter_defaults(notebook: NotebookNode) -> Dict[str, Any]:
    """Name -> default value of every parameter (assignments of literals)."""
    index = parameters_cell_index(notebook)
    defaults = {}
    for node in ast.parse(notebook.cells[index].source).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ParameterError(
                f"parameters cell (cell {index + 1}), line {node.lineno}: only `NAME = literal` assignments are allowed"
            )
        try:
            defaults[node.targets[0].id] = ast.literal_eval(node.value)
        except ValueError as error:
            raise ParameterError(
                f"parameters cell (cell {index + 1}), line {node.lineno}: {node.targets[0].id} is not a literal"
            ) from error
    return defaults


def _literal(name: str, value: Any) -> str:
    text = repr(value)
    try:
        same = ast.literal_eval(text) == value
    except (ValueError, SyntaxError):
        same = False
    if not same:
        raise ParameterError(f"parameter {name}: {value!r} is not a Python literal")
    return text


def inject_parameters(notebook: NotebookNode, values: Mapping[str, Any]) -> NotebookNode:
    """A copy of `notebook` with `values` injected after its parameters cell.

    Raises:
        ParameterError: for a name the parameters cell does not assign, a value
            that is not a literal, or a notebook without one parameters cell.
    """
    known = parameter_defaults(notebook)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {', '.join(unknown)}; the notebook's are: {', '.join(known)}")
    lines = [INJECTED_HEADER] + [f"{name} = {_literal(name, value)}" for name, value in values.items()]
    injected = nbformat.v4.new_code_cell("\n".join(lines), id=INJECTED_CELL_ID, metadata={"tags": [INJECTED_TAG]})

    notebook = copy.deepcopy(notebook)
    notebook.cells = [c for c in notebook.cells if INJECTED_TAG not in _tags(c)]
    notebook.cells.insert(parameters_cell_index(notebook) + 1, injected)
    return notebook
