"""The notebook template format and its directives, on small literal inputs."""

import textwrap

import nbformat
import pytest

from data_scripts.release.definitions import parse_module
from data_scripts.release.namespace import Namespace
from data_scripts.release.notebook import render_notebook
from data_scripts.release.release_errors import ReleaseError, SourceError
from data_scripts.release.template import TemplateCell, parse_template

TEMPLATE = "notebooks/example.template.md"

SHAPES = textwrap.dedent(
    '''\
    """Docstring: not part of the notebook."""
    import math
    from typing import Dict, List

    TensorDict = Dict[str, float]

    # The unit square's side.
    SIDE = 1.0
    HALF = SIDE / 2


    @staticmethod
    def area(side: float) -> float:
        return side * side


    class Square:
        pass
    '''
)
BOXES = textwrap.dedent(
    '''\
    from typing import Dict, Optional

    from shapes import SIDE, area

    TensorDict = Dict[str, float]


    def diagonal() -> float:
        return math.sqrt(2) * SIDE
    '''
)


def namespace(**modules):
    siblings = list(modules)
    return Namespace.merge({name: parse_module(text, f"{name}.py", siblings) for name, text in modules.items()})


def render(template: str, **modules):
    modules = modules or {"shapes": SHAPES, "boxes": BOXES}
    return render_notebook(parse_template(template, TEMPLATE), namespace(**modules), TEMPLATE)


def code(text: str, tags: str = "") -> str:
    options = f":tags: [{tags}]\n\n" if tags else ""
    return f"```{{code-cell}} ipython3\n{options}{text}\n```\n"


COMPLETE = code("# @imports shapes, boxes") + code(
    "# @definitions shapes: TensorDict, SIDE, HALF, area, Square\n# @definitions boxes: diagonal"
)


def test_cells_markdown_breaks_and_tags():
    text = "# Title\n\ntext\n+++\n\nmore\n" + code("x = 1", tags="parameters, slow") + "\nend\n"
    assert parse_template(text, TEMPLATE) == [
        TemplateCell("markdown", "# Title\n\ntext", 1),
        TemplateCell("markdown", "more", 6),
        TemplateCell("code", "x = 1", 10, ("parameters", "slow")),
        TemplateCell("markdown", "end", 13),
    ]


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("text\n```{code-cell} python\nx = 1\n```\n", 2, "unknown cell opening"),
        ("```{code-cell} ipython3\nx = 1\n", 1, "never closed"),
        ("```{code-cell} ipython3\n:name: x\n\nx = 1\n```\n", 2, "unsupported cell option"),
        ("```{code-cell} ipython3\n:tags: [a]\nx = 1\n```\n", 3, "blank line must follow"),
    ],
)
def test_template_errors_name_the_line(text, line, words):
    with pytest.raises(SourceError, match=rf"^{TEMPLATE}:{line}: .*{words}"):
        parse_template(text, TEMPLATE)


def test_directives_expand_to_exact_sources_and_merged_imports():
    notebook = render("Intro\n" + COMPLETE)
    nbformat.validate(notebook)
    imports, definitions = notebook.cells[1].source, notebook.cells[2].source
    assert imports == "import math\nfrom typing import Dict, List, Optional"
    assert definitions == (
        "TensorDict = Dict[str, float]\n\n"
        "# The unit square's side.\nSIDE = 1.0\nHALF = SIDE / 2\n\n\n"
        "@staticmethod\ndef area(side: float) -> float:\n    return side * side\n\n\n"
        "class Square:\n    pass\n"
        "def diagonal() -> float:\n    return math.sqrt(2) * SIDE"
    )
    assert all(cell.get("outputs", []) == [] for cell in notebook.cells)


@pytest.mark.parametrize(
    "template, words",
    [
        (COMPLETE + code("# @definition shapes: SIDE"), "unknown directive"),
        (COMPLETE + code("# @definitions circles: SIDE"), "unknown module 'circles'"),
        (COMPLETE + code("# @definitions shapes: Circle"), "shapes defines no top-level 'Circle'"),
        (COMPLETE + code("# @definitions shapes: SIDE"), "'SIDE' is already emitted by the directive at line"),
        (COMPLETE + code("# @imports shapes"), "imports of 'shapes' are already emitted"),
        (COMPLETE + code("x = (\n"), "code cell is not valid Python"),
        (COMPLETE + code("!pip install wget"), "code cell is not valid Python"),
    ],
)
def test_directive_errors_name_the_template_line(template, words):
    with pytest.raises(SourceError, match=rf"^{TEMPLATE}:\d+: .*{words}"):
        render(template)


def test_every_definition_must_be_emitted():
    template = code("# @imports shapes, boxes") + code("# @definitions shapes: TensorDict, SIDE, area, Square")
    with pytest.raises(SourceError, match=r"not in any '# @definitions': HALF \(shapes\.py:9\), diagonal \(boxes\.py:8\)"):
        render(template)


def test_every_module_must_be_imported():
    template = code("# @imports shapes") + COMPLETE.split("```\n", 1)[1]
    with pytest.raises(SourceError, match="no '# @imports' for boxes"):
        render(template)


def test_clashing_definitions_are_an_error():
    with pytest.raises(SourceError, match=r"^boxes\.py:5: 'TensorDict' is also defined, differently, at shapes\.py:5"):
        namespace(shapes=SHAPES, boxes=BOXES.replace("Dict[str, float]", "Dict[str, int]"))


def test_clashing_imports_are_an_error():
    with pytest.raises(ReleaseError, match="'Dict' is imported from two places"):
        namespace(shapes=SHAPES, boxes=BOXES.replace("from typing import Dict", "from collections import Dict"))


def test_unsupported_module_statements_are_an_error():
    with pytest.raises(SourceError, match=r"^shapes\.py:2: unsupported top-level statement \(If\)"):
        parse_module('"""Doc."""\nif True:\n    x = 1\n', "shapes.py")
