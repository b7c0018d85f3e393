"""
Judging submitted values against expected ones, in the trusted parent.

Every check raises `AssertionError` with a message written for the student:
what was compared, what was expected and, where a known mistake explains the
difference, what the mistake probably is. Nothing here runs student code: the
values come back from the sandbox as plain tensors.
"""
from typing import Callable, Iterable, Optional

import torch

from autograder.sandbox.safe_transfer import nested_size

# A hint looks at (actual, expected) and names a likely mistake, or None.
Hint = Callable[[torch.Tensor, torch.Tensor], Optional[str]]

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
# Hints run only on values at most this many times the expected size (or HINT_MIN_SIZE elements).
HINT_MAX_SIZE_FACTOR = 16
HINT_MIN_SIZE = 4096


class JudgeError(AssertionError):
    """A submitted value is wrong; the message teaches what and why."""


def fail(what: str, message: str) -> None:
    raise JudgeError(f"`{what}`: {message}")


def check_tensor(
    what: str,
    actual,
    expected: torch.Tensor,
    *,
    atol: float = 1e-4,
    rtol: float = 1e-4,
    hints: Iterable[Hint] = (),
    integer: bool = False,
    equal_nan: bool = False,
) -> None:
    """
    Check that `actual` is a tensor equal to `expected` up to tolerance.

    Any floating dtype is accepted for float results (compared in float64) and
    any integer dtype for `integer` results; the device is not judged (the
    sandbox returns CPU tensors).

    Args:
        what: Name of the value for messages, e.g. "iou(boxes1, boxes2)".
        hints: Diagnoses tried, in order, when shapes agree but values do not,
            or when the shapes differ.
    """
    if actual is None:
        fail(what, "returned None — is the TODO block still `pass`, or is the result never assigned?")
    if not isinstance(actual, torch.Tensor):
        fail(what, f"expected a tensor, got {type(actual).__name__}")
    if integer and actual.dtype.is_floating_point:
        fail(what, f"expected an integer (long) tensor of indices, got dtype {actual.dtype}")
    if not integer and actual.dtype not in FLOAT_DTYPES:
        fail(what, f"expected a floating-point tensor, got dtype {actual.dtype}")
    if tuple(actual.shape) != tuple(expected.shape):
        message = f"expected shape {tuple(expected.shape)}, got {tuple(actual.shape)}"
        hint = _first_hint(hints, actual, expected)
        fail(what, message + (f" — {hint}" if hint else ""))
    if not integer and not equal_nan:
        bad = ~torch.isfinite(actual) & torch.isfinite(expected)
        if bad.any():
            index = tuple(bad.nonzero()[0].tolist())
            hint = _first_hint(hints, actual, expected)
            fail(what, f"has NaN/inf at index {index} (expected {expected[index].item():.6g})"
                 + (f" — {hint}" if hint else ""))
    _check_values(what, actual, expected, atol, rtol, hints, equal_nan)


def _check_values(what, actual, expected, atol, rtol, hints, equal_nan) -> None:
    actual64, expected64 = actual.double(), expected.double()
    close = torch.isclose(actual64, expected64, atol=atol, rtol=rtol, equal_nan=equal_nan)
    if close.all():
        return
    mismatched = (~close).sum().item()
    index = tuple((~close).nonzero()[0].tolist())
    message = (
        f"{mismatched} of {close.numel()} values differ; first at index {index}: "
        f"expected {expected64[index].item():.6g}, got {actual64[index].item():.6g}"
    )
    hint = _first_hint(hints, actual, expected)
    fail(what, message + (f" — {hint}" if hint else ""))


def _first_hint(hints: Iterable[Hint], actual, expected) -> Optional[str]:
    """The first hint's diagnosis; none for a value far larger than expected (hints may
    call ``.tolist()`` or build pairwise matrices: their work must stay bounded)."""
    if nested_size(actual.shape) > HINT_MAX_SIZE_FACTOR * max(nested_size(expected.shape), HINT_MIN_SIZE):
        return None
    for hint in hints:
        try:
            found = hint(actual, expected)
        except Exception:  # a hint must never mask the real failure
            found = None
        if found:
            return found
    return None


def allclose(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-4, rtol: float = 1e-4) -> bool:
    """`a` and `b` have the same shape and close values (float64 compare)."""
    if tuple(a.shape) != tuple(b.shape):
        return False
    return bool(torch.allclose(a.double(), b.double(), atol=atol, rtol=rtol))


def rows_as_set_equal(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-4) -> bool:
    """Both `(N, D)` tensors hold the same rows, in any order."""
    if tuple(a.shape) != tuple(b.shape) or a.dim() != 2:
        return False
    if a.numel() == 0:
        return True
    distance = torch.cdist(a.double(), b.double(), p=float("inf"))  # [N,N]
    # Greedy one-to-one pairing: rows are distinct in practice.
    used = torch.zeros(len(b), dtype=torch.bool)
    for row in distance:
        row = row.masked_fill(used, float("inf"))
        best = int(row.argmin())
        if row[best] > atol:
            return False
        used[best] = True
    return True
