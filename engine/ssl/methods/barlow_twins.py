"""Barlow Twins (Zbontar et al. 2021): drive the cross-correlation of two views' projections to identity."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from engine.ssl.methods.base import SSLMethod
from engine.ssl.methods.heads import mlp


def standardise(z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Each dimension to mean 0 and variance 1 over the batch (biased variance, as a batch norm)."""
    centred = z - z.mean(0)
    return centred / torch.sqrt(centred.pow(2).mean(0) + eps)


def barlow_twins_loss(z1: torch.Tensor, z2: torch.Tensor, off_diagonal_weight: float) -> torch.Tensor:
    """sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2 with C the cross-correlation of the standardised
    projections over the batch: C = s(z1)^T s(z2) / B."""
    c = standardise(z1).T @ standardise(z2) / z1.shape[0]
    diagonal = torch.diagonal(c)
    on = (diagonal - 1).pow(2).sum()
    off = c.pow(2).sum() - diagonal.pow(2).sum()
    return on + off_diagonal_weight * off


class BarlowTwins(SSLMethod):
    """backbone -> 3-layer projector -> cross-correlation loss with off-diagonal weight 5e-3."""

    name = "barlow_twins"

    def __init__(self, backbone: nn.Module, *, dim: int = 512, off_diagonal_weight: float = 5e-3) -> None:
        super().__init__(backbone)
        self.dim, self.off_diagonal_weight = int(dim), float(off_diagonal_weight)
        self.projector = mlp([self.feature_dim, self.dim, self.dim, self.dim])

    def loss(self, view1: torch.Tensor, view2: torch.Tensor) -> torch.Tensor:
        z1 = self.gather(self.projector(self.backbone(view1)))
        z2 = self.gather(self.projector(self.backbone(view2)))
        with self.full_precision(z1):
            return barlow_twins_loss(z1, z2, self.off_diagonal_weight)

    def settings(self) -> dict[str, Any]:
        return {"dim": self.dim, "off_diagonal_weight": self.off_diagonal_weight}
