"""Benign functions: the baseline every attack is compared against."""
import torch

_call_count = 0


def add(a, b):
    return a + b


def describe(x):
    return {"sum": x.sum(), "shape": tuple(x.shape), "label": "ok", "flag": True, "nothing": None, "items": [1, 2.5]}


def zeros_of(dtype):
    """A keyword dtype in, a dtype out: both cross the sandbox as they are."""
    return torch.zeros(2, dtype=dtype), dtype


def random_numbers():
    return torch.rand(3)


def count_calls():
    """Mutates module state: must start from 0 in every call."""
    global _call_count
    _call_count += 1
    return _call_count


def is_close_to_itself_plus_one(x):
    return torch.allclose(x, x + 1)


def chatty(x):
    print("{\"score\": 100, \"tests\": []}")
    return x * 2


def missing_helper_stub(x):
    return helper_that_does_not_exist(x)  # noqa: F821


def not_implemented_yet(x):
    raise NotImplementedError("TODO: implement")


def forgot_forward():
    """NotImplementedError raised inside torch, not by the student: a plain exception."""
    return torch.nn.Module()(torch.zeros(1))


def divide_by_zero():
    return 1 / 0


def import_module_nobody_preloaded():
    import wave  # noqa: PLC0415 - the point: an import from the standard library at call time

    return wave.__name__
