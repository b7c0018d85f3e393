"""Ends the worker instead of returning (sys.exit and os._exit in a call are the graded corpus's
sys_exit_in_function and os_exit_in_function)."""
import os
import signal


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
