"""The restrictions a worker applies to itself before running student code.

Order matters and is driven by ``worker.py``: private mounts (root only) →
work directory → resource limits → drop to the sandbox uid (root only) →
no new privileges.  Every step either succeeds or raises, so a worker never
runs student code half-confined.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import tempfile
from dataclasses import dataclass
from pathlib import Path

from autograder.sandbox import process_control, worker_root
from autograder.sandbox.worker_root import Allowlist

_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_REMOUNT = 0x20
MS_PRIVATE = 0x40000
MNT_DETACH = 2
_PIVOT_ROOT_SYSCALL = {"x86_64": 155, "aarch64": 41, "arm64": 41}

# With private mounts the worker's root has fresh, size-capped scratch directories
# (directory → MiB) and no other writable place; its work directory lives in /tmp.
PRIVATE_TMP = "/tmp"
PRIVATE_SCRATCH_MB = {PRIVATE_TMP: 128, "/dev/shm": 64}
PRIVATE_WORKDIR = "/tmp/submission"

# Torch's choice of CPU kernels, read when torch loads in the zygote (oneDNN's
# on its first use, in a worker). Staff set them to stand in for another CPU
# (docs/calibration.md, "Machine-relative limits"), so they are the only
# variables of the grader's that reach the sandbox; they carry no secret.
CPU_KERNEL_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")


def cpu_kernel_environment() -> dict[str, str]:
    """The ``CPU_KERNEL_VARIABLES`` set in this process."""
    return {name: os.environ[name] for name in CPU_KERNEL_VARIABLES if name in os.environ}


@dataclass(frozen=True)
class Limits:
    """Per-call resource limits (see ``Sandbox`` for the defaults)."""

    memory_mb: int  # address space allowed on top of the worker's size at fork time
    cpu_s: int  # CPU seconds; a backstop behind the wall-clock timeout
    file_size_mb: int  # largest file the worker may write
    max_processes: int  # extra processes/threads the student may create
    max_open_files: int


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    _check(
        _libc.mount(
            source.encode(), target.encode(), fstype.encode() if fstype else None, ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {fstype or source} on {target}",
    )


def enter_private_mounts(protected_paths: list[str], allowed: Allowlist, new_root: str) -> None:
    """Root only: new mount, network and IPC namespaces, and an allowlisted root.

    The worker gets no network (only a down loopback) and a new root built
    on an empty tmpfs mounted at ``new_root`` (any empty folder; the mount
    exists in this namespace only) that shows ``allowed`` read-only, plus
    ``/proc``, a few device nodes and fresh size-capped scratch folders
    (``worker_root``).  The host's root is then detached.  Any protected path
    that is still there (inside an allowed folder) is covered by an empty
    read-only tmpfs of mode 000 (a file by ``/dev/null``).
    """
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC), "unshare")
    _mount("none", "/", None, MS_REC | MS_PRIVATE, None)
    _mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV, worker_root.ROOT_TMPFS_OPTIONS)
    for directory, size_mb in PRIVATE_SCRATCH_MB.items():  # first: an allowed folder may lie in /tmp
        os.makedirs(new_root + directory, mode=0o755, exist_ok=True)
        _mount("tmpfs", new_root + directory, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,mode=1777")
    for node in worker_root.DEVICE_NODES:
        if os.path.exists(node):
            _bind(node, new_root + node, read_only=False)
    os.makedirs(new_root + "/proc", mode=0o555)
    _mount("/proc", new_root + "/proc", None, MS_BIND | MS_REC, None)
    if os.path.isdir(worker_root.CPU_TOPOLOGY_DIR):
        _bind(worker_root.CPU_TOPOLOGY_DIR, new_root + worker_root.CPU_TOPOLOGY_DIR, read_only=True)
    for directory in allowed.directories:
        _bind(directory, new_root + directory, read_only=True)
    for path in allowed.files:
        _bind(path, new_root + path, read_only=True)
    for path, target in allowed.links:
        os.makedirs(os.path.dirname(new_root + path), mode=0o755, exist_ok=True)
        os.symlink(target, new_root + path)
    _pivot_root(new_root)
    _mount("none", "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    hidden_flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
    for path in protected_paths:
        if not allowed.shows_host_content_at(path):  # a folder of the skeleton holds only allowed mounts
            continue
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", hidden_flags, "size=4k,mode=000")
        elif os.path.isfile(path):
            _mount("/dev/null", path, None, MS_BIND, None)


def _bind(source: str, target: str, read_only: bool) -> None:
    """Bind ``source`` (a folder or a file) onto a new ``target`` on the root tmpfs."""
    os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
    if os.path.isdir(source):
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o644))
    _mount(source, target, None, MS_BIND | MS_REC, None)
    if read_only:  # the bind takes the source's flags; read-only needs a remount of the bind
        _mount("none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None)


def _pivot_root(new_root: str) -> None:
    """Make ``new_root`` this namespace's root and detach the old one (pivot_root(".", ".") idiom)."""
    number = _PIVOT_ROOT_SYSCALL.get(platform.machine())
    if number is None:
        raise OSError(f"pivot_root: unknown system call number on {platform.machine()}")
    os.chdir(new_root)
    _check(_libc.syscall(number, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount the host's root")
    os.chdir("/")


def expose_paths(paths: list[str]) -> None:
    """Make ``paths`` reachable for other users, in this mount namespace only.

    A Python installed under a private home (``/root/.pyenv``) cannot be read
    by the sandbox uid, so imports not preloaded by the zygote would fail.
    For each closed ancestor (no ``o+x``), its needed subdirectories are
    bind-mounted aside, the ancestor is covered by a traversable tmpfs (which
    also hides everything else in it), and the subdirectories are mounted back.
    """
    by_blocker: dict[str, list[str]] = {}
    for path in paths:
        blocker = _closed_ancestor(path)
        if blocker is not None:
            by_blocker.setdefault(blocker, []).append(path)
    for blocker, inside in sorted(by_blocker.items()):
        staged = []
        for path in inside:
            # A fresh name: PRIVATE_TMP may be a shared /tmp holding a stage an interrupted run left.
            stage = tempfile.mkdtemp(prefix=".expose-", dir=PRIVATE_TMP)
            _mount(path, stage, None, MS_BIND | MS_REC, None)
            staged.append((stage, path))
        _mount("tmpfs", blocker, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
        for stage, path in staged:
            os.makedirs(path, mode=0o755, exist_ok=True)
            _mount(stage, path, None, MS_BIND | MS_REC, None)
            _check(_libc.umount2(stage.encode(), 2), f"umount {stage}")  # MNT_DETACH
            os.rmdir(stage)


def _closed_ancestor(path: str) -> str | None:
    """The outermost proper ancestor of ``path`` that other users cannot traverse."""
    current = "/"
    for part in Path(path).parts[1:-1]:
        current = os.path.join(current, part)
        if not os.stat(current).st_mode & 0o001:
            return current
    return None


def write_workdir(workdir: str, files: dict[str, bytes], owner: tuple[int, int] | None) -> None:
    """Create ``workdir`` (mode 0700) holding a private copy of the submission."""
    Path(workdir).mkdir(mode=0o700)
    for name, content in files.items():
        path = os.path.join(workdir, name)
        with open(path, "wb") as handle:
            handle.write(content)
        if owner:
            os.chown(path, *owner)
    if owner:
        os.chown(workdir, *owner)


def apply_limits(limits: Limits, sandbox_uid: int | None) -> None:
    """Set RLIMITs; the process count is relative when sharing the grader's uid."""
    if sandbox_uid is None:  # RLIMIT_NPROC counts every task of our uid
        max_tasks = process_control.count_tasks_of_uid(os.getuid()) + limits.max_processes
    else:
        max_tasks = limits.max_processes
    mib = 1024 * 1024
    _lower(resource.RLIMIT_AS, own_memory_bytes("VmSize") + limits.memory_mb * mib)
    _lower(resource.RLIMIT_CPU, limits.cpu_s, hard=limits.cpu_s + 1)
    _lower(resource.RLIMIT_FSIZE, limits.file_size_mb * mib)
    _lower(resource.RLIMIT_NPROC, max_tasks)
    _lower(resource.RLIMIT_NOFILE, limits.max_open_files)
    _lower(resource.RLIMIT_CORE, 0)


def own_memory_bytes(field: str) -> int:
    """A size from /proc/self/status, e.g. "VmSize" (what RLIMIT_AS counts) or "VmData" (RLIMIT_DATA)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(f"{field}:")) * 1024


def _lower(which: int, soft: int, hard: int | None = None) -> None:
    """Set a limit, never above the existing hard limit (which we could not raise)."""
    _, current_hard = resource.getrlimit(which)
    hard = soft if hard is None else hard
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(which, (soft, hard))


def drop_privileges(uid: int) -> None:
    """Become ``uid``/``uid`` with no supplementary groups, irreversibly."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != uid:
        raise OSError(f"privilege drop to uid {uid} did not take effect")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise OSError("privilege drop is reversible: setuid(0) succeeded")


def private_mounts_supported(new_root: str) -> bool:
    """Whether this (root) process may create the namespaces and the new root above; tested in a
    child, with the empty folder ``new_root``."""
    child = os.fork()
    if child == 0:
        try:
            _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC), "unshare")
            _mount("none", "/", None, MS_REC | MS_PRIVATE, None)
            _mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV, worker_root.ROOT_TMPFS_OPTIONS)
            _pivot_root(new_root)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status) == 0
