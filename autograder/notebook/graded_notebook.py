"""The notebook the notebook stage runs, and its code cells with the grading parameters.

* A notebook submission: the uploaded notebook itself.
* A ``.py`` submission: the release notebook (``notebooks/two_stage_detector.ipynb``)
  with the submission's definitions substituted — the reverse of
  ``notebook_export``: every top-level ``def``/``class`` of a graded
  definition or provided helper (``submission_layout.KNOWN_NAMES``) is replaced by an
  import of that name from the submission's module, so the notebook's
  checks and training cells run the student's code.

The grading parameters go in with papermill's convention
(``autograder.notebook.parameters``): a cell after the one tagged
``parameters``. A notebook whose parameters cell is missing or lacks one of
the grading parameters cannot be graded this way; the message says which.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.errors import SubmissionFormatError
from autograder.submission_layout import HOME_MODULE, KNOWN_NAMES
from autograder.notebook.parameters import INJECTED_TAG, ParameterError, inject_parameters
from autograder.intake.submission import NormalizedSubmission

RELEASE_NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "two_stage_detector.ipynb"
SUBSTITUTION_COMMENT = "# the submission's {name} (substituted by the grader)"
INJECTED_CELL_LABEL = "the grader's parameters cell"
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True)
class GradedCell:
    """A code cell to run: its source and how messages name it."""

    source: str
    label: str  # "code cell 12", numbered among the notebook's own code cells

    @property
    def first_line(self) -> str:
        lines = [line.strip() for line in self.source.splitlines() if line.strip()]
        return lines[0] if lines else "(empty)"


def graded_notebook(submission: NormalizedSubmission) -> tuple[NotebookNode, str]:
    """The notebook to run and a sentence saying which one it is."""
    if submission.notebook is not None:
        return read_notebook(submission.notebook), f"the submitted notebook {submission.notebook.name}"
    notebook = substitute_definitions(read_notebook(RELEASE_NOTEBOOK))
    return notebook, f"the release notebook {RELEASE_NOTEBOOK.name} with your definitions substituted"


def read_notebook(path: Path) -> NotebookNode:
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat raises many kinds
        raise SubmissionFormatError(f"{path.name} is not a valid Jupyter notebook ({error}).") from None


def substitute_definitions(notebook: NotebookNode) -> NotebookNode:
    """A copy of ``notebook`` importing every known definition from the submission's modules."""
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = _substituted(cell.source)
    return notebook


def substituted_names(notebook: NotebookNode) -> set[str]:
    """Names that ``substitute_definitions`` would import from the submission."""
    names = set()
    for cell in notebook.cells:
        if cell.cell_type == "code":
            names |= {name for name, _, _ in _known_definitions(cell.source)}
    return names


def _known_definitions(source: str) -> list[tuple[str, int, int]]:
    """(name, first line, last line) of each top-level definition of a known name."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in tree.body:
        if isinstance(node, _DEFINITIONS) and node.name in KNOWN_NAMES:
            first = min([node.lineno] + [decorator.lineno for decorator in node.decorator_list])
            found.append((node.name, first, node.end_lineno))
    return found


def _substituted(source: str) -> str:
    lines = source.split("\n")
    for name, first, last in reversed(_known_definitions(source)):
        statement = f"from {HOME_MODULE[name]} import {name}  {SUBSTITUTION_COMMENT.format(name=name)}"
        lines[first - 1 : last] = [statement]
    return "\n".join(lines)


def graded_cells(notebook: NotebookNode, parameters: dict) -> list[GradedCell]:
    """The code cells, in order, with ``parameters`` injected after the parameters cell."""
    try:
        injected = inject_parameters(notebook, parameters)
    except ParameterError as error:
        raise SubmissionFormatError(
            f"The grader cannot set its parameters in your notebook: {error}. Keep the first code cell of the "
            "release notebook (tagged `parameters`, every setting as `NAME = value`) as it is."
        ) from None
    cells, number = [], 0
    for cell in injected.cells:
        if cell.cell_type != "code":
            continue
        if INJECTED_TAG in cell.get("metadata", {}).get("tags", []):
            cells.append(GradedCell(cell.source, INJECTED_CELL_LABEL))
            continue
        number += 1
        cells.append(GradedCell(cell.source, f"code cell {number}"))
    return cells
