"""The interface every SSL method implements: a loss on two batches of views, plus per-step updates."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import nn

from engine.core import distributed


class SSLMethod(nn.Module, metaclass=ABCMeta):
    """A joint-embedding method around a backbone: `loss(view1, view2)` on two augmented image batches.

    forward is the loss, so that DistributedDataParallel (which hooks forward) synchronises gradients.
    Under torchrun each rank passes its share of the global batch; methods gather their projections
    with `gather` and compute the loss of the whole global batch on every rank.
    """

    name: ClassVar[str] = ""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.feature_dim = int(backbone.feature_dim)

    def forward(self, view1: torch.Tensor, view2: torch.Tensor) -> torch.Tensor:
        return self.loss(view1, view2)

    @abstractmethod
    def loss(self, view1: torch.Tensor, view2: torch.Tensor) -> torch.Tensor:
        """A scalar loss for two views [B, C, H, W] of the same B images (row i of each from image i)."""

    def step_end(self, progress: float) -> None:
        """Called after each optimiser step with the fraction of training done; momentum encoders and
        queues update here. Nothing to do by default."""

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        """The parameters the optimiser updates (momentum copies are excluded)."""
        return (p for p in self.parameters() if p.requires_grad)

    def settings(self) -> dict[str, Any]:
        """The method's settings, for the run record."""
        return {}

    @staticmethod
    def fit_settings(settings: dict[str, Any], *, dataset_size: int, batch_size: int) -> dict[str, Any]:
        """Settings adjusted to the dataset (e.g. a negatives queue no longer than the data)."""
        return dict(settings)

    @staticmethod
    def full_precision(tensor: torch.Tensor) -> torch.autocast:
        """A context in which the loss formula runs in float32 even inside a bf16 autocast region
        (logits over temperature and cross-correlations need the mantissa)."""
        return torch.autocast(device_type=tensor.device.type, enabled=False)

    @staticmethod
    def gather(tensor: torch.Tensor) -> torch.Tensor:
        """The global batch of `tensor` in float32 (all ranks' rows in rank order; itself in one process)."""
        return distributed.all_gather_with_grad(tensor.float())


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """target <- momentum * target + (1 - momentum) * online, parameter by parameter (buffers copied)."""
    for t, o in zip(target.parameters(), online.parameters(), strict=True):
        t.lerp_(o.detach(), 1.0 - momentum)
    for t, o in zip(target.buffers(), online.buffers(), strict=True):
        t.copy_(o)
