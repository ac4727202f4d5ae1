"""What every attribution image model shares: [0, 1] inputs normalised inside, checked shape, cam_layer."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod

import torch
from torch import nn

from engine.core.errors import LanternError

# Inputs in [0, 1] are mapped to about [-2, 2] inside the model, so callers (and attribution baselines)
# work in the input's own range.
INPUT_MEAN = 0.5
INPUT_STD = 0.25


def image_shape(image_size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """(height, width) from one side or a pair, checked positive."""
    shape = (
        (int(image_size), int(image_size))
        if isinstance(image_size, int)
        else tuple(int(s) for s in image_size)
    )
    if len(shape) != 2 or min(shape) < 1:
        raise LanternError(
            f"image_size must be a positive side or a (height, width) pair, got {image_size!r}",
            "image model: image_size",
            "e.g. 28 or (32, 48)",
        )
    return shape  # type: ignore[return-value]


class ImageModel(nn.Module, metaclass=ABCMeta):
    """Base of the image models: float [B, C, H, W] in [0, 1] in, logits [B, K] out.

    Subclasses implement `cam_layer` (the last convolutional block, whose output Grad-CAM weighs) and
    `logits(normalised)`.
    """

    name = ""

    def __init__(self, in_channels: int, num_classes: int, image_size: int | tuple[int, int]) -> None:
        super().__init__()
        if in_channels < 1:
            raise LanternError(
                f"in_channels must be at least 1, got {in_channels}", f"{self.name}: in_channels"
            )
        if num_classes < 2:
            raise LanternError(
                f"a classifier needs at least 2 classes, got {num_classes}", f"{self.name}: num_classes"
            )
        self.in_channels = int(in_channels)
        self.num_classes = int(num_classes)
        self.image_size = image_shape(image_size)

    def check_depth(self, depth: int, halvings: int) -> None:
        """The image must survive `halvings` halvings of its resolution with at least one pixel left."""
        if depth < 1:
            raise LanternError(f"depth must be at least 1, got {depth}", f"{self.name}: depth", "e.g. 2")
        if min(self.image_size) < 2**halvings:
            raise LanternError(
                f"{self.image_size[0]}x{self.image_size[1]} images are too small for depth {depth} "
                f"(needs at least {2**halvings} pixels a side)",
                f"{self.name}: depth",
                "lower depth or use larger images",
            )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != self.in_channels:
            raise LanternError(
                f"expected images [B, {self.in_channels}, H, W], got {list(images.shape)}",
                f"{self.name}: input",
                f"pass float images in [0, 1] with {self.in_channels} channel(s)",
            )
        return self.logits((images - INPUT_MEAN) / INPUT_STD)

    @property
    @abstractmethod
    def cam_layer(self) -> nn.Module:
        """The last convolutional block (Grad-CAM's layer).

        A property, not an attribute: a module registered under two names gets captum's DeepLift hooks
        twice and fails ("a Module ReLU() was detected that does not contain ...").
        """

    @abstractmethod
    def logits(self, normalised: torch.Tensor) -> torch.Tensor:
        """Class logits [B, K] of images already normalised by forward()."""
