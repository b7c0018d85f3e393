"""Probe of the notebook stage: run the graded notebook's code cells in this worker.

The parent sends the cells (parameters already injected), the files the
kernel may see (course helpers and the training split) and the environment;
the probe writes the files into the work directory, runs the cells in an
in-process IPython shell (``cell_runner``) and sends back the run's report
and the model weights of the checkpoint the full-training cell saved. Nothing
is judged here, and nothing the notebook wrote is evidence: fresh workers
judge those weights (``probes/trained_detector.py``).
"""

import os
import sys

import torch

from autograder.notebook import cell_runner
from autograder.notebook.full_run_detector import CHECKPOINT_MODEL_KEY
from autograder.sandbox.probe_api import SubmissionModules


def run_notebook(sub: SubmissionModules, cells: list, labels: list, files: dict, environment: dict,
                 cell_cpu_limit_s: float, total_cpu_limit_s: float, time_factor: float, checkpoint: str) -> dict:
    workdir = sub.directory
    for path, content in files.items():
        _write(workdir, path, content)
    os.environ.update(environment)
    sys.path.insert(0, workdir)
    report = cell_runner.run_cells(cells, labels, cell_cpu_limit_s, total_cpu_limit_s, workdir,
                                   after_cell=_close_figures, time_factor=time_factor)
    report["checkpoint"] = _checkpoint_weights(os.path.join(workdir, checkpoint))
    return report


def _write(workdir: str, path: str, content: bytes) -> None:
    parts = path.split("/")
    if os.path.isabs(path) or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"the grader sent a file with an unsafe path: {path!r}")
    target = os.path.join(workdir, *parts)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as handle:
        handle.write(content)


def _close_figures() -> None:
    """Figures are never shown headless; closing them keeps memory flat."""
    import matplotlib.pyplot as plt

    plt.close("all")


def _checkpoint_weights(path: str) -> dict:
    """``{"model": state dict}`` of the checkpoint at ``path``, or ``{"problem": what it is}``
    ("not saved", "unreadable (...)", ...)."""
    if not os.path.isfile(path):
        return {"problem": "not saved"}
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is the same verdict
        return {"problem": f"unreadable ({type(error).__name__})"}
    model = checkpoint.get(CHECKPOINT_MODEL_KEY) if isinstance(checkpoint, dict) else None
    if not isinstance(model, dict) or not all(isinstance(k, str) and type(v) is torch.Tensor for k, v in model.items()):
        return {"problem": f"without a state dict under {CHECKPOINT_MODEL_KEY!r}"}
    return {"model": {key: value.detach().contiguous() for key, value in model.items()}}
