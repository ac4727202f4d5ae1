"""MoCo v2 (Chen et al. 2020): a momentum key encoder and a queue of past keys as the negatives."""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from engine.core.errors import LanternError
from engine.ssl.methods.base import SSLMethod, ema_update
from engine.ssl.methods.heads import mlp


def info_nce(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cross entropy of picking each query's own key (normalised q, k [B, D]) among it and the queue's
    normalised keys [K, D], at `temperature`; no gradient through the keys."""
    positive = (q * k.detach()).sum(1, keepdim=True)
    negative = q @ queue.detach().T
    logits = torch.cat([positive, negative], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))


class MoCoV2(SSLMethod):
    """Query encoder: backbone -> MLP head; key encoder: its momentum copy (0.99). Symmetric InfoNCE at
    temperature 0.2 against a queue of `queue_size` past keys (both views' keys are enqueued in step_end).

    Departure: MoCo's shuffled batch norm is not used; under torchrun batch statistics are global, as in
    a single process.
    """

    name = "moco_v2"
    default_queue = 4096

    def __init__(
        self,
        backbone: nn.Module,
        *,
        out_dim: int = 128,
        hidden_dim: int = 0,
        queue_size: int = 4096,
        momentum: float = 0.99,
        temperature: float = 0.2,
    ) -> None:
        super().__init__(backbone)
        if not 0.0 < momentum < 1.0:
            raise LanternError(
                f"moco_v2 momentum must be in (0, 1), got {momentum}", "moco_v2 settings", "0.99"
            )
        self.out_dim, self.hidden_dim = int(out_dim), int(hidden_dim) or self.feature_dim
        self.queue_size, self.momentum, self.temperature = (
            int(queue_size),
            float(momentum),
            float(temperature),
        )
        self.head = mlp([self.feature_dim, self.hidden_dim, self.out_dim])
        self.key_backbone = copy.deepcopy(backbone)
        self.key_head = copy.deepcopy(self.head)
        for parameter in (*self.key_backbone.parameters(), *self.key_head.parameters()):
            parameter.requires_grad_(False)
        # Random unit keys until real ones fill the queue, as in MoCo.
        queue = F.normalize(torch.randn(self.queue_size, self.out_dim), dim=1)
        self.register_buffer("queue", queue)
        self.register_buffer("queue_pointer", torch.zeros((), dtype=torch.long))
        self._pending: torch.Tensor | None = None

    @staticmethod
    def fit_settings(settings: dict[str, Any], *, dataset_size: int, batch_size: int) -> dict[str, Any]:
        fitted = dict(settings)
        # More negatives than images would hold stale keys of the anchor's own image.
        fitted.setdefault("queue_size", min(MoCoV2.default_queue, dataset_size))
        return fitted

    def _keys(self, view: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.gather(F.normalize(self.key_head(self.key_backbone(view)).float(), dim=1))

    def loss(self, view1: torch.Tensor, view2: torch.Tensor) -> torch.Tensor:
        q1 = F.normalize(self.gather(self.head(self.backbone(view1))), dim=1)
        q2 = F.normalize(self.gather(self.head(self.backbone(view2))), dim=1)
        k1, k2 = self._keys(view1), self._keys(view2)
        with self.full_precision(q1):
            loss = 0.5 * (
                info_nce(q1, k2, self.queue, self.temperature)
                + info_nce(q2, k1, self.queue, self.temperature)
            )
        if self.training:
            self._pending = torch.cat([k1, k2]).detach()
        return loss

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Write `keys` [n, D] over the oldest entries of the queue (wrapping around its end)."""
        keys = keys[-self.queue_size :]
        start = int(self.queue_pointer)
        rows = (start + torch.arange(len(keys), device=self.queue.device)) % self.queue_size
        self.queue[rows] = keys.to(self.queue.dtype)
        self.queue_pointer.fill_((start + len(keys)) % self.queue_size)

    def step_end(self, progress: float) -> None:
        ema_update(self.key_backbone, self.backbone, self.momentum)
        ema_update(self.key_head, self.head, self.momentum)
        if self._pending is not None:
            self.enqueue(self._pending)
            self._pending = None

    def settings(self) -> dict[str, Any]:
        return {
            "out_dim": self.out_dim,
            "hidden_dim": self.hidden_dim,
            "queue_size": self.queue_size,
            "momentum": self.momentum,
            "temperature": self.temperature,
        }
