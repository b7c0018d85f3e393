"""Probes: trusted driver functions that run inside the sandbox.

Every public function of every module in this package is a probe, addressed
as ``"<module>.<function>"`` in ``Sandbox.call``.  The zygote imports all of
them once, so a probe module must only define functions: no golden fixtures,
no reference solution, no work at import time (the zygote refuses to start if
``common``, ``two_stage_detector`` or ``reference`` were imported).

A probe takes the student's modules (``autograder.sandbox.probe_api.SubmissionModules``)
and the keyword arguments of the call, and returns a dict of plain values
(tensors, numbers, strings, None, lists/tuples/dicts of those)::

    from autograder.sandbox.probe_api import SubmissionModules, expect_tensor

    def call_iou(sub: SubmissionModules, boxes1, boxes2) -> dict:
        return {"iou": expect_tensor(sub.iou(boxes1, boxes2), "iou(boxes1, boxes2)")}

Judging happens in the grading test, outside the sandbox: a probe computes,
it never compares against expected values.
"""
