"""Tracebacks written for students: their files, their lines, no grader internals.

Runs inside the worker.  Paths inside the private copy of the submission are
shown relative to it (``two_stage_detector.py``), library paths from their
package (``torch/nn/functional.py``), and frames of the grader (probes,
worker) are dropped so hidden tests do not leak.  Files generated from a
notebook carry ``NOTEBOOK_MARKER`` comments, which map a line back to its
notebook cell.
"""

from __future__ import annotations

import linecache
import re
import traceback

from autograder.untrusted_text import multi_line

MAX_FRAMES = 6
CONTINUATION_INDENT = "    "
NOTEBOOK_MARKER = "# notebook code cell {cell}, line {line}"
_NOTEBOOK_MARKER_RE = re.compile(r"^# notebook code cell (\d+), line (\d+)$")
_LIBRARY_ROOT_RE = re.compile(r"^.*/(?:site-packages|dist-packages|lib/python3\.\d+)/")


def is_student_file(filename: str, submission_dir: str) -> bool:
    return filename.startswith(submission_dir.rstrip("/") + "/")


def display_path(filename: str, submission_dir: str) -> str:
    """``two_stage_detector.py`` for student files, ``torch/...`` for libraries."""
    if is_student_file(filename, submission_dir):
        return filename[len(submission_dir.rstrip("/")) + 1 :]
    return _LIBRARY_ROOT_RE.sub("", filename)


def relativize(text: str, submission_dir: str) -> str:
    """Replace the private submission path in free text by nothing."""
    return text.replace(submission_dir.rstrip("/") + "/", "")


def notebook_location(filename: str, lineno: int) -> str:
    """`` (notebook code cell 5, line 3)`` for generated files, else ``""``."""
    for marker_lineno in range(lineno - 1, 0, -1):
        match = _NOTEBOOK_MARKER_RE.match(linecache.getline(filename, marker_lineno).strip())
        if match:
            cell, first_line = int(match[1]), int(match[2])
            return f" (notebook code cell {cell}, line {first_line + lineno - marker_lineno - 1})"
    return ""


def location(frame: traceback.FrameSummary, submission_dir: str) -> str:
    """``two_stage_detector.py:42 in nms`` (plus the notebook cell when known)."""
    where = f"{display_path(frame.filename, submission_dir)}:{frame.lineno} in {frame.name}"
    if is_student_file(frame.filename, submission_dir):
        where += notebook_location(frame.filename, frame.lineno or 0)
    return where


def _extract_with_qualnames(tb) -> traceback.StackSummary:
    """``traceback.extract_tb``, naming each frame by its qualified name
    (``FasterRCNN.forward``, not ``forward``): feedback names the definition."""
    pairs = list(traceback.walk_tb(tb))
    frames = traceback.StackSummary.extract(iter(pairs))
    for summary, (frame, _) in zip(frames, pairs):
        summary.name = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
    return frames


def student_frames(error: BaseException, submission_dir: str) -> list[traceback.FrameSummary]:
    """Frames from the outermost student frame to where ``error`` was raised."""
    frames = _extract_with_qualnames(error.__traceback__)
    first = next((i for i, f in enumerate(frames) if is_student_file(f.filename, submission_dir)), None)
    return [] if first is None else list(frames[first:])


def innermost_student_frame(error: BaseException, submission_dir: str) -> traceback.FrameSummary | None:
    frames = [f for f in student_frames(error, submission_dir) if is_student_file(f.filename, submission_dir)]
    return frames[-1] if frames else None


def exception_line(error: BaseException, submission_dir: str) -> str:
    """``TypeError: ...`` (with file, line and caret for a ``SyntaxError``); a message's later
    lines are indented, so that none can pass for a line of the grader's own."""
    text = "".join(traceback.format_exception_only(type(error), error)).rstrip()
    if not isinstance(error, SyntaxError):
        first, *more = multi_line(text).split("\n")
        text = "\n".join([first] + [CONTINUATION_INDENT + line for line in more])
    return relativize(text, submission_dir)


def format_traceback(error: BaseException, submission_dir: str) -> str:
    """The last ``MAX_FRAMES`` student-side frames and the exception line."""
    frames = student_frames(error, submission_dir)
    lines = []
    if frames:
        omitted = max(0, len(frames) - MAX_FRAMES)
        lines.append("Traceback (most recent call last):")
        if omitted:
            lines.append(f"  ... {omitted} earlier frame(s) omitted")
        for frame in frames[-MAX_FRAMES:]:
            lines.append(f"  {location(frame, submission_dir)}")
            if frame.line:
                lines.append(f"    {frame.line.strip()}")
    lines.append(exception_line(error, submission_dir))
    return "\n".join(lines)
