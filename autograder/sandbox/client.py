"""Run student code in sandboxed worker processes; judge nothing here.

``Sandbox(submission_dir)`` starts a zygote (``zygote.py``) that imports torch
once; ``sandbox.call("raw_calls.call_iou", boxes1=a, boxes2=b)`` forks a fresh,
confined worker from it, runs the probe there and returns the probe's dict.
Student code is never imported in this process; nothing produced by a worker
is unpickled here (``safe_transfer``).  Every failure becomes a
``SubmissionError`` subclass whose message is written for the student.

Isolation (see ``autograder/README.md``): as root, workers run as a fresh
unprivileged uid, with resource limits, in private mount/network namespaces
that hide ``protected_paths``; as a normal user it is best-effort (limits,
private work directory, leftover processes killed).
"""

from __future__ import annotations

import base64
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from autograder.sandbox import control_channel, safe_transfer, staged_package
from autograder.sandbox.call_budget import CallBudget
from autograder.sandbox import grader_memory
from autograder.sandbox.confinement import Limits, cpu_kernel_environment
from autograder.errors import (
    ERROR_CLASS_BY_KIND,
    Crashed,
    GraderErrorInWorker,
    InvalidOutput,
    OutOfMemory,
    SandboxError,
    SubmissionError,
    SubmissionFormatError,
    Timeout,
)
from autograder.submission_layout import MAX_SOURCE_BYTES, SUBMISSION_FILES
from autograder.untrusted_text import multi_line

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MEMORY_MB = 4096
DEFAULT_MAX_PROCESSES = 16  # tasks (threads count too); graded code needs none beyond its own
DEFAULT_MAX_RESULT_BYTES = 64 * 1024 * 1024
DEFAULT_FILE_SIZE_MB = 64  # the graded run's checkpoint (weights and SGD momentum) is about 42 MB
DEFAULT_MAX_OPEN_FILES = 256
DEFAULT_SEED = 0

ZYGOTE_START_TIMEOUT_S = 300.0
ZYGOTE_GRACE_S = 20.0  # beyond a call's timeout, for the zygote to stop and clean up
DRAIN_AFTER_REPLY_S = 2.0  # pipes should be at EOF once the zygote has killed everything
MAX_FAILED_STARTS = 3  # consecutive zygote start-ups that never became ready
CPU_LIMIT_MARGIN_S = 2  # RLIMIT_CPU = timeout + margin: a backstop behind the wall clock
OUTPUT_TAIL_BYTES = 4096
OUTPUT_TAIL_LINES = 20
MAX_MESSAGE_CHARS = 4000  # of an error message shown to the student (the worker sends up to 20000)
SELF_CHECK_PROBE = "self_check.exposed_files"
_PROBE_NAME_RE = re.compile(r"^[A-Za-z_]\w*\.[A-Za-z_]\w*$")
_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{6,}")


@dataclass(frozen=True)
class Isolation:
    """What the sandbox could enforce on this machine."""

    as_root: bool
    private_mounts: bool
    warnings: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        """One deterministic paragraph for the results' top-level output."""
        if self.as_root and self.private_mounts:
            return ("Isolation: student code ran in separate processes as an unprivileged user, with memory, "
                    "CPU-time, file-size and process limits, no network, and a file system showing only Python, "
                    "its packages, the submission and a private /tmp.")
        if self.as_root:
            return ("Isolation: student code ran in separate processes as an unprivileged user, with memory, "
                    "CPU-time, file-size and process limits; grader files were protected by file permissions "
                    "only (world-readable and world-writable places of the machine stayed reachable) and network "
                    "access was not blocked.")
        return ("Isolation (best effort): the grader did not run as root, so student code ran as the grader's own "
                "user, in separate processes with memory, CPU-time, file-size and process limits and a private "
                "work directory; it could still read or change files of that user, the grader's own files and "
                "the course repository included.")


