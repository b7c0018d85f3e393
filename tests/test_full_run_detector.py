"""autograder/notebook/full_run_detector.py states the release notebook's full run: prove the notebook agrees.

The grader rebuilds the full-training cell's detector in fresh workers and
runs it as the evaluation cell does; if the notebook's calls drift from these
constants, the grader would judge another detector than the one students train.
"""

import ast

import nbformat
import pytest

from autograder.notebook.full_run_detector import (
    CHECKPOINT_NAME,
    DETECTOR_KEYWORDS,
    NMS_THRESHOLD,
    RPN_KEYWORDS,
    SCORE_THRESHOLD,
    build_detector,
)
from autograder.notebook.graded_notebook import RELEASE_NOTEBOOK


def _calls(name: str) -> list[ast.Call]:
    notebook = nbformat.read(str(RELEASE_NOTEBOOK), as_version=4)
    calls = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython magics
            continue
        calls += [node for node in ast.walk(tree) if isinstance(node, ast.Call)
                  and isinstance(node.func, ast.Name) and node.func.id == name]
    return calls


def _keywords(call: ast.Call) -> dict:
    return {keyword.arg: ast.unparse(keyword.value) for keyword in call.keywords}


def _full_run_call(name: str) -> dict:
    """Keywords of the call of ``name`` that uses FULL_FPN_CHANNELS (the full-training cell's)."""
    found = [_keywords(call) for call in _calls(name) if "FULL_FPN_CHANNELS" in ast.unparse(call)]
    assert len(found) == 1, f"expected one {name}(...) with FULL_FPN_CHANNELS in the release notebook, found {len(found)}"
    return found[0]


def test_rpn_of_the_full_run_matches():
    keywords = _full_run_call("RPN")
    assert {k: keywords.get(k) for k in RPN_KEYWORDS} == {k: repr(v) for k, v in RPN_KEYWORDS.items()}
    assert keywords["post_nms_topk"] == "FULL_POST_NMS_TOPK"
    assert keywords["stem_channels"] == "[FULL_FPN_CHANNELS, FULL_FPN_CHANNELS]"


def test_faster_rcnn_of_the_full_run_matches():
    keywords = _full_run_call("FasterRCNN")
    assert {k: keywords.get(k) for k in DETECTOR_KEYWORDS} == {k: repr(v) for k, v in DETECTOR_KEYWORDS.items()}
    assert keywords["stem_channels"] == "[FULL_FPN_CHANNELS, FULL_FPN_CHANNELS]"


def test_evaluation_cell_thresholds_match():
    evaluation = [_keywords(call) for call in _calls("inference_with_detector") if "output_dir" in _keywords(call)]
    assert len(evaluation) == 1
    assert evaluation[0]["score_thresh"] == repr(SCORE_THRESHOLD)
    assert evaluation[0]["nms_thresh"] == repr(NMS_THRESHOLD)


def test_full_run_saves_the_checkpoint_the_grader_reads():
    training = [_keywords(call) for call in _calls("train_detector") if "FULL_ITERS" in ast.unparse(call)]
    assert len(training) == 1
    assert training[0]["checkpoint_path"] == f"os.path.join(OUTPUT_DIR, {CHECKPOINT_NAME!r})"
    assert training[0]["checkpoint_period"] == "CHECKPOINT_PERIOD"


@pytest.mark.parametrize("fpn_channels, post_nms_topk", [(8, 20), (32, 5)])
def test_build_detector_passes_the_notebooks_arguments(fpn_channels, post_nms_topk):
    """A recording stand-in for the student's classes: every argument arrives where the cell puts it."""
    seen = {}

    def recorder(name):
        def build(*args, **kwargs):
            seen[name] = (args, kwargs)
            return name
        return build

    assert build_detector(recorder, fpn_channels, post_nms_topk, num_classes=20) == "FasterRCNN"
    assert seen["DetectorBackboneWithFPN"] == ((), {"out_channels": fpn_channels})
    assert seen["RPN"] == ((), {"fpn_channels": fpn_channels, "stem_channels": [fpn_channels] * 2,
                                "post_nms_topk": post_nms_topk, **RPN_KEYWORDS})
    assert seen["FasterRCNN"] == (("DetectorBackboneWithFPN", "RPN"), {
        "num_classes": 20, "stem_channels": [fpn_channels] * 2, **DETECTOR_KEYWORDS})
