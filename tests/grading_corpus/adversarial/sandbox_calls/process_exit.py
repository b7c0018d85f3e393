"""Ends the worker instead of returning."""
import os
import signal
import sys


def exit_via_os_exit():
    os._exit(0)


def exit_via_sys_exit():
    sys.exit(0)


def crash_with_segfault():
    print("about to crash")
    os.kill(os.getpid(), signal.SIGSEGV)


def kill_parent():
    """Signal the zygote (same uid only when the grader is not root)."""
    try:
        os.kill(os.getppid(), signal.SIGKILL)
    except OSError:
        pass
    return "parent survived"
