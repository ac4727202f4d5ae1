"""Image and text manipulations: regions, locality, strength semantics, the font, HSV and bad input."""

from __future__ import annotations

import colorsys
import time

import numpy as np
import pytest

from engine.attribution.manipulations import (
    IMAGE_MANIPULATIONS,
    TEXT_MANIPULATIONS,
    image_manipulation,
    text_manipulation,
)
from engine.attribution.manipulations.blur import blur_matrix, gaussian_blur, gaussian_kernel
from engine.attribution.manipulations.colour import hsv_to_rgb, rgb_to_hsv, shift_hue
from engine.attribution.manipulations.font import CHARACTERS, glyph, render_text, text_size
from engine.attribution.manipulations.watermark import Watermark
from engine.core.errors import LanternError

IMAGE_NAMES = ["peripheral_blur", "centre_brightness", "striped_noise", "watermark", "striped_hue"]
SHARES_28 = {
    "peripheral_blur": 1 - 20 * 20 / 784,
    "centre_brightness": 14 * 14 / 784,
    "striped_noise": 0.5,
    "watermark": 12 * 28 / 784,
    "striped_hue": 0.5,
}


def random_images(n: int, channels: int, size: int = 28, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, channels, size, size), dtype=np.float32)


def channels_for(name: str) -> int:
    return 3 if IMAGE_MANIPULATIONS[name].needs_colour else 1


def test_registries_hold_the_contract_names() -> None:
    assert list(IMAGE_MANIPULATIONS) == IMAGE_NAMES
    assert list(TEXT_MANIPULATIONS) == ["article_substitution", "inserted_tokens"]
    for name, manipulation in IMAGE_MANIPULATIONS.items():
        assert manipulation.name == name and manipulation.title and manipulation.description
        assert manipulation.min_strength <= 0.0 <= manipulation.max_strength
        assert manipulation.min_strength < manipulation.default_strength <= manipulation.max_strength
    assert [name for name, m in IMAGE_MANIPULATIONS.items() if m.needs_colour] == ["striped_hue"]
    with pytest.raises(LanternError, match="unknown image manipulation 'swirl'") as caught:
        image_manipulation("swirl")
    assert "watermark" in caught.value.hint
    with pytest.raises(LanternError, match="unknown text manipulation"):
        text_manipulation("watermark")


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_region_share_at_28_pixels_is_between_a_fifth_and_a_half(name: str) -> None:
    manipulation = IMAGE_MANIPULATIONS[name]
    region = manipulation.region(28, 28)
    assert region.shape == (28, 28) and region.dtype == bool
    assert manipulation.region_share(28, 28) == pytest.approx(SHARES_28[name])
    assert 0.2 <= SHARES_28[name] <= 0.5