class Sandbox:
    """Session-scoped runner of probes against one normalised submission folder."""

    def __init__(
        self,
        submission_dir: str | os.PathLike,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        memory_mb: int = DEFAULT_MEMORY_MB,
        max_processes: int = DEFAULT_MAX_PROCESSES,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
        protected_paths: tuple[str | os.PathLike, ...] | list = (),
        seed: int = DEFAULT_SEED,
        use_namespaces: bool = True,
    ) -> None:
        """Read the submission files and start the zygote (without waiting for it).

        ``use_namespaces=False`` skips the private mount/network namespaces
        even where the kernel allows them (file permissions then protect
        ``protected_paths``, as on hosts that forbid namespaces).
        """
        self.timeout_s = timeout_s
        self.max_result_bytes = max_result_bytes
        self.limits = Limits(
            memory_mb=memory_mb,
            cpu_s=0,  # set per call from its timeout
            file_size_mb=DEFAULT_FILE_SIZE_MB,
            max_processes=max_processes,
            max_open_files=DEFAULT_MAX_OPEN_FILES,
        )
        self.protected_paths = [str(Path(p).resolve()) for p in protected_paths if Path(p).exists()]
        self._files = _read_submission_files(Path(submission_dir))
        self._seed = seed
        self._use_namespaces = use_namespaces
        self._zygote: _Zygote | None = None
        self._failed_starts = 0
        self._isolation: Isolation | None = None
        self._closed = False
        self.budget = CallBudget()  # counts nothing until told which test runs (the pytest plugin)
        self._start_zygote()

    # ------------------------------------------------------------------ API
    def call(self, probe: str, timeout_s: float | None = None, **kwargs) -> dict:
        """Run probe ``"module.function"`` with ``kwargs`` in a fresh worker.

        Returns the probe's dict (tensors, numbers, strings, None, containers).
        Raises a ``SubmissionError`` subclass when the student's code fails
        (``Timeout`` at once when ``budget`` says the call must not run),
        ``SandboxError`` when the grader does, ``TypeError`` for arguments
        that cannot be sent.  ``probe`` and ``timeout_s`` cannot be probe
        argument names.
        """
        self.isolation  # noqa: B018 - start-up check before the first graded call
        limit = self.timeout_s if timeout_s is None else timeout_s
        self.budget.before_call()
        started, timed_out = time.monotonic(), False
        try:
            return self._call(probe, kwargs, limit)
        except Timeout:
            timed_out = True
            raise
        finally:
            self.budget.after_call(time.monotonic() - started, limit, timed_out)

    @property
    def isolation(self) -> Isolation:
        """Waits for the zygote; runs the protected-path self-check once (as root)."""
        if self._isolation is None:
            ready = self._ready_zygote().ready
            found = self._check_protection() if ready["as_root"] else ()
            self._isolation = Isolation(ready["as_root"], ready["private_mounts"], found)
        return self._isolation

    @property
    def zygote_pid(self) -> int:
        """Process id of the zygote (for diagnostics: workers are its children)."""
        return self._ready_zygote().ready["pid"]

    def close(self) -> None:
        """Stop the zygote and every worker."""
        self._closed = True
        if self._zygote is not None:
            self._zygote.stop()
            self._zygote = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_zygote", None) is not None:
            self._zygote.kill()

    # ------------------------------------------------------------- internals
    def _start_zygote(self) -> None:
        if self._failed_starts >= MAX_FAILED_STARTS:
            raise SandboxError(f"the sandbox zygote failed to start {self._failed_starts} times; giving up")
        self._zygote = _Zygote({
            "files": {name: base64.b64encode(data).decode() for name, data in self._files.items()},
            "limits": asdict(self.limits),
            "protected_paths": self.protected_paths,
            "seed": self._seed,
            "use_namespaces": self._use_namespaces,
        })

    def _ready_zygote(self) -> _Zygote:
        if self._closed:
            raise SandboxError("the sandbox is closed")
        if self._zygote is None or not self._zygote.alive():
            self._start_zygote()
        try:
            self._zygote.wait_ready()
        except SandboxError:
            self._failed_starts += 1
            raise
        self._failed_starts = 0
        return self._zygote

    def _check_protection(self) -> tuple[str, ...]:
        """Warnings about grader files a worker can read, or Python files it cannot."""
        try:
            exposed = self._call(SELF_CHECK_PROBE, {"paths": self.protected_paths}, DEFAULT_TIMEOUT_S)
        except SubmissionError as error:  # no student code ran: this is the grader's failure
            raise SandboxError(f"the sandbox self-check failed: {error}") from None
        problems = [f"sandboxed code can read {path}" for path in exposed["readable"]]
        problems += [f"sandboxed code can list {path}" for path in exposed["listable"]]
        messages = []
        if problems:
            shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
            messages.append(f"WARNING: grader files are exposed to student code: {shown}. "
                            "Make these directories unreadable for other users (chmod -R go-rwx DIR).")
        if exposed["unreachable_library_paths"]:
            messages.append("WARNING: sandboxed code cannot read Python's import path "
                            f"({', '.join(exposed['unreachable_library_paths'])}): modules the zygote did not "
                            "preload cannot be imported. Install Python where other users can read it.")
        for message in messages:
            warnings.warn(message, stacklevel=3)
            print(message, file=sys.stderr)
        return tuple(messages)

    def _call(self, probe: str, kwargs: dict, timeout_s: float) -> dict:
        if not _PROBE_NAME_RE.match(probe):
            raise ValueError(f"probe must be 'module.function', got {probe!r}")
        try:
            arguments = safe_transfer.encode(kwargs)
        except safe_transfer.TransferError as error:
            raise TypeError(f"Sandbox.call({probe!r}): cannot send arguments: {error}") from None
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        zygote = self._ready_zygote()
        outcome = zygote.run(
            {"op": "call", "probe": probe, "timeout_s": timeout_s, "cpu_s": int(timeout_s) + CPU_LIMIT_MARGIN_S},
            arguments, timeout_s + ZYGOTE_GRACE_S, self.max_result_bytes,
        )
        return _interpret(outcome, timeout_s, self.limits.memory_mb, self.max_result_bytes)


