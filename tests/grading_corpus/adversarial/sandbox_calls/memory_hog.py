"""Allocates more than the limit in one go (allocating without bound is the graded corpus's memory_hog)."""
import torch


def allocate_huge_tensor():
    return torch.empty(2 ** 40, dtype=torch.uint8)
