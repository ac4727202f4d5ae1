"""The SSL backbone: a ResNet-18-style network with a small-image stem and a width setting.

Small images (Fashion-MNIST 28x28, CIFAR 32x32) lose too much to ImageNet's 7x7 stride-2 stem and max-pool,
so the stem is one 3x3 convolution at stride 1 (as in SimCLR's CIFAR variant). Batch norm statistics are
global under torchrun: `GlobalBatchNorm` reduces them over every rank, so a distributed run normalises over
the same global batch as a single process (torch's SyncBatchNorm refuses CPU tensors).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from engine.core import distributed
from engine.core.config_validation import refuse_unknown_keys
from engine.core.errors import LanternError

NORMS = ("batch", "group")


@dataclass(frozen=True)
class BackboneConfig:
    """Shape of a ResNetBackbone: input channels, first-stage width, basic blocks per stage, normalisation.

    Stage widths are width, 2*width, 4*width, 8*width; the feature size is 8*width.
    """

    in_channels: int = 1
    width: int = 32
    blocks: tuple[int, ...] = (2, 2, 2, 2)
    norm: Literal["batch", "group"] = "batch"

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(int(b) for b in self.blocks))
        where = "backbone config"
        if not 1 <= self.in_channels <= 64:
            raise LanternError(f"in_channels must be 1..64, got {self.in_channels}", where, "1 or 3")
        if not 1 <= self.width <= 1024:
            raise LanternError(f"width must be 1..1024, got {self.width}", where, "e.g. 16, 32 or 64")
        if not 1 <= len(self.blocks) <= 6 or any(b < 1 for b in self.blocks):
            raise LanternError(
                f"blocks must be 1 to 6 stages of at least one block each, got {self.blocks}",
                where,
                "ResNet-18 is (2, 2, 2, 2)",
            )
        if self.norm not in NORMS:
            raise LanternError(f"unknown norm {self.norm!r}", where, f"choose one of: {', '.join(NORMS)}")

    @property
    def feature_dim(self) -> int:
        return self.width * 2 ** (len(self.blocks) - 1)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["blocks"] = list(self.blocks)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BackboneConfig:
        refuse_unknown_keys(data, (f.name for f in fields(cls)), "backbone settings", "backbone config")
        return cls(**data)


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics span every rank's batch (plain batch norm in one process).

    Two differentiable all-reduces (mean, then centred sum of squares) give the same numbers as one
    process seeing the whole batch; the running statistics are updated with the global values, so they
    stay identical on every rank.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not (self.training and distributed.is_initialised()):
            return super().forward(input)
        self._check_input_dim(input)
        # Statistics in float32 even under bf16 autocast, as native batch norm kernels keep them.
        x = input.float()
        dims = [d for d in range(x.dim()) if d != 1]
        shape = [1, -1] + [1] * (x.dim() - 2)
        local_count = x.numel() // x.shape[1]
        count_total = float(local_count * distributed.world_size())
        mean = distributed.all_reduce_sum_with_grad(x.sum(dims)) / count_total
        centred = x - mean.view(shape)
        var = distributed.all_reduce_sum_with_grad((centred * centred).sum(dims)) / count_total
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = (
                    1.0 / float(self.num_batches_tracked) if self.momentum is None else float(self.momentum)
                )
                unbiased = var * (count_total / max(count_total - 1.0, 1.0))
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(unbiased.detach(), momentum)
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out.to(input.dtype)


def _groups(channels: int) -> int:
    # Up to 8 groups of at least 4 channels each; a single group (layer norm) for tiny widths.
    return next((g for g in (8, 4, 2) if channels % g == 0 and channels // g >= 4), 1)


def make_norm(kind: str, channels: int) -> nn.Module:
    """The normalisation layer `kind` ("batch" is global under torchrun) for `channels` channels."""
    if kind == "batch":
        return GlobalBatchNorm(channels)
    if kind == "group":
        return nn.GroupNorm(_groups(channels), channels)
    raise LanternError(f"unknown norm {kind!r}", "backbone config", f"choose one of: {', '.join(NORMS)}")


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (a 1x1 projection when the shape changes)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, norm: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.norm1 = make_norm(norm, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.norm2 = make_norm(norm, out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                make_norm(norm, out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNetBackbone(nn.Module):
    """images [B, C, H, W] -> features [B, feature_dim] (global average pool after the last stage)."""

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__()
        self.config = config
        width = config.width
        self.stem = nn.Sequential(
            nn.Conv2d(config.in_channels, width, 3, stride=1, padding=1, bias=False),
            make_norm(config.norm, width),
            nn.ReLU(inplace=True),
        )
        stages: list[nn.Module] = []
        in_channels = width
        for index, count in enumerate(config.blocks):
            out_channels = width * 2**index
            blocks = []
            for block in range(count):
                stride = 2 if index > 0 and block == 0 else 1
                blocks.append(BasicBlock(in_channels, out_channels, stride, config.norm))
                in_channels = out_channels
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.feature_dim = in_channels
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] != self.config.in_channels:
            raise LanternError(
                f"the backbone expects images [B, {self.config.in_channels}, H, W], "
                f"got {tuple(images.shape)}",
                "backbone input",
                "give a batch of images with the channel count the backbone was built for",
            )
        features = self.stages(self.stem(images))
        return features.mean(dim=(2, 3))


def build_backbone(config: BackboneConfig) -> ResNetBackbone:
    """A freshly initialised backbone (seed torch first for a reproducible initialisation)."""
    return ResNetBackbone(config)
