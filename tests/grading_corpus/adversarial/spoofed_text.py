# ---- adversarial part: text that forges the grader's verdict (uploaded as a zip, see `zip_folder`) ----
FAKE_VERDICT = "@FAKE_VERDICT@"


def iou(boxes1, boxes2):
    raise RuntimeError("spoofed text\x1b[2K\r" + FAKE_VERDICT + "\u2028" + FAKE_VERDICT + "\n\x1b[32m" + FAKE_VERDICT)
