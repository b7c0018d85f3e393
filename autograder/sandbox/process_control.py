"""Linux process-control primitives used by the zygote and its workers.

Everything here is a thin, commented wrapper over a system call or ``/proc``;
the policy (when to call what) lives in ``zygote.py`` and ``confinement.py``.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import time

_libc = ctypes.CDLL(None, use_errno=True)

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

# Rounds of "find descendants, SIGKILL them" before giving up; a fork bomb
# under RLIMIT_NPROC is gone after a handful.
MAX_KILL_ROUNDS = 200
FALLBACK_POLL_S = 0.005


def prctl(option: int, value: int) -> None:
    """``prctl(option, value)``; raise ``OSError`` on failure."""
    if _libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"prctl({option}, {value}): {os.strerror(code)}")


def become_child_subreaper() -> None:
    """Orphaned descendants get re-parented to this process instead of init."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent() -> None:
    """Receive SIGKILL when the parent dies (cleared by credential changes)."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def forbid_new_privileges() -> None:
    """``execve`` can no longer gain privileges (setuid binaries lose their bit)."""
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def _parent_pids() -> dict[int, int]:
    """pid → parent pid for every process visible in ``/proc`` (zombies included)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:  # the process exited meanwhile
            continue
        parents[int(entry)] = int(fields[1])
    return parents


def descendant_pids(ancestor: int) -> set[int]:
    """Pids of every live or zombie descendant of ``ancestor``."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parent_pids().items():
        children.setdefault(parent, []).append(pid)
    found: set[int] = set()
    frontier = [ancestor]
    while frontier:
        for child in children.get(frontier.pop(), ()):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


def reap_children() -> None:
    """Collect every exited child of this process without blocking."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_descendants(ancestor: int) -> int:
    """SIGKILL every descendant of ``ancestor`` (this process must be its subreaper).

    Repeats until none is left, so processes forked while we were killing are
    caught too.  Returns how many distinct pids were signalled.
    """
    signalled: set[int] = set()
    for _ in range(MAX_KILL_ROUNDS):
        reap_children()
        alive = descendant_pids(ancestor)
        if not alive:
            break
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        signalled |= alive
    reap_children()
    return len(signalled)


def kill_process_group(pgid: int) -> None:
    """SIGKILL a whole process group; silently ignore one that no longer exists."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def kill_all_processes_of_uid(uid: int) -> None:
    """SIGKILL every process running as ``uid`` (caller must be root).

    A helper switches to ``uid`` and calls ``kill(-1, SIGKILL)``, which hits
    every process that uid may signal (all of its own) except the helper.
    Only safe with a uid reserved for one sandbox.
    """
    helper = os.fork()
    if helper == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            for _ in range(MAX_KILL_ROUNDS):
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    break
        finally:
            os._exit(0)
    os.waitpid(helper, 0)


def count_tasks_of_uid(uid: int) -> int:
    """Threads of every process whose real uid is ``uid`` (what RLIMIT_NPROC counts)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue
        if int(fields["Uid"].split()[0]) == uid:
            total += int(fields.get("Threads", "1"))
    return total


def uid_in_use(uid: int) -> bool:
    """Whether any visible process runs with real uid ``uid``."""
    return count_tasks_of_uid(uid) > 0


def wait_with_timeout(pid: int, timeout_s: float) -> tuple[int | None, bool, float]:
    """Wait for child ``pid``; SIGKILL it and its process group at the deadline.

    Returns ``(wait status, timed_out, CPU seconds used)``.
    """
    timed_out = not _exited_within(pid, timeout_s)
    if timed_out:
        kill_process_group(pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    while True:
        try:
            _, status, usage = os.wait4(pid, 0)
            return status, timed_out, usage.ru_utime + usage.ru_stime
        except InterruptedError:
            continue
        except ChildProcessError:
            return None, timed_out, 0.0


def _exited_within(pid: int, timeout_s: float) -> bool:
    """Whether child ``pid`` exits within ``timeout_s`` (it is left unreaped).

    A pidfd (Linux ≥ 5.3) makes this one ``poll``; older kernels fall back to
    polling ``waitid`` every ``FALLBACK_POLL_S``.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
            time.sleep(FALLBACK_POLL_S)
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        return bool(poller.poll(max(0, int(timeout_s * 1000))))
    finally:
        os.close(pidfd)
