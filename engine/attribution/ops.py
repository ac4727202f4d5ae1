"""Interactive op `attribution.explore`: a pretrained classifier's top classes and a map per image.

The model (EfficientNet-Lite0, or a Hugging Face image classifier by name or folder) is loaded once per
(name, device) and kept in the server's cache. Images come as base64 PNG/JPEG bytes or as skimage demo
names; answers are JSON: per image the top-k classes, the map (float32 little-endian bytes in base64, with
its shape) and the input the model saw (base64 PNG), so the caller overlays one on the other without torch.
"""

from __future__ import annotations

import base64
import binascii
import io
import time
from typing import Any

import numpy as np

from engine.core.errors import LanternError
from engine.jobs.interactive import register_op

OP_NAME = "attribution.explore"
MAX_IMAGES = 16
_CACHE_PREFIX = "attribution.explore/"


def _decode(text: Any, position: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    where = f"{OP_NAME}: images[{position}]"
    if not isinstance(text, str):
        raise LanternError(f"an image must be a base64 string, got {type(text).__name__}", where)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise LanternError(f"the image is not valid base64 ({exc})", where, "base64-encode the file") from exc
    try:
        with Image.open(io.BytesIO(raw)) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise LanternError(
            f"the image bytes are not a readable image ({exc})", where, "send a PNG or JPEG file"
        ) from exc


def _png(image: np.ndarray) -> str:
    """float [3, H, W] in [0, 1] -> base64 PNG."""
    from PIL import Image

    pixels = (np.clip(image.transpose(1, 2, 0), 0, 1) * 255).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def encode_map(values: np.ndarray) -> dict[str, Any]:
    """A float32 map as {"data": base64 of little-endian float32, "shape": [H, W], "max": ...}."""
    array = np.ascontiguousarray(values, dtype="<f4")
    return {
        "data": base64.b64encode(array.tobytes()).decode("ascii"),
        "shape": list(array.shape),
        "dtype": "<f4",
        "max": float(np.abs(array).max()) if array.size else 0.0,
    }


def decode_map(encoded: dict[str, Any]) -> np.ndarray:
    """The inverse of encode_map (for callers and tests)."""
    raw = base64.b64decode(encoded["data"])
    return np.frombuffer(raw, dtype="<f4").reshape(encoded["shape"]).astype(np.float32)


@register_op(OP_NAME)
def explore_op(
    cache: dict[str, Any],
    images: list[str] | None = None,
    demo: list[str] | None = None,
    method: str = "saliency",
    model: str = "efficientnet-lite0",
    top_k: int = 5,
    target: int | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Explore base64 `images` and/or skimage `demo` names with `method` on `model`.

    Answers {"model", "method", "results": [{"name", "top_k": [{"index", "name", "probability"}],
    "target", "target_name", "map": encode_map(...), "image_png"}], "load_seconds", "seconds", "cached"}.
    """
    from engine.attribution.explore import DEMO_IMAGES, explore, load_pretrained
    from engine.core.device import choose_device

    inputs: list[Any] = []
    names: list[str] = []
    for position, text in enumerate(images or []):
        inputs.append(_decode(text, position))
        names.append(f"image {position + 1}")
    for name in demo or []:
        if name not in DEMO_IMAGES:
            raise LanternError(
                f"unknown demo image '{name}'", f"{OP_NAME}: demo", f"use one of {', '.join(DEMO_IMAGES)}"
            )
        inputs.append(name)
        names.append(name)
    if not inputs:
        raise LanternError("no images to explore", OP_NAME, "pass base64 images or demo names")
    if len(inputs) > MAX_IMAGES:
        raise LanternError(
            f"{len(inputs)} images in one request; at most {MAX_IMAGES}", OP_NAME, "send fewer"
        )
    chosen = choose_device(device, half_precision=False).device
    key = f"{_CACHE_PREFIX}{model}/{chosen}"
    cached = key in cache
    started = time.perf_counter()
    if not cached:
        cache[key] = load_pretrained(model, device=chosen)
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    results = explore(inputs, method, model=cache[key], top_k=top_k, target=target, device=chosen)
    return {
        "model": model,
        "method": method,
        "results": [
            {
                "name": name,
                "top_k": [{"index": c.index, "name": c.name, "probability": c.probability} for c in r.top_k],
                "target": r.target,
                "target_name": r.target_name,
                "map": encode_map(r.map),
                "image_png": _png(r.image),
            }
            for name, r in zip(names, results, strict=True)
        ],
        "load_seconds": 0.0 if cached else load_seconds,
        "seconds": time.perf_counter() - started,
        "cached": cached,
        "device": chosen,
    }
