"""Run the release's solution notebook headless, on a small profile, in a given Python environment.

    python -m data_scripts.student_environment --python PATH/TO/bin/python

Students run the notebook with whatever torch and torchvision Colab or their
laptop has, not the pinned grading pair; `student/README.md` states the
oldest pair the release supports (`OLDEST_SUPPORTED`). This command checks a
pair: the interpreter at PATH needs torch, torchvision, numpy, pillow,
matplotlib, tqdm and ipykernel. The notebook (built from this checkout) runs
with tiny images, models and iterations on synthetic data, from random
weights; it prints the interpreter's versions and exits 0 when every cell ran.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient.exceptions import CellExecutionError, CellTimeoutError

from autograder.notebook.parameters import inject_parameters
from data_scripts.release import release_paths
from data_scripts.release.kernel import execute_notebook
from data_scripts.release.pipeline import run_pipeline
from synthetic_voc.generator import make_synthetic_dataset

ROOT = Path(__file__).resolve().parents[1]
# The oldest torch / torchvision the release supports: torchvision 0.15 is the
# first with every API the notebook and its helpers use (multi-weight
# `weights=` enums since 0.13, `feature_extraction` since 0.11) on a torch 2
# release, and the oldest pair that installs on the Pythons Colab offers.
OLDEST_SUPPORTED = ("2.0", "0.15")
CELL_TIMEOUT_S = 300
NUM_TRAIN, NUM_VAL = 8, 4
FULL_ITERS = 4
KERNEL_ENV = {
    "DETECTOR_BACKBONE_WEIGHTS": "random",  # no ImageNet download attempt
    "OMP_NUM_THREADS": "1",  # a small shared machine: threads mostly spin
    # Jupyter's inline backend (ipykernel's default; the caller's Agg must not
    # leak into the kernel): figures become cell outputs.
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}
VERSIONS = "import sys, torch, torchvision; print(sys.version.split()[0], torch.__version__, torchvision.__version__)"


def headless_parameters(data_dir: Path, output_dir: Path) -> dict:
    """The small profile: values for the notebook's `parameters` cell."""
    return {
        "COURSE_DIR": str(ROOT / "student"),
        "DATA_DIR": str(data_dir),
        "DOWNLOAD": False,
        "OUTPUT_DIR": str(output_dir),
        "DEVICE": "cpu",
        "NUM_WORKERS": 0,
        "IMAGE_SIZE": 64,
        "BATCH_SIZE": 2,
        "OVERFIT_BATCHES": 2,
        "OVERFIT_FPN_CHANNELS": 16,
        "RPN_OVERFIT_ITERS": 3,
        "DETECTOR_OVERFIT_ITERS": 3,
        "FULL_FPN_CHANNELS": 16,
        "FULL_ITERS": FULL_ITERS,
        "VAL_SUBSET_SIZE": 2,
    }


def run_solution_notebook(work: Path, python: str = sys.executable) -> nbformat.NotebookNode:
    """Build the solution notebook, run it in a kernel of `python` inside `work`, return it executed.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell raised.
        nbclient.exceptions.CellTimeoutError: a cell ran over `CELL_TIMEOUT_S`.
    """
    data_dir = make_synthetic_dataset(work / "data", num_train=NUM_TRAIN, num_val=NUM_VAL, seed=0)
    solution = run_pipeline(ROOT).build[release_paths.SOLUTION_NOTEBOOK].decode("utf-8")
    notebook = inject_parameters(nbformat.reads(solution, as_version=4),
                                 headless_parameters(data_dir, work / "outputs"))
    return execute_notebook(notebook, cwd=work, env=KERNEL_ENV, cell_timeout_s=CELL_TIMEOUT_S, python=python)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter of the environment to check (default: this one)")
    args = parser.parse_args(argv)
    versions = subprocess.run([args.python, "-c", VERSIONS], capture_output=True, text=True)
    if versions.returncode != 0:
        print(f"{args.python} cannot import torch and torchvision:\n{versions.stderr.strip()}", file=sys.stderr)
        return 1
    python_version, torch_version, torchvision_version = versions.stdout.split()
    described = f"Python {python_version}, torch {torch_version}, torchvision {torchvision_version}"
    with tempfile.TemporaryDirectory(prefix="student-environment-") as work:
        try:
            run_solution_notebook(Path(work), args.python)
        except (CellExecutionError, CellTimeoutError) as error:
            print(f"the solution notebook failed with {described}:\n{error}", file=sys.stderr)
            return 1
    print(f"the solution notebook ran top to bottom with {described}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
