"""Probes that return a student definition's value as it came back, with no conversion.

``call_iou`` is the pattern of a named probe (the one ``autograder/README.md``
shows: one definition, its value checked with ``expect_tensor``);
``call_definition`` calls any definition by name and sends its value through
the transfer as is, so the sandbox's own tests see what the transfer accepts
and refuses.  Graded tests use ``definitions.call``, which also detaches and
copies tensors.
"""

from __future__ import annotations

from autograder.sandbox.probe_api import SubmissionModules, expect_tensor


def call_iou(sub: SubmissionModules, boxes1, boxes2) -> dict:
    """The student's ``iou(boxes1, boxes2)`` pairwise matrix."""
    return {"iou": expect_tensor(sub.iou(boxes1, boxes2), "iou(boxes1, boxes2)", ndim=2)}


def call_definition(sub: SubmissionModules, name: str, args: list | tuple = (), kwargs: dict | None = None) -> dict:
    """Call any student definition ``name(*args, **kwargs)`` and return its value as is."""
    return {"value": sub.definition(name)(*args, **(kwargs or {}))}
