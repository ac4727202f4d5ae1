"""A 5x7 bitmap font (A-Z, 0-9, space) drawn with numpy: deterministic watermarks without PIL or Qt."""

from __future__ import annotations

import numpy as np

from engine.core.errors import LanternError

GLYPH_HEIGHT = 7
GLYPH_WIDTH = 5
SPACING = 1  # blank columns between glyphs

_GLYPHS: dict[str, tuple[str, ...]] = {
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "B": ("####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "D": ("####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."),
    "E": ("#####", "#....", "#....", "####.", "#....", "#....", "#####"),
    "F": ("#####", "#....", "#....", "####.", "#....", "#....", "#...."),
    "G": (".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"),
    "H": ("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "I": (".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "J": ("..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."),
    "K": ("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),
    "N": ("#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
    "Q": (".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "S": (".####", "#....", "#....", ".###.", "....#", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "V": ("#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "W": ("#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."),
    "X": ("#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"),
    "Y": ("#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."),
    "Z": ("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
    " ": (".....",) * GLYPH_HEIGHT,
}

CHARACTERS = "".join(sorted(_GLYPHS))


def glyph(character: str) -> np.ndarray:
    """The bitmap of one character (case-insensitive), bool [7, 5]."""
    rows = _GLYPHS.get(character.upper())
    if rows is None:
        raise LanternError(
            f"the watermark font has no glyph for {character!r}",
            "watermark text",
            "use letters A-Z, digits 0-9 and spaces",
        )
    return np.array([[cell == "#" for cell in row] for row in rows], dtype=bool)


def text_size(text: str, scale: int = 1) -> tuple[int, int]:
    """(height, width) in pixels of text rendered at an integer scale."""
    count = len(text)
    return GLYPH_HEIGHT * scale, max(0, (count * (GLYPH_WIDTH + SPACING) - SPACING) * scale)


def render_text(text: str, scale: int = 1) -> np.ndarray:
    """text as a bool bitmap [7 * scale, width]: glyphs one column apart, font pixels scale x scale blocks."""
    if not text:
        raise LanternError("the watermark text is empty", "watermark text", "give a short word, e.g. TAG")
    if scale < 1:
        raise LanternError(f"the font scale must be at least 1, got {scale}", "watermark text")
    gap = np.zeros((GLYPH_HEIGHT, SPACING), dtype=bool)
    parts: list[np.ndarray] = []
    for index, character in enumerate(text):
        if index:
            parts.append(gap)
        parts.append(glyph(character))
    bitmap = np.concatenate(parts, axis=1)
    return np.repeat(np.repeat(bitmap, scale, axis=0), scale, axis=1)
