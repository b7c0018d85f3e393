"""A private copy of the grader's package, the only thing on the zygote's import path.

The zygote must not import the grader from the course repository: with the
repository on its import path, every worker would inherit a path to the
solution's history (``.git``), the tests and the docs.  ``Sandbox`` copies the
package's Python modules (not its graded tests, conftest or golden fixtures)
into a folder only the grader's user can read, outside the repository, and
starts the zygote with that folder as its only extra import path.  Workers
are forked with these modules already imported and never see the copy
(``worker_root``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import autograder

PACKAGE_DIR = Path(autograder.__file__).resolve().parent
PACKAGE_NAME = PACKAGE_DIR.name
STAGED_PATTERNS = ("*.py",)
LEFT_OUT_PATTERNS = ("test_*.py", "conftest.py")  # graded tests run in the grader, never in the zygote


def stage_package(destination: str | os.PathLike) -> str:
    """Copy the package's modules into ``destination/autograder`` (mode 0700); return ``destination``,
    the folder to put on the zygote's import path."""
    destination = Path(destination)
    destination.mkdir(mode=0o700)
    shutil.copytree(PACKAGE_DIR, destination / PACKAGE_NAME, ignore=_left_out, copy_function=shutil.copyfile)
    return str(destination)


def _left_out(directory: str, names: list[str]) -> set[str]:
    """Names ``copytree`` skips: data files, caches, graded tests."""
    kept = set()
    for name in names:
        path = Path(directory, name)
        if path.is_dir() and not path.is_symlink():
            if (path / "__init__.py").is_file():  # a subpackage (probes/); fixtures/ holds data only
                kept.add(name)
        elif any(path.match(pattern) for pattern in STAGED_PATTERNS) and not any(
                path.match(pattern) for pattern in LEFT_OUT_PATTERNS):
            kept.add(name)
    return set(names) - kept
