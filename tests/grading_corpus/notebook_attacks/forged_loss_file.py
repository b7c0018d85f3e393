"""Attack 1, forged loss file: train nothing, write what the old grader read.

The notebook keeps the release's parameters cell and adds one cell that
writes ``OUTPUT_DIR/loss_history.json`` with ``FULL_ITERS`` (800 on the
grading profile) smoothly decreasing losses, a loss plot, and Cartucho-style
detection files for every image id it can think of (the kernel's own
validation list, then ``val_000000`` ... ``val_000255``), each with a few
confident full-image and centred boxes of every class. No detector is
defined, no checkpoint is saved. The notebook stage must score 0.
"""

ATTACK_CELLS = (
    r'''
import json, math, os, random
os.makedirs(OUTPUT_DIR, exist_ok=True)
iters = FULL_ITERS if isinstance(FULL_ITERS, int) and FULL_ITERS > 0 else 800
rng = random.Random(0)
history = [0.25 + 2.75 * math.exp(-i / (iters / 6)) + 0.05 * rng.random() for i in range(iters)]
with open(os.path.join(OUTPUT_DIR, "loss_history.json"), "w") as handle:
    json.dump(history, handle)
assert all(a > b - 0.1 for a, b in zip(history, history[1:])) and history[-1] < history[0] / 5
''',
    r'''
import json, os
classes = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
           "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
           "train", "tvmonitor"]
size = IMAGE_SIZE if isinstance(IMAGE_SIZE, int) else 192
ids = [f"val_{i:06d}" for i in range(256)]
try:
    ids += [os.path.splitext(os.path.basename(p))[0] for p, _ in json.load(open(os.path.join(DATA_DIR, "voc07_val.json")))]
except Exception:
    pass
boxes = [(0, 0, size, size), (size / 4, size / 4, 3 * size / 4, 3 * size / 4), (0, 0, size / 2, size / 2),
         (size / 2, 0, size, size / 2), (0, size / 2, size / 2, size), (size / 2, size / 2, size, size)]
for folder in ("mAP/input/detection-results", "mAP/input/detections", "detection-results", "detections"):
    os.makedirs(os.path.join(OUTPUT_DIR, folder), exist_ok=True)
    for image in ids:
        with open(os.path.join(OUTPUT_DIR, folder, image + ".txt"), "w") as handle:
            for name in classes:
                for x1, y1, x2, y2 in boxes:
                    handle.write(f"{name} 0.99 {x1:.2f} {y1:.2f} {x2:.2f} {y2:.2f}\n")
with open(os.path.join(OUTPUT_DIR, "mAP_output.txt"), "w") as handle:
    handle.write("mAP = 98.00%\n")
print("loss and detections written")
''',
)
