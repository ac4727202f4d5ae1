"""SmallCNN: the demo's Fashion-MNIST classifier (conv-bn-relu-maxpool blocks and an MLP head)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.core.errors import LanternError

IMAGE_SIZE = 28
# Mean and standard deviation of Fashion-MNIST training pixels scaled to [0, 1].
PIXEL_MEAN = 0.2860
PIXEL_STD = 0.3530
MAX_BLOCKS = 4  # 28 -> 14 -> 7 -> 3 -> 1: a fifth pooling would leave no pixels


class SmallCNN(nn.Module):
    """len(channels) blocks of conv3x3-batchnorm-relu-maxpool2, flattened into hidden units, then classes."""

    def __init__(
        self,
        channels: Sequence[int] = (16, 32),
        hidden: int = 64,
        dropout: float = 0.1,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if not 1 <= len(channels) <= MAX_BLOCKS or min(channels) < 1:
            raise LanternError(
                f"SmallCNN needs 1 to {MAX_BLOCKS} positive channel counts, got {list(channels)}",
                "model config: channels",
                "use e.g. (16, 32)",
            )
        self.channels = channels
        self.hidden = int(hidden)
        self.dropout = float(dropout)
        self.num_classes = int(num_classes)
        blocks: list[nn.Module] = []
        previous = 1
        for width in channels:
            blocks += [
                nn.Conv2d(previous, width, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            previous = width
        self.features = nn.Sequential(*blocks)
        side = IMAGE_SIZE // 2 ** len(channels)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(self.dropout),
            nn.Linear(previous * side * side, self.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(self.dropout),
            nn.Linear(self.hidden, self.num_classes),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits [B, classes] for normalised images [B, 1, 28, 28] (see `images_to_tensor`)."""
        return self.head(self.features(images))

    def config(self) -> dict[str, Any]:
        """What `from_config` needs to rebuild this architecture (stored with every checkpoint)."""
        return {
            "channels": list(self.channels),
            "hidden": self.hidden,
            "dropout": self.dropout,
            "num_classes": self.num_classes,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SmallCNN:
        known = {"channels", "hidden", "dropout", "num_classes"}
        unknown = sorted(set(config) - known)
        if unknown:
            raise LanternError(
                f"unknown SmallCNN config key(s): {', '.join(unknown)}",
                "model config",
                f"keys are: {', '.join(sorted(known))}",
            )
        return cls(**config)


def images_to_tensor(images: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 images [N, 28, 28] -> normalised float32 [N, 1, 28, 28] on `device`."""
    # torch.tensor copies, so read-only arrays (the shared demo set) are safe to pass.
    tensor = torch.tensor(images) if isinstance(images, np.ndarray) else images
    if tensor.dtype != torch.uint8 or tensor.ndim != 3 or tuple(tensor.shape[1:]) != (IMAGE_SIZE, IMAGE_SIZE):
        raise LanternError(
            f"expected uint8 images [N, 28, 28], got {tensor.dtype} {list(tensor.shape)}",
            "model input",
            "pass 28x28 grayscale images with pixel values 0..255",
        )
    tensor = tensor.to(device)
    return ((tensor.float() / 255.0 - PIXEL_MEAN) / PIXEL_STD).unsqueeze(1)
