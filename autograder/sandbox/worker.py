"""One graded call, run in a process forked from the zygote.

``run_call`` confines the process (``confinement``), imports the student's
files from a private copy, runs the probe, and writes exactly one
``safe_transfer`` message to the result pipe: ``{"status": "ok", "value": {...}}``
or ``{"status": "error", "kind": <errors.ERROR_CLASS_BY_KIND key>, "message": str}``.
It never returns: the process ends with ``os._exit``.

All of this is trusted code running in an untrusted process: once student code
has run, nothing here can be relied on, which is why the parent re-validates
everything it receives.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
from dataclasses import dataclass
from typing import Callable, NoReturn

import torch

from autograder.sandbox import confinement, process_control, safe_transfer, student_traceback, worker_root
from autograder.errors import KIND_BY_ERROR_CLASS, PROBE_ERRORS
from autograder.sandbox.probe_api import SubmissionModules

MAX_SENT_MESSAGE_CHARS = 20_000  # of an error report; the grader shows at most sandbox.MAX_MESSAGE_CHARS
_OOM_MARKERS = ("can't allocate memory", "not enough memory", "out of memory")
_SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class WorkerSetup:
    """Everything fixed for the life of one sandbox (sent once to the zygote)."""

    files: dict[str, bytes]  # submission file name → content
    limits: confinement.Limits
    sandbox_uid: int | None  # None: stay the grader's user (not root)
    private_mounts: bool
    protected_paths: list[str]
    allowed: worker_root.Allowlist  # what the worker's root shows of the host under private mounts
    new_root: str  # an empty folder: the new root's mount point under private mounts
    workroot: str  # parent of per-call work directories when not using private mounts
    seed: int


def run_call(
    setup: WorkerSetup, probe: Callable[..., dict], call_id: int, input_fd: int, result_fd: int, output_fd: int
) -> NoReturn:
    """Confine this process, run ``probe``, report, exit."""
    try:
        workdir, kwargs = _confine(setup, call_id, input_fd, result_fd, output_fd)
    except BaseException as error:  # before any student code: a grader problem
        message = {"status": "error", "kind": "grader_error", "message": f"sandbox set-up failed: {error!r}"}
    else:
        message = _run_probe(probe, kwargs, workdir, setup.limits)
    _send(result_fd, message)
    os._exit(0)


def _confine(setup: WorkerSetup, call_id: int, input_fd: int, result_fd: int, output_fd: int):
    os.setsid()
    arguments = _read_all(input_fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    for stream in (sys.stdout, sys.stderr):  # keep the last lines even if the worker is killed
        stream.reconfigure(line_buffering=True)
    _close_fds_except({0, 1, 2, result_fd})
    if setup.private_mounts:
        confinement.enter_private_mounts(setup.protected_paths, setup.allowed, setup.new_root)
        workdir = confinement.PRIVATE_WORKDIR
    else:
        workdir = os.path.join(setup.workroot, f"call-{call_id}")
    uid = setup.sandbox_uid
    confinement.write_workdir(workdir, setup.files, owner=(uid, uid) if uid is not None else None)
    confinement.apply_limits(setup.limits, uid)
    if uid is not None:
        confinement.drop_privileges(uid)
    process_control.die_with_parent()
    process_control.forbid_new_privileges()
    os.chdir(workdir)
    _reset_environment(workdir)
    torch.set_num_threads(1)
    random.seed(setup.seed)
    torch.manual_seed(setup.seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(setup.seed)
    return workdir, safe_transfer.decode(arguments)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _close_fds_except(keep: set[int]) -> None:
    low = 0
    for fd in sorted(keep):
        if low < fd:  # closerange(n, n) would close everything (it calls close_range(n, n - 1))
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def _reset_environment(workdir: str) -> None:
    kernels = confinement.cpu_kernel_environment()
    os.environ.clear()
    os.environ.update(
        **kernels,
        PATH=_SAFE_PATH, HOME=workdir, TMPDIR=workdir, LANG="C.UTF-8", MPLCONFIGDIR=workdir,
        MPLBACKEND="Agg", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
    )
    tempfile.tempdir = None
    sys.dont_write_bytecode = True


def _run_probe(probe: Callable[..., dict], kwargs: dict, workdir: str, limits: confinement.Limits) -> dict:
    try:
        value = probe(SubmissionModules(workdir), **kwargs)
    except BaseException as error:  # SystemExit and KeyboardInterrupt are failures too
        kind, text = classify(error, workdir, limits)
        return {"status": "error", "kind": kind, "message": text[:MAX_SENT_MESSAGE_CHARS]}
    if type(value) is not dict:
        return {"status": "error", "kind": "grader_error", "message": f"probe returned {type(value).__name__}, not dict"}
    return {"status": "ok", "value": value}


def classify(error: BaseException, workdir: str, limits: confinement.Limits) -> tuple[str, str]:
    """``(kind, teaching message)`` for an exception escaping a probe."""
    frame = student_traceback.innermost_student_frame(error, workdir)
    where = f" at {student_traceback.location(frame, workdir)}" if frame else ""
    for probe_error in PROBE_ERRORS:  # the probe's own verdict, its message ready for the student
        if isinstance(error, probe_error):
            return KIND_BY_ERROR_CLASS[probe_error], str(error)
    if isinstance(error, NotImplementedError) and _raised_in_student_code(error, workdir):
        return "not_implemented", f"Not implemented yet: NotImplementedError raised{where}."
    if isinstance(error, MemoryError) or (
        isinstance(error, RuntimeError) and any(marker in str(error) for marker in _OOM_MARKERS)
    ):
        return "out_of_memory", f"Your code ran out of memory (limit: {limits.memory_mb} MiB){where}."
    if isinstance(error, SystemExit):
        return "crashed", f"Your code called sys.exit({error.code!r}){where}; the grader treats this as a crash."
    if not isinstance(error, Exception):
        return "crashed", f"Your code raised {type(error).__name__}{where}; the grader treats this as a crash."
    return "student_exception", (
        f"Your code raised {type(error).__name__}{where}:\n" + student_traceback.format_traceback(error, workdir)
    )


def _raised_in_student_code(error: BaseException, workdir: str) -> bool:
    traceback = error.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    return traceback is not None and student_traceback.is_student_file(traceback.tb_frame.f_code.co_filename, workdir)


def _send(result_fd: int, message: dict) -> None:
    try:
        data = safe_transfer.encode(message)
    except Exception as error:  # noqa: BLE001 - student code may have broken anything
        if isinstance(error, safe_transfer.TransferError):  # paths read result['value'][...]; show result[...]
            reason = str(error).replace("result['value']", "result", 1)
        else:
            reason = f"{type(error).__name__}: {error}"
        text = f"Your code returned a value the grader cannot accept: {reason}"
        data = safe_transfer.encode({"status": "error", "kind": "invalid_output", "message": text[:MAX_SENT_MESSAGE_CHARS]})
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    view = memoryview(data)
    while view:
        view = view[os.write(result_fd, view) :]
