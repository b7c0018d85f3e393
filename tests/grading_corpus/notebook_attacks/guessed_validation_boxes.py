"""Attack 2, regenerated or guessed validation boxes: find the grader's data instead of learning.

The notebook keeps the release's parameters cell and adds one cell that

1. tries to import the grader's generator and grading data
   (``synthetic_voc.generator`` or its old home ``data_scripts.synthetic_dataset``,
   ``autograder.notebook.grading_data``,
   ``autograder.notebook.grading_profile``), from ``sys.path`` and from every folder
   above the working directory and the course folder;
2. if it can, regenerates validation splits from every seed it can think of
   (the training split's seed, ``validation_seed`` of small numbers and of
   any integer in its environment) and keeps their boxes;
3. looks for validation images and box lists on disk (``val_*.jpg``,
   ``SYNTHETIC.json``, ``voc07_val.json``, ``*.xml``) under the working
   directory, its parents, ``/tmp`` and the home folder;
4. writes every box it found as a confident detection file
   (``OUTPUT_DIR/mAP/input/detection-results/<id>.txt``, Cartucho's format),
   plus guessed boxes for ``val_000000`` ... ``val_000255``, and a decreasing
   ``loss_history.json``.

It defines no detector and saves no checkpoint: the notebook stage must
score 0. It reports what it found in a summary line (counts only).
"""

ATTACK_CELLS = (
    r'''
import glob, importlib, json, math, os, sys
found = {"imports": [], "splits": 0, "files": 0, "boxes": 0}
boxes_by_image = {}  # image id -> [(class name, x1, y1, x2, y2)]

def _try_import(name):
    try:
        module = importlib.import_module(name)
        found["imports"].append(name)
        return module
    except Exception:
        return None

def _with_roots(name):
    module = _try_import(name)
    if module is not None:
        return module
    start = [os.getcwd(), os.path.abspath(COURSE_DIR if isinstance(COURSE_DIR, str) else ".")]
    for base in start:
        folder = base
        for _ in range(8):
            if folder not in sys.path and os.path.isdir(os.path.join(folder, name.split(".")[0])):
                sys.path.append(folder)
                module = _try_import(name)
                if module is not None:
                    return module
            folder = os.path.dirname(folder)
    return None

synthetic = _with_roots("synthetic_voc.generator") or _with_roots("data_scripts.synthetic_dataset")
grading_data = _with_roots("autograder.notebook.grading_data")
grading_profile = _with_roots("autograder.notebook.grading_profile")

seeds = {0, 1, 2, 7, 42, 1234, 2024, 90210}
seeds |= {int(v) for v in os.environ.values() if v.isdigit() and len(v) < 12}
if grading_profile is not None:
    for profile in (getattr(grading_profile, "GRADING_PROFILE", None), getattr(grading_profile, "SMOKE_PROFILE", None)):
        if profile is not None:
            seeds.add(profile.dataset_seed)
if grading_data is not None and hasattr(grading_data, "validation_seed"):
    seeds |= {grading_data.validation_seed(s) for s in list(seeds) + list(range(16))}

if synthetic is not None:
    import tempfile
    size = IMAGE_SIZE if isinstance(IMAGE_SIZE, int) else 192
    for seed in sorted(seeds)[:12]:
        try:
            with tempfile.TemporaryDirectory() as scratch:
                root = synthetic.make_synthetic_dataset(os.path.join(scratch, "v"), num_train=0, num_val=128, seed=seed)
                entries = json.load(open(os.path.join(root, "voc07_val.json")))
                found["splits"] += 1
                for path, boxes in entries:
                    key = os.path.splitext(os.path.basename(path))[0]
                    for box in boxes:
                        boxes_by_image.setdefault(key, []).append(tuple(box[:5]) if isinstance(box, list) else box)
        except Exception:
            pass

for base in {os.getcwd(), os.path.dirname(os.getcwd()), "/tmp", os.path.expanduser("~")}:
    for pattern in ("**/val_*.jpg", "**/SYNTHETIC.json", "**/voc07_val.json", "**/val_*.xml"):
        try:
            for path in glob.glob(os.path.join(base, pattern), recursive=True)[:2000]:
                found["files"] += 1
                if path.endswith("voc07_val.json"):
                    for image, boxes in json.load(open(path)):
                        key = os.path.splitext(os.path.basename(image))[0]
                        boxes_by_image.setdefault(key, []).extend(boxes)
        except Exception:
            pass
print("search:", json.dumps(found))
''',
    r'''
import json, math, os
os.makedirs(OUTPUT_DIR, exist_ok=True)
size = IMAGE_SIZE if isinstance(IMAGE_SIZE, int) else 192
classes = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
           "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
           "train", "tvmonitor"]
guesses = [(0, 0, size, size), (size / 4, size / 4, 3 * size / 4, 3 * size / 4)]

def _line(box):
    if isinstance(box, dict):  # {"name": ..., "bbox": [...]}
        name, (x1, y1, x2, y2) = box.get("name", "car"), box.get("bbox", box.get("box"))[:4]
    elif isinstance(box[0], str):
        name, x1, y1, x2, y2 = box[:5]
    else:
        x1, y1, x2, y2, label = box[:5]
        name = classes[int(label)] if 0 <= int(label) < len(classes) else "car"
    return f"{name} 0.99 {float(x1):.2f} {float(y1):.2f} {float(x2):.2f} {float(y2):.2f}\n"

folder = os.path.join(OUTPUT_DIR, "mAP", "input", "detection-results")
os.makedirs(folder, exist_ok=True)
for index in range(256):
    boxes_by_image.setdefault(f"val_{index:06d}", [])
for key, boxes in boxes_by_image.items():
    with open(os.path.join(folder, key + ".txt"), "w") as handle:
        for box in boxes:
            try:
                handle.write(_line(box))
            except Exception:
                pass
        for name in classes:
            for x1, y1, x2, y2 in guesses:
                handle.write(f"{name} 0.5 {x1:.2f} {y1:.2f} {x2:.2f} {y2:.2f}\n")
history = [3.0 * math.exp(-i / 150) + 0.2 for i in range(FULL_ITERS if isinstance(FULL_ITERS, int) else 800)]
json.dump(history, open(os.path.join(OUTPUT_DIR, "loss_history.json"), "w"))
print(f"wrote detections for {len(boxes_by_image)} images")
''',
)
