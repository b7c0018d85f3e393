"""The figures course staff need to size grading, measured on this machine in one run.

    python -m benchmarks.grading [--submission DIR] [--batch 4] [--jobs 2] [--skip-full] [--skip-training]

Prints one table (no asserts):

* the baseline every torch-importing process pays: ``python`` alone,
  ``import torch``, ``import torch, torchvision`` (the registry's CUDA build of
  torch costs about 500 MB resident just to import, the CPU-only wheel about
  200 MB: read the memory figures below against this line);
* unit grading of one submission (``grade --units-only``), and a full grade
  (units + notebook stage, with the profile Gradescope uses unless
  ``--notebook-profile``), when the notebook stage exists: wall and CPU seconds
  of the whole process tree, the largest single process, the tree's peak
  (see ``process_usage``);
* batch throughput: ``batch --jobs N --units-only`` over ``--batch`` copies of
  the submission, in submissions per hour;
* one training step of the reference Faster R-CNN against torchvision's,
  same configuration (``training_step``; ``--config full``: the notebook's
  full run, 224 px, batch 16, FPN 128 — the default; ``grading``: the
  notebook stage's grading profile), and their ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder.stages import STAGES  # noqa: E402
from benchmarks.process_usage import Usage, run_measured  # noqa: E402

REPOSITORY = Path(__file__).resolve().parent.parent
SECONDS_PER_HOUR = 3600.0
TORCH_BUILD = "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda or 'none')"
IMPORT_BASELINES = (
    ("python, no imports", "pass"),
    ("import torch", TORCH_BUILD),
    ("import torch, torchvision", "import torch, torchvision"),
)
ENVIRONMENT = os.environ | {"DETECTOR_BACKBONE_WEIGHTS": "random"}
ROW = "{:<52} {:>8} {:>8} {:>11} {:>15}"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # This process imports no torch before the training step: a child's peak RSS
    # (ru_maxrss) would include the parent's memory at fork time.
    baselines = {label: run_measured([sys.executable, "-c", code], cwd=REPOSITORY, env=ENVIRONMENT)
                 for label, code in IMPORT_BASELINES}
    print(f"machine: {_cpus()} CPUs; python {sys.version.split()[0]}; "
          f"{baselines['import torch'].output.strip().splitlines()[-1]}")
    print(ROW.format("measured", "wall s", "CPU s", "largest MiB", "tree RSS/PSS MiB"))
    for label, usage in baselines.items():
        _print_usage(label, usage)
    with tempfile.TemporaryDirectory(prefix="grading-benchmark-") as workdir:
        work = Path(workdir)
        _print_usage(f"unit grading ({args.submission.name}, --units-only)", _grade(args.submission, work / "units",
                                                                                   "--units-only"))
        _full_grade(args, work)
        _batch(args, work)
    if not args.skip_training:
        _training(args)
    return 0


def _grade(submission: Path, out: Path, *options: str, env: dict = ENVIRONMENT) -> Usage:
    command = [sys.executable, "-m", "autograder", "grade", str(submission.resolve()), "--out", str(out), *options]
    return run_measured(command, cwd=REPOSITORY, env=env)


def _full_grade(args: argparse.Namespace, work: Path) -> None:
    later_stages = [stage.name for stage in STAGES if not stage.units]
    if not later_stages:
        print("full grade: not available yet (no stage beyond the unit tests in autograder/stages.py)")
        return
    if args.skip_full:
        print(f"full grade (units + {', '.join(later_stages)}): skipped (--skip-full)")
        return
    env = ENVIRONMENT | ({"AUTOGRADER_NOTEBOOK_PROFILE": args.notebook_profile} if args.notebook_profile else {})
    profile = args.notebook_profile or "grading"
    _print_usage(f"full grade (units + {', '.join(later_stages)}, {profile} profile)",
                 _grade(args.submission, work / "full", env=env))


def _batch(args: argparse.Namespace, work: Path) -> None:
    submissions = work / "class"
    for index in range(args.batch):
        shutil.copytree(args.submission, submissions / f"student{index:03d}")
    command = [sys.executable, "-m", "autograder", "batch", str(submissions), "--out", str(work / "batch"),
               "--jobs", str(args.jobs), "--units-only"]
    usage = run_measured(command, cwd=REPOSITORY, env=ENVIRONMENT)
    _print_usage(f"batch: {args.batch} submissions, --jobs {args.jobs}, --units-only", usage)
    if usage.exit_status == 0:
        rate = args.batch / usage.wall_s * SECONDS_PER_HOUR
        print(f"    throughput: {rate:.0f} submissions/hour ({usage.wall_s / args.batch:.1f} s each, "
              f"{args.jobs} at a time, {_cpus()} CPUs)")


def _training(args: argparse.Namespace) -> None:
    import torch

    from autograder.course.reference_solution import load_reference
    from benchmarks.training_step import DetectorConfig, compare

    torch.set_num_threads(args.threads)
    if args.config == "full":
        config = DetectorConfig("the notebook's full run", image_size=224, batch_size=16, fpn_channels=128)
    else:
        from autograder.notebook.grading_profile import GRADING_PROFILE

        config = DetectorConfig("the notebook stage's grading profile", image_size=GRADING_PROFILE.image_size,
                                batch_size=GRADING_PROFILE.batch_size, fpn_channels=GRADING_PROFILE.fpn_channels)
    with contextlib.redirect_stdout(io.StringIO()):  # the reference backbone prints its feature shapes
        figures = compare(load_reference(), config, steps=args.steps, warmup=args.warmup)
    print(f"training step, {config.name} ({config.image_size} px, batch {config.batch_size}, "
          f"FPN {config.fpn_channels}; {args.threads} thread(s), median of {args.steps} after {args.warmup}):")
    print(f"    CPU s per step: reference FasterRCNN {figures['reference_s']:.3f} s, torchvision FasterRCNN "
          f"{figures['torchvision_s']:.3f} s, ratio {figures['ratio']:.2f}")


def _print_usage(label: str, usage: Usage) -> None:
    if usage.exit_status != 0:
        print(f"{label}: FAILED (exit status {usage.exit_status}):\n{usage.output[-2000:]}")
        return
    memory = f"{usage.peak_tree_rss_mib:.0f}/{usage.peak_tree_pss_mib:.0f}"
    print(ROW.format(label[:52], f"{usage.wall_s:.1f}", f"{usage.cpu_s:.1f}", f"{usage.largest_rss_mib:.0f}", memory))


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.grading", description=__doc__.split("\n")[0])
    parser.add_argument("--submission", type=Path, default=REPOSITORY / "reference",
                        help="folder graded (default: the reference)")
    parser.add_argument("--batch", type=int, default=4, help="submissions in the batch run (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="batch --jobs (default: %(default)s)")
    parser.add_argument("--skip-full", action="store_true", help="no full grade (the notebook stage takes minutes)")
    parser.add_argument("--notebook-profile", default=None, help="AUTOGRADER_NOTEBOOK_PROFILE for the full grade")
    parser.add_argument("--skip-training", action="store_true", help="no training-step comparison")
    parser.add_argument("--config", choices=("full", "grading"), default="full", help="training-step configuration")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the training step (default: 1)")
    parser.add_argument("--steps", type=int, default=5, help="measured training steps (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=2, help="training steps before measuring (default: %(default)s)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
