"""Pickle-free encoding of plain values crossing the sandbox boundary.

Allowed values: ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes`` of
at most ``MAX_BYTES_LENGTH`` bytes, the ``torch.dtype`` objects of
``ALLOWED_DTYPES``, dense CPU tensors of those dtypes with at most
``MAX_TENSOR_ELEMENTS`` elements (a zero-size dimension counting as 1), and
lists, tuples and dicts (``str``/``int`` keys) of those.  Nothing else is
representable, so decoding can never run code.

Wire format::

    MAGIC | header length (uint64, little endian) | header (UTF-8 JSON) | binary payload

The header is ``{"value": tree, "tensors": [{"dtype", "shape", "offset", "nbytes"}]}``
where ``tree`` is JSON in which ``null``/``true``/numbers/strings are scalars
and every JSON object is a tag with exactly one key: ``{"list": [...]}``,
``{"tuple": [...]}``, ``{"dict": [[key, value], ...]}``, ``{"tensor": index}``,
``{"bytes": index}`` or ``{"dtype": name}``.  The ``tensors`` table describes
every binary value of the payload: a tensor, or a ``bytes`` value (dtype
``"bytes"``, shape ``[length]``).

``decode`` treats its input as hostile: every field is validated and any
problem raises ``TransferError``.
"""

from __future__ import annotations

import json
import math
import struct

import torch

MAGIC = b"AGV1"
_LENGTH = struct.Struct("<Q")

MAX_DEPTH = 32
MAX_ITEMS = 1_000_000
MAX_TENSOR_DIMS = 16
# The most elements a tensor may have, counting a zero-size dimension as 1: a
# (10**9, 0) tensor is a few bytes on the wire but 10**9 lists once a hint
# calls .tolist() on it.  The largest graded value (a backbone parameter) is
# far below it.
MAX_TENSOR_ELEMENTS = 1 << 24
MAX_TENSORS = 1 << 16  # per message: graded replies hold a few hundred; each costs the grader an object

ALLOWED_DTYPES: dict[str, torch.dtype] = {
    "bool": torch.bool,
    "uint8": torch.uint8,
    "int8": torch.int8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
}
_DTYPE_NAMES = {dtype: name for name, dtype in ALLOWED_DTYPES.items()}
# The table's dtype of a bytes value.  Files (the notebook's data) travel as bytes; the cap is the
# one a uint8 tensor has, which carried them before.
BYTES_ENTRY = "bytes"
MAX_BYTES_LENGTH = MAX_TENSOR_ELEMENTS
_CONTAINER_TAGS = ("list", "tuple", "dict")


class TransferError(ValueError):
    """A value cannot be encoded, or received bytes are not a valid encoding."""


# --------------------------------------------------------------------- encode
def encode(value: object) -> bytes:
    """Serialise ``value``; raise ``TransferError`` naming the offending path."""
    blobs: list[bytes] = []  # the payload: tensors' and bytes values' data, in table order
    table: list[dict] = []
    tree = _encode_tree(value, "result", blobs, table, depth=0)
    offset = 0
    for entry, blob in zip(table, blobs):
        entry["offset"] = offset
        offset += len(blob)
    header = json.dumps({"value": tree, "tensors": table}, allow_nan=True).encode()
    return b"".join([MAGIC, _LENGTH.pack(len(header)), header, *blobs])


def _encode_tree(value, path, blobs, table, depth):
    if depth > MAX_DEPTH:
        raise TransferError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) in (torch.Tensor, torch.nn.Parameter):
        blob, entry = _encode_tensor(value, path)
        blobs.append(blob)
        table.append(entry)
        return {"tensor": len(table) - 1}
    if type(value) is bytes:
        if len(value) > MAX_BYTES_LENGTH:
            raise TransferError(f"{path}: {len(value)} bytes are more than the {MAX_BYTES_LENGTH} allowed")
        blobs.append(value)
        table.append({"dtype": BYTES_ENTRY, "shape": [len(value)], "nbytes": len(value)})
        return {"bytes": len(table) - 1}
    if type(value) is torch.dtype:
        if value not in _DTYPE_NAMES:
            raise TransferError(f"{path}: dtype {value} is not allowed")
        return {"dtype": _DTYPE_NAMES[value]}
    if type(value) in (list, tuple):
        tag = type(value).__name__
        return {tag: [_encode_tree(v, f"{path}[{i}]", blobs, table, depth + 1) for i, v in enumerate(value)]}
    if type(value) is dict:
        pairs = []
        for key, item in value.items():
            if type(key) not in (str, int):
                raise TransferError(f"{path}: dict key {key!r} has type {_type_name(key)}; only str and int keys are allowed")
            pairs.append([key, _encode_tree(item, f"{path}[{key!r}]", blobs, table, depth + 1)])
        return {"dict": pairs}
    raise TransferError(
        f"{path} has type {_type_name(value)}; allowed are torch.Tensor, torch.dtype, int, float, bool, str, "
        "bytes, None and lists, tuples and dicts of those"
    )


