# ---- adversarial part: ignores every catchable signal, then loops forever in one graded call ----
import signal

for _signal in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM, signal.SIGXCPU,
                signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE, signal.SIGQUIT):
    signal.signal(_signal, signal.SIG_IGN)


def iou(boxes1, boxes2):
    # Only the notebook's 3 x 3 example loops, so the corpus pays for one time-out, not one per call.
    if len(boxes1) == 3 and len(boxes2) == 3:
        while True:
            pass
    raise NotImplementedError
