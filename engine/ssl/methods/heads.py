"""Projector and predictor MLPs shared by the SSL methods, with batch statistics global under torchrun."""

from __future__ import annotations

from torch import nn

from engine.ssl.backbone import GlobalBatchNorm


def mlp(dims: list[int], *, last_norm: bool = False, last_affine: bool = True) -> nn.Sequential:
    """Linear layers through `dims` (e.g. [256, 512, 128]) with batch norm and ReLU between them.

    last_norm adds a batch norm after the last linear layer (SimSiam's projector), without learnable
    scale and shift when last_affine is False.
    """
    if len(dims) < 2:
        raise ValueError(f"an MLP needs at least an input and an output size, got {dims}")
    layers: list[nn.Module] = []
    for index in range(len(dims) - 1):
        last = index == len(dims) - 2
        # A bias before batch norm is cancelled by the mean subtraction.
        layers.append(nn.Linear(dims[index], dims[index + 1], bias=last and not last_norm))
        if not last:
            layers += [GlobalBatchNorm(dims[index + 1]), nn.ReLU(inplace=True)]
        elif last_norm:
            layers.append(GlobalBatchNorm(dims[index + 1], affine=last_affine))
    return nn.Sequential(*layers)
