"""Classic SSL augmentation: each op checked on hand-made images, the pipeline on determinism and range."""

from __future__ import annotations

import math

import pytest
import torch

from engine.augment.classic import (
    CLASSIC_OPS,
    LUMA_WEIGHTS,
    ClassicAugment,
    ClassicConfig,
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    blur_kernel_size,
    crop_boxes,
    gaussian_blur,
    hflip,
    resized_crop,
    solarise,
    to_greyscale,
)
from engine.core.errors import LanternError

torch.set_num_threads(1)

# Every op forced on, so a test of one op sees it applied to every sample.
ALWAYS = ClassicConfig(crop_p=1.0, flip_p=1.0, jitter_p=1.0, greyscale_p=1.0, blur_p=1.0, solarise_p=1.0)


def ramp(batch: int = 2, channels: int = 1, side: int = 8) -> torch.Tensor:
    """An asymmetric image: values rise left to right and top to bottom."""
    values = torch.arange(side * side, dtype=torch.float32).reshape(side, side) / (side * side - 1)
    return values.expand(batch, channels, side, side).clone()


def colour(rgb: tuple[float, float, float], side: int = 4) -> torch.Tensor:
    return torch.tensor(rgb, dtype=torch.float32)[None, :, None, None].expand(1, 3, side, side).clone()


def test_defaults_are_the_papers() -> None:
    cfg = ClassicConfig()
    assert cfg.crop_scale == (0.08, 1.0) and cfg.crop_ratio == (3 / 4, 4 / 3)
    assert (cfg.jitter_p, cfg.brightness, cfg.contrast, cfg.saturation, cfg.hue) == (0.8, 0.8, 0.8, 0.8, 0.2)
    assert (cfg.flip_p, cfg.greyscale_p, cfg.blur_p, cfg.solarise_p) == (0.5, 0.2, 0.5, 0.0)
    assert cfg.blur_sigma == (0.1, 2.0)
    byol = ClassicConfig.byol_second_view()
    assert (byol.blur_p, byol.solarise_p, byol.solarise_threshold) == (0.1, 0.2, 0.5)
    assert tuple(CLASSIC_OPS) == (
        "random_resized_crop",
        "horizontal_flip",
        "colour_jitter",
        "greyscale",
        "gaussian_blur",
        "solarise",
    )


def test_config_round_trips_and_rejects_unknown_keys() -> None:
    cfg = ClassicConfig(blur_p=0.3, crop_scale=(0.2, 0.9))
    data = cfg.to_dict()
    assert data["crop_scale"] == [0.2, 0.9]
    assert ClassicConfig.from_dict(data) == cfg
    assert ClassicConfig.from_dict({"hue": 0.1}) == ClassicConfig(hue=0.1)
    with pytest.raises(LanternError, match=r"unknown classic augmentation setting.*colour_p"):
        ClassicConfig.from_dict({"colour_p": 0.5})
    with pytest.raises(LanternError, match="flip_p must lie in"):
        ClassicConfig.from_dict({"flip_p": 1.5})
    with pytest.raises(LanternError, match="crop_scale must be a pair"):
        ClassicConfig.from_dict({"crop_scale": [0.9, 0.1]})
    with pytest.raises(LanternError, match="must be a number"):
        ClassicConfig.from_dict({"blur_p": "often"})


def test_crop_of_the_whole_image_is_the_identity() -> None:
    images = torch.rand(4, 3, 12, 12, generator=torch.Generator().manual_seed(1))
    cfg = ClassicConfig(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0))
    out = CLASSIC_OPS["random_resized_crop"](images, cfg, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, images, atol=1e-6, rtol=0)


def test_crop_box_is_stretched_to_the_full_size() -> None:
    images = ramp(batch=1, side=8)
    # The left half (columns 0-3) of every row, stretched to 8 columns.
    out = resized_crop(images, torch.tensor([[0.0, 0.0, 8.0, 4.0]]))
    # Output column j samples input x = (j + 0.5) / 2 - 0.5 (pixel centres), clamped at the border.
    for j in range(8):
        x = min(max((j + 0.5) / 2 - 0.5, 0.0), 7.0)
        expected = images[0, 0, :, 0] + x * (images[0, 0, 0, 1] - images[0, 0, 0, 0])
        torch.testing.assert_close(out[0, 0, :, j], expected, atol=1e-6, rtol=0)


