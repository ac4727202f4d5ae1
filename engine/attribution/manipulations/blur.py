"""Peripheral blur: a Gaussian blur of everything outside a centre box (separable, reflect padding)."""

from __future__ import annotations

import math

import numpy as np

from engine.attribution.manipulations.base import ImageManipulation
from engine.attribution.manipulations.geometry import periphery


def gaussian_kernel(sigma: float) -> np.ndarray:
    """A normalised 1-D Gaussian, radius ceil(3 sigma), float32."""
    radius = max(1, math.ceil(3.0 * sigma))
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    return (weights / weights.sum()).astype(np.float32)


def blur_matrix(length: int, sigma: float) -> np.ndarray:
    """The [length, length] matrix of a 1-D Gaussian blur with reflect padding (d c b | a b c d | c b a).

    Blurring along an axis is then one matrix product over the whole batch, which BLAS does far faster
    than shifting and adding slices.
    """
    kernel = gaussian_kernel(sigma)
    radius = kernel.shape[0] // 2
    period = max(1, 2 * (length - 1))
    outputs = np.repeat(np.arange(length), kernel.shape[0])
    sources = (outputs + np.tile(np.arange(-radius, radius + 1), length)) % period
    sources = np.where(sources >= length, period - sources, sources) if length > 1 else np.zeros_like(sources)
    matrix = np.zeros((length, length), dtype=np.float64)
    np.add.at(matrix, (outputs, sources), np.tile(kernel.astype(np.float64), length))
    return matrix.astype(np.float32)


def gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """images [..., H, W] blurred with a Gaussian of `sigma` pixels along H and W (reflect padding)."""
    if sigma <= 0:
        return images.copy()
    rows = blur_matrix(images.shape[-2], sigma)
    cols = blur_matrix(images.shape[-1], sigma)
    return (rows @ images @ cols.T).astype(np.float32, copy=False)


class PeripheralBlur(ImageManipulation):
    name = "peripheral_blur"
    title = "Peripheral blur"
    strength_label = "blur sigma in pixels"
    default_strength = 2.0
    min_strength = 0.0
    max_strength = 8.0

    def __init__(self, border_fraction: float = 1.0 / 7.0) -> None:
        self.border_fraction = border_fraction
        self.description = (
            f"Gaussian blur (sigma = strength, in pixels) outside a centre box; the region is the frame of "
            f"{border_fraction:.0%} of each side (4 pixels at 28x28, 49% of the image). Class 1 is blurred, "
            "class 0 is sharp, so the model must look at the periphery."
        )

    def _region(self, height: int, width: int) -> np.ndarray | None:
        return periphery(height, width, self.border_fraction)

    def _transform(
        self, images: np.ndarray, strength: float, rng: np.random.Generator, region: np.ndarray
    ) -> np.ndarray:
        return gaussian_blur(images, strength)
