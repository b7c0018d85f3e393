"""Export a notebook's graded definitions into ``common.py`` + ``two_stage_detector.py``.

Nothing in the notebook is executed here, and nothing but definitions runs
later: the notebook's training loops, plots and downloads never happen
during unit grading.  Exactly this is exported:

1. Code cells, in order.  IPython syntax is translated by IPython's own
   transformer (``%magic``, ``!shell``, ``x?`` become ``get_ipython()``
   calls, i.e. top-level expressions, which are dropped).  A cell starting
   with ``%%time`` or ``%%capture`` is read without that line; a cell starting
   with any other cell magic (``%%bash``, ``%%writefile``...) is skipped.  A
   cell that does not parse is skipped with a note.
2. Top-level statements of these kinds only: ``import``/``from ... import``;
   ``def``/``async def``/``class``; assignments to plain names (``X = ...``,
   ``X: T = ...``, ``A, B = ...``) whose value is a constant expression
   (literals, names, attributes, operators, containers, subscripts, and
   calls to ``CONSTANT_CALLS`` only).  Everything else is dropped.
3. The last binding of a name wins: a later cell overrides an earlier one.
4. Only what the graded definitions and provided helpers (``submission_layout``) need:
   starting from those names, every top-level name their code mentions is
   added, transitively.  A needed name whose only binding is not exportable
   (``device = torch.device(...)`` is fine, ``model = FasterRCNN(...)`` is
   not) is left out with a note.
5. ``common.py`` receives the names ``submission_layout`` places there and their
   dependencies; ``two_stage_detector.py`` receives the rest and imports
   every name of ``common.py`` explicitly.
6. Every notebook import is hoisted to the top of both files, inside
   ``try: ... except ImportError: pass`` (a module missing in the grader only
   breaks the definitions that use it).  Imports of ``common`` and
   ``two_stage_detector`` are dropped; ``from __future__`` imports come first.
7. Definitions keep notebook order, except that whatever one needs at
   definition time (base classes, decorators, default values, class bodies,
   assigned values) is moved before it.  Each carries a
   ``# notebook code cell N, line M`` comment so tracebacks point back to
   the notebook.
"""

from __future__ import annotations

import ast
import symtable
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import SubmissionFormatError
from autograder.submission_layout import COMMON_MODULE, DETECTOR_MODULE, GRADED_DEFINITIONS, PROVIDED_HELPERS, SUBMISSION_MODULES
from autograder.sandbox.student_traceback import NOTEBOOK_MARKER
from autograder.untrusted_text import one_line

PYTHON_BODY_CELL_MAGICS = ("%%time", "%%capture")
CONSTANT_CALLS = frozenset({
    "torch.device", "torch.tensor", "torch.cuda.is_available", "dict", "list", "tuple", "set",
    "frozenset", "int", "float", "str", "bool", "range",
    # Pure arithmetic, e.g. `DELTA_SCALE_CLAMP = math.log(224 / 8)` in the starter code.
    "math.log", "math.log2", "math.log10", "math.exp", "math.sqrt", "math.ceil", "math.floor",
    "abs", "min", "max", "round",
})
_CONSTANT_NODES = (
    ast.Constant, ast.Name, ast.Attribute, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.UnaryOp, ast.BinOp,
    ast.BoolOp, ast.Compare, ast.IfExp, ast.Subscript, ast.Slice, ast.Starred, ast.keyword, ast.JoinedStr,
    ast.FormattedValue, ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True)
class Binding:
    """One exportable top-level statement of the notebook."""

    names: tuple[str, ...]
    node: ast.stmt
    source: str
    cell: int  # 1-based among code cells
    line: int  # 1-based line in the cell where ``source`` starts
    position: tuple[int, int]  # (cell, statement index): notebook order


@dataclass(frozen=True)
class ExportedNotebook:
    files: dict[str, str]  # file name → generated source
    exported: dict[str, tuple[str, ...]]  # module → exported names
    notes: tuple[str, ...]


