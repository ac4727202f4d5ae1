"""Box-World colours: colour id -> RGB, and the observation renderer (border drawn, held key at (0, 0))."""

from __future__ import annotations

import colorsys

import numpy as np

from engine.rl.boxworld.level import AGENT, BORDER, FLOOR, GEM, KEY0


def _build() -> np.ndarray:
    table = np.zeros((256, 3), np.uint8)
    table[FLOOR] = (220, 220, 220)  # light grey floor
    table[BORDER] = (0, 0, 0)
    table[AGENT] = (80, 80, 80)  # dark grey agent, as in the paper
    table[GEM] = (255, 255, 255)  # white gem
    for i in range(256 - KEY0):
        # 20 evenly spaced hues per ring; later rings darker so ids stay distinct from each other and greys
        hue = (i % 20) / 20 + 0.025 * (i // 20 % 2)
        sat = 1.0 - 0.15 * (i // 40 % 3)
        val = 1.0 - 0.08 * (i // 20)
        table[KEY0 + i] = [round(255 * v) for v in colorsys.hsv_to_rgb(hue, sat, max(val, 0.2))]
    return table


PALETTE: np.ndarray = _build()


def render(grid: np.ndarray, held: int) -> np.ndarray:
    """RGB uint8 [H+2, W+2, 3] of an inner grid of ids; the held key's colour (or the border) at (0, 0)."""
    ids = np.pad(grid, 1, constant_values=BORDER)
    ids[0, 0] = held if held else BORDER
    return PALETTE[ids]
