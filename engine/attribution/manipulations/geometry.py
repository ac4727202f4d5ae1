"""Region shapes shared by the image manipulations: a centred box, its periphery, horizontal stripes."""

from __future__ import annotations

import numpy as np


def centre_box(height: int, width: int, fraction: float) -> np.ndarray:
    """A centred box whose sides are `fraction` of the image's (at least one pixel), bool [H, W]."""
    box_h = max(1, round(fraction * height))
    box_w = max(1, round(fraction * width))
    top, left = (height - box_h) // 2, (width - box_w) // 2
    mask = np.zeros((height, width), dtype=bool)
    mask[top : top + box_h, left : left + box_w] = True
    return mask


def periphery(height: int, width: int, border_fraction: float) -> np.ndarray | None:
    """A frame `border_fraction` of each side wide (at least 1 pixel), bool [H, W]; None if no centre left."""
    border_h = max(1, round(border_fraction * height))
    border_w = max(1, round(border_fraction * width))
    if height - 2 * border_h < 1 or width - 2 * border_w < 1:
        return None
    mask = np.ones((height, width), dtype=bool)
    mask[border_h : height - border_h, border_w : width - border_w] = False
    return mask


def stripe_height(height: int, stripes: int) -> int:
    """The height of one stripe when the image is cut into about `stripes` horizontal stripes."""
    return max(1, round(height / stripes))


def odd_stripes(height: int, width: int, stripes: int) -> np.ndarray:
    """Every second horizontal stripe (the 2nd, 4th, ...), bool [H, W]; empty for images of one stripe."""
    rows = (np.arange(height) // stripe_height(height, stripes)) % 2 == 1
    return np.repeat(rows[:, None], width, axis=1)