def export_notebook(notebook_path: Path) -> ExportedNotebook:
    """Parse the notebook (no code runs) and generate the two submission files."""
    cells = _code_cells(notebook_path)
    notes: list[str] = []
    imports: list[ast.stmt] = []
    bindings: dict[str, Binding] = {}
    skipped: dict[str, str] = {}
    for cell_number, source in cells:
        parsed = _parse_cell(cell_number, source, notes)
        if parsed is None:
            continue
        tree, python = parsed
        for index, node in enumerate(tree.body):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imports.append(node)
                continue
            names = _bound_names(node)
            if not names:
                continue
            if isinstance(node, _DEFINITIONS) or _is_constant(node.value):
                binding = Binding(names, node, _statement_source(node, python), cell_number,
                                  _first_line(node), (cell_number, index))
                for name in names:
                    bindings[name] = binding
                    skipped.pop(name, None)
            else:
                for name in names:
                    skipped[name] = f"code cell {cell_number}, line {node.lineno}"
    common_names = _closure(GRADED_DEFINITIONS[COMMON_MODULE] + PROVIDED_HELPERS[COMMON_MODULE], bindings)
    detector_names = _closure(GRADED_DEFINITIONS[DETECTOR_MODULE] + PROVIDED_HELPERS[DETECTOR_MODULE], bindings)
    detector_names -= common_names
    exported = common_names | detector_names
    for name in sorted((_global_references(exported, bindings) | exported) & set(skipped)):
        if name in bindings:
            notes.append(f"`{name}` is reassigned in {skipped[name]} by a statement the grader does not export; "
                         "the earlier definition was used.")
        else:
            notes.append(f"`{name}` ({skipped[name]}) is used by exported code but was not exported: "
                         "only constant values are (see the grader's notebook rules).")
    import_block = _import_block(imports)
    common_source = _module_source(notebook_path.name, import_block, _ordered(common_names, bindings), "")
    detector_imports = ""
    if common_names:
        detector_imports = f"from {COMMON_MODULE} import {', '.join(sorted(common_names))}\n"
    detector_source = _module_source(notebook_path.name, import_block, _ordered(detector_names, bindings),
                                     detector_imports)
    return ExportedNotebook(
        files={f"{COMMON_MODULE}.py": common_source, f"{DETECTOR_MODULE}.py": detector_source},
        exported={COMMON_MODULE: tuple(sorted(common_names)), DETECTOR_MODULE: tuple(sorted(detector_names))},
        notes=tuple(notes),
    )


# ---------------------------------------------------------------- reading
def _code_cells(notebook_path: Path) -> list[tuple[int, str]]:
    import nbformat

    try:
        notebook = nbformat.read(str(notebook_path), as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat raises many kinds
        raise SubmissionFormatError(f"{one_line(notebook_path.name)} is not a valid Jupyter notebook ({one_line(error, 300)}).") from None
    code = [cell for cell in notebook.cells if cell.get("cell_type") == "code"]
    return [(number, str(cell.get("source", ""))) for number, cell in enumerate(code, start=1)]


def _parse_cell(cell_number: int, source: str, notes: list[str]) -> tuple[ast.Module, str] | None:
    """The cell's syntax tree and the plain-Python text it was parsed from (same line numbers)."""
    from IPython.core.inputtransformer2 import TransformerManager

    first_line = source.lstrip().split("\n", 1)[0].strip()
    if first_line.startswith("%%"):
        if first_line.split()[0] not in PYTHON_BODY_CELL_MAGICS:
            return None
        source = source.replace(first_line, "", 1)  # keep line numbers: the line stays, empty
    try:
        python = TransformerManager().transform_cell(source)
        return ast.parse(python), python
    except Exception as error:  # noqa: BLE001 - SyntaxError, ValueError (NUL bytes), transformer errors
        line = getattr(error, "lineno", None)
        where = f", line {line}" if line else ""
        notes.append(f"code cell {cell_number}{where} has a syntax error ({getattr(error, 'msg', error)}); "
                     "the whole cell was ignored.")
        return None


def _bound_names(node: ast.stmt) -> tuple[str, ...]:
    if isinstance(node, _DEFINITIONS):
        return (node.name,)
    if isinstance(node, ast.AnnAssign) and node.value is not None and isinstance(node.target, ast.Name):
        return (node.target.id,)
    if isinstance(node, ast.Assign):
        names = []
        for target in node.targets:
            elements = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
            if not all(isinstance(element, ast.Name) for element in elements):
                return ()
            names += [element.id for element in elements]
        return tuple(names)
    return ()


def _is_constant(value: ast.expr) -> bool:
    for node in ast.walk(value):
        if isinstance(node, ast.Call):
            if _dotted_name(node.func) not in CONSTANT_CALLS:
                return False
        elif not isinstance(node, _CONSTANT_NODES):
            return False
    return True


def _dotted_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted_name(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno] + [decorator.lineno for decorator in decorators])


def _statement_source(node: ast.stmt, cell_source: str) -> str:
    lines = cell_source.splitlines()
    if isinstance(node, _DEFINITIONS):
        return "\n".join(lines[_first_line(node) - 1 : node.end_lineno])
    return ast.get_source_segment(cell_source, node) or ast.unparse(node)


