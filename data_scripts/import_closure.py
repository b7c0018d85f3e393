"""Which repository files a set of Python files imports, directly or not.

Used to bundle the grader: start from its package and collect every module
of *this repository* it imports (``from data_scripts.golden_fixtures import
...``), transitively, wherever the import statement sits (module level or
inside a function).  Third-party and standard-library imports are ignored:
a top-level name counts as local when ``ROOT/<name>.py`` or
``ROOT/<name>/`` exists.  Files read by path (not imported) are invisible
here; the bundle lists them explicitly.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterable

INIT_FILE = "__init__.py"


class ImportScanError(ValueError):
    """A file that cannot be parsed, so its imports are unknown."""


def local_import_closure(root: Path, start_files: Iterable[Path]) -> set[Path]:
    """Paths (relative to ``root``) of the local modules imported from ``start_files``, transitively.

    Packages bring their ``__init__.py`` files along.  ``start_files`` are
    absolute or relative to ``root``; they are not in the result unless imported.
    """
    root = Path(root).resolve()
    pending = [root / path for path in start_files]
    scanned: set[Path] = set()
    found: set[Path] = set()
    while pending:
        path = pending.pop().resolve()
        if path in scanned:
            continue
        scanned.add(path)
        for module in imported_modules(path, root):
            for module_file in module_files(root, module):
                found.add(module_file)
                pending.append(root / module_file)
    return found


def imported_modules(path: Path, root: Path) -> set[str]:
    """Dotted names ``path`` may import: every ``import a.b``, ``from a import b`` (as ``a`` and ``a.b``),
    relative imports resolved against the file's package under ``root``."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError) as error:
        raise ImportScanError(f"{path}: cannot scan its imports: {error}") from None
    package = list(path.resolve().relative_to(root).parent.parts)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute_base(node, package, path)
            if base:
                names.add(base)
            names.update(f"{base}.{alias.name}" if base else alias.name for alias in node.names if alias.name != "*")
    return names


def module_files(root: Path, module: str) -> list[Path]:
    """The files (relative to ``root``) that importing ``module`` from ``root`` executes; [] if not local.

    ``a.b.c`` gives ``a/__init__.py``, ``a/b/__init__.py`` and ``a/b/c.py`` (or
    ``a/b/c/__init__.py``), as far as they exist; a part that is neither a
    package nor a module is an attribute (``from a.b import name``) and ends it.
    """
    parts = module.split(".")
    if not (root / parts[0]).is_dir() and not (root / f"{parts[0]}.py").is_file():
        return []
    files = []
    for depth in range(1, len(parts) + 1):
        folder = root.joinpath(*parts[:depth])
        if (folder / INIT_FILE).is_file():
            files.append((folder / INIT_FILE).relative_to(root))
        elif folder.with_suffix(".py").is_file():
            files.append(folder.with_suffix(".py").relative_to(root))
            break
        elif not folder.is_dir():
            break
    return files


def _absolute_base(node: ast.ImportFrom, package: list[str], path: Path) -> str:
    if node.level == 0:
        return node.module or ""
    if node.level - 1 > len(package):
        raise ImportScanError(f"{path}:{node.lineno}: relative import beyond the top-level package")
    anchor = package[: len(package) - (node.level - 1)]
    return ".".join(anchor + ([node.module] if node.module else []))
