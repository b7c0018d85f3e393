"""Outputs of the notebook stage, written next to ``results.json`` for staff.

``mAP.png`` and ``mAP_output.txt``: the per-class AP chart and Cartucho's
``output.txt`` of the grader's evaluation of the trained detector.
"""

from __future__ import annotations

from pathlib import Path

from autograder.course.course_files import load_course_module

MAP_PLOT = "mAP.png"
MAP_OUTPUT = "mAP_output.txt"


def write_map_outputs(result, directory: Path) -> None:
    voc_map = load_course_module("voc_map")
    (directory / MAP_OUTPUT).write_text(voc_map.format_output_txt(result), encoding="utf-8")
    voc_map.plot_average_precision(result.ap_per_class, result.map, directory / MAP_PLOT)
