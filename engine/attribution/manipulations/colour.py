"""RGB <-> HSV in numpy (channels on one axis, every value in [0, 1]) for hue shifts and garment tinting."""

from __future__ import annotations

import numpy as np


def _wrap(turns: np.ndarray) -> np.ndarray:
    """turns modulo 1, in [0, 1) (floor-subtract: much cheaper than a float % on large arrays)."""
    wrapped = turns - np.floor(turns)
    return np.where(wrapped >= 1.0, 0.0, wrapped).astype(np.float32, copy=False)


def rgb_to_hsv(rgb: np.ndarray, axis: int = 1) -> np.ndarray:
    """HSV of rgb (3 channels along `axis`); hue in turns [0, 1), 0 for grey pixels."""
    red, green, blue = np.moveaxis(np.asarray(rgb, dtype=np.float32), axis, 0)
    value = np.maximum(np.maximum(red, green), blue)
    chroma = value - np.minimum(np.minimum(red, green), blue)
    grey = chroma <= 0
    safe_chroma = np.where(grey, np.float32(1.0), chroma)
    saturation = np.where(value > 0, chroma / np.where(value > 0, value, np.float32(1.0)), np.float32(0.0))
    # The hue sector is picked by which channel is the maximum (red first on ties, as colorsys does).
    sixths = np.where(
        value == red,
        (green - blue) / safe_chroma,
        np.where(value == green, (blue - red) / safe_chroma + 2.0, (red - green) / safe_chroma + 4.0),
    )
    hue = np.where(grey, np.float32(0.0), _wrap(sixths / np.float32(6.0)))
    return np.moveaxis(np.stack([hue, saturation, value]).astype(np.float32, copy=False), 0, axis)


def hsv_to_rgb(hsv: np.ndarray, axis: int = 1) -> np.ndarray:
    """RGB of hsv (3 channels along `axis`, hue in turns, taken modulo 1)."""
    hue, saturation, value = np.moveaxis(np.asarray(hsv, dtype=np.float32), axis, 0)
    channels = _hexcone(value, value * saturation, hue * np.float32(6.0))
    return np.moveaxis(np.stack(channels).astype(np.float32, copy=False), 0, axis)


def _hexcone(value: np.ndarray, chroma: np.ndarray, sixths: np.ndarray) -> list[np.ndarray]:
    """Red, green, blue from value, chroma and hue in sixths of a turn (any real number).

    Channel n (5 red, 3 green, 1 blue) is v - c * clip(min(k, 4 - k), 0, 1) with k = (n + 6h) mod 6: the
    closed form of the six-sector table, a few array operations instead of a select per sector.
    """
    channels = []
    for n in (5.0, 3.0, 1.0):
        k = sixths + np.float32(n)
        k -= np.float32(6.0) * np.floor(k / np.float32(6.0))
        channels.append(value - chroma * np.clip(np.minimum(k, np.float32(4.0) - k), 0.0, 1.0))
    return channels


def shift_hue(rgb: np.ndarray, turns: float, axis: int = 1) -> np.ndarray:
    """rgb with every pixel's hue rotated by `turns` (saturation and value kept; grey stays grey).

    Goes through value, chroma and hue only (no saturation, no wrap of the hue): the same result as
    hsv_to_rgb(rgb_to_hsv(rgb) with hue + turns), at about half the cost on large batches.
    """
    red, green, blue = np.moveaxis(np.asarray(rgb, dtype=np.float32), axis, 0)
    value = np.maximum(np.maximum(red, green), blue)
    chroma = value - np.minimum(np.minimum(red, green), blue)
    # A grey pixel has chroma 0, so its hue does not matter; the tiny offset only avoids 0 / 0.
    safe_chroma = chroma + np.float32(1e-20)
    sixths = np.where(
        value == red,
        (green - blue) / safe_chroma,
        np.where(value == green, (blue - red) / safe_chroma + 2.0, (red - green) / safe_chroma + 4.0),
    )
    sixths += np.float32(6.0 * turns)
    return np.moveaxis(np.stack(_hexcone(value, chroma, sixths)).astype(np.float32, copy=False), 0, axis)
