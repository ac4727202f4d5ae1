"""The manipulation registries: image manipulations with effective regions, and label-tied text manipulations.

Numpy only: the GUI imports these for live previews.
"""

from __future__ import annotations

from engine.attribution.manipulations.base import ImageManipulation, TextManipulation
from engine.attribution.manipulations.blur import PeripheralBlur
from engine.attribution.manipulations.brightness import CentreBrightness
from engine.attribution.manipulations.stripes import StripedHue, StripedNoise
from engine.attribution.manipulations.text import ArticleSubstitution, InsertedTokens
from engine.attribution.manipulations.watermark import Watermark
from engine.core.errors import LanternError

IMAGE_MANIPULATIONS: dict[str, ImageManipulation] = {
    manipulation.name: manipulation
    for manipulation in (PeripheralBlur(), CentreBrightness(), StripedNoise(), Watermark(), StripedHue())
}

TEXT_MANIPULATIONS: dict[str, TextManipulation] = {
    manipulation.name: manipulation for manipulation in (ArticleSubstitution(), InsertedTokens())
}


def image_manipulation(name: str) -> ImageManipulation:
    """The registered image manipulation called name; LanternError listing the names otherwise."""
    if name not in IMAGE_MANIPULATIONS:
        raise LanternError(
            f"unknown image manipulation {name!r}",
            "manipulation",
            f"choose one of {', '.join(IMAGE_MANIPULATIONS)}",
        )
    return IMAGE_MANIPULATIONS[name]


def text_manipulation(name: str) -> TextManipulation:
    """The registered text manipulation called name; LanternError listing the names otherwise."""
    if name not in TEXT_MANIPULATIONS:
        raise LanternError(
            f"unknown text manipulation {name!r}",
            "manipulation",
            f"choose one of {', '.join(TEXT_MANIPULATIONS)}",
        )
    return TEXT_MANIPULATIONS[name]


__all__ = [
    "IMAGE_MANIPULATIONS",
    "TEXT_MANIPULATIONS",
    "ImageManipulation",
    "TextManipulation",
    "image_manipulation",
    "text_manipulation",
]
