# ---- adversarial part: a tensor of a few bytes that expands to 10**9 lists in .tolist() ----
import torch


def iou(boxes1, boxes2):
    return torch.empty(10**9, 0)
