"""The notebook stage's speed probe on this machine: its cost and the time factor it gives.

    python -m benchmarks.machine_speed [--repeat N]

Runs the probe (``autograder/probes/machine.py``) in this process, one
thread, as a sandbox worker would, ``--repeat`` times, and prints each run's
CPU cost, median step and time factor (``autograder/notebook/machine_speed.py``).
Set ``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41`` to see a slower
machine's factor.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from autograder.notebook import machine_speed
from autograder.probes import machine


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # the worker's setting
    kernels = {name: os.environ.get(name, "") for name in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")}
    print(f"kernels: {torch.backends.cpu.get_cpu_capability()} {kernels}")
    for _ in range(args.repeat):
        started = time.process_time()
        reply = machine.training_steps(None, machine_speed.PROBE_IMAGE_SIZE, machine_speed.PROBE_BATCH_SIZE,
                                       machine_speed.PROBE_WARMUP_STEPS, machine_speed.PROBE_STEPS)
        cost = time.process_time() - started
        speed = machine_speed.MachineSpeed(statistics.median(reply["step_cpu_s"]),
                                           statistics.median(reply["step_wall_s"]))
        print(f"probe cost {cost:.2f} CPU s, median step {speed.step_cpu_s:.3f} CPU s "
              f"({speed.step_wall_s:.3f} s wall), time factor {speed.factor:.2f}, wall factor {speed.wall_factor:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
