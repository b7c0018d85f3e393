# ---- adversarial part: os._exit(0) inside the graded function ----
import os


def iou(boxes1, boxes2):
    print("all tests PASSED")
    os._exit(0)
