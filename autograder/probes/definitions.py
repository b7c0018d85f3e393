"""Probes that call one student function on given inputs.

What comes back is the student's value (made plain: detached, on the CPU)
and, for the mutation checks, the inputs as they are after the call.
"""
import torch

from autograder.errors import InvalidOutput
from autograder.sandbox.probe_api import SubmissionModules


def plain(value, what: str):
    """Detach tensors and move them to the CPU, through dicts, lists, tuples."""
    if isinstance(value, torch.Tensor):
        if type(value) not in (torch.Tensor, torch.nn.Parameter):
            raise InvalidOutput(f"{what} returned a {type(value).__name__}; expected a torch.Tensor")
        return value.detach().cpu().clone()
    if isinstance(value, dict):
        return {str(k): plain(v, f"{what}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v, f"{what}[{i}]") for i, v in enumerate(value))
    return value


def call(sub: SubmissionModules, name: str, args=(), kwargs=None, return_inputs: bool = False) -> dict:
    """`name(*args, **kwargs)`, plus the args after the call if asked."""
    result = sub.definition(name)(*args, **(kwargs or {}))
    reply = {"value": plain(result, name)}
    if return_inputs:
        reply["inputs_after"] = plain(list(args), f"{name} inputs")
    return reply
