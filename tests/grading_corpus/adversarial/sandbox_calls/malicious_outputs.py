"""Returns values the transfer format must refuse (the pickle exploits are the graded corpus's
reduce_object_output and tensor_subclass_output, joined as functions by test_sandbox.py)."""
import torch


def return_huge_tensor(numel):
    return torch.zeros(numel, dtype=torch.uint8)


def return_numpy_array():
    return torch.zeros(3).numpy()
