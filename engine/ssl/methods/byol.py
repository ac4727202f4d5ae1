"""BYOL (Grill et al. 2020): an online network with a predictor regresses a momentum target network."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from engine.core.errors import LanternError
from engine.ssl.methods.base import SSLMethod, ema_update
from engine.ssl.methods.heads import mlp


def regression_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """mean ||normalise(p) - normalise(z)||^2 = mean (2 - 2 cosine(p, z)), no gradient through z."""
    return (2.0 - 2.0 * F.cosine_similarity(p, z.detach(), dim=1)).mean()


def target_momentum(base: float, progress: float) -> float:
    """BYOL's schedule: tau = 1 - (1 - base) (cos(pi progress) + 1) / 2, from base at the start to 1."""
    progress = min(max(progress, 0.0), 1.0)
    return 1.0 - (1.0 - base) * (math.cos(math.pi * progress) + 1.0) / 2.0


class BYOL(SSLMethod):
    """Online: backbone -> projector -> predictor; target: a momentum copy of backbone -> projector.
    Symmetric loss; the target follows the online weights with momentum 0.996 rising to 1 by a cosine."""

    name = "byol"

    def __init__(
        self, backbone: nn.Module, *, hidden_dim: int = 512, out_dim: int = 128, momentum: float = 0.996
    ) -> None:
        super().__init__(backbone)
        if not 0.0 < momentum < 1.0:
            raise LanternError(f"byol momentum must be in (0, 1), got {momentum}", "byol settings", "0.996")
        self.hidden_dim, self.out_dim, self.base_momentum = int(hidden_dim), int(out_dim), float(momentum)
        self.momentum = self.base_momentum
        self.projector = mlp([self.feature_dim, self.hidden_dim, self.out_dim])
        self.predictor = mlp([self.out_dim, self.hidden_dim, self.out_dim])
        self.target_backbone = copy.deepcopy(backbone)
        self.target_projector = copy.deepcopy(self.projector)
        for parameter in (*self.target_backbone.parameters(), *self.target_projector.parameters()):
            parameter.requires_grad_(False)

    def loss(self, view1: torch.Tensor, view2: torch.Tensor) -> torch.Tensor:
        p1 = self.gather(self.predictor(self.projector(self.backbone(view1))))
        p2 = self.gather(self.predictor(self.projector(self.backbone(view2))))
        with torch.no_grad():
            t1 = self.gather(self.target_projector(self.target_backbone(view1)))
            t2 = self.gather(self.target_projector(self.target_backbone(view2)))
        with self.full_precision(p1):
            return regression_loss(p1, t2) + regression_loss(p2, t1)

    def step_end(self, progress: float) -> None:
        self.momentum = target_momentum(self.base_momentum, progress)
        ema_update(self.target_backbone, self.backbone, self.momentum)
        ema_update(self.target_projector, self.projector, self.momentum)

    def settings(self) -> dict[str, Any]:
        return {"hidden_dim": self.hidden_dim, "out_dim": self.out_dim, "momentum": self.base_momentum}