@dataclass
class _CallOutcome:
    reply: dict | None  # the zygote's report; None if the zygote died or hung
    zygote_died: bool
    result: bytes
    result_too_large: bool
    output_tail: bytes


class _Zygote:
    """Handle on one zygote process and its control socket."""

    def __init__(self, config: dict) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._home = tempfile.mkdtemp(prefix="autograder-zygote-")
        os.chmod(self._home, 0o711)  # workers may pass through to their call directory; nobody may list it
        package_parent = staged_package.stage_package(os.path.join(self._home, "package"))  # not the repository
        config = config | {"workroot_parent": self._home, "staged_package": package_parent}
        self._log = tempfile.TemporaryFile(dir=self._home)
        self.process = subprocess.Popen(
            [sys.executable, "-s", "-m", "autograder.sandbox.zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env=_zygote_environment(package_parent, self._home), cwd=self._home, start_new_session=True,
        )
        theirs.close()
        grader_memory.release_child(self.process.pid)  # the grader's own limit is not the workers'
        self.sock = ours
        self._config = config
        self.ready: dict | None = None
        self.started_at = time.monotonic()
        self.startup_s: float | None = None

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self) -> None:
        if self.ready is not None:
            return
        self.sock.settimeout(ZYGOTE_START_TIMEOUT_S)
        try:
            control_channel.send(self.sock, self._config)  # read by the zygote once torch is imported
            message, _ = control_channel.receive(self.sock)
        except (OSError, control_channel.ChannelClosed, ValueError) as error:
            log = self.log_tail()
            self.kill()
            raise SandboxError(f"the sandbox zygote failed to start ({error!r}); its output:\n{log}") from None
        self.sock.settimeout(None)
        if not message.get("ready"):
            self.kill()
            raise SandboxError(f"unexpected zygote greeting {message!r}")
        self.ready = message
        self.startup_s = time.monotonic() - self.started_at

    def run(self, request: dict, arguments: bytes, deadline_s: float, max_result_bytes: int) -> _CallOutcome:
        """Send one call and collect its reply, result bytes and output tail."""
        arguments_fd = os.memfd_create("autograder-arguments", os.MFD_CLOEXEC)
        result_read, result_write = os.pipe2(os.O_CLOEXEC)
        output_read, output_write = os.pipe2(os.O_CLOEXEC)
        try:
            _write_all(arguments_fd, arguments)
            os.lseek(arguments_fd, 0, os.SEEK_SET)
            control_channel.send(self.sock, request, [arguments_fd, result_write, output_write])
        except OSError as error:  # the zygote died between calls
            for fd in (result_read, output_read):
                os.close(fd)
            self.kill()
            raise SandboxError(f"lost the sandbox zygote before the call ({error!r})") from None
        finally:
            for fd in (arguments_fd, result_write, output_write):
                os.close(fd)
        return self._collect(result_read, output_read, deadline_s, max_result_bytes)

    def _collect(self, result_fd: int, output_fd: int, deadline_s: float, max_result_bytes: int) -> _CallOutcome:
        outcome = _CallOutcome(reply=None, zygote_died=False, result=b"", result_too_large=False, output_tail=b"")
        result = bytearray()
        selector = selectors.DefaultSelector()
        selector.register(result_fd, selectors.EVENT_READ, "result")
        selector.register(output_fd, selectors.EVENT_READ, "output")
        selector.register(self.sock, selectors.EVENT_READ, "reply")
        deadline = time.monotonic() + deadline_s
        try:
            while selector.get_map():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if outcome.reply is None:  # hung zygote: kill it, a new one starts next call
                        self.kill()
                    break
                for key, _ in selector.select(remaining):
                    if key.data == "reply":
                        selector.unregister(self.sock)
                        try:
                            outcome.reply, _ = control_channel.receive(self.sock)
                        except (OSError, control_channel.ChannelClosed, ValueError):
                            outcome.zygote_died = True
                            self.kill()
                        deadline = min(deadline, time.monotonic() + DRAIN_AFTER_REPLY_S)
                        continue
                    chunk = os.read(key.fd, 1 << 20)
                    if key.data == "output":
                        outcome.output_tail = (outcome.output_tail + chunk)[-OUTPUT_TAIL_BYTES:]
                    elif len(result) + len(chunk) > max_result_bytes:
                        outcome.result_too_large = True
                        chunk = b""  # stop reading: the worker gets EPIPE
                    else:
                        result += chunk
                    if not chunk:
                        selector.unregister(key.fd)
                        os.close(key.fd)
        finally:
            for key in list(selector.get_map().values()):
                if key.fileobj is not self.sock:
                    os.close(key.fd)
            selector.close()
        outcome.result = bytes(result)
        return outcome

    def log_tail(self, limit: int = 4000) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-limit:]

    def stop(self) -> None:
        try:
            control_channel.send(self.sock, {"op": "shutdown"})
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def kill(self) -> None:
        """Kill the zygote's whole session; its workers die with it (PDEATHSIG)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
        self.sock.close()
        self._log.close()
        shutil.rmtree(self._home, ignore_errors=True)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _zygote_environment(package_parent: str, home: str) -> dict[str, str]:
    """A clean environment: nothing of the grader's (tokens, paths) reaches workers but its CPU kernel choice."""
    return {
        **cpu_kernel_environment(),
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": home,
        "LANG": "C.UTF-8",
        "PYTHONPATH": package_parent,
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }


