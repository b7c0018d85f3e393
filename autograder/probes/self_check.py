"""Probe the sandbox itself: what can student code see of the grader's files?"""

from __future__ import annotations

import os
import sys

from autograder.sandbox.probe_api import SubmissionModules

MAX_ENTRIES_CHECKED = 2000


def exposed_files(sub: SubmissionModules, paths: list[str]) -> dict:
    """Protected files this worker could read at least one byte of, directories it
    could list, and directories of Python's import path it could *not* list.

    ``sub`` is not used: the submission is never imported for this check.
    """
    unreachable = [path for path in sys.path if path and _permission_denied(path)]
    # The interpreter and its packages are on the allowlist even when they live inside a
    # protected folder (a virtual environment in the course repository): not an exposure.
    # Not every import path entry: an editable install puts the repository itself on it.
    allowed = [os.path.realpath(path) for path in {sys.prefix, sys.base_prefix}]
    readable, listable, checked = [], [], 0
    for root in paths:
        pending = [root]
        while pending and checked < MAX_ENTRIES_CHECKED:
            path = pending.pop()
            if _inside_any(path, allowed):
                continue
            checked += 1
            if os.path.isdir(path):
                try:
                    names = sorted(os.listdir(path))
                except OSError:
                    continue
                children = [os.path.join(path, name) for name in names]
                if not all(_on_the_way_to(child, allowed) for child in children) or not children:
                    listable.append(path)  # it shows more than the way to the interpreter
                pending.extend(children)
            elif _can_read_a_byte(path):
                readable.append(path)
    return {"readable": readable, "listable": listable, "unreachable_library_paths": unreachable}


def _inside_any(path: str, folders: list[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == folder or real.startswith(folder + os.sep) for folder in folders)


def _on_the_way_to(path: str, folders: list[str]) -> bool:
    """Whether ``path`` is an allowed folder, inside one, or a folder above one."""
    real = os.path.realpath(path)
    return _inside_any(real, folders) or any(folder.startswith(real + os.sep) for folder in folders)


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
