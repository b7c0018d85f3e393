"""The solution notebook runs top to bottom, headless, on synthetic data.

Small parameters are injected into its `parameters` cell (tiny images,
batches, subsets, models and a few iterations), the backbone starts from
random weights (no download) and each cell has a time limit. The run must
leave the loss history, its plot and the evaluation files in OUTPUT_DIR.
"""

import json
import re
from pathlib import Path

import nbformat
import pytest

from autograder.submission_layout import GRADED_DEFINITIONS
from data_scripts.release import release_paths
from data_scripts.release.kernel import execute_notebook
from autograder.notebook.parameters import inject_parameters
from data_scripts.student_environment import (
    CELL_TIMEOUT_S,
    FULL_ITERS,
    KERNEL_ENV,
    NUM_VAL,
    headless_parameters,
    run_solution_notebook,
)
from synthetic_voc.generator import make_synthetic_dataset

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The solution notebook after a headless run, and its output folder."""
    work = tmp_path_factory.mktemp("headless")
    return run_solution_notebook(work), work / "outputs"


def test_every_code_cell_ran_without_error(executed):
    notebook, _ = executed
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code)
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert errors == []


def test_checks_in_the_notebook_pass(executed):
    notebook, _ = executed
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert printed.count("same boxes as torchvision: True") == 3
    assert "Rel error of P5 locations: 0.0" in printed
    assert "Relative error: 0.0" in printed
    assert "Rel error in reconstructed boxes:" in printed


def test_every_public_check_passes_in_the_solution_notebook(executed):
    """A `check(...)` cell after every TODO cell, each printing PASS only; `check_all()` last."""
    notebook, _ = executed
    code = [c for c in notebook.cells if c.cell_type == "code"]
    checks = [c for c in code if c.source.startswith("check(")]
    checked = [line[len('check("'):-len('")')] for c in checks for line in c.source.splitlines()]
    assert sorted(checked) == sorted(name for names in GRADED_DEFINITIONS.values() for name in names)
    for cell in checks:
        printed = "".join(o.get("text", "") for o in cell.outputs)
        assert "PASS" in printed and "FAIL" not in printed, (cell.source, printed)
    assert code[-1].source.strip() == "check_all()"
    table = "".join(o.get("text", "") for o in code[-1].outputs)
    assert "FAILED" not in table and "hidden" in table
    assert re.search(r"TOTAL\s+(\d+) / \1\b", table), table


def test_full_run_saved_its_loss_history_and_plot(executed):
    _, output_dir = executed
    history = json.loads((output_dir / "loss_history.json").read_text())
    assert len(history) == FULL_ITERS and all(isinstance(loss, float) for loss in history)
    assert (output_dir / "loss_history.png").read_bytes().startswith(b"\x89PNG")


def test_evaluation_wrote_cartucho_files_and_the_map_result(executed):
    notebook, output_dir = executed
    for folder in ("ground-truth", "detection-results"):
        files = sorted(p.name for p in (output_dir / "mAP" / "input" / folder).iterdir())
        assert files == [f"val_{i:06d}.txt" for i in range(NUM_VAL)]
    output_txt = (output_dir / "mAP" / "output" / "output.txt").read_text()
    assert "mAP = " in output_txt
    assert (output_dir / "mAP" / "output" / "mAP.png").read_bytes().startswith(b"\x89PNG")
    evaluation = [cell for cell in notebook.cells if cell.cell_type == "code" and "evaluate_directory(" in cell.source][-1]
    printed = "".join(o.get("text", "") for o in evaluation.outputs if o.get("name") == "stdout")
    # A compact summary (mAP, then the classes 4 per line), not output.txt's precision/recall lists.
    summary = printed[printed.index("mAP@0.5: "):].splitlines()
    assert len(summary) <= 1 + 5 + 1 and summary[-1].startswith("Full report: ")
    assert any("image/png" in o.get("data", {}) for o in evaluation.outputs)


def test_full_run_leaves_a_checkpoint_to_continue_from(executed):
    import torch

    _, output_dir = executed
    checkpoint = torch.load(output_dir / "full_run_checkpoint.pt", weights_only=True)
    assert checkpoint["max_iters"] == FULL_ITERS and len(checkpoint["loss_history"]) == FULL_ITERS


def test_training_and_visualisation_cells_plot(executed):
    notebook, _ = executed
    code = [c for c in notebook.cells if c.cell_type == "code"]
    figures = [sum("image/png" in o.get("data", {}) for o in c.outputs) for c in code]
    training = [i for i, c in enumerate(code) if "train_detector(" in c.source]
    assert len(training) == 3 and all(figures[i] >= 1 for i in training)
    assert figures[[i for i, c in enumerate(code) if "plot_loss_history(" in c.source][0]] == 1
    # One grid figure per picture cell (data, the two inference runs); the matched-anchor cell shows
    # one figure when the synthetic image has a matching anchor; then the mAP chart.
    grids = [i for i, c in enumerate(code) if "show_detections_grid(" in c.source
             or ("inference_with_detector(" in c.source and "output_dir=" not in c.source)]
    anchor = [i for i, c in enumerate(code) if "detection_visualizer(" in c.source]
    assert len(grids) == 3 and [figures[i] for i in grids] == [1, 1, 1]
    assert len(anchor) == 1 and figures[anchor[0]] <= 1
    assert sum(figures) == 3 + 3 + figures[anchor[0]] + 1


def test_student_notebook_runs_up_to_the_first_todo(tmp_path):
    """The student notebook's set-up cells work; the first check cell then
    stops on the first TODO, with the stub's message."""
    from nbclient.exceptions import CellExecutionError

    data_dir = make_synthetic_dataset(tmp_path / "data", num_train=2, num_val=1, seed=0)
    notebook = nbformat.read(ROOT / release_paths.STUDENT_NOTEBOOK, as_version=4)
    notebook = inject_parameters(notebook, headless_parameters(data_dir, tmp_path / "outputs"))
    with pytest.raises(CellExecutionError) as raised:
        execute_notebook(notebook, cwd=tmp_path, env=KERNEL_ENV, cell_timeout_s=CELL_TIMEOUT_S)
    assert (raised.value.ename, raised.value.evalue) == (
        "NotImplementedError",
        "nms: TODO not implemented yet: write it in the notebook cell that defines nms (or in common.py)",
    )
    ran = [c for c in notebook.cells if c.cell_type == "code" and c.execution_count is not None]
    assert "nms(nms_check_boxes" in ran[-1].source
    assert ran[-2].source == 'check("nms")\n' or ran[-2].source == 'check("nms")'
    printed = "".join(o.get("text", "") for o in ran[-2].outputs)
    assert "FAIL  nms" in printed and "not implemented yet: nms: TODO not implemented yet: write it in the notebook cell that defines nms (or in common.py)" in printed
