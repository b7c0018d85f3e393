"""Generated passages of Markdown: the grading text, pasted where students and staff read it.

In the notebook template a passage is one line of its own, replaced when the
notebook is rendered:

    <!-- generated: grading -->

In a Markdown file (the READMEs) it sits between two marker lines that stay
in the file; the release rewrites what is between them, and ``--check``
flags a file whose copy is stale:

    <!-- BEGIN generated: points-table (python -m data_scripts.release) -->
    ...
    <!-- END generated: points-table -->
"""

import re
from typing import Callable, Dict

from .grading_text import grading_section, points_table
from .release_errors import SourceError
from .running_text import running_time_section
from .settings import ReleaseSettings

PASSAGES: Dict[str, Callable[[ReleaseSettings], str]] = {
    "points-table": lambda settings: points_table(),
    "grading": lambda settings: grading_section(),
    "running-time": lambda settings: running_time_section(),
    "colab-badge": lambda settings: f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({settings.colab_url})",
}

_PLACEHOLDER = re.compile(r"^<!-- generated: ([a-z\-]+) -->$")
_BEGIN = re.compile(r"^<!-- BEGIN generated: ([a-z\-]+) \(python -m data_scripts\.release\) -->$")
_END = re.compile(r"^<!-- END generated: ([a-z\-]+) -->$")
_ANY_MARKER = re.compile(r"<!--\s*(BEGIN |END )?generated\b", re.IGNORECASE)


def _passage(name: str, path: str, line: int, settings: ReleaseSettings) -> str:
    if name not in PASSAGES:
        raise SourceError(path, line, f"unknown generated passage {name!r}; known: {', '.join(PASSAGES)}")
    return PASSAGES[name](settings)


def expand_placeholders(text: str, path: str, first_line: int, settings: ReleaseSettings) -> str:
    """`text` (a template cell starting at `first_line` of `path`) with every placeholder line replaced."""
    lines = []
    for number, line in enumerate(text.split("\n"), start=first_line):
        match = _PLACEHOLDER.match(line)
        if match:
            lines.append(_passage(match.group(1), path, number, settings))
        elif _ANY_MARKER.search(line):
            raise SourceError(path, number, f"malformed generated-passage line {line!r}; write `<!-- generated: NAME -->`")
        else:
            lines.append(line)
    return "\n".join(lines)


def fill_blocks(text: str, path: str, settings: ReleaseSettings) -> str:
    """`text` (the Markdown file `path`) with every BEGIN/END block refilled."""
    out, open_block = [], None
    for number, line in enumerate(text.split("\n"), start=1):
        begin, end = _BEGIN.match(line), _END.match(line)
        if open_block is None:
            if end or (_ANY_MARKER.search(line) and not begin):
                raise SourceError(path, number, f"generated-block marker {line!r} without a matching BEGIN line")
            out.append(line)
            if begin:
                open_block = (begin.group(1), number)
                out.append(_passage(begin.group(1), path, number, settings))
        elif end:
            if end.group(1) != open_block[0]:
                raise SourceError(path, number, f"END of {end.group(1)!r} closes the block {open_block[0]!r}")
            out.append(line)
            open_block = None
        elif _ANY_MARKER.search(line):
            raise SourceError(path, number, f"block {open_block[0]!r} (line {open_block[1]}) is not closed before {line!r}")
    if open_block is not None:
        raise SourceError(path, open_block[1], f"generated block {open_block[0]!r} is never closed")
    return "\n".join(out)


def strip_block_markers(text: str) -> str:
    """`text` without its BEGIN/END marker lines (as shipped to students)."""
    return "\n".join(line for line in text.split("\n") if not (_BEGIN.match(line) or _END.match(line)))