def _encode_tensor(tensor: torch.Tensor, path: str) -> tuple[bytes, dict]:
    tensor = tensor.detach()
    if tensor.layout != torch.strided or tensor.is_quantized or tensor.device.type == "meta":
        raise TransferError(f"{path}: only dense tensors are allowed (got layout {tensor.layout}, device {tensor.device})")
    if tensor.dtype not in _DTYPE_NAMES:
        raise TransferError(f"{path}: tensor dtype {tensor.dtype} is not allowed")
    if nested_size(tensor.shape) > MAX_TENSOR_ELEMENTS:
        raise TransferError(f"{path}: a tensor of shape {tuple(tensor.shape)} is larger than the "
                            f"{MAX_TENSOR_ELEMENTS} elements allowed")
    tensor = tensor.cpu().resolve_conj().resolve_neg().contiguous()
    blob = tensor.reshape(-1).view(torch.uint8).numpy().tobytes()
    return blob, {"dtype": _DTYPE_NAMES[tensor.dtype], "shape": list(tensor.shape), "nbytes": len(blob)}


def nested_size(shape) -> int:
    """Elements of a tensor of ``shape`` if every zero-size dimension had size 1: the size of
    what ``.tolist()`` builds, and an upper bound of its element count."""
    return math.prod(max(int(size), 1) for size in shape)


def _type_name(value: object) -> str:
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


