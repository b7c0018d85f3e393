"""Weights of reference modules as plain lists, to load into student modules."""
from torch import nn


def conv_params(conv: nn.Module) -> list:
    """[weight, bias] of a conv or linear layer, detached copies."""
    return [conv.weight.detach().clone(), conv.bias.detach().clone()]


def convs_in_order(module: nn.Module) -> list:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def sequential_params(module: nn.Module) -> list:
    """[weight, bias] of every conv, then of every linear layer, in order."""
    layers = convs_in_order(module) + [m for m in module.modules() if isinstance(m, nn.Linear)]
    return [conv_params(layer) for layer in layers]
