"""Probes that call one student function on given inputs.

What comes back is the student's value (made plain: detached, on the CPU)
and, for the mutation checks, the inputs as they are after the call.
"""
from autograder.sandbox.probe_api import SubmissionModules, plain


def call(sub: SubmissionModules, name: str, args=(), kwargs=None, return_inputs: bool = False) -> dict:
    """`name(*args, **kwargs)`, plus the args after the call if asked."""
    result = sub.definition(name)(*args, **(kwargs or {}))
    reply = {"value": plain(result, name)}
    if return_inputs:
        reply["inputs_after"] = plain(list(args), f"{name} inputs")
    return reply
