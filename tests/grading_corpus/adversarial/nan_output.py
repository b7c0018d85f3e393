# ---- adversarial part: returns a NaN-filled tensor of the right shape ----
def iou(boxes1, boxes2):
    return torch.full((len(boxes1), len(boxes2)), float("nan"), dtype=boxes1.dtype)
