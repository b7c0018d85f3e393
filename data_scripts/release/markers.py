"""Solution markers: find the solution regions of a reference file, strictly.

A solution region is the block of lines between a line `# BEGIN SOLUTION` and
a line `# END SOLUTION`, each with nothing but indentation before it and
nothing after it. Both markers of a region have the same indentation. Regions
do not nest, are not empty and always close. Any other line that mentions
BEGIN/END SOLUTION (another case, a typo'd `#BEGIN SOLUTION`, code or text
around the marker) is an error too, so a marker can never be silently ignored.
"""

import re
from dataclasses import dataclass
from typing import List, Optional

from .release_errors import SourceError

BEGIN_MARKER = "# BEGIN SOLUTION"
END_MARKER = "# END SOLUTION"

# Anything that looks like a marker, to reject malformed ones.
_MARKER_LIKE = re.compile(r"\b(BEGIN|END)\s*SOLUTION\b", re.IGNORECASE)


@dataclass(frozen=True)
class Region:
    """One solution region; line numbers are 1-based, markers included."""

    path: str
    begin: int
    end: int
    indent: str

    def body(self, lines: List[str]) -> List[str]:
        """The region's solution lines (markers excluded) from the file's `lines`."""
        return lines[self.begin : self.end - 1]


def _split_marker(line: str) -> Optional[tuple]:
    """`(indent, marker)` if `line` is exactly an indented marker, else None."""
    text = line.rstrip("\r\n")
    stripped = text.lstrip(" \t")
    if stripped in (BEGIN_MARKER, END_MARKER):
        return text[: len(text) - len(stripped)], stripped
    return None


def find_regions(source: str, path: str) -> List[Region]:
    """All solution regions of `source` (the text of `path`), in file order.

    Raises:
        SourceError: at the offending line, for a malformed, nested, stray or
            unterminated marker, an END indented unlike its BEGIN, or an empty
            region.
    """
    lines = source.splitlines()
    regions = []
    open_line, open_indent = None, None
    for number, line in enumerate(lines, start=1):
        marker = _split_marker(line)
        if marker is None:
            if _MARKER_LIKE.search(line):
                raise SourceError(
                    path,
                    number,
                    f"malformed solution marker {line.strip()!r}: a marker line is exactly "
                    f"{BEGIN_MARKER!r} or {END_MARKER!r} after the indentation",
                )
            continue
        indent, kind = marker
        if kind == BEGIN_MARKER:
            if open_line is not None:
                raise SourceError(
                    path,
                    number,
                    f"nested {BEGIN_MARKER!r}: the region opened at line {open_line} is not closed",
                )
            open_line, open_indent = number, indent
            continue
        if open_line is None:
            raise SourceError(path, number, f"stray {END_MARKER!r}: no region is open")
        if indent != open_indent:
            raise SourceError(
                path,
                number,
                f"{END_MARKER!r} is indented unlike its {BEGIN_MARKER!r} at line {open_line}",
            )
        region = Region(path, open_line, number, open_indent)
        if not any(line.strip() for line in region.body(lines)):
            raise SourceError(path, open_line, "empty solution region")
        regions.append(region)
        open_line, open_indent = None, None
    if open_line is not None:
        raise SourceError(
            path, open_line, f"unterminated {BEGIN_MARKER!r}: no {END_MARKER!r} before the end of the file"
        )
    return regions
