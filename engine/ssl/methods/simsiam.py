"""SimSiam (Chen & He 2021): projector, predictor, stop-gradient and a symmetric negative cosine loss."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from engine.ssl.methods.base import SSLMethod
from engine.ssl.methods.heads import mlp


def negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """-mean cosine(p_i, z_i) with no gradient through z (the stop-gradient that prevents collapse)."""
    return -F.cosine_similarity(p, z.detach(), dim=1).mean()


class SimSiam(SSLMethod):
    """backbone -> projector (2 layers, batch norm after the last) -> predictor bottleneck; loss
    D(p1, sg(z2)) / 2 + D(p2, sg(z1)) / 2 with D the negative cosine. No negatives, no momentum encoder."""

    name = "simsiam"

    def __init__(self, backbone: nn.Module, *, dim: int = 512, predictor_dim: int = 128) -> None:
        super().__init__(backbone)
        self.dim, self.predictor_dim = int(dim), int(predictor_dim)
        self.projector = mlp([self.feature_dim, self.dim, self.dim], last_norm=True)
        self.predictor = mlp([self.dim, self.predictor_dim, self.dim])

    def loss(self, view1: torch.Tensor, view2: torch.Tensor) -> torch.Tensor:
        z1 = self.projector(self.backbone(view1))
        z2 = self.projector(self.backbone(view2))
        p1, p2 = self.gather(self.predictor(z1)), self.gather(self.predictor(z2))
        z1, z2 = self.gather(z1), self.gather(z2)
        with self.full_precision(z1):
            return 0.5 * negative_cosine(p1, z2) + 0.5 * negative_cosine(p2, z1)

    def settings(self) -> dict[str, Any]:
        return {"dim": self.dim, "predictor_dim": self.predictor_dim}
