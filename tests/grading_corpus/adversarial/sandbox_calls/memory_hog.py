"""Allocates without bound."""
import torch


def hoard_memory():
    chunks = []
    while True:
        chunks.append(bytearray(16 * 1024 * 1024))


def allocate_huge_tensor():
    return torch.empty(2 ** 40, dtype=torch.uint8)
