"""ResNet-style network for the attribution workspace: basic residual blocks, batchnorm, average pool."""

from __future__ import annotations

import torch
from torch import nn

from engine.attribution.models.image_base import ImageModel


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus a shortcut (identity, or 1x1 conv-BN when the shape changes), ReLU."""

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False), nn.BatchNorm2d(channels)
            )
        self.relu2 = nn.ReLU()  # a separate module from relu1: DeepLift hooks each ReLU once

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + self.shortcut(x))


class ResNet(ImageModel):
    """conv3x3-BN-ReLU stem at `width`, then `depth` stages of `blocks` basic blocks; stage i has width*2^i
    channels and (for i > 0) halves the resolution; global average pool, dropout, linear.

    cam_layer is the last residual block.
    """

    name = "resnet"

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        image_size: int | tuple[int, int],
        width: int = 32,
        depth: int = 2,
        *,
        blocks: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(in_channels, num_classes, image_size)
        self.check_depth(depth, depth - 1)
        self.stem = nn.Sequential(
            nn.Conv2d(self.in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()
        )
        layers: list[nn.Module] = []
        previous = width
        for stage in range(depth):
            channels = width * 2**stage
            for index in range(max(1, blocks)):
                stride = 2 if stage > 0 and index == 0 else 1
                layers.append(BasicBlock(previous, channels, stride))
                previous = channels
        self.stages = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(previous, self.num_classes)
        )

    @property
    def cam_layer(self) -> nn.Module:
        return self.stages[-1]  # the last residual block

    def logits(self, normalised: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(normalised)))
