# ---- adversarial part: returns a 100 MB tensor ----
def iou(boxes1, boxes2):
    return torch.zeros(5000, 5000)
