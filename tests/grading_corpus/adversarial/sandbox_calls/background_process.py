"""Leaves a daemon behind: double fork, new session, sleep."""
import os
import time


def spawn_daemon():
    """Returns the daemon's pid; the daemon sleeps for a minute."""
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.write(write_end, str(os.getpid()).encode())
            time.sleep(60)
            os._exit(0)
        os._exit(0)
    os.close(write_end)
    return int(os.read(read_end, 32))