# --------------------------------------------------------------------- decode
def decode(data: bytes) -> object:
    """Rebuild a value from ``encode`` output, validating everything."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _LENGTH.size:
        raise TransferError("data does not start with the transfer header")
    (header_length,) = _LENGTH.unpack_from(data, len(MAGIC))
    payload_start = len(MAGIC) + _LENGTH.size + header_length
    if payload_start > len(data):
        raise TransferError("header length points past the end of the data")
    try:
        header = json.loads(data[len(MAGIC) + _LENGTH.size : payload_start].decode())
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise TransferError(f"header is not valid JSON ({type(error).__name__})") from None
    if type(header) is not dict or set(header) != {"value", "tensors"} or type(header["tensors"]) is not list:
        raise TransferError("header must be an object with exactly 'value' and 'tensors'")
    payload = memoryview(data)[payload_start:]
    _check_layout(header["tensors"], len(payload))
    try:
        binaries = [_decode_entry(entry, payload, index) for index, entry in enumerate(header["tensors"])]
    except (TypeError, ValueError, OverflowError, RuntimeError) as error:  # e.g. a shape beyond int64
        if isinstance(error, TransferError):
            raise
        raise TransferError(f"a tensor cannot be rebuilt ({type(error).__name__})") from None
    counter = [0]
    return _decode_tree(header["value"], binaries, depth=0, counter=counter)


def _check_layout(entries: list, payload_bytes: int) -> None:
    """Tensors lie one after the other, as ``encode`` lays them out, and fill the payload exactly:
    what the grader rebuilds is never more than what it received (no range listed twice)."""
    if len(entries) > MAX_TENSORS:
        raise TransferError(f"{len(entries)} tensors; at most {MAX_TENSORS} allowed in one message")
    end = 0
    for index, entry in enumerate(entries):
        offset = entry.get("offset") if type(entry) is dict else None
        nbytes = entry.get("nbytes") if type(entry) is dict else None
        if type(offset) is not int or type(nbytes) is not int or offset != end or nbytes < 0:
            raise TransferError(f"tensor {index}: its bytes must follow the previous tensor's (offset {end})")
        end += nbytes
    if end != payload_bytes:
        raise TransferError(f"the tensors hold {end} bytes but the data carries {payload_bytes}")


def _decode_tree(node, binaries, depth, counter):
    """``binaries``: the decoded table, each entry a tensor or bytes (built once, however often
    the tree names it)."""
    counter[0] += 1
    if counter[0] > MAX_ITEMS:
        raise TransferError(f"more than {MAX_ITEMS} values")
    if depth > MAX_DEPTH:
        raise TransferError(f"nested deeper than {MAX_DEPTH} levels")
    if node is None or type(node) in (bool, int, float, str):
        return node
    if type(node) is not dict or len(node) != 1:
        raise TransferError(f"unexpected JSON node of type {type(node).__name__}")
    ((tag, body),) = node.items()
    if tag in ("tensor", "bytes"):
        if type(body) is not int or not 0 <= body < len(binaries):
            raise TransferError(f"{tag} index {body!r} out of range")
        if isinstance(binaries[body], bytes) != (tag == "bytes"):
            raise TransferError(f"{tag} index {body} names a table entry that is not {tag}")
        return binaries[body]
    if tag == "dtype":
        if type(body) is not str or body not in ALLOWED_DTYPES:
            raise TransferError(f"dtype {body!r} is not allowed")
        return ALLOWED_DTYPES[body]
    if tag not in _CONTAINER_TAGS or type(body) is not list:
        raise TransferError(f"unknown tag {tag!r}")
    if tag == "dict":
        result = {}
        for pair in body:
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) not in (str, int):
                raise TransferError("dict entries must be [str or int key, value] pairs")
            result[pair[0]] = _decode_tree(pair[1], binaries, depth + 1, counter)
        return result
    items = [_decode_tree(item, binaries, depth + 1, counter) for item in body]
    return items if tag == "list" else tuple(items)


def _decode_entry(entry, payload: memoryview, index: int) -> torch.Tensor | bytes:
    if type(entry) is not dict or set(entry) != {"dtype", "shape", "offset", "nbytes"}:
        raise TransferError(f"tensor {index}: malformed description")
    if entry["dtype"] == BYTES_ENTRY:
        return _decode_bytes(entry, payload, index)
    dtype = ALLOWED_DTYPES.get(entry["dtype"]) if type(entry["dtype"]) is str else None
    shape, offset, nbytes = entry["shape"], entry["offset"], entry["nbytes"]
    if dtype is None:
        raise TransferError(f"tensor {index}: dtype {entry['dtype']!r} is not allowed")
    if (
        type(shape) is not list
        or len(shape) > MAX_TENSOR_DIMS
        or any(type(size) is not int or size < 0 for size in shape)
    ):
        raise TransferError(f"tensor {index}: invalid shape {shape!r}")
    if nested_size(shape) > MAX_TENSOR_ELEMENTS:
        raise TransferError(f"tensor {index}: shape {shape} is larger than the {MAX_TENSOR_ELEMENTS} elements allowed")
    if type(offset) is not int or type(nbytes) is not int or offset < 0 or offset + nbytes > len(payload):
        raise TransferError(f"tensor {index}: byte range outside the data")
    itemsize = torch.empty((), dtype=dtype).element_size()
    if math.prod(shape) * itemsize != nbytes:
        raise TransferError(f"tensor {index}: {nbytes} bytes do not match shape {shape} of {entry['dtype']}")
    if nbytes == 0:
        return torch.empty(shape, dtype=dtype)
    raw = torch.frombuffer(bytearray(payload[offset : offset + nbytes]), dtype=torch.uint8)
    if dtype is torch.bool and int(raw.max()) > 1:
        raise TransferError(f"tensor {index}: bool tensor holds bytes other than 0 and 1")
    return raw.view(dtype).reshape(shape)


def _decode_bytes(entry: dict, payload: memoryview, index: int) -> bytes:
    shape, offset, nbytes = entry["shape"], entry["offset"], entry["nbytes"]
    if type(shape) is not list or len(shape) != 1 or type(shape[0]) is not int or shape[0] != nbytes:
        raise TransferError(f"entry {index}: bytes of shape {shape!r} must have shape [nbytes] ({nbytes!r})")
    if nbytes > MAX_BYTES_LENGTH:
        raise TransferError(f"entry {index}: {nbytes} bytes are more than the {MAX_BYTES_LENGTH} allowed")
    if type(offset) is not int or offset < 0 or offset + nbytes > len(payload):
        raise TransferError(f"entry {index}: byte range outside the data")
    return bytes(payload[offset : offset + nbytes])
