"""Returns objects that would run code if the grader unpickled them."""
import os

import torch


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/autograder-pwned",))


class EvilTensor(torch.Tensor):
    def __reduce_ex__(self, protocol):
        return (os.system, ("echo pwned > /tmp/autograder-pwned",))


def return_exploit():
    return Exploit()


def return_tensor_subclass():
    return torch.zeros(3).as_subclass(EvilTensor)


def return_huge_tensor(numel):
    return torch.zeros(numel, dtype=torch.uint8)


def return_numpy_array():
    return torch.zeros(3).numpy()
