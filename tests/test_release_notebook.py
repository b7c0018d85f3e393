"""The committed student notebook: valid, clean, and made of the stubs' code."""

import ast
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "two_stage_detector.ipynb"
STUBS = {"common": ROOT / "student" / "common.py", "two_stage_detector": ROOT / "student" / "two_stage_detector.py"}
SCOPED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@pytest.fixture(scope="module")
def notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


@pytest.fixture(scope="module")
def code_cells(notebook):
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def bound_name(node):
    """The name a function, class or single-name assignment binds, else None."""
    if isinstance(node, SCOPED):
        return node.name
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    return None


def stub_definitions():
    """name -> (module, exact source) of every top-level definition of the stubs."""
    found = {}
    for module, path in STUBS.items():
        text = path.read_text(encoding="utf-8")
        for node in ast.parse(text).body:
            name = bound_name(node)
            if name is not None:
                found.setdefault(name, (module, ast.get_source_segment(text, node)))
    return found


def stub_imports():
    """Names the stubs bind by imports of outside modules."""
    names = set()
    for path in STUBS.values():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                names |= {a.asname or a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module not in STUBS:
                names |= {a.asname or a.name for a in node.names}
    return names


def test_notebook_is_valid_and_has_no_outputs(notebook):
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]
        assert "attachments" not in cell
    raw = NOTEBOOK.read_text(encoding="utf-8")
    assert '"outputs": []' in raw and '"execution_count": null' in raw
    assert '"output_type"' not in raw


def test_first_code_cell_is_the_parameters_cell(notebook):
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code[0].metadata.get("tags") == ["parameters"]
    assert [c for c in code if "parameters" in c.metadata.get("tags", [])] == [code[0]]
    names = {n.targets[0].id for n in ast.parse(code[0].source).body}
    assert {
        "DATA_DIR", "COURSE_DIR", "DEVICE", "IMAGE_SIZE", "BATCH_SIZE", "OVERFIT_FPN_CHANNELS", "FULL_FPN_CHANNELS",
        "RPN_OVERFIT_ITERS", "DETECTOR_OVERFIT_ITERS", "FULL_ITERS", "RPN_OVERFIT_LR", "DETECTOR_OVERFIT_LR", "FULL_LR",
        "OVERFIT_BATCHES", "VAL_SUBSET_SIZE", "NUM_WORKERS", "OUTPUT_DIR", "DOWNLOAD",
    } <= names


def test_code_cells_are_plain_python(code_cells):
    for source in code_cells:
        ast.parse(source)  # no `!shell` or `%magic` lines
        assert "pip install" not in source and "git clone" not in source
        assert not re.search(r"^\s*from (common|two_stage_detector) import", source, re.MULTILINE)


def test_every_cell_definition_is_exactly_the_stubs(code_cells):
    expected = stub_definitions()
    defined = {}
    for index, source in enumerate(code_cells):
        for node in ast.parse(source).body:
            name = bound_name(node)
            if name in expected:
                assert name not in defined, f"{name} is defined twice (code cells {defined.get(name)} and {index})"
                defined[name] = index
                assert ast.get_source_segment(source, node) == expected[name][1], f"{name} differs from the stub"
    assert sorted(defined) == sorted(expected), "every top-level definition of the stubs is in the notebook"


def test_module_imports_are_bound_exactly_once(code_cells):
    counts = {name: 0 for name in stub_imports()}
    for source in code_cells:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    if bound in counts:
                        counts[bound] += 1
    assert counts == {name: 1 for name in counts}


def test_graded_cells_hold_only_stub_definitions(notebook):
    """A cell with a TODO banner defines module code and nothing else."""
    expected = stub_definitions()
    for cell in notebook.cells:
        if cell.cell_type == "code" and "START YOUR CODE" in cell.source:
            names = [bound_name(node) for node in ast.parse(cell.source).body]
            assert names and all(name in expected for name in names), names


def test_colab_badge_and_optional_drive(notebook, code_cells):
    first = notebook.cells[0]
    assert first.cell_type == "markdown"
    assert "colab-badge.svg" in first.source and "colab.research.google.com" in first.source
    drive_cells = [s for s in code_cells if "google.colab" in s]
    assert len(drive_cells) == 1
    tree = ast.parse(drive_cells[0])
    guarded = [n for n in tree.body if isinstance(n, ast.Try) and any("google.colab" in ast.unparse(s) for s in n.body)]
    assert guarded and any(h.type.id == "ImportError" for h in guarded[0].handlers)


def test_notebook_metadata(notebook):
    assert notebook.metadata.kernelspec.name == "python3"
    assert notebook.metadata.accelerator == "GPU"
    assert len({cell.id for cell in notebook.cells}) == len(notebook.cells)
