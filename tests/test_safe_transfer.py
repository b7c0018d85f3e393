"""The transfer format (autograder/sandbox/safe_transfer.py) on its own: round trips, caps, forged data.

Everything the sandbox sends either way goes through it; ``decode`` treats its input as hostile.
"""

from __future__ import annotations

import json

import pytest
import torch

from autograder.sandbox import safe_transfer
from autograder.sandbox.safe_transfer import MAGIC, MAX_BYTES_LENGTH, TransferError, decode, encode


def forged(header: dict, payload: bytes = b"") -> bytes:
    """A message with any header, as hostile code in the worker could write it."""
    raw = json.dumps(header).encode()
    return MAGIC + len(raw).to_bytes(8, "little") + raw + payload


def header_of(data: bytes) -> dict:
    length = int.from_bytes(data[len(MAGIC):len(MAGIC) + 8], "little")
    return json.loads(data[len(MAGIC) + 8:len(MAGIC) + 8 + length])


# --------------------------------------------------------------- bytes, dtypes
def test_bytes_and_dtypes_round_trip_among_other_values():
    value = {"files": {"data/train.json": b'{"images": []}\n', "empty.bin": b"", "raw": bytes(range(256))},
             "dtype": torch.float64, "dtypes": (torch.bool, torch.bfloat16, torch.uint8),
             "tensor": torch.arange(3, dtype=torch.int32), "text": "kept"}

    echoed = decode(encode(value))

    assert echoed["files"] == value["files"] and type(echoed["files"]["raw"]) is bytes
    assert echoed["dtype"] is torch.float64 and echoed["dtypes"] == (torch.bool, torch.bfloat16, torch.uint8)
    assert torch.equal(echoed["tensor"], value["tensor"]) and echoed["text"] == "kept"


def test_bytes_and_dtypes_are_tagged_in_the_header():
    data = encode([b"abc", torch.int64])

    assert header_of(data) == {"value": {"list": [{"bytes": 0}, {"dtype": "int64"}]},
                               "tensors": [{"dtype": "bytes", "shape": [3], "nbytes": 3, "offset": 0}]}
    assert data.endswith(b"abc")


def test_bytes_and_tensors_share_the_payload_in_order():
    value = [torch.tensor([1, 2], dtype=torch.uint8), b"xyz", torch.tensor([3], dtype=torch.uint8)]

    data = encode(value)

    assert data.endswith(b"\x01\x02xyz\x03")
    assert [entry["offset"] for entry in header_of(data)["tensors"]] == [0, 2, 5]
    first, middle, last = decode(data)
    assert torch.equal(first, value[0]) and middle == b"xyz" and torch.equal(last, value[2])


def test_bytes_cap():
    largest = b"\x01" * MAX_BYTES_LENGTH
    assert decode(encode({"file": largest}))["file"] == largest

    with pytest.raises(TransferError, match=r"result\['file'\]: 16777217 bytes are more than the 16777216 allowed"):
        encode({"file": largest + b"\x01"})
    too_long = MAX_BYTES_LENGTH + 1
    entry = {"dtype": "bytes", "shape": [too_long], "offset": 0, "nbytes": too_long}
    with pytest.raises(TransferError, match="more than the 16777216 allowed"):
        decode(forged({"value": {"bytes": 0}, "tensors": [entry]}, b"\x00" * too_long))


def test_only_the_allowed_dtypes_and_real_bytes_are_encoded():
    with pytest.raises(TransferError, match=r"result\[0\]: dtype torch.complex64 is not allowed"):
        encode([torch.complex64])
    with pytest.raises(TransferError, match=r"result\[0\] has type bytearray"):
        encode([bytearray(b"ab")])
    with pytest.raises(TransferError, match=r"result\[0\] has type memoryview"):
        encode([memoryview(b"ab")])


