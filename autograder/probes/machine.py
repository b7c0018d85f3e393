"""Probes of the machine itself: its CPU kernels and its speed. No submission code runs here.

They run in a worker forked from the zygote, which student code never
touches (every call's processes are killed when it ends), so their replies
are as trustworthy as the grader's own measurements.
"""

from __future__ import annotations

import os
import time

import torch
import torchvision
from torch import nn

from autograder.sandbox.confinement import CPU_KERNEL_VARIABLES
from autograder.sandbox.probe_api import SubmissionModules

# Classes of the speed workload's classifier head: any small number does.
_SPEED_CLASSES = 8


def cpu_kernels(sub: SubmissionModules) -> dict:
    """The kernel family torch chose and the CPU kernel variables this worker sees (``sub`` unused)."""
    return {"capability": torch.backends.cpu.get_cpu_capability(),
            "environment": {name: os.environ.get(name, "") for name in CPU_KERNEL_VARIABLES}}


def training_steps(sub: SubmissionModules, image_size: int, batch_size: int, warmup_steps: int,
                   steps: int) -> dict:
    """CPU seconds of ``steps`` SGD steps of a RegNetX-400MF classifier (``sub`` unused).

    The same backbone as the notebook's detector, at the graded image size and
    batch, with the worker's one thread: the bulk of a graded training step.
    Returns ``{"step_cpu_s": [...], "step_wall_s": [...]}``, seconds per measured step.
    """
    torch.manual_seed(0)
    model = torchvision.models.regnet_x_400mf(weights=None, num_classes=_SPEED_CLASSES)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    images = torch.randn(batch_size, 3, image_size, image_size)  # [B, 3, H, W]
    labels = torch.randint(0, _SPEED_CLASSES, (batch_size,))  # [B]
    cpu_seconds, wall_seconds = [], []
    for _ in range(warmup_steps + steps):
        started, wall_started = time.process_time(), time.monotonic()
        loss = nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        cpu_seconds.append(time.process_time() - started)
        wall_seconds.append(time.monotonic() - wall_started)
    return {"step_cpu_s": cpu_seconds[warmup_steps:], "step_wall_s": wall_seconds[warmup_steps:]}
