"""Classic SSL augmentation (SimCLR/BYOL): crop, flip, colour jitter, greyscale, blur, solarise, in batches.

Pure torch (torchvision does not import beside the CPU torch here, and kornia is not needed): every op
works on a whole batch float [B, C, H, W] in [0, 1] on the images' device, with its own random parameters
per sample drawn from an optional torch.Generator, so one seed gives the same views again.

torch is imported inside the functions: `ClassicConfig` is read and validated by torch-free code (the SSL
config, the GUI's settings), and only the augmentation itself needs torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from engine.core.config_validation import refuse_unknown_keys
from engine.core.errors import LanternError

if TYPE_CHECKING:
    import torch

# ITU-R BT.601 luma weights, the ones torchvision's rgb_to_grayscale uses.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
# torchvision's RandomResizedCrop tries this many boxes before falling back to a centre crop.
CROP_ATTEMPTS = 10


@dataclass(frozen=True)
class ClassicConfig:
    """Probabilities and strengths of the classic pipeline; the defaults are SimCLR's and BYOL's first view.

    Ranges are (low, high) pairs. Jitter strengths follow torchvision: a factor uniform in
    [max(0, 1 - s), 1 + s] for brightness, contrast and saturation, a hue shift uniform in [-hue, hue]
    (in turns of the colour wheel). `blur_kernel_share` sets the blur kernel to that share of the shorter
    side, rounded to an odd size of at least 3 (SimCLR: 10%).
    """

    crop_p: float = 1.0
    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter_p: float = 0.8
    brightness: float = 0.8
    contrast: float = 0.8
    saturation: float = 0.8
    hue: float = 0.2
    greyscale_p: float = 0.2
    blur_p: float = 0.5
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    blur_kernel_share: float = 0.1
    solarise_p: float = 0.0
    solarise_threshold: float = 0.5

    def __post_init__(self) -> None:
        for name in ("crop_p", "flip_p", "jitter_p", "greyscale_p", "blur_p", "solarise_p"):
            _check_range(name, getattr(self, name), 0.0, 1.0)
        for name in ("brightness", "contrast", "saturation"):
            _check_range(name, getattr(self, name), 0.0, math.inf)
        _check_range("hue", self.hue, 0.0, 0.5)
        _check_range("solarise_threshold", self.solarise_threshold, 0.0, 1.0)
        _check_range("blur_kernel_share", self.blur_kernel_share, 0.0, 1.0)
        _check_pair("crop_scale", self.crop_scale, lowest=0.0, highest=1.0)
        _check_pair("crop_ratio", self.crop_ratio, lowest=0.0, highest=math.inf)
        _check_pair("blur_sigma", self.blur_sigma, lowest=0.0, highest=math.inf)

    @classmethod
    def byol_second_view(cls) -> ClassicConfig:
        """BYOL's second view: blur rarer (0.1) and solarise at 0.2; everything else as the first."""
        return cls(blur_p=0.1, solarise_p=0.2)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the (low, high) pairs become lists."""
        return {
            key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClassicConfig:
        """A config from a (partial) dict; missing keys keep the defaults, unknown keys are an error."""
        refuse_unknown_keys(
            data, (f.name for f in fields(cls)), "classic augmentation setting(s)", "augment settings"
        )
        values: dict[str, Any] = {}
        for key, value in data.items():
            default = getattr(cls, key)
            if isinstance(default, tuple):
                if not isinstance(value, list | tuple) or len(value) != 2:
                    raise LanternError(
                        f"{key} must be a pair [low, high], got {value!r}",
                        "augment settings",
                        f"e.g. {key}={list(default)}",
                    )
                values[key] = (_number(key, value[0]), _number(key, value[1]))
            else:
                values[key] = _number(key, value)
        return replace(cls(), **values)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LanternError(f"{name} must be a number, got {value!r}", "augment settings", f"e.g. {name}=0.5")
    return float(value)


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise LanternError(
            f"{name} must lie in [{low}, {high}], got {value}",
            "augment settings",
            "see ClassicConfig's defaults",
        )


def _check_pair(name: str, pair: tuple[float, float], *, lowest: float, highest: float) -> None:
    low, high = pair
    if not (lowest < low <= high <= highest):
        raise LanternError(
            f"{name} must be a pair with {lowest} < low <= high <= {highest}, got {tuple(pair)}",
            "augment settings",
            "see ClassicConfig's defaults",
        )


# Randomness is drawn on the generator's device, then moved, so a CPU generator drives CUDA images too.


def _rand(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    import torch

    if generator is None:
        return torch.rand(shape, device=device)
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


def _uniform(
    shape: tuple[int, ...], low: float, high: float, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    return low + (high - low) * _rand(shape, generator, device)


def _chosen(
    p: float, batch: int, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor | None:
    """Which samples an op with probability p applies to, bool [B]; None when it applies to all."""
    if p >= 1.0:
        return None
    return _rand((batch,), generator, device) < p


def _apply(
    mask: torch.Tensor | None,
    fn: Callable[..., torch.Tensor],
    images: torch.Tensor,
    *params: torch.Tensor,
) -> torch.Tensor:
    """fn(images, *params) where mask is True (everywhere when mask is None), per-sample params [B, ...].

    On CUDA every sample is computed and blended with torch.where: selecting a subset would make the device
    wait for the host, and the arithmetic is cheap there. On CPU only the selected samples are computed.
    """
    import torch

    if mask is None:
        return fn(images, *params)
    if images.is_cuda:
        return torch.where(mask[:, None, None, None], fn(images, *params), images)
    index = mask.nonzero().squeeze(1)
    if index.numel() == 0:
        return images
    if index.numel() == images.shape[0]:
        return fn(images, *params)
    changed = fn(images.index_select(0, index), *(p.index_select(0, index) for p in params))
    return images.index_copy(0, index, changed)


# Deterministic kernels take explicit parameters, so tests can check them by hand.


def resized_crop(images: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Crop each image to its box and resize it back to [H, W] with bilinear sampling.

    boxes: float [B, 4] as (top, left, height, width) in pixels (pixel i spans [i, i + 1]).
    """
    import torch
    import torch.nn.functional as F

    batch, _, height, width = images.shape
    top, left, box_h, box_w = boxes.to(images.dtype).unbind(dim=1)
    theta = torch.zeros(batch, 2, 3, dtype=images.dtype, device=images.device)
    # Output pixel centre u in [-1, 1] maps to input (2 * left + box_w) / W - 1 + u * box_w / W
    # (align_corners=False), so the box [left, left + box_w] fills the output exactly.
    theta[:, 0, 0] = box_w / width
    theta[:, 0, 2] = (2 * left + box_w) / width - 1
    theta[:, 1, 1] = box_h / height
    theta[:, 1, 2] = (2 * top + box_h) / height - 1
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def crop_boxes(
    batch: int,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    generator: torch.Generator | None,
    device: torch.device,
) -> torch.Tensor:
    """torchvision's RandomResizedCrop boxes, float [B, 4] (top, left, height, width), all samples at once.

    Each sample tries CROP_ATTEMPTS boxes (area share uniform in `scale`, aspect ratio log-uniform in
    `ratio`, integer sides) and keeps the first that fits; when none fits it falls back to the largest
    centred box whose ratio lies in `ratio`, as torchvision does.
    """
    import torch

    area = height * width
    shares = _uniform((batch, CROP_ATTEMPTS), scale[0], scale[1], generator, device)
    log_ratio = _uniform((batch, CROP_ATTEMPTS), math.log(ratio[0]), math.log(ratio[1]), generator, device)
    offsets = _rand((batch, 2), generator, device)
    aspect = torch.exp(log_ratio)
    box_w = torch.round(torch.sqrt(shares * area * aspect))
    box_h = torch.round(torch.sqrt(shares * area / aspect))
    fits = (box_w > 0) & (box_w <= width) & (box_h > 0) & (box_h <= height)
    # argmax of the int mask picks the first attempt that fits (index 0 when none does; handled below).
    first = fits.to(torch.int64).argmax(dim=1, keepdim=True)
    any_fit = fits.any(dim=1)
    chosen_w = box_w.gather(1, first).squeeze(1)
    chosen_h = box_h.gather(1, first).squeeze(1)
    in_ratio = width / height
    if in_ratio < ratio[0]:
        fallback_w, fallback_h = float(width), float(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        fallback_w, fallback_h = float(round(height * ratio[1])), float(height)
    else:
        fallback_w, fallback_h = float(width), float(height)
    chosen_w = torch.where(any_fit, chosen_w, torch.full_like(chosen_w, fallback_w))
    chosen_h = torch.where(any_fit, chosen_h, torch.full_like(chosen_h, fallback_h))
    # Integer offsets uniform in [0, H - h] and [0, W - w]; the fallback is centred.
    top = torch.floor(offsets[:, 0] * (height - chosen_h + 1)).clamp(max=height - chosen_h)
    left = torch.floor(offsets[:, 1] * (width - chosen_w + 1)).clamp(max=width - chosen_w)
    top = torch.where(any_fit, top, torch.floor((height - chosen_h) / 2))
    left = torch.where(any_fit, left, torch.floor((width - chosen_w) / 2))
    return torch.stack([top, left, chosen_h, chosen_w], dim=1)


def hflip(images: torch.Tensor) -> torch.Tensor:
    """Mirror left to right."""
    import torch

    return torch.flip(images, dims=[-1])


def greyscale(images: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma, float [B, 1, H, W] (a 1-channel image is its own luma)."""
    if images.shape[1] == 1:
        return images
    red, green, blue = images.unbind(dim=1)
    return (LUMA_WEIGHTS[0] * red + LUMA_WEIGHTS[1] * green + LUMA_WEIGHTS[2] * blue).unsqueeze(1)


def to_greyscale(images: torch.Tensor) -> torch.Tensor:
    """Greyscale with the channel count kept (RGB images get three equal channels), as torchvision's op."""
    return greyscale(images).expand_as(images).contiguous()


def _blend(images: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """factor * images + (1 - factor) * other, clamped to [0, 1]: torchvision's _blend."""
    factor = factor.to(images.dtype)[:, None, None, None]
    return (factor * images + (1 - factor) * other).clamp(0.0, 1.0)


def adjust_brightness(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Scale every pixel by the sample's factor, float [B]; clamped to [0, 1]."""
    return (images * factor.to(images.dtype)[:, None, None, None]).clamp(0.0, 1.0)


def adjust_contrast(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Pull every pixel towards (factor < 1) or away from the image's mean luma by the sample's factor."""
    mean = greyscale(images).mean(dim=(1, 2, 3), keepdim=True)
    return _blend(images, mean, factor)


def adjust_saturation(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend each RGB image with its greyscale by the sample's factor; identity on 1-channel images."""
    if images.shape[1] == 1:
        return images
    return _blend(images, greyscale(images), factor)


def _rgb_to_hsv(images: torch.Tensor) -> torch.Tensor:
    import torch

    red, green, blue = images.unbind(dim=1)
    high = images.amax(dim=1)
    low = images.amin(dim=1)
    chroma = high - low
    # Where chroma is 0 the hue is undefined; any value works since it has no effect on the way back.
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    hue_r = ((green - blue) / safe) % 6
    hue_g = (blue - red) / safe + 2
    hue_b = (red - green) / safe + 4
    hue = torch.where(high == red, hue_r, torch.where(high == green, hue_g, hue_b))
    hue = torch.where(chroma > 0, hue / 6.0, torch.zeros_like(hue)) % 1.0
    saturation = torch.where(high > 0, chroma / torch.where(high > 0, high, torch.ones_like(high)), 0 * high)
    return torch.stack([hue, saturation, high], dim=1)


def _hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    import torch

    hue, saturation, value = hsv.unbind(dim=1)
    # The standard closed form: channel n takes v - v*s*clamp(min(k, 4 - k), 0, 1), k = (n + 6h) mod 6.
    channels = []
    for n in (5.0, 3.0, 1.0):
        k = (n + hue * 6.0) % 6.0
        channels.append(value - value * saturation * torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0))
    return torch.stack(channels, dim=1)


def adjust_hue(images: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate each RGB image's hue by the sample's shift (in turns: 1/3 takes red to green); identity on
    1-channel images."""
    if images.shape[1] == 1:
        return images
    hsv = _rgb_to_hsv(images)
    hue = (hsv[:, 0] + shift.to(images.dtype)[:, None, None]) % 1.0
    hsv = hsv.clone()
    hsv[:, 0] = hue
    return _hsv_to_rgb(hsv).clamp(0.0, 1.0)


def blur_kernel_size(height: int, width: int, share: float) -> int:
    """An odd kernel of about `share` of the shorter side, at least 3 (SimCLR: 10%, 23 at 224 pixels)."""
    size = int(share * min(height, width))
    if size % 2 == 0:
        size += 1
    return max(3, min(size, 2 * (min(height, width) // 2) - 1))


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Separable Gaussian blur with each sample's sigma, float [B]; reflect padding keeps borders unbiased."""
    import torch
    import torch.nn.functional as F

    batch, channels, height, width = images.shape
    radius = kernel_size // 2
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    weights = torch.exp(-(offsets[None, :] ** 2) / (2 * sigma.to(images.dtype)[:, None] ** 2))
    weights = weights / weights.sum(dim=1, keepdim=True)
    # One group per (sample, channel): every sample gets its own kernel in a single conv call.
    weights = weights.repeat_interleave(channels, dim=0)
    flat = images.reshape(1, batch * channels, height, width)
    flat = F.pad(flat, (radius, radius, 0, 0), mode="reflect")
    flat = F.conv2d(flat, weights[:, None, None, :], groups=batch * channels)
    flat = F.pad(flat, (0, 0, radius, radius), mode="reflect")
    flat = F.conv2d(flat, weights[:, None, :, None], groups=batch * channels)
    return flat.reshape(batch, channels, height, width)


def solarise(images: torch.Tensor, threshold: float) -> torch.Tensor:
    """Invert the pixels at or above the threshold, as torchvision's solarize."""
    import torch

    return torch.where(images >= threshold, 1.0 - images, images)


# Random ops draw their parameters for the whole batch and apply themselves with their probability.

RandomOp = Callable[["torch.Tensor", ClassicConfig, "torch.Generator | None"], "torch.Tensor"]


def random_resized_crop(
    images: torch.Tensor, config: ClassicConfig, generator: torch.Generator | None
) -> torch.Tensor:
    batch, _, height, width = images.shape
    mask = _chosen(config.crop_p, batch, generator, images.device)
    boxes = crop_boxes(batch, height, width, config.crop_scale, config.crop_ratio, generator, images.device)
    return _apply(mask, resized_crop, images, boxes)


def random_flip(
    images: torch.Tensor, config: ClassicConfig, generator: torch.Generator | None
) -> torch.Tensor:
    mask = _chosen(config.flip_p, images.shape[0], generator, images.device)
    return _apply(mask, hflip, images)


_ADJUSTMENTS: tuple[Callable[[torch.Tensor, torch.Tensor], torch.Tensor], ...] = (
    adjust_brightness,
    adjust_contrast,
    adjust_saturation,
    adjust_hue,
)


def _jitter_in_order(
    images: torch.Tensor, params: torch.Tensor, order: torch.Tensor, active: tuple[bool, ...]
) -> torch.Tensor:
    """Apply the four adjustments in each sample's order; params [B, 4] (three factors, one hue shift)."""
    out = images
    for position in range(4):
        for index, adjustment in enumerate(_ADJUSTMENTS):
            if active[index]:
                out = _apply(order[:, position] == index, adjustment, out, params[:, index])
    return out


def random_colour_jitter(
    images: torch.Tensor, config: ClassicConfig, generator: torch.Generator | None
) -> torch.Tensor:
    """torchvision's ColorJitter with a random order of the four adjustments drawn per sample.

    Per sample (not per batch) because SimCLR's loader jitters each image on its own: one order for the
    whole batch would correlate the views within a batch.
    """
    import torch

    batch = images.shape[0]
    device = images.device
    mask = _chosen(config.jitter_p, batch, generator, device)
    strengths = (config.brightness, config.contrast, config.saturation)
    params = torch.stack(
        [_uniform((batch,), max(0.0, 1 - s), 1 + s, generator, device) for s in strengths]
        + [_uniform((batch,), -config.hue, config.hue, generator, device)],
        dim=1,
    )
    order = torch.argsort(_rand((batch, 4), generator, device), dim=1)
    colour = images.shape[1] == 3
    # Saturation and hue do nothing to 1-channel images: skip the work.
    active = (
        config.brightness > 0,
        config.contrast > 0,
        colour and config.saturation > 0,
        colour and config.hue > 0,
    )
    return _apply(mask, lambda x, p, o: _jitter_in_order(x, p, o, active), images, params, order)


def random_greyscale(
    images: torch.Tensor, config: ClassicConfig, generator: torch.Generator | None
) -> torch.Tensor:
    if images.shape[1] == 1:
        return images
    mask = _chosen(config.greyscale_p, images.shape[0], generator, images.device)
    return _apply(mask, to_greyscale, images)


def random_gaussian_blur(
    images: torch.Tensor, config: ClassicConfig, generator: torch.Generator | None
) -> torch.Tensor:
    batch, _, height, width = images.shape
    mask = _chosen(config.blur_p, batch, generator, images.device)
    sigma = _uniform((batch,), config.blur_sigma[0], config.blur_sigma[1], generator, images.device)
    size = blur_kernel_size(height, width, config.blur_kernel_share)
    return _apply(mask, lambda x, s: gaussian_blur(x, s, size), images, sigma)


def random_solarise(
    images: torch.Tensor, config: ClassicConfig, generator: torch.Generator | None
) -> torch.Tensor:
    mask = _chosen(config.solarise_p, images.shape[0], generator, images.device)
    return _apply(mask, lambda x: solarise(x, config.solarise_threshold), images)


# The registry, in the order the pipeline applies the ops (SimCLR's and BYOL's order).
CLASSIC_OPS: dict[str, RandomOp] = {
    "random_resized_crop": random_resized_crop,
    "horizontal_flip": random_flip,
    "colour_jitter": random_colour_jitter,
    "greyscale": random_greyscale,
    "gaussian_blur": random_gaussian_blur,
    "solarise": random_solarise,
}
# Each op's probability field: an op whose probability is 0 is skipped without drawing anything.
OP_PROBABILITY = {
    "random_resized_crop": "crop_p",
    "horizontal_flip": "flip_p",
    "colour_jitter": "jitter_p",
    "greyscale": "greyscale_p",
    "gaussian_blur": "blur_p",
    "solarise": "solarise_p",
}


class ClassicAugment:
    """The classic pipeline: `augment(images, generator)` returns one random view of every image."""

    def __init__(self, config: ClassicConfig | None = None) -> None:
        self.config = config or ClassicConfig()

    @property
    def active_ops(self) -> tuple[str, ...]:
        """The ops this config applies, in order."""
        return tuple(name for name in CLASSIC_OPS if getattr(self.config, OP_PROBABILITY[name]) > 0)

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Views of images float [B, C, H, W] in [0, 1] (C is 1 or 3): same shape, dtype and device."""
        import torch

        if not isinstance(images, torch.Tensor) or images.dim() != 4 or not images.is_floating_point():
            shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise LanternError(
                f"classic augmentation takes float images [B, C, H, W], got {shape}",
                "classic augmentation",
                "pass a float tensor in [0, 1] with a batch dimension (image[None] for one image)",
            )
        if images.shape[1] not in (1, 3):
            raise LanternError(
                f"classic augmentation takes 1- or 3-channel images, got {images.shape[1]} channels",
                "classic augmentation",
                "convert the images to greyscale or RGB",
            )
        if images.shape[0] == 0:
            return images.clone()
        out = images
        for name in self.active_ops:
            out = CLASSIC_OPS[name](out, self.config, generator)
        # Bilinear sampling and blur weights can overshoot 1 by a rounding error; the clamp also copies.
        return out.clamp(0.0, 1.0)
