# ---- adversarial part: allocates memory without bound ----
def iou(boxes1, boxes2):
    hoard = []
    while True:  # untouched pages: the address-space limit stops this without filling the machine's memory
        hoard.append(torch.empty(256 * 2**20, dtype=torch.uint8))
