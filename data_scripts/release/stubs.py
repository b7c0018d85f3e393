"""Student stubs: the reference with every solution region replaced by a TODO.

A stub is byte-identical to its reference except for

* one added first line, `header_line(...)`, saying where the file comes from;
* each solution region (markers included), which becomes the banner below at
  the region's indentation, around a `raise NotImplementedError(...)` that
  names the function (its qualname) and, when a function has several regions,
  which one, and where students write it (they work in the notebook):
  `"RPN.forward: TODO 2 of 3 not implemented yet: write it in the notebook cell
  that defines RPN (or in two_stage_detector.py)"`.
"""

import ast
import json
from collections import Counter
from typing import List

from .markers import Region, find_regions
from .release_errors import SourceError

BANNER_RULE = "#" * 70
BANNER_START = "#                            START YOUR CODE                         #"
BANNER_END = "#                            END OF YOUR CODE                        #"


def header_line(reference: str, command: str) -> str:
    """The stub's first line (with its newline)."""
    return f"# Generated from {reference} by `{command}` (staff: edit the reference, not this file).\n"


def todo_message(qualname: str, filename: str, index: int, count: int) -> str:
    """Message of the NotImplementedError that replaces region `index` (1-based) of `count`."""
    which = "TODO" if count == 1 else f"TODO {index} of {count}"
    defined_by = qualname.split(".")[0]
    return (f"{qualname}: {which} not implemented yet: write it in the notebook cell that defines "
            f"{defined_by} (or in {filename})")


def banner(indent: str, message: str) -> List[str]:
    """The lines (with newlines) that replace one solution region."""
    lines = [
        BANNER_RULE,
        BANNER_START,
        BANNER_RULE,
        f"raise NotImplementedError({json.dumps(message)})",  # a valid Python string literal
        BANNER_RULE,
        BANNER_END,
        BANNER_RULE,
    ]
    return [f"{indent}{line}\n" for line in lines]


def _qualname_at(tree: ast.Module, line: int) -> List[str]:
    """Names of the classes and functions enclosing `line`, outermost first."""
    names = []
    body = tree.body
    while True:
        for node in body:
            scoped = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            if scoped and node.lineno <= line <= node.end_lineno:
                names.append(node.name)
                body = node.body
                break
        else:
            return names


def region_qualnames(source: str, path: str, regions: List[Region]) -> List[str]:
    """The qualname of the function that holds each region.

    Raises:
        SourceError: for a region outside any function (importing the stub
            would raise) or a reference that is not valid Python.
    """
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as error:
        raise SourceError(path, error.lineno, f"not valid Python: {error.msg}") from error
    qualnames = []
    for region in regions:
        names = _qualname_at(tree, region.begin)
        if not names:
            raise SourceError(path, region.begin, "solution region outside any function or class")
        qualnames.append(".".join(names))
    return qualnames


def make_stub(source: str, path: str, filename: str, header: str) -> str:
    """The student stub of reference `source` (read from `path`).

    Args:
        filename: The module's file name, quoted in the TODO messages.
        header: The stub's first line (see `header_line`).

    Raises:
        SourceError: for bad markers (see `markers.find_regions`), a region
            outside any function, or a stub that is not valid Python.
    """
    regions = find_regions(source, path)
    qualnames = region_qualnames(source, path, regions)
    counts = Counter(qualnames)
    seen = Counter()

    lines = source.splitlines(keepends=True)
    stub = [header]
    next_line = 1  # 1-based number of the first reference line not yet copied
    for region, qualname in zip(regions, qualnames):
        seen[qualname] += 1
        stub += lines[next_line - 1 : region.begin - 1]
        message = todo_message(qualname, filename, seen[qualname], counts[qualname])
        stub += banner(region.indent, message)
        next_line = region.end + 1
    stub += lines[next_line - 1 :]
    text = "".join(stub)

    try:
        ast.parse(text, filename=path)
    except SyntaxError as error:
        raise SourceError(
            path, None, f"the generated stub is not valid Python (stub line {error.lineno}: {error.msg})"
        ) from error
    return text
