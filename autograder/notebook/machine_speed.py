"""How fast this machine is, relative to the calibration machine: the notebook stage's time scale.

The notebook stage's CPU and wall limits (``grading_profile.py``) are
calibrated on one machine (``docs/calibration.md``). Before the notebook
runs, the grader times a fixed trusted workload in the sandbox (probe
``machine.training_steps``: RegNetX-400MF training steps at the graded size,
with the worker's one thread and CPU kernels) and scales every limit by

    factor = clamp(median step CPU s here / CALIBRATION_STEP_CPU_S, MIN_FACTOR, MAX_FACTOR)

so the reference keeps its margin on a slower machine, and a faster one
grants no more training than the calibration machine did. The wall-clock
backstop scales by the same rule applied to the steps' wall time (at least
the CPU factor): on a machine shared with other gradings a CPU second takes
longer than a second, which must not stop a notebook that is within its CPU
limits. The factors and the scaled limits are for staff (terminal output),
never students: their messages state the limits unscaled.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from autograder.notebook.grading_profile import GRADING_PROFILE, GradingProfile
from autograder.sandbox.client import Sandbox

SPEED_PROBE = "machine.training_steps"
# The workload: the graded run's image size and batch, one warm-up step
# (allocations, oneDNN primitive creation), then enough steps for a stable
# median. About 2 CPU s on the calibration machine.
PROBE_IMAGE_SIZE = GRADING_PROFILE.image_size
PROBE_BATCH_SIZE = GRADING_PROFILE.batch_size
PROBE_WARMUP_STEPS = 1
PROBE_STEPS = 5
PROBE_TIMEOUT_S = 120.0
# Median CPU seconds of one probe step on the calibration machine (the one
# docs/calibration.md's table was measured on: the reference's notebook run
# took 164 CPU s there). Derived on a second machine (AMD EPYC, AVX2, torch
# 2.13.0), where the probe step took 0.28-0.34 CPU s (median 0.31) and the
# reference's run 372 CPU s: 0.31 * 164 / 372 = 0.137.
CALIBRATION_STEP_CPU_S = 0.137
# Bounds of the scale: a machine under half the calibration machine's step
# time is measured wrongly (limits never shrink below half); beyond 5x the
# run's 240 CPU s become 1200, and with the units the whole grade no longer
# fits the Gradescope bundle's default 1800 s timeout with a margin.
MIN_FACTOR = 0.5
MAX_FACTOR = 5.0


@dataclass(frozen=True)
class MachineSpeed:
    """One measurement of this machine's speed (see the module docstring)."""

    step_cpu_s: float  # median CPU seconds of a probe step here
    step_wall_s: float  # median wall-clock seconds of a probe step here

    @property
    def factor(self) -> float:
        """The scale of the CPU limits."""
        return time_factor(self.step_cpu_s)

    @property
    def wall_factor(self) -> float:
        """The scale of the wall-clock backstop."""
        return max(self.factor, time_factor(self.step_wall_s))

    @property
    def clamped(self) -> bool:
        return self.factor != self.step_cpu_s / CALIBRATION_STEP_CPU_S

    def scale(self, profile: GradingProfile) -> GradingProfile:
        """``profile`` with its limits scaled to this machine."""
        return profile.time_scaled(self.factor, self.wall_factor)

    def describe(self, profile: GradingProfile) -> str:
        """Staff-facing summary: the factors and the limits they give ``profile``."""
        scaled = self.scale(profile)
        bound = f" (clamped to [{MIN_FACTOR:g}, {MAX_FACTOR:g}])" if self.clamped else ""
        return (f"machine speed: probe step {self.step_cpu_s:.3f} CPU s ({self.step_wall_s:.3f} s wall) vs "
                f"{CALIBRATION_STEP_CPU_S:.3f} on the calibration machine: time factor {self.factor:.2f}{bound}, "
                f"wall factor {self.wall_factor:.2f}; notebook limits "
                f"{scaled.cell_cpu_limit_s:.0f} CPU s per cell, {scaled.total_cpu_limit_s:.0f} CPU s per run, "
                f"{scaled.wall_limit_s:.0f} s wall")


def time_factor(step_cpu_s: float) -> float:
    """The limits' scale for a machine whose probe step takes ``step_cpu_s`` CPU seconds."""
    if not step_cpu_s > 0:  # nan, zero or negative: not a measurement
        raise ValueError(f"a probe step took {step_cpu_s!r} CPU s")
    return min(MAX_FACTOR, max(MIN_FACTOR, step_cpu_s / CALIBRATION_STEP_CPU_S))


def measure_machine_speed(sandbox: Sandbox) -> MachineSpeed:
    """Time the speed probe in ``sandbox`` (about 2 CPU s at 1x); no student code runs in that worker."""
    reply = sandbox.call(SPEED_PROBE, timeout_s=PROBE_TIMEOUT_S, image_size=PROBE_IMAGE_SIZE,
                         batch_size=PROBE_BATCH_SIZE, warmup_steps=PROBE_WARMUP_STEPS, steps=PROBE_STEPS)
    return MachineSpeed(statistics.median(float(seconds) for seconds in reply["step_cpu_s"]),
                        statistics.median(float(seconds) for seconds in reply["step_wall_s"]))
