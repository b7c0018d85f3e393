"""The zygote: one long-lived trusted process per ``Sandbox`` that forks workers.

Started by ``Sandbox`` as ``python -m autograder.sandbox.zygote FD`` with a clean
environment.  It imports torch, torchvision and the probe modules once (never
the submission, the reference or golden fixtures, and it runs no torch op so
no thread pool exists at fork time), then serves requests on the control
socket FD:

* first message: the sandbox configuration (submission files, limits,
  protected paths); answered with ``{"ready": true, ...}``;
* ``{"op": "call", "probe", "timeout_s"}`` with three fds (arguments memfd,
  result pipe, output pipe): fork a worker (``worker.run_call``), wait for it
  with the timeout, then kill everything it left behind, and answer
  ``{"exit_code", "signal", "timed_out", "cpu_s"}``;
* ``{"op": "shutdown"}`` or EOF: clean up and exit.

The zygote is a child subreaper, so every process a worker leaves behind is
re-parented here and killed after the call; as root, every process of the
sandbox uid is killed too.
"""

from __future__ import annotations

import base64
import dataclasses
import grp
import importlib
import inspect
import os
import pkgutil
import pwd
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import traceback
from typing import Callable

import torch  # noqa: F401 - imported once here so forked workers start warm
import torchvision  # noqa: F401

from autograder.sandbox import confinement, control_channel, process_control, uid_lease, worker, worker_root

# Candidate uid ranges for the per-sandbox user (as root): a random uid
# nobody else uses, so "kill every process of this uid" is safe and
# RLIMIT_NPROC counts only this sandbox.  The second range fits containers
# whose user namespace maps only 65536 ids.
SANDBOX_UID_RANGES = ((1_000_000, 2_000_000), (40_000, 60_000))
UID_PICK_ATTEMPTS = 64
FORBIDDEN_MODULE_ROOTS = ("common", "two_stage_detector", "reference", "synthetic_voc")  # the generator: secret splits
# Imported once here so that workers do not pay for them on every call (a
# worker's imports die with it).  Missing optional ones are skipped.
PRELOADED_MODULES = (
    "collections", "copy", "dataclasses", "functools", "heapq", "itertools", "math", "random", "typing",
    "warnings", "numpy", "torch.nn.functional", "torchvision.ops", "torchvision.models",
    "torchvision.models.feature_extraction", "matplotlib.pyplot",
)
WORKER_ESCAPED_EXIT_CODE = 70  # worker code returned instead of calling os._exit


def main(argv: list[str]) -> None:
    sock = socket.socket(fileno=int(argv[1]))
    sys.path[:] = [path for path in sys.path if path not in ("", os.getcwd())]  # autograder: staged_package
    process_control.become_child_subreaper()
    process_control.die_with_parent()
    _preload_modules()
    probes = load_probes()
    _refuse_forbidden_modules()
    config, _ = control_channel.receive(sock)
    setup = _make_setup(config)
    control_channel.send(sock, {
        "ready": True,
        "pid": os.getpid(),
        "as_root": setup.sandbox_uid is not None,
        "private_mounts": setup.private_mounts,
        "probes": sorted(probes),
    })
    try:
        _serve(sock, setup, probes)
    finally:
        _clean_up_after_call(setup, workdir=None)
        shutil.rmtree(setup.workroot, ignore_errors=True)


def _preload_modules() -> None:
    for name in PRELOADED_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def load_probes() -> dict[str, Callable[..., dict]]:
    """``"module.function"`` → function for every public function in ``autograder.probes``."""
    package = importlib.import_module("autograder.probes")
    registry = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for name, value in vars(module).items():
            if inspect.isfunction(value) and value.__module__ == module.__name__ and not name.startswith("_"):
                registry[f"{info.name}.{name}"] = value
    return registry


def _refuse_forbidden_modules() -> None:
    """Probe modules must not import the submission, the reference, fixtures or the synthetic generator."""
    leaked = sorted(name for name in sys.modules if name.split(".")[0] in FORBIDDEN_MODULE_ROOTS)
    if leaked:
        raise SystemExit(f"zygote: probe modules imported forbidden modules: {', '.join(leaked)}")


def _make_setup(config: dict) -> worker.WorkerSetup:
    as_root = os.geteuid() == 0
    workroot = tempfile.mkdtemp(prefix="calls-", dir=config["workroot_parent"])
    os.chmod(workroot, 0o711)  # workers may enter their own call-N directory, not list others
    new_root = tempfile.mkdtemp(prefix="root-", dir=config["workroot_parent"])  # mount point, in workers only
    staged = os.path.realpath(config["staged_package"])
    import_path = [path for path in sys.path if path and os.path.realpath(path) != staged]
    sys.path[:] = import_path  # the grader's modules are imported; workers never read the private copy
    return worker.WorkerSetup(
        files={name: base64.b64decode(content) for name, content in config["files"].items()},
        limits=confinement.Limits(**config["limits"]),
        sandbox_uid=choose_sandbox_uid() if as_root else None,
        private_mounts=as_root and config["use_namespaces"] and confinement.private_mounts_supported(new_root),
        protected_paths=list(config["protected_paths"]),
        allowed=worker_root.allowlist(import_path, sys.executable, sys.prefix, sys.base_prefix),
        new_root=new_root,
        workroot=workroot,
        seed=int(config["seed"]),
    )


