"""Run a command and measure it with everything it starts: wall and CPU time, memory.

* CPU seconds: user + system of the command and every descendant it waited
  for (``wait4``'s rusage; the grader reaps its zygote, the zygote its
  workers, so sandboxed work is included).
* ``largest_rss_mib``: the largest resident set of any single process of the
  tree (``ru_maxrss``).
* ``peak_tree_rss_mib`` / ``peak_tree_pss_mib``: the largest sum over the whole
  tree, sampled every ``SAMPLE_S``.  RSS counts pages shared by forked
  workers once per process (an overestimate); PSS splits them among sharers
  (what the tree really occupies).  Sampling can miss short peaks.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.sandbox.process_control import descendant_pids

SAMPLE_S = 0.05
KIB_PER_MIB = 1024
_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass(frozen=True)
class Usage:
    wall_s: float
    cpu_s: float
    largest_rss_mib: float
    peak_tree_rss_mib: float
    peak_tree_pss_mib: float
    exit_status: int
    output: str


def run_measured(command: list[str], *, cwd: Path, env: dict | None = None) -> Usage:
    """Run ``command`` to completion (output captured in a file, not a pipe) and measure it."""
    with tempfile.TemporaryFile() as output:
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT)
        peaks = {"rss": 0.0, "pss": 0.0}
        sampler = threading.Thread(target=_sample_tree, args=(process.pid, peaks), daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall_s = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        sampler.join()
        output.seek(0)
        text = output.read().decode(errors="replace")
    return Usage(
        wall_s=wall_s,
        cpu_s=usage.ru_utime + usage.ru_stime,
        largest_rss_mib=usage.ru_maxrss / KIB_PER_MIB,
        peak_tree_rss_mib=peaks["rss"] / KIB_PER_MIB,
        peak_tree_pss_mib=peaks["pss"] / KIB_PER_MIB,
        exit_status=process.returncode,
        output=text,
    )


def _sample_tree(root: int, peaks: dict[str, float]) -> None:
    """Update ``peaks`` (KiB) until ``root`` has exited."""
    while os.path.exists(f"/proc/{root}") and _state(root) not in ("Z", "X", None):
        rss = pss = 0
        for pid in {root} | descendant_pids(root):
            process_rss, process_pss = _memory_kib(pid)
            rss += process_rss
            pss += process_pss
        peaks["rss"] = max(peaks["rss"], rss)
        peaks["pss"] = max(peaks["pss"], pss)
        time.sleep(SAMPLE_S)


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB; PSS falls back to RSS without smaps_rollup; (0, 0) once gone."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            rss = int(statm.read().split()[1]) * _PAGE_KIB
    except (OSError, IndexError, ValueError):
        return 0, 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return rss, int(line.split()[1])
    except OSError:
        pass
    return rss, rss


def _state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return None
