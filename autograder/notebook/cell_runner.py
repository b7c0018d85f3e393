"""Run notebook code cells in this process, in one IPython shell, with CPU-time limits.

Used inside a sandbox worker (``probes/notebook.py``): the cells run exactly
as in Jupyter (IPython syntax, magics, ``display``) but without a kernel,
so no sockets and no extra processes are needed. Execution stops at the
first cell that raises or runs out of time; the report names that cell and
ends with its traceback, cells shown as ``code cell N, line L``.

Limits are CPU time of this process (what Gradescope budgets; a loaded
machine does not make a run fail): each cell gets a ``SIGPROF`` timer at the
earlier of its own limit and what is left of the run's. Student code can
catch or disarm it; the sandbox's wall-clock kill at the call's timeout is
the limit that cannot be escaped (and the one for code that sleeps).
"""

from __future__ import annotations

import re
import signal
import time
import traceback
from contextlib import contextmanager

from autograder.sandbox.student_traceback import display_path

MAX_TRACEBACK_FRAMES = 8
_CELL_FILENAME = re.compile(r"<ipython-input-(\d+)-[0-9a-f]*>")
_GRADER_FILES = re.compile(r"/(?:IPython|autograder)/")


class CellTimeout(BaseException):
    """Raised in the running cell when its time is up (a BaseException: ``except Exception`` lets it through)."""


def run_cells(sources: list[str], labels: list[str], cell_cpu_limit_s: float, total_cpu_limit_s: float,
              workdir: str, after_cell=None, time_factor: float = 1.0) -> dict:
    """Run ``sources`` in order in a fresh IPython shell; stop at the first failure.

    The limits are in seconds of the calibration machine: each allows
    ``time_factor`` times as many CPU seconds here (``machine_speed.py``), and
    messages state them unscaled, so that they read the same on every machine.

    Returns ``{"cells_run": n, "seconds": [CPU s per cell], "failure": None |
    {"cell": index, "label", "kind": "error" | "timeout", "message"}}`` where
    ``cells_run`` counts the cells that completed without error.
    """
    shell = _new_shell()
    labels_by_count: dict[int, str] = {}
    seconds: list[float] = []
    started = time.process_time()
    for index, (source, label) in enumerate(zip(sources, labels)):
        remaining = total_cpu_limit_s - (time.process_time() - started) / time_factor
        if remaining <= 0:
            return _report(seconds, index, label, "timeout", _total_limit_message(total_cpu_limit_s))
        limit = min(cell_cpu_limit_s, remaining)
        labels_by_count[shell.execution_count] = label
        cell_started = time.process_time()
        with _cpu_alarm(limit * time_factor) as fired:
            result = shell.run_cell(source, store_history=True, silent=False)
        seconds.append(round(time.process_time() - cell_started, 3))
        if after_cell is not None:
            after_cell()
        error = result.error_before_exec or result.error_in_exec
        if fired or isinstance(error, CellTimeout):
            message = _total_limit_message(total_cpu_limit_s) if limit < cell_cpu_limit_s else (
                f"The cell did not finish within its {cell_cpu_limit_s:g} s CPU-time limit and was stopped.")
            return _report(seconds, index, label, "timeout", message + _tail(error, labels_by_count, workdir))
        if error is not None:
            return _report(seconds, index, label, "error", describe_error(error, labels_by_count, workdir))
    return {"cells_run": len(sources), "seconds": seconds, "failure": None}


def _report(seconds: list[float], index: int, label: str, kind: str, message: str) -> dict:
    return {"cells_run": index, "seconds": seconds,
            "failure": {"cell": index, "label": label, "kind": kind, "message": message}}


def _total_limit_message(total_cpu_limit_s: float) -> str:
    return f"The notebook did not finish within the grader's {total_cpu_limit_s:g} s CPU-time limit for the whole run."


def _new_shell():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False  # no sqlite file, no saving thread
    config.InteractiveShell.colors = "nocolor"
    config.InteractiveShell.xmode = "Minimal"  # printed tracebacks stay short; the report has its own
    return InteractiveShell.instance(config=config)


@contextmanager
def _cpu_alarm(seconds: float):
    """Raise ``CellTimeout`` in the running code once this process has used ``seconds`` more CPU time."""
    fired = []

    def handler(signum, frame):
        fired.append(True)
        raise CellTimeout()

    previous = signal.signal(signal.SIGPROF, handler)
    signal.setitimer(signal.ITIMER_PROF, max(seconds, 0.001))
    try:
        yield fired
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def describe_error(error: BaseException, labels_by_count: dict[int, str], workdir: str) -> str:
    """``Traceback`` of notebook cells and files (grader frames dropped) and the exception line."""
    return _tail(error, labels_by_count, workdir, header=False).lstrip("\n")


def _tail(error: BaseException | None, labels_by_count: dict[int, str], workdir: str, header: bool = True) -> str:
    if error is None or isinstance(error, CellTimeout) and error.__traceback__ is None:
        return ""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if not _GRADER_FILES.search(frame.filename)]
    lines = ["Traceback (most recent call last):"] if frames else []
    if len(frames) > MAX_TRACEBACK_FRAMES:
        lines.append(f"  ... {len(frames) - MAX_TRACEBACK_FRAMES} earlier frame(s) omitted")
    for frame in frames[-MAX_TRACEBACK_FRAMES:]:
        lines += _frame_lines(frame, labels_by_count, workdir)
    if isinstance(error, CellTimeout):
        lines.append("(stopped here)")
    else:
        lines.append("".join(traceback.format_exception_only(type(error), error)).rstrip())
    text = "\n".join(lines).replace(workdir.rstrip("/") + "/", "")
    text = _CELL_FILENAME.sub(lambda m: labels_by_count.get(int(m[1]), "a notebook cell"), text)
    return ("\nWhere it was:\n" if header else "\n") + text


def _frame_lines(frame: traceback.FrameSummary, labels_by_count: dict[int, str], workdir: str) -> list[str]:
    match = _CELL_FILENAME.fullmatch(frame.filename)
    if match:
        label = labels_by_count.get(int(match[1]), "a notebook cell")
        where = f"  {label}, line {frame.lineno}, in {frame.name}"
    else:
        where = f"  {display_path(frame.filename, workdir)}:{frame.lineno} in {frame.name}"
    return [where] + ([f"    {frame.line.strip()}"] if frame.line else [])
