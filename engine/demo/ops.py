"""Interactive op `demo.predict`: class probabilities of a stored demo classifier for a few images.

The model is loaded once per (artifact, content hash, device) and kept in the server's cache, so the
GUI can ask again and again without paying for the load. torch is imported only when the op runs.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

import numpy as np

from engine.core.errors import ArtifactMissing, LanternError
from engine.demo.fashion_mnist import IMAGE_SIZE
from engine.jobs.interactive import cached_store, register_op

OP_NAME = "demo.predict"
MAX_IMAGES = 4096
INFER_BATCH = 512
_CACHE_PREFIX = "demo.predict/"


def _decode_images(images: list[Any]) -> np.ndarray:
    """base64 strings of 784 raw bytes each (row-major 28x28 uint8) -> uint8 [N, 28, 28]."""
    pixels = IMAGE_SIZE * IMAGE_SIZE
    decoded = []
    for position, text in enumerate(images):
        where = f"{OP_NAME}: images[{position}]"
        if not isinstance(text, str):
            raise LanternError(f"an image must be a base64 string, got {type(text).__name__}", where)
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise LanternError(
                f"the image is not valid base64 ({exc})", where, "encode the raw bytes with base64"
            ) from exc
        if len(raw) != pixels:
            raise LanternError(
                f"the image has {len(raw)} bytes, a 28x28 grayscale image has {pixels}",
                where,
                "send the raw uint8 pixels, row by row (array.tobytes())",
            )
        decoded.append(np.frombuffer(raw, dtype=np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE))
    return np.stack(decoded)


def _select_images(
    images: list[Any] | None, test_indices: list[Any] | None
) -> tuple[np.ndarray, list[int] | None]:
    """The images to classify and, for demo test images, their true labels."""
    if (images is None) == (test_indices is None):
        raise LanternError(
            "give either images or test_indices (exactly one of them)",
            OP_NAME,
            "pass base64 images, or indices into the demo test set",
        )
    chosen = images if images is not None else test_indices
    if not isinstance(chosen, list) or not chosen:
        raise LanternError("images / test_indices must be a non-empty list", OP_NAME)
    if len(chosen) > MAX_IMAGES:
        raise LanternError(
            f"{len(chosen)} images in one request; at most {MAX_IMAGES}", OP_NAME, "split the request"
        )
    if images is not None:
        return _decode_images(images), None
    from engine.demo.fashion_mnist import load_demo

    data = load_demo()
    count = len(data.test_images)
    bad = [i for i in chosen if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < count]
    if bad:
        raise LanternError(
            f"test_indices must be whole numbers in 0..{count - 1}; got {bad[:5]}",
            f"{OP_NAME}: test_indices",
            f"the demo test set holds {count} images",
        )
    return data.test_images[chosen], [int(data.test_labels[i]) for i in chosen]


def _load_model(
    cache: dict[str, Any], artifact_id: Any, device: str
) -> tuple[Any, dict[str, Any], float, bool]:
    """The checkpoint's model (eval mode) and meta, the seconds spent loading, and whether it was cached."""
    if isinstance(artifact_id, bool) or not isinstance(artifact_id, int):
        raise LanternError(
            f"artifact_id must be a whole number, got {artifact_id!r}", f"{OP_NAME}: artifact_id"
        )
    store = cached_store(cache)
    record = store.artifacts.get(artifact_id)
    if record is None:
        raise ArtifactMissing(
            f"artifact #{artifact_id} is not in the store", store.display_url, "pick a checkpoint that exists"
        )
    path = store.artifacts.path(record)  # checked on every call: ArtifactMissing once the file is gone
    if record.kind != "checkpoint":
        raise LanternError(
            f"artifact #{artifact_id} ('{record.name}') is a {record.kind}, not a checkpoint",
            f"{OP_NAME}: artifact_id",
            "pick a checkpoint of a demo classifier run",
        )
    key = f"{_CACHE_PREFIX}{artifact_id}/{record.sha256}/{device}"
    if key in cache:
        model, meta = cache[key]
        return model, meta, 0.0, True
    started = time.perf_counter()
    from engine.core.checkpoint import load_checkpoint
    from engine.demo.jobs import CHECKPOINT_FORMAT
    from engine.demo.model import SmallCNN

    checkpoint = load_checkpoint(path)
    if checkpoint.meta.get("format") != CHECKPOINT_FORMAT:
        raise LanternError(
            f"checkpoint '{record.name}' (#{artifact_id}) is not a demo classifier checkpoint",
            str(path),
            "pick a checkpoint written by 'Train a Fashion-MNIST classifier'",
        )
    model = SmallCNN.from_config(checkpoint.meta["model"])
    model.load_state_dict(checkpoint.model_state)
    model.to(device).eval()
    cache[key] = (model, checkpoint.meta)
    return model, checkpoint.meta, time.perf_counter() - started, False


@register_op(OP_NAME)
def predict(
    cache: dict[str, Any],
    artifact_id: int,
    images: list[str] | None = None,
    test_indices: list[int] | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Class probabilities for base64 images or demo test images, from checkpoint `artifact_id`.

    Answers {"probabilities", "predicted", "class_names", "load_seconds" (0.0 when the model came from
    the cache), "infer_seconds", "cached", "device", and "labels" for test_indices}.
    """
    from engine.core.device import choose_device

    pixels, labels = _select_images(images, test_indices)
    chosen = choose_device(device, half_precision=False)
    model, meta, load_seconds, cached = _load_model(cache, artifact_id, chosen.device)

    import torch

    from engine.demo.model import images_to_tensor

    started = time.perf_counter()
    parts = []
    with torch.inference_mode():
        for start in range(0, len(pixels), INFER_BATCH):
            logits = model(images_to_tensor(pixels[start : start + INFER_BATCH], chosen.device))
            parts.append(torch.softmax(logits.float(), dim=1).cpu())
    probabilities = torch.cat(parts)
    infer_seconds = time.perf_counter() - started
    answer = {
        "probabilities": probabilities.tolist(),
        "predicted": probabilities.argmax(dim=1).tolist(),
        "class_names": list(meta.get("class_names", [])),
        "load_seconds": load_seconds,
        "infer_seconds": infer_seconds,
        "cached": cached,
        "device": chosen.device,
    }
    if labels is not None:
        answer["labels"] = labels
    return answer
