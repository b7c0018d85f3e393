"""The points tables students and staff read are the graded tests' markers.

`autograder.units.points_table` reads the markers by importing the graded test
modules; here pytest's own collection of `autograder/` (parametrisation
included) must find the very same tests, and the generated texts must carry
the grader's current numbers.
"""
import dataclasses
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from autograder.notebook.grading_profile import GRADING_PROFILE
from autograder.units.points_table import GradedTest, graded_tests, points_rows, points_table_markdown
from data_scripts.release import grading_text

ROOT = Path(__file__).resolve().parents[1]
DUMP_PLUGIN = '''
import json, os

def pytest_collection_finish(session):
    tests = []
    for item in session.items:
        points, stage = item.get_closest_marker("points"), item.get_closest_marker("stage")
        tags = points.kwargs.get("tags", ()) if points else ()
        tests.append({"nodeid": item.nodeid, "points": points.args[0] if points else None,
                      "tags": [tags] if isinstance(tags, str) else list(tags),
                      "stage": stage.args[0] if stage else "units"})
    with open(os.environ["POINTS_DUMP"], "w") as dump:
        json.dump(tests, dump)
'''


def collected_by_pytest(tmp_path) -> list[GradedTest]:
    (tmp_path / "points_dump.py").write_text(DUMP_PLUGIN)
    env = {**os.environ, "POINTS_DUMP": str(tmp_path / "dump.json"),
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    done = subprocess.run([sys.executable, "-m", "pytest", "autograder", "--collect-only", "-q", "-p", "points_dump"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert (tmp_path / "dump.json").is_file(), done.stdout[-2000:] + done.stderr[-2000:]
    tests = json.loads((tmp_path / "dump.json").read_text())
    return [GradedTest(t["nodeid"].split("[")[0].removeprefix("autograder/"), float(t["points"]), tuple(t["tags"]),
                       t["stage"]) for t in tests if t["points"] is not None]


def test_the_markers_read_are_the_tests_pytest_collects(tmp_path):
    assert Counter(graded_tests()) == Counter(collected_by_pytest(tmp_path))


def test_rows_sum_the_tests_of_each_definition_and_stage():
    tests = [GradedTest("test_a.py::t1", 2, ("iou",), "units"), GradedTest("test_a.py::t2", 3, ("iou",), "units"),
             GradedTest("test_b.py::t", 4, ("nms",), "units"), GradedTest("test_g.py::g", 0, ("nms",), "units"),
             GradedTest("test_n.py::n", 5, (), "notebook")]
    rows = [(row.label, row.tests, row.points) for row in points_rows(tests)]
    assert rows[0] == ("`nms`", 1, 4)  # layout order: nms (common.py) before iou; 0-point tests left out
    assert rows[1] == ("`iou`", 2, 5)
    assert rows[2][0].startswith("notebook") and rows[2][1:] == (1, 5)
    assert points_table_markdown(tests).splitlines()[-1] == "| **total** | 4 | **14** |"


def test_the_grading_text_quotes_the_current_profile(monkeypatch):
    changed = dataclasses.replace(GRADING_PROFILE, min_map=0.37, max_loss_ratio=0.61, cell_cpu_limit_s=123.0,
                                  num_train=321, max_untrained_map=0.07)
    monkeypatch.setattr(grading_text, "_PROFILE", changed)
    text = grading_text.grading_section()
    assert "mAP@0.5 of at least 0.37" in text and "below 0.61 times the untrained one's" in text
    assert "stays below 0.07" in text
    assert "123 CPU seconds per cell" in text and "training set of 321 images" in text
    assert points_table_markdown() in text


def test_readmes_and_notebook_carry_the_generated_texts():
    notebook = json.loads((ROOT / "notebooks/two_stage_detector.ipynb").read_text())
    markdown = "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")
    student_readme = (ROOT / "student/README.md").read_text()
    grading = grading_text.grading_section()
    assert grading in markdown and grading in student_readme
    assert points_table_markdown() in (ROOT / "README.md").read_text()