def test_crop_boxes_respect_scale_and_ratio() -> None:
    boxes = crop_boxes(
        2000, 32, 32, (0.08, 1.0), (3 / 4, 4 / 3), torch.Generator().manual_seed(0), torch.device("cpu")
    )
    top, left, height, width = boxes.unbind(1)
    assert bool((top >= 0).all() and (left >= 0).all())
    assert bool((top + height <= 32).all() and (left + width <= 32).all())
    share = height * width / 1024
    # Integer sides round the area a little beyond the drawn range.
    assert share.min() >= 0.06 and share.max() <= 1.0
    assert 0.45 < share.mean() < 0.6  # the mean of uniform(0.08, 1) is 0.54
    ratio = width / height
    assert ratio.min() >= 0.6 and ratio.max() <= 1.6


def test_flip_mirrors_an_asymmetric_image() -> None:
    images = ramp()
    flipped = hflip(images)
    assert torch.equal(flipped[0, 0, 3], images[0, 0, 3].flip(0))
    assert not torch.equal(flipped, images)
    out = CLASSIC_OPS["horizontal_flip"](images, ALWAYS, None)
    assert torch.equal(out, flipped)
    never = CLASSIC_OPS["horizontal_flip"](images, ClassicConfig(flip_p=0.0), None)
    assert torch.equal(never, images)


def test_brightness_and_contrast_match_hand_arithmetic() -> None:
    image = torch.tensor([[[[0.2, 0.4], [0.6, 0.8]]]])
    bright = adjust_brightness(image, torch.tensor([1.5]))
    torch.testing.assert_close(bright, torch.tensor([[[[0.3, 0.6], [0.9, 1.0]]]]))  # 1.2 clamps to 1
    # Contrast blends with the mean (0.5): 0.5 * x + 0.5 * 0.5.
    low = adjust_contrast(image, torch.tensor([0.5]))
    torch.testing.assert_close(low, torch.tensor([[[[0.35, 0.45], [0.55, 0.65]]]]))
    high = adjust_contrast(image, torch.tensor([2.0]))  # 2x - 0.5, clamped
    torch.testing.assert_close(high, torch.tensor([[[[0.0, 0.3], [0.7, 1.0]]]]))
    # On RGB the mean is the mean luma: pure red has luma 0.299 everywhere.
    red = colour((1.0, 0.0, 0.0))
    out = adjust_contrast(red, torch.tensor([0.0]))
    torch.testing.assert_close(out, torch.full_like(red, 0.299))


def test_greyscale_uses_itu_601_weights() -> None:
    assert LUMA_WEIGHTS == (0.299, 0.587, 0.114)
    pixel = colour((0.5, 0.25, 1.0), side=2)
    grey = to_greyscale(pixel)
    expected = 0.299 * 0.5 + 0.587 * 0.25 + 0.114 * 1.0
    torch.testing.assert_close(grey, torch.full_like(pixel, expected))
    # Saturation 0 is greyscale; saturation 1 is the identity.
    torch.testing.assert_close(adjust_saturation(pixel, torch.tensor([0.0])), grey)
    torch.testing.assert_close(adjust_saturation(pixel, torch.tensor([1.0])), pixel)


