"""Import a Python file by its path, under a name of our choosing.

The grader loads files that are not packages (the reference solution, the
course helpers in ``student/``) without putting their folders on
``sys.path``, where student code could shadow them or find them.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def import_by_path(path: Path, name: str, *, cache: bool = True) -> ModuleType:
    """Execute ``path`` as module ``name``.  With ``cache``, it is registered in ``sys.modules``
    (a second call returns the same module; a failed import leaves nothing behind)."""
    if cache and name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}: not a Python file, or missing")
    module = importlib.util.module_from_spec(spec)
    if cache:
        sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        if cache:
            del sys.modules[name]
        raise
    return module
