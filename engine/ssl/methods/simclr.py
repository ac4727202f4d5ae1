"""SimCLR (Chen et al. 2020): a projector MLP and the NT-Xent contrastive loss over both views."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from engine.ssl.methods.base import SSLMethod
from engine.ssl.methods.heads import mlp


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """Normalised temperature-scaled cross entropy over 2B samples: each sample's positive is the other
    view of its image; the other 2B - 2 samples are its negatives. Mean over the 2B anchors."""
    batch = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)
    logits = z @ z.T / temperature
    # A sample is never its own negative.
    logits.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(batch, 2 * batch), torch.arange(0, batch)]).to(z.device)
    return F.cross_entropy(logits, targets)


class SimCLR(SSLMethod):
    """backbone -> 2-layer projector (hidden = feature size, out 128) -> NT-Xent at temperature 0.5."""

    name = "simclr"

    def __init__(
        self, backbone: nn.Module, *, temperature: float = 0.5, out_dim: int = 128, hidden_dim: int = 0
    ) -> None:
        super().__init__(backbone)
        self.temperature = float(temperature)
        self.out_dim = int(out_dim)
        self.hidden_dim = int(hidden_dim) or self.feature_dim
        self.projector = mlp([self.feature_dim, self.hidden_dim, self.out_dim])

    def loss(self, view1: torch.Tensor, view2: torch.Tensor) -> torch.Tensor:
        z1 = self.gather(self.projector(self.backbone(view1)))
        z2 = self.gather(self.projector(self.backbone(view2)))
        with self.full_precision(z1):
            return nt_xent(z1, z2, self.temperature)

    def settings(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "out_dim": self.out_dim, "hidden_dim": self.hidden_dim}
