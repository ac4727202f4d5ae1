"""Centre brightness: an additive brightness shift inside a centre box."""

from __future__ import annotations

import numpy as np

from engine.attribution.manipulations.base import ImageManipulation
from engine.attribution.manipulations.geometry import centre_box


class CentreBrightness(ImageManipulation):
    name = "centre_brightness"
    title = "Centre brightness"
    strength_label = "brightness shift added to every channel, in [-1, 1]"
    default_strength = 0.3
    min_strength = -1.0
    max_strength = 1.0

    def __init__(self, box_fraction: float = 0.5) -> None:
        self.box_fraction = box_fraction
        self.description = (
            f"Adds the strength to every pixel of a centre box whose sides are {box_fraction:.0%} of the "
            "image's (14x14 at 28x28, 25% of the image), clipped to [0, 1]; negative strengths darken."
        )

    def _region(self, height: int, width: int) -> np.ndarray | None:
        return centre_box(height, width, self.box_fraction)

    def _transform(
        self, images: np.ndarray, strength: float, rng: np.random.Generator, region: np.ndarray
    ) -> np.ndarray:
        return images + np.float32(strength)
