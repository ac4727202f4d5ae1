"""Numpy arrays as JSON-safe dicts for interactive ops' answers: {"data": base64 of the little-endian
bytes, "shape": [...], "dtype": numpy dtype string}. Numpy only (no torch), so any process may import it."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np


def encode_array(array: np.ndarray) -> dict[str, Any]:
    """A numpy array as {"data": base64 little-endian bytes, "shape", "dtype"}."""
    array = np.ascontiguousarray(array)
    array = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return {
        "data": base64.b64encode(array.tobytes()).decode("ascii"),
        "shape": list(array.shape),
        "dtype": array.dtype.str,
    }


def decode_array(encoded: dict[str, Any]) -> np.ndarray:
    """The inverse of encode_array: `np.frombuffer(base64.b64decode(data), dtype).reshape(shape)`."""
    raw = base64.b64decode(encoded["data"])
    return np.frombuffer(raw, dtype=np.dtype(encoded["dtype"])).reshape(encoded["shape"])
