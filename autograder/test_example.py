"""Example graded test: the template for the per-definition test modules.

A graded test runs the student's code only through ``sandbox.call`` and
judges the returned values here, in the trusted process.  Assertion messages
are the feedback students read.
"""

import pytest
import torch


@pytest.mark.points(1, tags=("iou",))
def test_iou_of_two_overlapping_boxes(sandbox):
    """iou: two overlapping boxes"""
    boxes1 = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    boxes2 = torch.tensor([[1.0, 1.0, 3.0, 3.0]])

    result = sandbox.call("example.call_iou", boxes1=boxes1, boxes2=boxes2)

    assert result["iou"].shape == (1, 1), f"iou should return a (1, 1) matrix here, got {tuple(result['iou'].shape)}"
    assert torch.allclose(result["iou"].float(), torch.tensor([[1 / 7]])), (
        f"iou([0, 0, 2, 2], [1, 1, 3, 3]) should be 1/7 (overlap 1, union 7), got {result['iou'].item():.4f}"
    )