def _read_submission_files(directory: Path) -> dict[str, bytes]:
    files = {}
    for name in SUBMISSION_FILES:
        path = directory / name
        if path.is_symlink() or not path.is_file():
            raise SubmissionFormatError(f"{name} is missing from the submission folder")
        if path.stat().st_size > MAX_SOURCE_BYTES:
            raise SubmissionFormatError(f"{name} is larger than {MAX_SOURCE_BYTES // 2**20} MiB")
        files[name] = path.read_bytes()
    return files


# ------------------------------------------------------------------ verdicts
def _interpret(outcome: _CallOutcome, timeout_s: float, memory_mb: int, max_result_bytes: int) -> dict:
    """Turn what came back from one call into a value or a ``SubmissionError``."""
    reply = outcome.reply
    time_limit = Timeout(
        f"Your code did not finish within the {timeout_s:g} s time limit and was stopped. "
        "Look for an infinite loop, or for slow Python loops that could be vectorised."
    )
    if outcome.zygote_died:
        raise Crashed("The sandbox process running your code was killed; do not signal other processes.")
    if reply is None:  # the zygote hung past the grace period; it has been killed
        raise time_limit
    if "error" in reply:
        raise SandboxError(reply["error"])
    if reply["timed_out"]:
        raise time_limit
    if outcome.result_too_large:
        raise InvalidOutput(f"Your code's output is larger than the {max_result_bytes / 2**20:g} MiB limit.")
    crash_output = _output_excerpt(outcome.output_tail)
    if reply["signal"] is not None:
        raise _signal_error(reply["signal"], reply["cpu_s"] >= timeout_s, memory_mb, crash_output)
    if reply["exit_code"] != 0:
        raise Crashed(f"Your code ended the process (exit status {reply['exit_code']}) before returning a result."
                      + crash_output)
    if not outcome.result:
        raise Crashed("Your code ended the process (exit status 0) before returning a result; "
                      "do not call os._exit() or sys.exit() in graded code." + crash_output)
    try:
        message = safe_transfer.decode(outcome.result)
    except safe_transfer.TransferError as error:
        raise InvalidOutput(f"The grader could not read what your code returned ({error}).") from None
    return _unwrap(message)


