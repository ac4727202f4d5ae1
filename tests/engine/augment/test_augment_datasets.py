"""The Augment datasets: the bundled subset, limits that keep classes balanced, folders and their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.augment.datasets import BUNDLED, MIN_SIDE, limit_images, load_augment_data
from engine.core.errors import LanternError


def test_bundled_dataset_has_train_and_test_splits_in_unit_range() -> None:
    data = load_augment_data(BUNDLED)
    assert data.train.images.shape == (6000, 1, 28, 28)
    assert data.test.images.shape == (1000, 1, 28, 28)
    assert data.train.images.dtype == np.float32
    assert data.train.images.min() >= 0.0 and data.train.images.max() <= 1.0
    assert data.image_shape == (1, 28, 28)
    assert len(data.class_names) == 10


def test_limit_keeps_classes_balanced_and_is_seeded() -> None:
    data = load_augment_data(BUNDLED, limit=200, seed=3)
    counts = np.bincount(data.train.labels, minlength=10)
    assert counts.tolist() == [20] * 10
    again = load_augment_data(BUNDLED, limit=200, seed=3)
    np.testing.assert_array_equal(again.train.images, data.train.images)
    other = load_augment_data(BUNDLED, limit=200, seed=4)
    assert not np.array_equal(other.train.images, data.train.images)
    assert len(data.test.labels) == 1000  # the probe's test split is never cut


def test_limit_below_one_is_refused() -> None:
    data = load_augment_data(BUNDLED)
    with pytest.raises(LanternError, match="limit must be at least 1"):
        limit_images(data.train, 0, 0)


def _folder(root: Path, side: int, per_class: int = 5) -> Path:
    rng = np.random.default_rng(0)
    for name in ("cats", "dogs"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def test_folder_is_split_per_class_into_train_and_test(tmp_path: Path) -> None:
    data = load_augment_data(str(_folder(tmp_path / "images", 32)), seed=1)
    assert data.train.images.shape[1:] == (3, 32, 32)
    assert len(data.train.labels) + len(data.test.labels) == 10
    assert sorted(set(data.test.labels.tolist())) == [0, 1]


def test_tiny_images_are_refused_with_a_size_hint(tmp_path: Path) -> None:
    with pytest.raises(LanternError, match=f"at least {MIN_SIDE}x{MIN_SIDE}") as caught:
        load_augment_data(str(_folder(tmp_path / "tiny", 8)))
    assert "size=" in caught.value.hint


def test_unreadable_image_is_named(tmp_path: Path) -> None:
    root = _folder(tmp_path / "broken", 32)
    (root / "cats" / "bad.png").write_bytes(b"not a png")
    with pytest.raises(LanternError, match=r"bad\.png"):
        load_augment_data(str(root))


def test_unknown_name_lists_the_datasets() -> None:
    with pytest.raises(LanternError, match="unknown dataset") as caught:
        load_augment_data("no-such-dataset")
    assert BUNDLED in caught.value.hint
