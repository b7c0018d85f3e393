"""A notebook submission is graded exactly like the same code as two files.

The solution notebook (reference code in the TODO cells) must earn every unit
point, like `reference/`: otherwise the notebook exporter drops something a
correct notebook needs.
"""
import json
import subprocess
import sys

from data_scripts.release import release_paths
from data_scripts.release.pipeline import run_pipeline


def grade(submission, out_dir):
    subprocess.run([sys.executable, "-m", "autograder", "grade", str(submission), "--out", str(out_dir),
                    "--units-only"], check=True, capture_output=True, timeout=600)
    return json.loads((out_dir / "results.json").read_text())


def test_the_solution_notebook_earns_every_unit_point(tmp_path):
    notebook = tmp_path / "two_stage_detector.ipynb"
    notebook.write_bytes(run_pipeline().build[release_paths.SOLUTION_NOTEBOOK])
    results = grade(notebook, tmp_path / "out")
    lost = {t["name"]: t["output"][:300] for t in results["tests"] if t["score"] < t["max_score"]}
    assert not lost, lost
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) > 0
