"""The grader's import structure: every module imports, the role packages form no cycle, and
nothing the grader runs imports build tooling.

The graph is read from the source (``ast``), every import statement wherever it
sits (module level or inside a function), so a late import cannot hide an edge.
Nodes of the package-level graph are the entries of ``autograder/``: a role
package (``autograder.sandbox``) or a top-level module (``autograder.errors``);
the graded tests (``test_*.py``, ``conftest.py``) sit on top and are left out
of the cycle check (``plugin.py``, the unit stage's engine, is in it).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
GRADER = "autograder"
RUNTIME_PACKAGES = (GRADER, "synthetic_voc")  # what the grader runs with (and the Gradescope bundle ships)
BUILD_TOOLING = ("data_scripts", "benchmarks", "tests", "reference", "student", "notebooks")
GRADED_SUITE = ("conftest",)  # with test_*: run by pytest, above every role package
MAX_TOP_LEVEL_MODULES = 10
MIN_ROLE_PACKAGES = 5


def _python_files(package: str) -> list[Path]:
    return sorted(path for path in (REPOSITORY / package).rglob("*.py") if "__pycache__" not in path.parts)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPOSITORY).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Dotted names ``path`` imports anywhere in its body (relative imports resolved)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else [])) \
                if node.level else node.module
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _is_graded_suite(module: str) -> bool:
    parts = module.split(".")
    return len(parts) == 2 and (parts[1].startswith("test_") or parts[1] in GRADED_SUITE)


def _node(module: str) -> str | None:
    """``autograder.sandbox.zygote`` -> ``autograder.sandbox``; None outside the grader."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == GRADER and len(parts) > 1 else None


def package_graph() -> dict[str, set[str]]:
    """Node -> nodes it imports, over the grader's non-test modules."""
    graph: dict[str, set[str]] = {}
    for path in _python_files(GRADER):
        module = _module_name(path)
        source = _node(module)
        if source is None or _is_graded_suite(module):
            continue
        targets = {_node(name) for name in _imports(path)} - {None, source}
        graph.setdefault(source, set()).update(target for target in targets if not _is_graded_suite(target))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes (first == last), or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


@pytest.mark.parametrize("module", [_module_name(path) for package in RUNTIME_PACKAGES
                                    for path in _python_files(package)
                                    if not _is_graded_suite(_module_name(path))
                                    and path.name != "__main__.py"])  # __main__ runs the command line
def test_every_runtime_module_imports(module):
    importlib.import_module(module)


@pytest.mark.parametrize("path", [path for package in RUNTIME_PACKAGES for path in _python_files(package)],
                         ids=lambda path: str(path.relative_to(REPOSITORY)))
def test_runtime_code_imports_no_build_tooling(path):
    tooling = sorted(name for name in _imports(path) if name.split(".")[0] in BUILD_TOOLING)
    assert not tooling, f"{path.relative_to(REPOSITORY)} imports {', '.join(tooling)}"


def test_the_generator_does_not_depend_on_the_grader():
    assert not [str(path) for path in _python_files("synthetic_voc")
                if any(name.split(".")[0] == GRADER for name in _imports(path))]


def test_the_role_packages_form_no_cycle():
    assert find_cycle(package_graph()) is None, " -> ".join(find_cycle(package_graph()))


def test_the_cycle_check_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_grader_is_cut_into_role_packages():
    entries = [path for path in (REPOSITORY / GRADER).iterdir() if path.name != "__pycache__"]
    packages = sorted(path.name for path in entries if (path / "__init__.py").is_file())
    modules = sorted(path.stem for path in entries if path.suffix == ".py" and path.stem != "__init__"
                     and not _is_graded_suite(f"{GRADER}.{path.stem}") and path.stem != "__main__")
    assert len(packages) >= MIN_ROLE_PACKAGES, packages
    assert len(modules) <= MAX_TOP_LEVEL_MODULES, modules
