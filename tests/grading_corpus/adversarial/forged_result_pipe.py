# ---- adversarial part: writes a hostile report straight into the worker's result pipe ----
import json
import os
import struct

# A well-framed report whose tensor has an impossible shape (2**64 columns, 0 rows).
_HEADER = json.dumps({
    "value": {"dict": [["status", "ok"], ["value", {"dict": [["value", {"tensor": 0}]]}]]},
    "tensors": [{"dtype": "float32", "shape": [0, 2**64], "offset": 0, "nbytes": 0}],
}).encode()
HOSTILE_REPORT = b"AGV1" + struct.pack("<Q", len(_HEADER)) + _HEADER


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
    for fd in list(_result_pipes()):
        try:
            os.write(fd, HOSTILE_REPORT)
        except OSError:
            pass
    os._exit(0)
