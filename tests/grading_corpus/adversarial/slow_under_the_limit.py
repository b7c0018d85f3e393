# ---- adversarial part: every call sleeps just under its time limit ----
import time

CALL_TIME_LIMIT_S = 30  # sandbox.DEFAULT_TIMEOUT_S, as a student would read it in the docs
MARGIN_S = 1.5


def iou(boxes1, boxes2):
    time.sleep(CALL_TIME_LIMIT_S - MARGIN_S)
    raise RuntimeError("slow attack: slept just under the limit")
