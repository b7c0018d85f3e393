"""Wall and CPU seconds of unit grading one submission through the command line.

    python benchmarks/unit_grading.py [SUBMISSION] [--runs 3]

Runs `python -m autograder grade SUBMISSION --out TMP --units-only` (default
SUBMISSION: the reference solution) `--runs` times, one after the other, and
prints each run's wall time and CPU time (user + system of the grader and of
every process it waited for: zygote and workers), then their medians. The
target is a median wall time under 20 s on a 2-core machine.

This is a benchmark, not a test: it prints figures and exits 0 unless a
grading run itself fails.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
TARGET_WALL_S = 20.0


def grade_once(submission: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `--units-only` grading run."""
    with tempfile.TemporaryDirectory(prefix="unit-grading-bench-") as workdir:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, "-m", "autograder", "grade", str(submission), "--out", str(Path(workdir) / "out"),
             "--units-only"],
            cwd=workdir, env={**os.environ, "DETECTOR_BACKBONE_WEIGHTS": "random"},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        sys.exit(f"grading failed (exit status {completed.returncode}):\n{completed.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submission", nargs="?", type=Path, default=REPOSITORY / "reference")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    print(f"unit grading of {args.submission} ({os.cpu_count()} CPU cores, load {os.getloadavg()[0]:.2f})")
    walls, cpus = [], []
    for run in range(1, args.runs + 1):
        wall, cpu = grade_once(args.submission.resolve())
        walls.append(wall)
        cpus.append(cpu)
        print(f"run {run}: wall {wall:6.2f} s   cpu {cpu:6.2f} s")
    median_wall = statistics.median(walls)
    verdict = "under" if median_wall < TARGET_WALL_S else "OVER"
    print(f"median: wall {median_wall:6.2f} s   cpu {statistics.median(cpus):6.2f} s   "
          f"({verdict} the {TARGET_WALL_S:g} s target)")


if __name__ == "__main__":
    main()