@pytest.mark.parametrize("name", IMAGE_NAMES)
@pytest.mark.parametrize("size", [28, 41])
def test_pixels_change_only_inside_the_region(name: str, size: int) -> None:
    manipulation = IMAGE_MANIPULATIONS[name]
    images = random_images(16, channels_for(name), size)
    region = manipulation.region(size, size)
    for strength in (manipulation.default_strength, manipulation.max_strength):
        out = manipulation.apply(images, strength, np.random.default_rng(0))
        assert out.shape == images.shape and out.dtype == np.float32
        assert out.min() >= 0.0 and out.max() <= 1.0
        np.testing.assert_array_equal(out[:, :, ~region], images[:, :, ~region])
        # ... and inside it they do change, on every sample.
        assert (np.abs(out - images)[:, :, region].reshape(16, -1).max(axis=1) > 0.01).all()


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_strength_zero_is_the_identity(name: str) -> None:
    images = random_images(4, channels_for(name))
    out = IMAGE_MANIPULATIONS[name].apply(images, 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(out, images)
    assert out is not images


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_strength_outside_the_range_is_rejected(name: str) -> None:
    manipulation = IMAGE_MANIPULATIONS[name]
    with pytest.raises(LanternError, match="outside") as caught:
        manipulation.apply(random_images(1, channels_for(name)), manipulation.max_strength + 1, None)  # type: ignore[arg-type]
    assert str(manipulation.default_strength) in caught.value.hint


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_an_image_too_small_for_the_region_names_its_size_and_the_minimum(name: str) -> None:
    manipulation = IMAGE_MANIPULATIONS[name]
    min_height, min_width = manipulation.minimum_size()
    with pytest.raises(LanternError, match="1x1 image is too small") as caught:
        manipulation.apply(random_images(2, channels_for(name), size=1), None, np.random.default_rng(0))
    assert f"at least {min_height}x{min_width}" in caught.value.what
    assert manipulation.region(max(min_height, min_width), max(min_height, min_width)).any()


def test_watermark_minimum_size_follows_its_text() -> None:
    assert IMAGE_MANIPULATIONS["watermark"].minimum_size() == (16, 17)  # 7 box rows, "TAG" is 17 wide
    with pytest.raises(LanternError, match="16x16 image is too small"):
        IMAGE_MANIPULATIONS["watermark"].region(16, 16)
    assert Watermark("LANTERN").minimum_size() == (16, 41)


@pytest.mark.parametrize(
    ("images", "fragment"),
    [
        (np.zeros((2, 28, 28), dtype=np.float32), "[n, C, H, W]"),
        (np.zeros((2, 2, 28, 28), dtype=np.float32), "C = 1 or 3"),
        (np.full((2, 1, 28, 28), 255.0, dtype=np.float32), "[0, 1]"),
    ],
)
def test_bad_image_batches_are_rejected(images: np.ndarray, fragment: str) -> None:
    with pytest.raises(LanternError) as caught:
        IMAGE_MANIPULATIONS["centre_brightness"].apply(images, None, np.random.default_rng(0))
    assert fragment in caught.value.what


def test_striped_hue_on_grayscale_is_a_clear_error() -> None:
    with pytest.raises(LanternError, match="striped_hue needs RGB images, got 1 channel") as caught:
        IMAGE_MANIPULATIONS["striped_hue"].apply(random_images(2, 1), None, np.random.default_rng(0))
    assert "colour" in caught.value.hint


def test_peripheral_blur_blurs_the_frame_with_a_separable_reflect_padded_gaussian() -> None:
    images = random_images(3, 1)
    sigma = 1.5
    kernel = gaussian_kernel(sigma)
    radius = kernel.size // 2
    assert kernel.sum() == pytest.approx(1.0) and radius == 5
    padded = np.pad(images, ((0, 0), (0, 0), (radius, radius), (radius, radius)), mode="reflect")
    expected = sum(kernel[t] * padded[:, :, t : t + 28, :] for t in range(kernel.size))
    expected = sum(kernel[t] * expected[:, :, :, t : t + 28] for t in range(kernel.size))
    np.testing.assert_allclose(gaussian_blur(images, sigma), expected, atol=1e-6)
    out = IMAGE_MANIPULATIONS["peripheral_blur"].apply(images, sigma, np.random.default_rng(0))
    region = IMAGE_MANIPULATIONS["peripheral_blur"].region(28, 28)
    np.testing.assert_allclose(out[:, :, region], expected[:, :, region], atol=1e-6)
    # A blur keeps a constant image constant and smooths noise.
    np.testing.assert_allclose(gaussian_blur(np.full((1, 1, 9, 9), 0.3, np.float32), 2.0), 0.3, atol=1e-6)
    assert out[:, :, region].std() < 0.5 * images[:, :, region].std()


def test_blur_matrix_reflects_like_numpy_pad_even_when_the_kernel_is_wider_than_the_image() -> None:
    signal = np.array([0.1, 0.7, 0.4], dtype=np.float32)
    kernel = gaussian_kernel(2.0)
    radius = kernel.size // 2
    padded = np.pad(signal, radius, mode="reflect")
    expected = np.array([np.dot(kernel, padded[i : i + kernel.size]) for i in range(3)])
    np.testing.assert_allclose(blur_matrix(3, 2.0) @ signal, expected, atol=1e-6)
    np.testing.assert_allclose(blur_matrix(3, 2.0).sum(axis=1), 1.0, atol=1e-6)


def test_centre_brightness_adds_the_shift_inside_the_box_and_clips() -> None:
    images = random_images(2, 1)
    region = IMAGE_MANIPULATIONS["centre_brightness"].region(28, 28)
    assert region[7:21, 7:21].all() and region.sum() == 196
    for shift in (0.3, -0.4):
        out = IMAGE_MANIPULATIONS["centre_brightness"].apply(images, shift, np.random.default_rng(0))
        np.testing.assert_allclose(out[:, :, region], np.clip(images[:, :, region] + shift, 0, 1), atol=1e-7)


def test_striped_noise_has_the_asked_standard_deviation_on_every_second_stripe() -> None:
    region = IMAGE_MANIPULATIONS["striped_noise"].region(28, 28)
    rows = np.flatnonzero(region.all(axis=1))
    assert rows.tolist() == [r for r in range(28) if (r // 2) % 2 == 1]
    images = np.full((200, 1, 28, 28), 0.5, dtype=np.float32)
    out = IMAGE_MANIPULATIONS["striped_noise"].apply(images, 0.1, np.random.default_rng(0))
    noise = out[:, :, region] - 0.5
    assert noise.mean() == pytest.approx(0.0, abs=0.002)
    assert noise.std() == pytest.approx(0.1, rel=0.02)


def test_watermark_stamps_its_word_once_per_sample_at_varying_spots_inside_the_box() -> None:
    watermark = IMAGE_MANIPULATIONS["watermark"]
    bitmap = render_text("TAG")
    assert bitmap.shape == (7, 17)
    images = np.zeros((64, 1, 28, 28), dtype=np.float32)
    out = watermark.apply(images, 1.0, np.random.default_rng(5))
    region = watermark.region(28, 28)
    assert region[16:].all() and not region[:16].any()
    # On black, the ink (the negative of what lies beneath) is white: exactly the glyph pixels light up.
    assert (out.reshape(64, -1).sum(axis=1) == bitmap.sum()).all()
    corners = set()
    for sample in out[:, 0]:
        rows, cols = np.nonzero(sample)
        top, left = rows.min() - 0, cols.min() - 0
        window = sample[top : top + 7, left : left + 17] > 0
        np.testing.assert_array_equal(window[:, : bitmap.shape[1]], bitmap[:, : window.shape[1]])
        corners.add((int(top), int(left)))
    assert len(corners) > 20
    half = watermark.apply(images, 0.5, np.random.default_rng(5))
    assert set(np.unique(half).tolist()) == {0.0, 0.5}
    white = watermark.apply(np.ones((2, 1, 28, 28), np.float32), 1.0, np.random.default_rng(5))
    assert (white == 0).sum() == 2 * bitmap.sum()
    np.testing.assert_array_equal(out, watermark.apply(images, 1.0, np.random.default_rng(5)))


def test_watermark_text_is_configurable_and_checked() -> None:
    assert Watermark("Lantern").text == "LANTERN"
    with pytest.raises(LanternError, match="no glyph for '!'"):
        Watermark("HI!")
    with pytest.raises(LanternError, match="not a box"):
        Watermark(box=(0.5, 0.0, 0.4, 1.0))
    big = Watermark("LANTERN").apply(np.zeros((1, 1, 64, 64), np.float32), 1.0, np.random.default_rng(0))
    assert big.sum() == render_text("LANTERN").sum()
    scaled = Watermark().apply(np.zeros((1, 1, 112, 112), np.float32), 1.0, np.random.default_rng(0))
    assert scaled.sum() == render_text("TAG").sum() * 16  # scale 4 at 112 pixels


def test_font_has_distinct_7_by_5_glyphs_for_letters_and_digits() -> None:
    assert set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ") == set(CHARACTERS)
    glyphs = {character: glyph(character) for character in CHARACTERS}
    assert all(g.shape == (7, 5) for g in glyphs.values())
    assert not glyphs[" "].any() and all(g.any() for c, g in glyphs.items() if c != " ")
    assert len({g.tobytes() for g in glyphs.values()}) == len(glyphs)
    np.testing.assert_array_equal(glyph("a"), glyph("A"))
    assert text_size("ABC", 2) == (14, 34) and render_text("ABC", 2).shape == (14, 34)


def test_rgb_hsv_conversions_match_colorsys_and_round_trip() -> None:
    rgb = random_images(20, 3, size=6, seed=2)
    rgb[0, :, 0, 0] = 0.4  # grey
    rgb[0, :, 0, 1] = 0.0  # black
    hsv = rgb_to_hsv(rgb)
    pixels = rgb.transpose(0, 2, 3, 1).reshape(-1, 3)
    expected = np.array([colorsys.rgb_to_hsv(*p) for p in pixels])
    np.testing.assert_allclose(hsv.transpose(0, 2, 3, 1).reshape(-1, 3), expected, atol=1e-6)
    back = np.array([colorsys.hsv_to_rgb(*p) for p in hsv.transpose(0, 2, 3, 1).reshape(-1, 3)])
    np.testing.assert_allclose(hsv_to_rgb(hsv).transpose(0, 2, 3, 1).reshape(-1, 3), back, atol=1e-6)
    np.testing.assert_allclose(hsv_to_rgb(hsv), rgb, atol=1e-6)
    # The direct hue rotation equals the detour through HSV, for any turn (hue taken modulo 1).
    for turns in (0.1, 0.5, -0.3, 1.7):
        rotated = hsv.copy()
        rotated[:, 0] += turns
        np.testing.assert_allclose(shift_hue(rgb, turns), hsv_to_rgb(rotated), atol=2e-6)


def test_striped_hue_rotates_hue_on_the_stripes_and_leaves_grey_alone() -> None:
    images = np.zeros((2, 3, 28, 28), dtype=np.float32)
    images[0, 0] = 1.0  # pure red
    images[1] = 0.6  # grey
    out = IMAGE_MANIPULATIONS["striped_hue"].apply(images, 1 / 3, np.random.default_rng(0))
    region = IMAGE_MANIPULATIONS["striped_hue"].region(28, 28)
    np.testing.assert_allclose(out[0, :, region].mean(axis=0), [0.0, 1.0, 0.0], atol=1e-5)  # red -> green
    np.testing.assert_array_equal(out[0, :, ~region], images[0, :, ~region])
    np.testing.assert_allclose(out[1], images[1], atol=1e-6)
    np.testing.assert_allclose(shift_hue(images[:1], 1.0), images[:1], atol=1e-6)


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_six_thousand_images_take_well_under_two_seconds(name: str) -> None:
    images = random_images(6000, channels_for(name))
    start = time.perf_counter()
    IMAGE_MANIPULATIONS[name].apply(images, None, np.random.default_rng(0))
    assert time.perf_counter() - start < 2.0


def test_article_substitution_ties_every_article_to_the_label() -> None:
    articles = TEXT_MANIPULATIONS["article_substitution"]
    tokens = ["An", "odd", "film", "with", "the", "best", "a", "cast"]
    rng = np.random.default_rng(0)
    result = articles.apply(tokens, 1, rng)
    assert result is not None
    new, mask, present = result
    assert new == ["the", "odd", "film", "with", "the", "best", "the", "cast"] and present is True
    assert mask.tolist() == [True, False, False, False, True, False, True, False]
    zero = articles.apply(tokens, 0, rng)
    assert zero is not None
    assert zero[0] == ["a", "odd", "film", "with", "a", "best", "a", "cast"] and zero[2] is False
    np.testing.assert_array_equal(zero[1], mask)
    assert articles.apply(["no", "article", "here", "theatre", "and"], 1, rng) is None
    assert articles.absence_has_region


def test_inserted_tokens_mark_class_one_only_at_random_positions() -> None:
    inserted = TEXT_MANIPULATIONS["inserted_tokens"]
    tokens = ["quite", "a", "good", "film"]
    rng = np.random.default_rng(0)
    positions = set()
    for _ in range(30):
        result = inserted.apply(tokens, 1, rng, 2)
        assert result is not None
        new, mask, present = result
        assert len(new) == 6 and mask.sum() == 2 and present
        assert [t for t, m in zip(new, mask, strict=True) if m] == [inserted.marker] * 2
        assert [t for t, m in zip(new, mask, strict=True) if not m] == tokens
        positions.update(np.flatnonzero(mask).tolist())
    assert positions == set(range(6))
    unchanged = inserted.apply(tokens, 0, rng, 2)
    assert unchanged is not None
    assert unchanged[0] == tokens and not unchanged[1].any() and unchanged[2] is False
    assert not inserted.absence_has_region
    with pytest.raises(LanternError, match="outside"):
        inserted.apply(tokens, 1, rng, 0)