def test_hue_shift_by_zero_is_identity_and_by_a_third_turns_red_into_green() -> None:
    images = torch.rand(3, 3, 6, 6, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(adjust_hue(images, torch.zeros(3)), images, atol=1e-6, rtol=0)
    red = colour((1.0, 0.0, 0.0))
    torch.testing.assert_close(
        adjust_hue(red, torch.tensor([1 / 3])), colour((0.0, 1.0, 0.0)), atol=1e-6, rtol=0
    )
    torch.testing.assert_close(
        adjust_hue(red, torch.tensor([-1 / 3])), colour((0.0, 0.0, 1.0)), atol=1e-6, rtol=0
    )
    # A full turn comes back to the start; greys have no hue to turn.
    torch.testing.assert_close(adjust_hue(images, torch.ones(3)), images, atol=1e-5, rtol=0)
    grey = colour((0.4, 0.4, 0.4))
    torch.testing.assert_close(adjust_hue(grey, torch.tensor([0.25])), grey)


def test_colour_ops_are_identities_on_one_channel_images() -> None:
    images = ramp(batch=3)
    torch.testing.assert_close(adjust_saturation(images, torch.full((3,), 0.1)), images)
    torch.testing.assert_close(adjust_hue(images, torch.full((3,), 0.3)), images)
    assert torch.equal(CLASSIC_OPS["greyscale"](images, ALWAYS, None), images)
    only_colour = ClassicConfig(jitter_p=1.0, brightness=0.0, contrast=0.0)
    assert torch.equal(CLASSIC_OPS["colour_jitter"](images, only_colour, None), images)


def test_jitter_factors_stay_in_torchvision_ranges() -> None:
    # Brightness alone on a constant 0.5 image: the output is 0.5 * factor, factor in [0.2, 1.8].
    images = torch.full((4000, 1, 2, 2), 0.5)
    cfg = ClassicConfig(jitter_p=1.0, brightness=0.8, contrast=0.0, saturation=0.0, hue=0.0)
    out = CLASSIC_OPS["colour_jitter"](images, cfg, torch.Generator().manual_seed(0))
    factor = out[:, 0, 0, 0] / 0.5
    assert 0.2 - 1e-6 <= factor.min() < 0.25 and 1.75 < factor.max() <= 1.8 + 1e-6
    assert abs(float((factor < 1.0).float().mean()) - 0.5) < 0.05


def test_blur_keeps_a_constant_image_and_spreads_a_point_like_a_gaussian() -> None:
    flat = torch.full((2, 3, 16, 16), 0.37)
    out = gaussian_blur(flat, torch.tensor([0.5, 2.0]), 5)
    torch.testing.assert_close(out, flat)
    assert abs(float(out.mean()) - 0.37) < 1e-6
    point = torch.zeros(1, 1, 9, 9)
    point[0, 0, 4, 4] = 1.0
    sigma = 1.0
    spread = gaussian_blur(point, torch.tensor([sigma]), 3)
    weights = torch.tensor([math.exp(-0.5 / sigma**2), 1.0, math.exp(-0.5 / sigma**2)])
    weights = weights / weights.sum()
    torch.testing.assert_close(spread[0, 0, 3:6, 3:6], weights[:, None] * weights[None, :])
    assert abs(float(spread.sum()) - 1.0) < 1e-6  # the point is far from the border
    assert blur_kernel_size(28, 28, 0.1) == 3
    assert blur_kernel_size(224, 224, 0.1) == 23


def test_solarise_inverts_at_and_above_the_threshold() -> None:
    image = torch.tensor([[[[0.1, 0.49], [0.5, 0.9]]]])
    torch.testing.assert_close(solarise(image, 0.5), torch.tensor([[[[0.1, 0.49], [0.5, 0.1]]]]))
    out = CLASSIC_OPS["solarise"](image, ALWAYS, None)
    torch.testing.assert_close(out, solarise(image, 0.5))


@pytest.mark.parametrize("shape", [(8, 1, 28, 28), (8, 3, 32, 32)])
def test_pipeline_is_seeded_shape_keeping_and_in_range(shape: tuple[int, int, int, int]) -> None:
    images = torch.rand(shape, generator=torch.Generator().manual_seed(3))
    augment = ClassicAugment(ClassicConfig(solarise_p=0.2))
    first = augment(images, torch.Generator().manual_seed(7))
    again = augment(images, torch.Generator().manual_seed(7))
    other = augment(images, torch.Generator().manual_seed(8))
    assert first.shape == images.shape and first.dtype == images.dtype
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)
    assert not torch.allclose(first, images)
    assert float(first.min()) >= 0.0 and float(first.max()) <= 1.0
    # Every sample is cropped with its own box: no two views of the same image are equal.
    same = images[:1].expand(shape).clone()
    views = augment(same, torch.Generator().manual_seed(0))
    assert len({tuple(v.flatten()[:50].tolist()) for v in views}) == shape[0]


def test_ops_with_probability_zero_are_skipped() -> None:
    off = ClassicConfig(crop_p=0.0, flip_p=0.0, jitter_p=0.0, greyscale_p=0.0, blur_p=0.0, solarise_p=0.0)
    augment = ClassicAugment(off)
    assert augment.active_ops == ()
    images = torch.rand(2, 3, 16, 16)
    out = augment(images)
    assert torch.equal(out, images) and out is not images
    assert ClassicAugment().active_ops == (
        "random_resized_crop",
        "horizontal_flip",
        "colour_jitter",
        "greyscale",
        "gaussian_blur",
    )


def test_bad_images_get_a_clear_error() -> None:
    augment = ClassicAugment()
    with pytest.raises(LanternError, match=r"float images \[B, C, H, W\]"):
        augment(torch.rand(3, 8, 8))
    with pytest.raises(LanternError, match="1- or 3-channel"):
        augment(torch.rand(1, 4, 8, 8))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_views_match_cpu_views_from_the_same_generator() -> None:
    images = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    augment = ClassicAugment(ClassicConfig(solarise_p=0.2))
    on_cpu = augment(images, torch.Generator().manual_seed(5))
    on_cuda = augment(images.cuda(), torch.Generator().manual_seed(5))
    assert on_cuda.device.type == "cuda"
    torch.testing.assert_close(on_cuda.cpu(), on_cpu, atol=1e-4, rtol=0)
