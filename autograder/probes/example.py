"""Example probes: one per pattern a graded test needs."""

from __future__ import annotations

from autograder.sandbox.probe_api import SubmissionModules, expect_tensor


def call_iou(sub: SubmissionModules, boxes1, boxes2) -> dict:
    """The student's ``iou(boxes1, boxes2)`` pairwise matrix."""
    return {"iou": expect_tensor(sub.iou(boxes1, boxes2), "iou(boxes1, boxes2)", ndim=2)}


def call_definition(sub: SubmissionModules, name: str, args: list | tuple = (), kwargs: dict | None = None) -> dict:
    """Call any student definition ``name(*args, **kwargs)`` and return its value as is."""
    return {"value": sub.definition(name)(*args, **(kwargs or {}))}
