"""encode_array answers decode with plain numpy (as the GUI does) and decode_array inverts it."""

from __future__ import annotations

import base64

import numpy as np

from engine.jobs.arrays import decode_array, encode_array


def test_encode_array_round_trips_with_plain_numpy() -> None:
    array = np.arange(24, dtype=np.float16).reshape(2, 3, 4)
    encoded = encode_array(array)
    raw = np.frombuffer(base64.b64decode(encoded["data"]), dtype=encoded["dtype"]).reshape(encoded["shape"])
    assert np.array_equal(raw, array) and encoded["dtype"] == "<f2"
    assert np.array_equal(decode_array(encode_array(np.ones((2, 2), np.uint8))), np.ones((2, 2)))


def test_big_endian_arrays_travel_little_endian() -> None:
    array = np.arange(6, dtype=">i4").reshape(2, 3)
    encoded = encode_array(array)
    assert encoded["dtype"] == "<i4" and encoded["shape"] == [2, 3]
    assert decode_array(encoded).tolist() == [[0, 1, 2], [3, 4, 5]]
