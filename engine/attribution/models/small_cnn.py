"""Small CNN for the attribution workspace: conv-batchnorm-ReLU-maxpool blocks and a small dense head."""

from __future__ import annotations

import torch
from torch import nn

from engine.attribution.models.image_base import ImageModel

MAX_POOLED_SIDE = 7  # the dense head sees at most 7x7 positions, so large images do not blow it up


class SmallCNN(ImageModel):
    """`depth` blocks of conv3x3-BN-ReLU (width, 2*width, 4*width, ...), each followed by a 2x2 max pool;
    adaptive average pooling to at most 7x7; dropout, dense `hidden`, ReLU, linear.

    cam_layer is the last conv-BN-ReLU block (before its pool, for the finer Grad-CAM grid). Every ReLU is
    its own module, used once, so that DeepLift's rules apply to each.
    """

    name = "small_cnn"

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        image_size: int | tuple[int, int],
        width: int = 32,
        depth: int = 2,
        *,
        hidden: int = 64,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(in_channels, num_classes, image_size)
        self.check_depth(depth, depth)
        blocks: list[nn.Module] = []
        previous = self.in_channels
        for level in range(depth):
            channels = width * 2**level
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(previous, channels, kernel_size=3, padding=1, bias=False),
                    nn.BatchNorm2d(channels),
                    nn.ReLU(),
                )
            )
            blocks.append(nn.MaxPool2d(2))
            previous = channels
        self.features = nn.Sequential(*blocks)
        side = tuple(min(s // 2**depth, MAX_POOLED_SIDE) for s in self.image_size)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(side),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(previous * side[0] * side[1], hidden),
            nn.ReLU(),
            nn.Linear(hidden, self.num_classes),
        )

    @property
    def cam_layer(self) -> nn.Module:
        return self.features[-2]  # the last conv-BN-ReLU block, before its pool

    def logits(self, normalised: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(normalised))
