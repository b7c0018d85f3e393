# ---- adversarial part: sys.exit(0) inside the graded function ----
import sys


def iou(boxes1, boxes2):
    print("all tests PASSED")
    sys.exit(0)
