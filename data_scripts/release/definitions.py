"""Top-level statements of a module, as the notebook template refers to them.

A module (a reference file or its stub) is a docstring, imports and named
definitions: functions, classes and single-name assignments (constants,
aliases, module state). A definition's source is its exact text, with its
decorators and the comment lines directly above it (no blank line between).
Imports of sibling modules (`from common import ...`) are dropped: the
notebook defines everything in one namespace. Any other kind of top-level
statement is an error, so nothing of a module can go missing silently.
"""

import ast
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from .release_errors import SourceError


@dataclass(frozen=True)
class Definition:
    """One named top-level definition of a module."""

    name: str
    source: str  # exact text, comments above and decorators included; no final newline
    path: str
    line: int  # 1-based line of its first text line
    end_line: int
    index: int  # position among the module's top-level statements
    is_block: bool  # a function or class (rather than an assignment)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class ImportedName:
    """A name bound by an import: `from <module> import <name> as <alias>`, or
    `import <module> as <alias>` when `name` is None."""

    module: str
    name: Optional[str]
    alias: str


@dataclass(frozen=True)
class ModuleDefinitions:
    """What a module binds at top level."""

    path: str
    definitions: Dict[str, Definition]  # by name, in file order
    imports: Tuple[ImportedName, ...]  # sibling-module imports excluded


def _defined_name(node: ast.stmt) -> Optional[str]:
    """The single name a function, class or assignment statement binds."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
    elif isinstance(node, ast.AnnAssign):
        target = node.target
    else:
        return None
    return target.id if isinstance(target, ast.Name) else None


def _first_line(node: ast.stmt, lines: Sequence[str]) -> int:
    """First line of a statement with its decorators and the comments just above."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    while first > 1 and lines[first - 2].lstrip().startswith("#"):
        first -= 1
    return first


def _imported_names(node: ast.stmt) -> List[ImportedName]:
    if isinstance(node, ast.Import):
        return [ImportedName(a.name, None, a.asname or a.name.split(".")[0]) for a in node.names]
    return [ImportedName(node.module, a.name, a.asname or a.name) for a in node.names]


def parse_module(source: str, path: str, sibling_modules: Sequence[str] = ()) -> ModuleDefinitions:
    """The definitions and imports of `source` (the text of `path`).

    Args:
        sibling_modules: Import names of the other course modules; imports
            from them are dropped.

    Raises:
        SourceError: for invalid Python, a relative or star import, or a
            top-level statement that is neither a docstring, an import nor
            a named definition; or a name defined twice.
    """
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as error:
        raise SourceError(path, error.lineno, f"not valid Python: {error.msg}") from error
    lines = source.splitlines()
    definitions: Dict[str, Definition] = {}
    imports: List[ImportedName] = []
    for index, node in enumerate(tree.body):
        if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the module docstring
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.ImportFrom) and (node.level or any(a.name == "*" for a in node.names)):
                raise SourceError(path, node.lineno, "relative and star imports are not supported")
            if isinstance(node, ast.ImportFrom) and node.module in sibling_modules:
                continue
            imports += _imported_names(node)
            continue
        name = _defined_name(node)
        if name is None:
            raise SourceError(
                path,
                node.lineno,
                f"unsupported top-level statement ({type(node).__name__}): the notebook takes "
                "imports, functions, classes and single-name assignments only",
            )
        if name in definitions:
            raise SourceError(path, node.lineno, f"{name!r} is already defined at line {definitions[name].line}")
        first = _first_line(node, lines)
        definitions[name] = Definition(
            name=name,
            source="\n".join(lines[first - 1 : node.end_lineno]),
            path=path,
            line=first,
            end_line=node.end_lineno,
            index=index,
            is_block=not isinstance(node, (ast.Assign, ast.AnnAssign)),
        )
    return ModuleDefinitions(path, definitions, tuple(imports))
