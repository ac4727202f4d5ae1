"""Watermark: a short word stamped at a random spot inside a box, with opacity = strength."""

from __future__ import annotations

import numpy as np

from engine.attribution.manipulations.base import ImageManipulation
from engine.attribution.manipulations.font import GLYPH_HEIGHT, render_text, text_size
from engine.core.errors import LanternError

DEFAULT_TEXT = "TAG"
# The bottom band of the image, as fractions of (top, left, bottom, right): rows 16-27 at 28x28.
DEFAULT_BOX = (0.57, 0.0, 1.0, 1.0)
REFERENCE_SIZE = 28  # the font is drawn at scale 1 on 28-pixel images and grows with the image


class Watermark(ImageManipulation):
    name = "watermark"
    title = "Watermark"
    strength_label = "opacity of the text (1 = solid)"
    default_strength = 1.0
    min_strength = 0.0
    max_strength = 1.0

    def __init__(
        self, text: str = DEFAULT_TEXT, box: tuple[float, float, float, float] = DEFAULT_BOX
    ) -> None:
        top, left, bottom, right = box
        if not (0.0 <= top < bottom <= 1.0 and 0.0 <= left < right <= 1.0):
            raise LanternError(
                f"the watermark box {box} is not a box inside the image",
                "watermark box",
                "give (top, left, bottom, right) as fractions of the image with top < bottom, left < right",
            )
        render_text(text)  # a text the font cannot draw fails here, not on the first batch
        self.text = text.upper()
        self.box = box
        self.description = (
            f"Stamps the word {self.text!r} (5x7 pixel font, scaled with the image) at a random spot inside "
            "a box (the bottom 12 rows at 28x28, 43% of the image); the region is the whole box. The ink is "
            "the negative of the pixels beneath, so the word shows on dark and light garments alike; "
            "strength is its opacity."
        )

    def box_bounds(self, height: int, width: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) in pixels of the box in an H x W image."""
        top, left, bottom, right = self.box
        return round(top * height), round(left * width), round(bottom * height), round(right * width)

    def scale(self, height: int, width: int) -> int:
        """The font scale for an H x W image: grows with the image, shrinks to fit the box; 0 if it cannot."""
        top, left, bottom, right = self.box_bounds(height, width)
        text_h, text_w = text_size(self.text)
        wanted = max(1, min(height, width) // REFERENCE_SIZE)
        fits = min((bottom - top) // text_h, (right - left) // text_w) if text_w else 0
        return max(0, min(wanted, fits))

    def minimum_size(self) -> tuple[int, int]:
        min_h = next(h for h in range(1, 4097) if self._fits_height(h))
        min_w = next(w for w in range(1, 4097) if self._fits_width(w))
        return min_h, min_w

    def _fits_height(self, height: int) -> bool:
        top, _, bottom, _ = self.box_bounds(height, 1)
        return bottom - top >= GLYPH_HEIGHT and bottom - top < height

    def _fits_width(self, width: int) -> bool:
        _, left, _, right = self.box_bounds(1, width)
        return right - left >= text_size(self.text)[1]

    def _region(self, height: int, width: int) -> np.ndarray | None:
        if self.scale(height, width) == 0:
            return None
        top, left, bottom, right = self.box_bounds(height, width)
        mask = np.zeros((height, width), dtype=bool)
        mask[top:bottom, left:right] = True
        return mask

    def stamps(self, count: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
        """Where the text's ink lies in each of `count` samples (random spots in the box), bool [n, H, W]."""
        top, left, bottom, right = self.box_bounds(height, width)
        bitmap = render_text(self.text, self.scale(height, width))
        text_h, text_w = bitmap.shape
        rows = top + rng.integers(0, bottom - top - text_h + 1, size=count)
        cols = left + rng.integers(0, right - left - text_w + 1, size=count)
        canvas = np.zeros((count, height, width), dtype=bool)
        # One fancy-indexed write places the bitmap at every sample's own offset.
        canvas[
            np.arange(count)[:, None, None],
            rows[:, None, None] + np.arange(text_h)[None, :, None],
            cols[:, None, None] + np.arange(text_w)[None, None, :],
        ] = bitmap[None]
        return canvas

    def _transform(
        self, images: np.ndarray, strength: float, rng: np.random.Generator, region: np.ndarray
    ) -> np.ndarray:
        ink = self.stamps(images.shape[0], images.shape[2], images.shape[3], rng)[:, None]
        alpha = np.float32(strength) * ink.astype(np.float32)
        return images + alpha * (1.0 - 2.0 * images)  # (1 - a) x + a (1 - x)