def _unwrap(message: object) -> dict:
    if type(message) is not dict or message.get("status") not in ("ok", "error"):
        raise InvalidOutput("The grader could not read what your code returned (malformed report).")
    if message["status"] == "ok":
        value = message.get("value")
        if type(value) is not dict or not all(type(key) is str for key in value):
            raise InvalidOutput("The grader could not read what your code returned (not a dict of named values).")
        return value
    error_class = ERROR_CLASS_BY_KIND.get(message.get("kind"))
    text = message.get("message")
    if error_class is None or type(text) is not str:
        raise InvalidOutput("The grader could not read what your code returned (malformed error report).")
    if error_class is GraderErrorInWorker:
        print(f"autograder: a worker reported a grader failure (or student code forged one): {text!r:.500}",
              file=sys.stderr)
        raise GraderErrorInWorker(
            "The grader's code failed in the process running your code. Code that changes the grader or the "
            "libraries it uses can cause this; if yours does not, please tell the course staff.")
    raise error_class(clean_message(text))


def _signal_error(number: int, cpu_exhausted: bool, memory_mb: int, crash_output: str) -> Exception:
    name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else f"signal {number}"
    if number == signal.SIGXCPU or (number == signal.SIGKILL and cpu_exhausted):
        return Timeout("Your code used up its CPU-time limit and was stopped. Look for an infinite loop.")
    if number == signal.SIGKILL:
        return OutOfMemory(f"Your code was killed by the system (SIGKILL), most likely because it used more than "
                           f"the {memory_mb} MiB memory limit.")
    if number == signal.SIGXFSZ:
        return Crashed("Your code tried to write a file larger than the grader allows." + crash_output)
    return Crashed(f"Your code crashed the process ({name}). Native crashes can come from running out of memory "
                   f"(limit {memory_mb} MiB) or from invalid tensor operations." + crash_output)


def _output_excerpt(tail: bytes) -> str:
    if not tail.strip():
        return ""
    lines = multi_line(tail.decode(errors="replace")).splitlines()[-OUTPUT_TAIL_LINES:]
    return "\nLast output before that:\n" + clean_message("\n".join("  " + line for line in lines))  # none the grader's


def clean_message(text: str) -> str:
    """Student-facing text: no escape sequences, control characters or memory addresses, bounded length."""
    text = _ADDRESS_RE.sub("0x…", multi_line(text))
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 15] + "\n… (truncated)"
