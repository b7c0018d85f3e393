"""Probe the sandbox itself: what can student code see of the grader's files?"""

from __future__ import annotations

import os
import sys

from autograder.probe_api import SubmissionModules

MAX_ENTRIES_CHECKED = 2000


def exposed_files(sub: SubmissionModules, paths: list[str]) -> dict:
    """Protected files this worker could read at least one byte of, directories it
    could list, and directories of Python's import path it could *not* list.

    ``sub`` is not used: the submission is never imported for this check.
    """
    unreachable = [path for path in sys.path if path and _permission_denied(path)]
    readable, listable, checked = [], [], 0
    for root in paths:
        pending = [root]
        while pending and checked < MAX_ENTRIES_CHECKED:
            path = pending.pop()
            checked += 1
            if os.path.isdir(path):
                try:
                    names = sorted(os.listdir(path))
                except OSError:
                    continue
                listable.append(path)
                pending.extend(os.path.join(path, name) for name in names)
            elif _can_read_a_byte(path):
                readable.append(path)
    return {"readable": readable, "listable": listable, "unreachable_library_paths": unreachable}


def _permission_denied(path: str) -> bool:
    """Whether listing ``path`` fails for lack of permission (not because it does not exist)."""
    try:
        os.listdir(path)
    except PermissionError:
        return True
    except OSError:
        return False
    return False


def _can_read_a_byte(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return bool(handle.read(1))
    except OSError:
        return False
