import torch

ANCHOR_SCALES = [1, 2, 4]
DEFAULT_SCALE = ANCHOR_SCALES[3]


def iou(boxes1, boxes2):
    return boxes1
