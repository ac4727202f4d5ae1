"""Attribution methods behind one registry, batched through captum.

`attribute_images` and `attribute_texts` compute one method for a batch of inputs. The names, titles and
default settings live in the torch-free `catalog` module. This package stays importable without torch (the
GUI imports `engine.attribution.methods.catalog`, which imports this package first): the two functions are
loaded, with torch and captum, on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.attribution.methods.catalog import (
    AGGREGATION,
    IMAGE_METHODS,
    METHOD_CATALOG,
    TEXT_METHODS,
    MethodInfo,
    resolve_settings,
)

if TYPE_CHECKING:
    from engine.attribution.methods.image import attribute_images
    from engine.attribution.methods.text import attribute_texts

__all__ = [
    "AGGREGATION",
    "IMAGE_METHODS",
    "METHOD_CATALOG",
    "TEXT_METHODS",
    "MethodInfo",
    "attribute_images",
    "attribute_texts",
    "resolve_settings",
]


def __getattr__(name: str) -> Any:
    if name == "attribute_images":
        from engine.attribution.methods.image import attribute_images

        return attribute_images
    if name == "attribute_texts":
        from engine.attribution.methods.text import attribute_texts

        return attribute_texts
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
