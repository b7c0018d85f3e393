"""
Shared test set-up.

* `reference/` goes first on `sys.path`: the reference solution has a flat
  layout (`two_stage_detector.py` does `from common import ...`), and
  `student/` has files with the same names that must not shadow it.
* `student/detection_helpers.py` is loaded by file path (fixture `helpers`),
  never through `sys.path`, for the same reason.
* matplotlib draws with the non-interactive Agg backend: `plt.show()` is a
  no-op and no display is needed.
* torch runs single-threaded: on a small shared machine intra-op threads
  mostly spin (an order of magnitude more CPU time), and one thread makes
  the float results independent of the core count.
"""
import importlib.util
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = ROOT / "reference"
DETECTION_HELPERS_PATH = ROOT / "student" / "detection_helpers.py"

if sys.path[:1] != [str(REFERENCE_DIR)]:
    sys.path.insert(0, str(REFERENCE_DIR))

# Environment variable read by the reference backbone (`common.BACKBONE_WEIGHTS_ENV`).
BACKBONE_WEIGHTS_ENV = "DETECTOR_BACKBONE_WEIGHTS"


def pytest_configure(config):
    """The graded tests' markers: tests here import graded test modules (the points table)."""
    from autograder.plugin import register_markers

    register_markers(config)


def load_detection_helpers():
    """Import `student/detection_helpers.py` by path, under a private name."""
    spec = importlib.util.spec_from_file_location(
        "_tests_student_detection_helpers", DETECTION_HELPERS_PATH
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def helpers():
    """The students' helper module, `student/detection_helpers.py`."""
    return load_detection_helpers()


@pytest.fixture
def random_backbone_weights(monkeypatch):
    """Build backbones with random weights: no download is ever attempted."""
    monkeypatch.setenv(BACKBONE_WEIGHTS_ENV, "random")


@pytest.fixture(autouse=True)
def _close_matplotlib_figures():
    """Figures opened by a test (Agg: `plt.show()` keeps them) are closed after it."""
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