@pytest.mark.parametrize("header, payload, problem", [
    ({"value": {"dtype": "object"}, "tensors": []}, b"", "dtype 'object' is not allowed"),
    ({"value": {"dtype": "complex64"}, "tensors": []}, b"", "dtype 'complex64' is not allowed"),
    ({"value": {"dtype": 6}, "tensors": []}, b"", "dtype 6 is not allowed"),
    ({"value": {"dtype": ["float32"]}, "tensors": []}, b"", "is not allowed"),
    ({"value": {"bytes": 1}, "tensors": [{"dtype": "bytes", "shape": [2], "offset": 0, "nbytes": 2}]}, b"ab",
     "bytes index 1 out of range"),
    ({"value": {"bytes": "0"}, "tensors": [{"dtype": "bytes", "shape": [2], "offset": 0, "nbytes": 2}]}, b"ab",
     "bytes index '0' out of range"),
    ({"value": {"bytes": 0}, "tensors": [{"dtype": "uint8", "shape": [2], "offset": 0, "nbytes": 2}]}, b"ab",
     "names a table entry that is not bytes"),
    ({"value": {"tensor": 0}, "tensors": [{"dtype": "bytes", "shape": [2], "offset": 0, "nbytes": 2}]}, b"ab",
     "names a table entry that is not tensor"),
    ({"value": {"bytes": 0}, "tensors": [{"dtype": "bytes", "shape": [3], "offset": 0, "nbytes": 2}]}, b"ab",
     "must have shape \\[nbytes\\]"),
    ({"value": {"bytes": 0}, "tensors": [{"dtype": "bytes", "shape": [1, 2], "offset": 0, "nbytes": 2}]}, b"ab",
     "must have shape \\[nbytes\\]"),
    ({"value": {"bytes": 0}, "tensors": [{"dtype": "bytes", "shape": [True], "offset": 0, "nbytes": 1}]}, b"a",
     "must have shape \\[nbytes\\]"),
    ({"value": {"bytes": 0}, "tensors": [{"dtype": "bytes", "shape": [2], "offset": 0, "nbytes": 2}]}, b"abc",
     "the data carries 3"),
    ({"value": {"bytes": 0}, "tensors": [{"dtype": "bytes", "shape": [2], "nbytes": 2}]}, b"ab",
     "must follow the previous tensor"),
])
def test_malformed_bytes_and_dtypes_are_rejected(header, payload, problem):
    with pytest.raises(TransferError, match=problem):
        decode(forged(header, payload))


def test_bytes_named_many_times_are_rebuilt_once():
    """Naming one range a million times must not make the grader hold a million copies."""
    entry = {"dtype": "bytes", "shape": [4], "offset": 0, "nbytes": 4}

    value = decode(forged({"value": {"list": [{"bytes": 0}] * 1000}, "tensors": [entry]}, b"abcd"))

    assert len({id(item) for item in value}) == 1 and value[0] == b"abcd"


# ------------------------------------------------------------ forged messages
def test_transfer_rejects_pickles_and_forged_headers():
    pickled = __import__("pickle").dumps(torch.zeros(2))
    with pytest.raises(TransferError):
        decode(pickled)

    tensor = {"dtype": "float32", "shape": [2], "offset": 0, "nbytes": 8}
    bad_headers = [
        {"value": {"tensor": 0}, "tensors": [tensor | {"dtype": "object"}]},
        {"value": {"tensor": 0}, "tensors": [tensor | {"nbytes": 4}]},
        {"value": {"tensor": 0}, "tensors": [tensor | {"offset": 100}]},
        {"value": {"tensor": 3}, "tensors": [tensor]},
        {"value": {"pickle": "..."}, "tensors": []},
        {"value": {"dict": [[["not", "hashable"], 1]]}, "tensors": []},
        {"value": {"tensor": 0}, "tensors": [tensor | {"dtype": "bool", "nbytes": 2}]},
    ]
    for header in bad_headers:
        with pytest.raises(TransferError):
            decode(forged(header, b"\x07" * 8))
    deep = {"value": json.loads("[" * 100 + "]" * 100), "tensors": []}
    with pytest.raises(TransferError):
        decode(forged(deep))


def test_transfer_rebuilds_no_more_bytes_than_it_received():
    """The same byte range listed 400 times would make the grader copy it 400 times."""
    one = encode(torch.arange(4.0))
    header = header_of(one)
    payload = one[-16:]

    def with_tensors(tensors: list, data: bytes = payload) -> bytes:
        return forged({"value": header["value"], "tensors": tensors}, data)

    entry = header["tensors"][0]
    assert torch.equal(decode(with_tensors([entry])), torch.arange(4.0))
    with pytest.raises(TransferError, match="must follow the previous tensor"):
        decode(with_tensors([entry] * 400))
    with pytest.raises(TransferError, match="the data carries"):
        decode(with_tensors([entry], payload * 2))
    empty = {"dtype": "float32", "shape": [0], "offset": 0, "nbytes": 0}
    with pytest.raises(TransferError, match="tensors; at most"):
        decode(with_tensors([empty] * (safe_transfer.MAX_TENSORS + 1), b""))


def test_transfer_bounds_what_a_tensor_can_expand_to():
    """A (10**9, 0) tensor is a few bytes on the wire, and 10**9 lists once .tolist() runs on it."""
    hollow = {"dtype": "float32", "shape": [10**9, 0], "offset": 0, "nbytes": 0}

    with pytest.raises(TransferError, match="larger than"):
        decode(forged({"value": {"tensor": 0}, "tensors": [hollow]}))
    with pytest.raises(TransferError, match=r"result\['keep'\].*larger than"):
        encode({"keep": torch.empty(10**9, 0)})
    largest = torch.zeros(safe_transfer.MAX_TENSOR_ELEMENTS, dtype=torch.bool)
    assert torch.equal(decode(encode(largest)), largest)
