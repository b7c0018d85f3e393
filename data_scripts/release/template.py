"""Read the notebook template: a small, strict subset of MyST Markdown notebooks.

    Markdown text is a markdown cell.

    +++

    A line `+++` starts a new markdown cell.

    ```{code-cell} ipython3
    :tags: [parameters]

    print("a code cell; the optional `:tags:` line is its tags")
    ```

Code cells open with exactly "```{code-cell} ipython3" and close with a line
"```". The only option is `:tags: [a, b]`, directly after the opening line and
followed by one blank line. Blank lines around markdown cells are dropped.
Code cells may hold directives (see `directives.py`). The syntax is MyST-NB's,
so Markdown viewers and MyST tools render the template sensibly.
"""

import re
from dataclasses import dataclass
from typing import List, Tuple

from .release_errors import SourceError

CODE_CELL_OPEN = "```{code-cell} ipython3"
CODE_CELL_CLOSE = "```"
MARKDOWN_BREAK = "+++"
_TAGS_OPTION = re.compile(r"^:tags: \[([A-Za-z0-9_\-, ]*)\]$")


@dataclass(frozen=True)
class TemplateCell:
    """A cell of the template; `line` is the 1-based line of its first source line."""

    kind: str  # "markdown" or "code"
    source: str
    line: int
    tags: Tuple[str, ...] = ()


def _markdown_cell(lines: List[str], first_line: int) -> List[TemplateCell]:
    """The markdown cell of `lines` (blank lines around it dropped), if any text."""
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    end = len(lines)
    while end > start and not lines[end - 1].strip():
        end -= 1
    if start == end:
        return []
    return [TemplateCell("markdown", "\n".join(lines[start:end]), first_line + start)]


def parse_template(text: str, path: str) -> List[TemplateCell]:
    """The cells of template `text` (read from `path`), in order.

    Raises:
        SourceError: at the offending line, for an unknown cell opening, a
            bad option, or a code cell that never closes.
    """
    lines = text.splitlines()
    cells: List[TemplateCell] = []
    markdown: List[str] = []
    markdown_line = 1
    number = 0
    while number < len(lines):
        line = lines[number]
        number += 1
        if line == MARKDOWN_BREAK:
            cells += _markdown_cell(markdown, markdown_line)
            markdown, markdown_line = [], number + 1
            continue
        if not line.startswith("```{"):
            markdown.append(line)
            continue
        if line != CODE_CELL_OPEN:
            raise SourceError(path, number, f"unknown cell opening {line!r}: use {CODE_CELL_OPEN!r}")
        cells += _markdown_cell(markdown, markdown_line)
        open_line = number
        tags: Tuple[str, ...] = ()
        if number < len(lines) and lines[number].startswith(":"):
            match = _TAGS_OPTION.match(lines[number])
            if match is None:
                raise SourceError(path, number + 1, f"unsupported cell option {lines[number]!r}: only `:tags: [a, b]`")
            tags = tuple(tag.strip() for tag in match.group(1).split(",") if tag.strip())
            number += 1
            if number >= len(lines) or lines[number].strip():
                raise SourceError(path, number + 1, "a blank line must follow the cell options")
            number += 1
        body_line = number + 1
        body: List[str] = []
        while number < len(lines) and lines[number] != CODE_CELL_CLOSE:
            body.append(lines[number])
            number += 1
        if number >= len(lines):
            raise SourceError(path, open_line, f"code cell never closed with {CODE_CELL_CLOSE!r}")
        number += 1
        cells.append(TemplateCell("code", "\n".join(body), body_line, tags))
        markdown, markdown_line = [], number + 1
    cells += _markdown_cell(markdown, markdown_line)
    return cells
