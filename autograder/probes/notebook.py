"""Probe of the notebook stage: run the graded notebook's code cells in this worker.

The parent sends the cells (parameters already injected), the files the
kernel may see (course helpers, the training split, the validation images
without boxes) and the environment; the probe writes the files into the
work directory, runs the cells in an in-process IPython shell
(``cell_runner``) and sends back the run's report and the text of the files
the notebook was asked to write. Nothing is judged here.
"""

import os
import sys

import torch

from autograder import cell_runner
from autograder.probe_api import SubmissionModules

MAX_COLLECTED_FILE_BYTES = 1 << 20
MAX_COLLECTED_FILES = 10_000


def run_notebook(sub: SubmissionModules, cells: list, labels: list, files: dict, environment: dict,
                 cell_cpu_limit_s: float, total_cpu_limit_s: float, time_factor: float, collect_files: list,
                 collect_folders: list) -> dict:
    workdir = sub.directory
    for path, content in files.items():
        _write(workdir, path, content)
    os.environ.update(environment)
    sys.path.insert(0, workdir)
    report = cell_runner.run_cells(cells, labels, cell_cpu_limit_s, total_cpu_limit_s, workdir,
                                   after_cell=_close_figures, time_factor=time_factor)
    report["files"] = {path: _read_text(os.path.join(workdir, path)) for path in collect_files}
    report["folders"] = {folder: _read_folder(os.path.join(workdir, folder)) for folder in collect_folders}
    return report


def _write(workdir: str, path: str, content: torch.Tensor) -> None:
    parts = path.split("/")
    if os.path.isabs(path) or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"the grader sent a file with an unsafe path: {path!r}")
    target = os.path.join(workdir, *parts)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as handle:
        handle.write(content.numpy().tobytes())


def _close_figures() -> None:
    """Figures are never shown headless; closing them keeps memory flat."""
    import matplotlib.pyplot as plt

    plt.close("all")


def _read_text(path: str):
    """The file's text (at most ``MAX_COLLECTED_FILE_BYTES``), or None if it is not a regular file."""
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as handle:
        return handle.read(MAX_COLLECTED_FILE_BYTES).decode("utf-8", errors="replace")


def _read_folder(folder: str):
    """File name -> text of the regular files in ``folder``, or None if it is not a folder."""
    if not os.path.isdir(folder):
        return None
    names = sorted(os.listdir(folder))[:MAX_COLLECTED_FILES]
    return {name: text for name in names if (text := _read_text(os.path.join(folder, name))) is not None}
