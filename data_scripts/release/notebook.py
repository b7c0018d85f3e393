"""Build a notebook from the template and a namespace of definitions.

The same template gives the student notebook (definitions from the stubs)
and the solution notebook (definitions from the reference). The result is a
valid nbformat 4 notebook without outputs or execution counts, with stable
cell ids, serialised deterministically.
"""

from typing import List

import nbformat
from nbformat import NotebookNode

from .directives import DirectiveExpander
from .namespace import Namespace
from .release_errors import SourceError
from .template import TemplateCell

NBFORMAT_VERSION = 4
# Colab reads `accelerator` to start on a GPU runtime.
NOTEBOOK_METADATA = {
    "accelerator": "GPU",
    "colab": {"provenance": [], "toc_visible": True},
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}
CELL_ID_FORMAT = "cell-{:03d}"


def render_notebook(cells: List[TemplateCell], namespace: Namespace, template_path: str) -> NotebookNode:
    """The notebook of template `cells`, directives expanded from `namespace`.

    Raises:
        SourceError: for a bad directive, a definition listed twice or never,
            a code cell that is not valid Python after expansion, or an
            invalid notebook.
    """
    expander = DirectiveExpander(namespace, template_path)
    notebook = nbformat.v4.new_notebook(metadata=NOTEBOOK_METADATA)
    for index, cell in enumerate(cells):
        cell_id = CELL_ID_FORMAT.format(index)
        if cell.kind == "markdown":
            notebook.cells.append(nbformat.v4.new_markdown_cell(cell.source, id=cell_id))
            continue
        source = expander.expand_cell(cell.source, cell.line)
        _check_python(source, template_path, cell.line)
        metadata = {"tags": list(cell.tags)} if cell.tags else {}
        notebook.cells.append(nbformat.v4.new_code_cell(source, id=cell_id, metadata=metadata))
    expander.check_complete()
    try:
        nbformat.validate(notebook)
    except nbformat.ValidationError as error:
        raise SourceError(template_path, None, f"the generated notebook is invalid: {error.message}") from error
    return notebook


def _check_python(source: str, template_path: str, line: int) -> None:
    """Code cells are plain Python (no `!shell` or `%magic`), so they run
    anywhere and graders can parse them."""
    try:
        compile(source, f"{template_path} (cell at line {line})", "exec", dont_inherit=True)
    except SyntaxError as error:
        raise SourceError(template_path, line, f"code cell is not valid Python: {error.msg} (cell line {error.lineno})") from error


def notebook_text(notebook: NotebookNode) -> str:
    """The notebook as it is written to disk (ends with a newline)."""
    return nbformat.writes(notebook, version=NBFORMAT_VERSION) + "\n"
