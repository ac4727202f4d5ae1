"""Models of the attribution workspace: image classifiers with a Grad-CAM layer and explainable text models.

The catalogue (names, titles, descriptions) is torch-free and imported eagerly; everything else needs torch
and is loaded on first use (PEP 562), so `import engine.attribution.models.catalog` (the GUI's lists) never
pulls torch in, while `from engine.attribution.models import build_image_model` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from engine.attribution.models.catalog import IMAGE_MODEL_CATALOG, TEXT_MODEL_CATALOG

if TYPE_CHECKING:
    from engine.attribution.models.image_base import ImageModel
    from engine.attribution.models.registry import (
        IMAGE_MODELS,
        TEXT_MODELS,
        build_image_model,
        build_text_model,
    )
    from engine.attribution.models.text_base import Encoded, TextModel

_LAZY = {
    "IMAGE_MODELS": "registry",
    "TEXT_MODELS": "registry",
    "build_image_model": "registry",
    "build_text_model": "registry",
    "ImageModel": "image_base",
    "Encoded": "text_base",
    "TextModel": "text_base",
}

__all__ = [
    "IMAGE_MODELS",
    "IMAGE_MODEL_CATALOG",
    "TEXT_MODELS",
    "TEXT_MODEL_CATALOG",
    "Encoded",
    "ImageModel",
    "TextModel",
    "build_image_model",
    "build_text_model",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
