"""What a Python-loop NMS in ``RPN.predict_proposals`` costs the graded training run.

    python -m benchmarks.loop_nms_in_training [--steps 10] [--warmup 3]

Times training steps of the reference at the grading profile's size (image
size, batch, FPN width, post-NMS top-k; pre-NMS top-k 500 as the notebook's
full run), once with ``torchvision.ops.nms`` in ``predict_proposals`` (the
reference) and once with the reference's own loop ``nms`` there, alternating
step by step (CPU seconds, one thread, as in the sandbox).  The difference
times the profile's iterations, divided by the machine's speed factor, is
what the loop costs in calibration-machine seconds: why the TODO pins
``torchvision.ops.nms`` (docs/calibration.md).
"""
from __future__ import annotations

import argparse
import inspect
import statistics

import torch

from autograder.notebook.grading_profile import GRADING_PROFILE
from autograder.course.reference_solution import load_reference
from benchmarks.training_step import DetectorConfig, fixed_batch, reference_detector, step_timer

NOTEBOOK_PRE_NMS_TOPK = 500  # the notebook's full-run cell


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    reference = load_reference()
    profile = GRADING_PROFILE
    config = DetectorConfig("graded", profile.image_size, profile.batch_size, profile.fpn_channels,
                            pre_nms_topk=NOTEBOOK_PRE_NMS_TOPK, post_nms_topk=profile.post_nms_topk)
    images, boxes = fixed_batch(config)
    detector_module = inspect.unwrap(reference.RPN.predict_proposals).__globals__  # where it finds torchvision
    library_nms = detector_module["torchvision"].ops.nms
    timers = {}
    for name in ("torchvision", "loop"):
        torch.manual_seed(0)
        model = reference_detector(reference, config)
        timers[name] = step_timer(model, lambda model=model: model(images, boxes))
    timings = {name: [] for name in timers}
    try:
        for index in range(args.warmup + args.steps):
            for name, timed_step in timers.items():
                detector_module["torchvision"].ops.nms = reference.nms if name == "loop" else library_nms
                seconds = timed_step()
                if index >= args.warmup:
                    timings[name].append(seconds)
    finally:
        detector_module["torchvision"].ops.nms = library_nms
    median = {name: statistics.median(values) for name, values in timings.items()}
    extra = median["loop"] - median["torchvision"]
    print(f"CPU s per step: torchvision.ops.nms {median['torchvision']:.3f}, loop nms {median['loop']:.3f} "
          f"(+{extra / median['torchvision']:.0%}); over {profile.iterations} iterations: +{extra * profile.iterations:.0f} "
          "CPU s on this machine (divide by the speed factor of `python -m benchmarks.machine_speed` "
          f"for calibration-machine seconds; the training cell's limit is {profile.cell_cpu_limit_s:g})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
