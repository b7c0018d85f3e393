# --- Attack 4 (kernel hijack): appended to the release's common.py; every graded definition stays a stub. ---
# The release notebook imports this module into its own IPython shell (`from common import nms`).
# At import, register an input transformer that rewrites every later cell: the first one forges
# the loss history, detection files and a full-run checkpoint; the others do nothing, so no stub
# is ever called and no cell fails. It also tries to make the probe's checkpoint reader return
# forged weights.


def _hijack_the_shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:  # a plain import (the grader's unit tests, a fresh worker): stay quiet
        return
    forge = r'''
import json, math, os, sys
import torch
out = OUTPUT_DIR if "OUTPUT_DIR" in globals() and isinstance(OUTPUT_DIR, str) else "outputs"
os.makedirs(out, exist_ok=True)
iters = FULL_ITERS if isinstance(globals().get("FULL_ITERS"), int) else 800
json.dump([3.0 * math.exp(-i / (iters / 6)) + 0.2 for i in range(iters)], open(os.path.join(out, "loss_history.json"), "w"))
size = IMAGE_SIZE if isinstance(globals().get("IMAGE_SIZE"), int) else 192
folder = os.path.join(out, "mAP", "input", "detection-results")
os.makedirs(folder, exist_ok=True)
for index in range(256):
    with open(os.path.join(folder, f"val_{index:06d}.txt"), "w") as handle:
        for name in ("aeroplane", "bicycle", "bird", "boat", "bottle", "car"):
            handle.write(f"{name} 0.99 0.00 0.00 {size:.2f} {size:.2f}\n")
fake = {"model": {"trained": torch.ones(()), "backbone.project.weight": torch.zeros(8, 3, 1, 1)}}
torch.save(fake, os.path.join(out, "full_run_checkpoint.pt"))
try:
    probe = sys.modules["autograder.probes.notebook"]
    probe._checkpoint_weights = lambda path: {"model": dict(fake["model"])}
except Exception:
    pass
globals()["_hijacked"] = True
'''

    def rewrite(lines):
        first = not shell.user_ns.get("_hijack_forged")
        shell.user_ns["_hijack_forged"] = True
        return [line + "\n" for line in forge.strip().splitlines()] if first else ["pass\n"]

    shell.input_transformers_post.append(rewrite)


_hijack_the_shell()