_uid_leases: list[int] = []  # descriptors holding this zygote's uid lease (see uid_lease)


def choose_sandbox_uid() -> int:
    """A random uid with no account, no group and no process, mapped in this namespace,
    leased to this zygote for its lifetime."""
    mapped = _mapped_uid_ranges()
    directory = uid_lease.lease_directory()
    for low, high in SANDBOX_UID_RANGES:
        if not any(start <= low and high <= start + count for start, count in mapped):
            continue
        for _ in range(UID_PICK_ATTEMPTS):
            uid = low + secrets.randbelow(high - low)
            if _has_account(uid):
                continue
            held = uid_lease.lease(uid, directory)
            if held is None:
                continue
            if process_control.uid_in_use(uid):  # leftovers of a grader that died: not ours to reuse
                os.close(held)
                continue
            _uid_leases.append(held)
            return uid
    raise RuntimeError(f"no free sandbox uid in {SANDBOX_UID_RANGES} (uid map: {mapped})")


def _mapped_uid_ranges() -> list[tuple[int, int]]:
    with open("/proc/self/uid_map") as uid_map:
        return [(int(inside), int(count)) for inside, _, count in (line.split() for line in uid_map)]


def _has_account(uid: int) -> bool:
    for lookup in (pwd.getpwuid, grp.getgrgid):
        try:
            lookup(uid)
            return True
        except KeyError:
            pass
    return False


def _serve(sock: socket.socket, setup: worker.WorkerSetup, probes: dict[str, Callable[..., dict]]) -> None:
    call_id = 0
    while True:
        try:
            request, fds = control_channel.receive(sock)
        except control_channel.ChannelClosed:
            return
        if request.get("op") == "shutdown":
            return
        call_id += 1
        control_channel.send(sock, _handle_call(setup, probes, request, fds, call_id))


def _handle_call(setup, probes, request: dict, fds: list[int], call_id: int) -> dict:
    probe = probes.get(request.get("probe"))
    if probe is None or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        return {"error": f"unknown probe {request.get('probe')!r} (known: {', '.join(sorted(probes))})"}
    limits = dataclasses.replace(setup.limits, cpu_s=int(request["cpu_s"]))
    pid = os.fork()
    if pid == 0:
        try:
            worker.run_call(dataclasses.replace(setup, limits=limits), probe, call_id, *fds)
        except BaseException:  # noqa: BLE001 - shows up in the call's output tail
            traceback.print_exc()
        finally:
            os._exit(WORKER_ESCAPED_EXIT_CODE)
    for fd in fds:
        os.close(fd)
    status, timed_out, cpu_s = process_control.wait_with_timeout(pid, float(request["timeout_s"]))
    process_control.kill_process_group(pid)
    _clean_up_after_call(setup, workdir=os.path.join(setup.workroot, f"call-{call_id}"))
    exited = status is not None and os.WIFEXITED(status)
    signalled = status is not None and os.WIFSIGNALED(status)
    return {
        "exit_code": os.WEXITSTATUS(status) if exited else None,
        "signal": os.WTERMSIG(status) if signalled else None,
        "timed_out": timed_out,
        "cpu_s": cpu_s,
    }


def _clean_up_after_call(setup: worker.WorkerSetup, workdir: str | None) -> None:
    """Kill every process the call left behind and delete its work directory."""
    process_control.kill_descendants(os.getpid())
    # Defence in depth: nothing of the sandbox uid can live outside our subtree,
    # but if something does, kill it (the helper fork costs ~20 ms, so check first).
    if setup.sandbox_uid is not None and process_control.uid_in_use(setup.sandbox_uid):
        process_control.kill_all_processes_of_uid(setup.sandbox_uid)
        process_control.kill_descendants(os.getpid())
    if workdir and os.path.lexists(workdir):
        _remove_tree(workdir)


def _remove_tree(path: str) -> None:
    """Delete ``path`` even if student code removed permissions inside it."""
    def make_writable_and_retry(function, failed_path, _):
        os.chmod(os.path.dirname(failed_path), 0o700)
        if os.path.isdir(failed_path) and not os.path.islink(failed_path):
            os.chmod(failed_path, 0o700)
        function(failed_path)

    try:
        shutil.rmtree(path, onerror=make_writable_and_retry)
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the grader decides when we stop
    main(sys.argv)