# ------------------------------------------------------------- dependencies
def _names_in(node: ast.AST) -> set[str]:
    """Every identifier in ``node`` (over-approximates what it needs)."""
    return {child.id for child in ast.walk(node) if isinstance(child, ast.Name)}


def _global_names(binding: Binding) -> set[str]:
    """Module-level names ``binding`` refers to: local variables excluded (``symtable``)."""
    def visit(table: symtable.SymbolTable) -> set[str]:
        at_module = table.get_type() == "module"
        names = {
            symbol.get_name() for symbol in table.get_symbols()
            if (symbol.is_referenced() if at_module else symbol.is_global())
        }
        return names.union(*(visit(child) for child in table.get_children()))

    try:
        return visit(symtable.symtable(binding.source, "<notebook>", "exec"))
    except (SyntaxError, RecursionError, ValueError):  # a slice that does not stand alone: every identifier
        return _names_in(binding.node)


def _closure(roots: tuple[str, ...], bindings: dict[str, Binding]) -> set[str]:
    """Names among ``roots`` that are bound, plus every bound name they mention, transitively."""
    found: set[str] = set()
    pending = [name for name in roots if name in bindings]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        binding = bindings[name]
        found.update(binding.names)
        pending += [mentioned for mentioned in _global_names(binding) if mentioned in bindings]
    return found


def _global_references(names: set[str], bindings: dict[str, Binding]) -> set[str]:
    """Names the bindings of ``names`` refer to (each binding parsed once, however many names it binds)."""
    unique = {bindings[name].position: bindings[name] for name in names}.values()
    return {mentioned for binding in unique for mentioned in _global_names(binding)}


def _definition_time_names(node: ast.stmt) -> set[str]:
    """Names evaluated when the statement runs (not when a function is later called)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        parts = [*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
        parts += [a.annotation for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs) if a.annotation]
        parts += [node.returns] if node.returns else []
        return set().union(*(_names_in(part) for part in parts)) if parts else set()
    if isinstance(node, ast.ClassDef):
        names = set().union(set(), *(_names_in(part) for part in (*node.bases, *node.keywords, *node.decorator_list)))
        for statement in node.body:
            names |= _definition_time_names(statement) if isinstance(statement, _DEFINITIONS) else _names_in(statement)
        return names
    return _names_in(node)


def _ordered(names: set[str], bindings: dict[str, Binding]) -> list[Binding]:
    """Bindings in notebook order, moving definition-time dependencies first."""
    unique = sorted({bindings[name].position: bindings[name] for name in names}.values(), key=lambda b: b.position)
    provider = {name: binding for binding in unique for name in binding.names}
    needs = {
        binding.position: {provider[n].position for n in _definition_time_names(binding.node) if n in provider}
        - {binding.position}
        for binding in unique
    }
    ordered, placed = [], set()
    while len(ordered) < len(unique):
        ready = [b for b in unique if b.position not in placed and needs[b.position] <= placed]
        if not ready:  # a cycle: keep notebook order for the rest
            ready = [b for b in unique if b.position not in placed]
        ordered.append(ready[0])
        placed.add(ready[0].position)
    return ordered


# --------------------------------------------------------------- generation
def _import_block(imports: list[ast.stmt]) -> tuple[str, str]:
    """``(future imports, guarded imports)`` as source text."""
    future, guarded, seen = [], [], set()
    for node in imports:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            future.append(ast.unparse(node))
            continue
        modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        if isinstance(node, ast.ImportFrom) and node.level:
            continue
        if any(module.split(".")[0] in SUBMISSION_MODULES for module in modules):
            continue
        text = ast.unparse(node)
        if text not in seen:
            seen.add(text)
            guarded.append(f"try:\n    {text}\nexcept ImportError:\n    pass")
    return "\n".join(dict.fromkeys(future)) + ("\n" if future else ""), "\n".join(guarded) + "\n"


def _module_source(notebook_name: str, import_block: tuple[str, str], bindings: list[Binding], extra: str) -> str:
    future, guarded = import_block
    parts = [
        f'"""Generated by the autograder from {notebook_name}: its graded definitions only."""\n',
        future,
        guarded,
        extra,
    ]
    for binding in bindings:
        marker = NOTEBOOK_MARKER.format(cell=binding.cell, line=binding.line)
        parts.append(f"\n{marker}\n{binding.source}\n")
    return "".join(parts)
