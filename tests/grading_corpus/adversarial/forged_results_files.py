# ---- adversarial part: forges results.json wherever the grader might read it ----
# The harness replaces the @...@ placeholders with the real paths of this
# grading run: the attack guesses them perfectly.
import atexit
import json
import os

FORGED_RESULTS = {"score": 1000.0, "output": "forged", "tests": [
    {"name": "iou: two overlapping boxes", "score": 1000.0, "max_score": 1.0, "status": "passed"},
]}
FORGERY_TARGETS = [
    "results.json",  # the worker's current directory
    "/tmp/results.json",
    "/tmp/@TOKEN@-results.json",
    "@GRADER_CWD@/results.json",
    "@OUTPUT_DIR@/results.json",
    "@OUTPUT_DIR@/../results.json",
    "@OUTPUT_PARENT@/results.json",
    "@REPOSITORY@/results.json",
]


def _forge_everywhere():
    for target in FORGERY_TARGETS:
        try:
            with open(target, "w") as forged:
                json.dump(FORGED_RESULTS, forged)
        except OSError:
            pass
        try:  # the atomic way the grader itself writes
            with open(target + ".tmp", "w") as forged:
                json.dump(FORGED_RESULTS, forged)
            os.replace(target + ".tmp", target)
        except OSError:
            pass


_forge_everywhere()  # at import time
atexit.register(_forge_everywhere)  # and when the worker exits


def iou(boxes1, boxes2):
    _forge_everywhere()
    return torch.zeros(len(boxes1), len(boxes2))
