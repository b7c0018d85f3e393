"""Leases on sandbox uids, so that two graders on one machine never share one.

A sandbox (as root) runs its workers under a random uid that no account,
group or process uses. That check alone leaves a race: two zygotes started
together can draw the same uid before either has a process under it, and
two sandboxes sharing a uid would kill each other's workers ("kill every
process of this uid" after each call) and share one RLIMIT_NPROC. A lease is
an exclusive ``flock`` on ``<directory>/<uid>.lock``, held by the zygote for
its lifetime and released by the kernel when it exits, however it exits.
Workers close every inherited descriptor before running student code
(``worker._close_fds_except``), so a submission cannot release its lease.
"""

from __future__ import annotations

import fcntl
import os
import tempfile

LEASE_DIRECTORY_NAME = "autograder-sandbox-uids"
# /run is the machine's runtime state (cleared at boot); the temporary directory is the fallback.
LEASE_PARENTS = ("/run", tempfile.gettempdir())


def lease_directory() -> str:
    """The machine-wide folder of lease files (created root-only on first use)."""
    for parent in LEASE_PARENTS:
        if os.path.isdir(parent) and os.access(parent, os.W_OK):
            directory = os.path.join(parent, LEASE_DIRECTORY_NAME)
            os.makedirs(directory, mode=0o700, exist_ok=True)
            return directory
    raise OSError(f"no writable folder for sandbox uid leases among {LEASE_PARENTS}")


def lease(uid: int, directory: str) -> int | None:
    """An open descriptor holding ``uid``'s lease (keep it open while the uid is in use),
    or None if another process holds it."""
    fd = os.open(os.path.join(directory, f"{uid}.lock"), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd
