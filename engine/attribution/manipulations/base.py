"""The two manipulation interfaces: an image manipulation with its effective region, and a text manipulation.

An image manipulation changes pixels only inside its region (the base class enforces it), is the identity at
strength 0, and raises LanternError when an image is too small for its region or lacks the colour it needs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from engine.core.errors import LanternError


class ImageManipulation(ABC):
    """One image manipulation: a region (the same for every sample) and a transform inside it.

    Subclasses set the class attributes and implement `_region` and `_transform`; `apply` validates the
    input, skips strength 0 (the identity for every image manipulation), keeps every pixel outside the
    region and clips to [0, 1].
    """

    name: str
    title: str
    description: str
    strength_label: str  # what the strength means, with its unit, for sliders and tables
    default_strength: float
    min_strength: float
    max_strength: float
    needs_colour: bool = False

    def region(self, height: int, width: int) -> np.ndarray:
        """The effective region, bool [H, W]; LanternError when the image is too small for it."""
        height, width = int(height), int(width)
        mask = self._region(height, width) if height > 0 and width > 0 else None
        if mask is None or not mask.any() or mask.all():
            min_height, min_width = self.minimum_size()
            raise LanternError(
                f"a {height}x{width} image is too small for the {self.name} region "
                f"(it needs at least {min_height}x{min_width} pixels)",
                self.name,
                f"use images of at least {min_height}x{min_width} pixels (height x width), or resize them",
            )
        return mask

    def region_share(self, height: int, width: int) -> float:
        """The region's share of an H x W image: the random baseline of Attr%."""
        return float(self.region(height, width).mean())

    def minimum_size(self) -> tuple[int, int]:
        """The smallest (height, width) whose region is neither empty nor the whole image."""
        for size in range(1, 4097):
            mask = self._region(size, size)
            if mask is not None and mask.any() and not mask.all():
                return size, size
        return 4097, 4097

    def check_strength(self, strength: float | None) -> float:
        """The strength to use: the default when None, else the given one if it lies in the allowed range."""
        if strength is None:
            return float(self.default_strength)
        try:
            value = float(strength)
        except (TypeError, ValueError) as exc:
            raise LanternError(f"strength must be a number, got {strength!r}", self.name) from exc
        if not self.min_strength <= value <= self.max_strength:  # also rejects NaN
            raise LanternError(
                f"{self.name} strength {value} is outside [{self.min_strength}, {self.max_strength}]",
                self.name,
                f"strength is the {self.strength_label}; the default is {self.default_strength}",
            )
        return value

    def check_images(self, images: np.ndarray) -> np.ndarray:
        """images as float32 [n, C, H, W] in [0, 1] with C in (1, 3); LanternError otherwise."""
        array = np.asarray(images)
        if array.ndim != 4 or array.shape[1] not in (1, 3):
            raise LanternError(
                f"images must be [n, C, H, W] with C = 1 or 3, got shape {list(array.shape)}",
                self.name,
                "pass a batch of grayscale or RGB images, channels first",
            )
        if self.needs_colour and array.shape[1] != 3:
            raise LanternError(
                f"{self.name} needs RGB images, got {array.shape[1]} channel(s)",
                self.name,
                "use colour images (e.g. Fashion-MNIST with colour tinting on) or another manipulation",
            )
        array = array.astype(np.float32, copy=False)
        # NaN propagates into min and max and fails both comparisons, so no separate isfinite pass.
        if array.size and not (array.min() >= 0.0 and array.max() <= 1.0):
            raise LanternError(
                "image values must lie in [0, 1]", self.name, "scale the images to [0, 1] first (uint8 / 255)"
            )
        return array

    def apply(self, images: np.ndarray, strength: float | None, rng: np.random.Generator) -> np.ndarray:
        """The manipulated images, float32 [n, C, H, W] in [0, 1]; pixels outside the region are unchanged."""
        array = self.check_images(images)
        value = self.check_strength(strength)
        mask = self.region(array.shape[2], array.shape[3])
        if value == 0.0 or array.shape[0] == 0:
            return array.copy()
        changed = self._transform(array, value, rng, mask)
        return np.clip(np.where(mask[None, None], changed, array), 0.0, 1.0).astype(np.float32, copy=False)

    @abstractmethod
    def _region(self, height: int, width: int) -> np.ndarray | None:
        """The region for an H x W image, or None when the image is too small to hold it."""

    @abstractmethod
    def _transform(
        self, images: np.ndarray, strength: float, rng: np.random.Generator, region: np.ndarray
    ) -> np.ndarray:
        """The transformed batch (may change pixels outside region; apply restores them)."""


class TextManipulation(ABC):
    """One text manipulation tied to the label.

    `apply(tokens, label, rng, strength)` returns (new tokens, region mask over the new tokens, present?)
    or None when the sample cannot carry the manipulation. `absence_has_region` says whether samples
    without the manipulation still have a region (their absence is then effective and can be scored).
    """

    name: str
    title: str
    description: str
    strength_label: str
    default_strength: float
    min_strength: float
    max_strength: float
    absence_has_region: bool
    cannot_carry: str  # why a sample was dropped, e.g. "has no article to substitute"

    def check_strength(self, strength: float | None) -> float:
        if strength is None:
            return float(self.default_strength)
        try:
            value = float(strength)
        except (TypeError, ValueError) as exc:
            raise LanternError(f"strength must be a number, got {strength!r}", self.name) from exc
        if not self.min_strength <= value <= self.max_strength:
            raise LanternError(
                f"{self.name} strength {value} is outside [{self.min_strength}, {self.max_strength}]",
                self.name,
                f"strength is the {self.strength_label}; the default is {self.default_strength}",
            )
        return value

    @abstractmethod
    def apply(
        self, tokens: list[str], label: int, rng: np.random.Generator, strength: float | None = None
    ) -> tuple[list[str], np.ndarray, bool] | None:
        """(new tokens, bool region mask over them, manipulation present?) or None if it cannot apply."""
