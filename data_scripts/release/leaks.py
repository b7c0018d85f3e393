"""Leak check: no line of any solution region may reach the student release.

A solution line is a line inside a solution region of a reference file,
compared with surrounding whitespace stripped. Lines that tell nothing about
the solution are not checked:

* trivial lines: blank, only brackets and punctuation (`)`, `],`, `}):`),
  possibly followed by a comment (`)  # [N,4]`), a bare keyword statement (`pass`, `else:`, `return`, ...), or a lone keyword
  argument with a literal value (`dim=1,`), which helper code repeats anyway;
* lines that also appear outside every region of the reference files: they
  are provided code and ship in the stubs by design.

Every text line of every archive member is checked (for a notebook: every
line of every cell; for JSON data: also every line of every string), and
each hit names the member, its line and the solution line's origin.
"""

import json
import re
from dataclasses import dataclass
from typing import Dict, Iterator, List, Tuple

from .markers import find_regions
from .release_errors import ReleaseError

_PUNCTUATION_ONLY = re.compile(r"^(?:[()\[\]{},:;]+\s*(?:#.*)?)?$")
_KEYWORD_STATEMENTS = frozenset({"pass", "continue", "break", "else:", "try:", "finally:", "return"})
_LITERAL_KEYWORD_ARGUMENT = re.compile(r"^\w+=(-?[\d.]+|True|False|None|\"\w*\"|'\w*'),?$")


@dataclass(frozen=True)
class Leak:
    member: str
    where: str  # "<line>", or "cell <n>, line <m>" in a notebook (both 1-based)
    text: str
    origin: str  # "reference/<file>:<line>"

    def __str__(self) -> str:
        return f"{self.member}:{self.where}: solution line from {self.origin}: {self.text!r}"


class LeakError(ReleaseError):
    """The release contains solution lines."""

    def __init__(self, leaks: List[Leak]):
        self.leaks = leaks
        listed = "\n".join(f"  {leak}" for leak in leaks)
        super().__init__(f"{len(leaks)} solution line(s) in the student release:\n{listed}")


def is_trivial(stripped: str) -> bool:
    """Whether a stripped line tells nothing about a solution."""
    return (
        _PUNCTUATION_ONLY.match(stripped) is not None
        or stripped in _KEYWORD_STATEMENTS
        or _LITERAL_KEYWORD_ARGUMENT.match(stripped) is not None
    )


def solution_lines(references: Dict[str, str]) -> Dict[str, str]:
    """Checked solution lines (stripped) -> origin, from `references`
    (reference path -> text)."""
    inside: Dict[str, str] = {}
    outside = set()
    for path, text in references.items():
        lines = text.splitlines()
        in_region = set()
        for region in find_regions(text, path):
            in_region.update(range(region.begin, region.end + 1))
            for offset, line in enumerate(region.body(lines)):
                inside.setdefault(line.strip(), f"{path}:{region.begin + 1 + offset}")
        outside.update(line.strip() for number, line in enumerate(lines, 1) if number not in in_region)
    return {line: origin for line, origin in inside.items() if line and not is_trivial(line) and line not in outside}


def _member_lines(name: str, content: bytes) -> Iterator[Tuple[str, str]]:
    """(where, line) for every line of a member; a notebook's lines are those
    of its cells."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ReleaseError(f"{name}: not UTF-8 text, so it cannot be checked for solution lines") from error
    if name.endswith(".json"):
        yield from _json_string_lines(name, text)
    if not name.endswith(".ipynb"):
        for number, line in enumerate(text.splitlines(), start=1):
            yield str(number), line
        return
    for cell_number, cell in enumerate(json.loads(text)["cells"], start=1):
        source = "".join(cell["source"])
        for number, line in enumerate(source.splitlines(), start=1):
            yield f"cell {cell_number}, line {number}", line


def _json_string_lines(name: str, text: str) -> Iterator[Tuple[str, str]]:
    """Every line of every string in a JSON member (data such as the public checks'),
    where escapes would hide it from a line-by-line reading."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ReleaseError(f"{name}: not valid JSON, so it cannot be checked for solution lines") from error
    strings, stack = [], [document]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    for index, string in enumerate(strings, start=1):
        for number, line in enumerate(string.splitlines(), start=1):
            yield f"string {index}, line {number}", line


def find_leaks(members: Dict[str, bytes], checked: Dict[str, str]) -> List[Leak]:
    """Every line of `members` (name -> content) that is a checked solution line."""
    leaks = []
    for name in sorted(members):
        for where, line in _member_lines(name, members[name]):
            stripped = line.strip()
            if stripped in checked:
                leaks.append(Leak(name, where, stripped, checked[stripped]))
    return leaks


def assert_no_leaks(members: Dict[str, bytes], references: Dict[str, str]) -> None:
    """Raise `LeakError` listing every solution line found in `members`."""
    leaks = find_leaks(members, solution_lines(references))
    if leaks:
        raise LeakError(leaks)
