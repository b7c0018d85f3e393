"""Kill a process and every process it started, without letting any escape.

A grading is a tree: the grade command, its sandbox zygote (in a session of
its own, so process groups do not reach it), the workers (as root: under
another uid) and whatever student code forked.  Killing the root first
would re-parent its children to init, out of reach; so the whole tree is
frozen first (``SIGSTOP``, repeated until no new descendant appears: a
stopped process cannot fork), then killed.

Root can signal every process of the tree; a normal user can too, because
its workers run under its own uid.
"""

from __future__ import annotations

import os
import signal

from autograder.sandbox.process_control import descendant_pids

MAX_FREEZE_ROUNDS = 100  # each round stops the processes forked since the last one


def kill_tree(root_pid: int) -> int:
    """Freeze ``root_pid`` and all its descendants, then SIGKILL them; return how many.

    The caller reaps ``root_pid`` (it is usually a ``subprocess.Popen`` child);
    the others are re-parented and reaped by init or the nearest subreaper.
    """
    frozen: set[int] = set()
    for _ in range(MAX_FREEZE_ROUNDS):
        new = ({root_pid} | descendant_pids(root_pid)) - frozen
        if not new:
            break
        for pid in new:
            _signal(pid, signal.SIGSTOP)
        frozen |= new
    for pid in frozen:
        _signal(pid, signal.SIGKILL)
    return len(frozen)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:  # exited meanwhile
        pass
