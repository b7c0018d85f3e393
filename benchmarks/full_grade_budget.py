"""CPU time and peak memory of a full grade, against Gradescope's default container.

Runs ``python -m autograder grade SUBMISSION --out DIR`` (units and the
notebook stage) in a subprocess and prints:

* CPU seconds (user + system) of the grade and every process it started
  (the sandbox zygote and its workers are waited for, so their time counts);
* the peak of the process tree's summed memory, sampled every
  ``SAMPLE_PERIOD_S``: proportional set size (PSS: pages shared between the
  zygote and the workers it forks count once, as in the container's memory
  accounting) and plain RSS (shared pages counted in every process), with
  the grader, zygote and worker shares at that moment;
* the baseline every torch-importing process pays: ``import torch`` alone
  and with ``torchvision.ops``, measured in fresh interpreters.

Gradescope's default container: ``BUDGET_CPU_S`` CPU seconds and
``BUDGET_MEMORY_MB`` MB. The peak is sampled, so a spike shorter than the
period can be missed.

Usage::

    python -m benchmarks.full_grade_budget [SUBMISSION] [--units-only]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
BUDGET_CPU_S = 300.0
BUDGET_MEMORY_MB = 768.0
SAMPLE_PERIOD_S = 0.2
BASELINE_IMPORTS = {"torch": "import torch", "torch + torchvision.ops": "import torch, torchvision.ops"}
ZYGOTE_MODULE = "autograder.sandbox.zygote"
KIB_PER_MB = 1024


@dataclass
class TreeMemory:
    """Summed memory of a process tree at one instant, by role (MB)."""

    pss: dict[str, float] = field(default_factory=dict)
    rss: dict[str, float] = field(default_factory=dict)

    @property
    def total_pss(self) -> float:
        return sum(self.pss.values())

    @property
    def total_rss(self) -> float:
        return sum(self.rss.values())


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def _descendants(root: int) -> list[tuple[int, int]]:
    """(pid, parent pid) of ``root`` and every process below it."""
    children, found, pending = _children_by_parent(), [], [(root, 0)]
    while pending:
        pid, parent = pending.pop()
        found.append((pid, parent))
        pending += [(child, pid) for child in children.get(pid, [])]
    return found


def _memory_kb(pid: int) -> tuple[int, int]:
    """(PSS, RSS) in KiB from smaps_rollup; (0, 0) if the process is gone or unreadable."""
    values = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                key, _, rest = line.partition(":")
                if key in ("Pss", "Rss"):
                    values[key] = int(rest.split()[0])
    except OSError:
        return 0, 0
    return values.get("Pss", 0), values.get("Rss", 0)


def _is_zygote(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return ZYGOTE_MODULE.encode() in cmdline.read()
    except OSError:
        return False


def sample_tree(root: int) -> TreeMemory:
    """The tree's memory by role: the grader, its zygote, and the workers (everything else below)."""
    memory = TreeMemory()
    for pid, parent in _descendants(root):
        # Workers are forked from the zygote: same command line, but the zygote is the grader's child.
        role = "grader" if pid == root else "zygote" if parent == root and _is_zygote(pid) else "workers"
        pss, rss = _memory_kb(pid)
        memory.pss[role] = memory.pss.get(role, 0.0) + pss / KIB_PER_MB
        memory.rss[role] = memory.rss.get(role, 0.0) + rss / KIB_PER_MB
    return memory


class PeakSampler(threading.Thread):
    """Samples a process tree until stopped; keeps the samples of highest PSS and RSS."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peak_pss = TreeMemory()
        self.peak_rss = TreeMemory()
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(SAMPLE_PERIOD_S):
            memory = sample_tree(self.root)
            if memory.total_pss > self.peak_pss.total_pss:
                self.peak_pss = memory
            if memory.total_rss > self.peak_rss.total_rss:
                self.peak_rss = memory

    def stop(self) -> None:
        self._stopping.set()
        self.join()


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def import_baseline_mb(statement: str) -> float:
    """Peak RSS (MB) of a fresh interpreter that runs ``statement``."""
    code = f"{statement}\nimport resource\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(output.split()[-1]) / KIB_PER_MB


def grade(submission: Path, out: Path, units_only: bool) -> tuple[int, float, float, PeakSampler]:
    """(exit status, wall s, CPU s, memory sampler) of one grade."""
    command = [sys.executable, "-m", "autograder", "grade", str(submission), "--out", str(out)]
    command += ["--units-only"] if units_only else []
    cpu_before, started = _children_cpu_s(), time.monotonic()
    process = subprocess.Popen(command, cwd=REPOSITORY, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sampler = PeakSampler(process.pid)
    sampler.start()
    _, stderr = process.communicate()
    sampler.stop()
    if process.returncode != 0:
        print(stderr.decode(errors="replace")[-2000:], file=sys.stderr)
    return process.returncode, time.monotonic() - started, _children_cpu_s() - cpu_before, sampler


def _shares(values: dict[str, float]) -> str:
    return ", ".join(f"{role} {mb:.0f}" for role, mb in sorted(values.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.full_grade_budget", description=__doc__.split("\n\n")[0])
    parser.add_argument("submission", nargs="?", type=Path, default=REPOSITORY / "reference")
    parser.add_argument("--units-only", action="store_true", help="grade the unit stage only")
    args = parser.parse_args(argv)

    baselines = {name: import_baseline_mb(statement) for name, statement in BASELINE_IMPORTS.items()}
    with tempfile.TemporaryDirectory(prefix="grade-budget-") as out:
        status, wall_s, cpu_s, sampler = grade(args.submission.resolve(), Path(out), args.units_only)
        results = json.loads((Path(out) / "results.json").read_text()) if status == 0 else None
    pss, rss = sampler.peak_pss, sampler.peak_rss
    what = "units only" if args.units_only else "units + notebook"
    print(f"Full grade of {args.submission} ({what}), exit status {status}")
    if results is not None:
        print(f"  score            {results['score']:g} / {sum(t['max_score'] for t in results['tests']):g}")
        for test in results["tests"]:
            if test["name"].startswith("notebook:") or test["status"] != "passed":
                print(f"    {test['status']:6}  {test['name']}: {test['output'].splitlines()[0] if test['output'] else ''}")
    print(f"  wall time        {wall_s:7.1f} s")
    print(f"  CPU time         {cpu_s:7.1f} s   (budget {BUDGET_CPU_S:.0f} s: "
          f"{'within' if cpu_s <= BUDGET_CPU_S else 'OVER'})")
    print(f"  peak PSS (tree)  {pss.total_pss:7.0f} MB  (budget {BUDGET_MEMORY_MB:.0f} MB: "
          f"{'within' if pss.total_pss <= BUDGET_MEMORY_MB else 'OVER'}); {_shares(pss.pss)}")
    print(f"  peak RSS (tree)  {rss.total_rss:7.0f} MB  (shared pages counted per process); {_shares(rss.rss)}")
    for name, mb in baselines.items():
        print(f"  baseline: a fresh interpreter after `import {name}`: {mb:.0f} MB RSS")
    torch_processes = 2  # the grader and the zygote each import torch; workers share the zygote's pages
    print(f"  of the peak, about {torch_processes} x {baselines['torch + torchvision.ops']:.0f} MB is the "
          "import baseline of the grader and the zygote")
    return 0 if status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
