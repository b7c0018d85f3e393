"""Figures of the notebook stage, written next to ``results.json`` for staff.

* ``loss_history.png``: the loss of every iteration of the graded run, its
  moving average, the head and tail windows of the "loss decreases" check
  and the tail mean it had to stay below.
* ``mAP.png`` and ``mAP_output.txt``: the per-class AP chart and Cartucho's
  ``output.txt`` of the grader's own evaluation.

Figures use bare Agg canvases: nothing here touches pyplot's state.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autograder.course_files import load_course_module
from autograder.grading_profile import LOSS_HEAD_FRACTION, LOSS_TAIL_FRACTION
from autograder.notebook_checks import LossSummary, window

LOSS_PLOT = "loss_history.png"
MAP_PLOT = "mAP.png"
MAP_OUTPUT = "mAP_output.txt"
MOVING_AVERAGE_FRACTION = 0.05


def write_loss_plot(history: list[float], summary: LossSummary | None, max_ratio: float, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    n = len(history)
    ax.plot(history, alpha=0.35, label="loss per iteration")
    span = max(1, round(n * MOVING_AVERAGE_FRACTION))
    if n >= span:
        smooth = np.convolve(history, np.ones(span) / span, mode="valid")
        ax.plot(np.arange(span - 1, n), smooth, label=f"mean of {span}")
    if summary is not None:
        head, tail = window(n, LOSS_HEAD_FRACTION), window(n, LOSS_TAIL_FRACTION)
        ax.hlines(summary.head_mean, 0, head - 1, colors="black", label=f"first {head}: {summary.head_mean:.3f}")
        ax.hlines(summary.tail_mean, n - tail, n - 1, colors="green", label=f"last {tail}: {summary.tail_mean:.3f}")
        ax.axhline(summary.head_mean * max_ratio, color="red", linestyle="--",
                   label=f"tail must stay below {max_ratio:g} x first")
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss")
    ax.set_title("Graded training run")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def write_map_outputs(result, directory: Path) -> None:
    voc_map = load_course_module("voc_map")
    (directory / MAP_OUTPUT).write_text(voc_map.format_output_txt(result), encoding="utf-8")
    voc_map.plot_average_precision(result.ap_per_class, result.map, directory / MAP_PLOT)
