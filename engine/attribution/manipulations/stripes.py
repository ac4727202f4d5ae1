"""Striped manipulations: Gaussian noise, or a hue rotation, on every second horizontal stripe."""

from __future__ import annotations

import numpy as np

from engine.attribution.manipulations.base import ImageManipulation
from engine.attribution.manipulations.colour import shift_hue
from engine.attribution.manipulations.geometry import odd_stripes

STRIPES = 14  # about 14 stripes per image: 2-pixel stripes at 28x28, 16-pixel ones at 224x224


class StripedNoise(ImageManipulation):
    name = "striped_noise"
    title = "Striped noise"
    strength_label = "standard deviation of the added Gaussian noise"
    default_strength = 0.2
    min_strength = 0.0
    max_strength = 1.0

    def __init__(self, stripes: int = STRIPES) -> None:
        self.stripes = stripes
        self.description = (
            f"Adds Gaussian noise (std = strength, independent per pixel and channel) on every second of "
            f"about {stripes} horizontal stripes (2-pixel stripes at 28x28, 50% of the image), clipped to "
            "[0, 1]."
        )

    def _region(self, height: int, width: int) -> np.ndarray | None:
        return odd_stripes(height, width, self.stripes)

    def _transform(
        self, images: np.ndarray, strength: float, rng: np.random.Generator, region: np.ndarray
    ) -> np.ndarray:
        noise = rng.standard_normal(images.shape, dtype=np.float32)
        return images + np.float32(strength) * noise


class StripedHue(ImageManipulation):
    name = "striped_hue"
    title = "Striped hue shift"
    strength_label = "hue rotation in turns (0.5 is the opposite hue)"
    default_strength = 0.33
    min_strength = 0.0
    max_strength = 0.5
    needs_colour = True

    def __init__(self, stripes: int = STRIPES) -> None:
        self.stripes = stripes
        self.description = (
            f"Rotates the hue by the strength (in turns) on every second of about {stripes} horizontal "
            "stripes (50% of the image at 28x28); saturation and brightness are kept, so grey pixels do "
            "not change. RGB images only."
        )

    def _region(self, height: int, width: int) -> np.ndarray | None:
        return odd_stripes(height, width, self.stripes)

    def _transform(
        self, images: np.ndarray, strength: float, rng: np.random.Generator, region: np.ndarray
    ) -> np.ndarray:
        rows = np.flatnonzero(region.any(axis=1))
        out = images.copy()
        # Convert only the striped rows: half the HSV work of converting the whole batch.
        out[:, :, rows] = shift_hue(images[:, :, rows], strength, axis=1)
        return out
