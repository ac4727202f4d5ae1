"""Where SSL's second view starts: the source image, or with probability p one of its bank's generated views.

`BankSecondView` implements training.SecondView (Ayromlou et al.: view 2 is a generated variant of the
source with probability p, one of the bank's K drawn at random; both views then get classic augmentation).
`draw` records the real/synthetic choice on purpose: "per_sample" redraws it every time an image is used,
"per_image" fixes it per image for the whole run, as the paper's code does; the variant is redrawn on every
use either way.

Every draw is a hash of (seed, image index, how many times this view has drawn for that image) rather than
a step of a random stream: the training generator is never touched, so an identity bank at p = 1 trains
exactly like p = 0 (the control must match the baseline), and draws do not depend on how images are
batched or split across distributed ranks.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch

from engine.core.errors import LanternError

Draw = Literal["per_sample", "per_image"]
DRAWS: tuple[str, ...] = ("per_sample", "per_image")
WHERE = "second view from a bank"

# Separate hash streams so that the real/synthetic choice and the variant are independent draws.
_CHOICE_STREAM = 1
_VARIANT_STREAM = 2
_MASK64 = (1 << 64) - 1


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a well-mixed 64-bit hash of each uint64 (wrapping arithmetic)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def uniform_hash(seed: int, stream: int, index: np.ndarray, use: np.ndarray) -> np.ndarray:
    """Uniform floats in [0, 1), one per (index, use), fixed by (seed, stream): counter-based randomness."""
    key = _splitmix64(np.array([(seed * 0x9E3779B97F4A7C15 + stream) & _MASK64], dtype=np.uint64))[0]
    index = np.asarray(index, dtype=np.int64).astype(np.uint64)
    use = np.asarray(use, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        mixed = _splitmix64(_splitmix64(index ^ key) + use * np.uint64(0xD1B54A32D192ED03))
    # The top 53 bits make a double in [0, 1) with every value equally likely.
    return (mixed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _occurrence(index: np.ndarray) -> np.ndarray:
    """For each position, how many earlier positions hold the same index (0 for a batch without repeats)."""
    order = np.argsort(index, kind="stable")
    ordered = index[order]
    starts = np.ones(len(index), dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    positions = np.arange(len(index))
    group_start = np.maximum.accumulate(np.where(starts, positions, 0))
    rank = np.empty(len(index), dtype=np.int64)
    rank[order] = positions - group_start
    return rank


class BankSecondView:
    """SecondView: with probability p, view 2 starts from a random one of the image's K bank views.

    views: uint8 (0-255) or float ([0, 1]) [N, K, C, H, W], aligned with the training images (row i holds
    the views of training image i). p: the probability of a generated view. draw: "per_sample" or
    "per_image" (see the module docstring). seed: fixes every draw.
    """

    def __init__(self, views: Any, p: float, draw: str = "per_image", seed: int = 0) -> None:
        if isinstance(views, np.ndarray):
            views = torch.from_numpy(np.ascontiguousarray(views))
        if not isinstance(views, torch.Tensor):
            raise LanternError(
                f"bank views must be a tensor or numpy array, not {type(views).__name__}",
                WHERE,
                "pass BankData.views (uint8 [N, K, C, H, W])",
            )
        if views.ndim != 5 or views.shape[0] < 1 or views.shape[1] < 1:
            raise LanternError(
                f"bank views must have shape [N, K, C, H, W] with N, K >= 1, not {list(views.shape)}",
                WHERE,
                "pass BankData.views: K views of each of the N training images",
            )
        if views.dtype != torch.uint8 and not views.is_floating_point():
            raise LanternError(
                f"bank views must be uint8 (0-255) or float ([0, 1]), not {views.dtype}", WHERE, ""
            )
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= float(p) <= 1.0:
            raise LanternError(
                f"p must be a probability in [0, 1], got {p!r}",
                WHERE,
                "p is the chance that view 2 starts from a generated view (0: never, 1: always)",
            )
        if draw not in DRAWS:
            raise LanternError(
                f"unknown draw '{draw}'",
                WHERE,
                "use 'per_sample' (redrawn every use) or 'per_image' (fixed per image for the run)",
            )
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise LanternError(f"seed must be a whole number, got {seed!r}", WHERE, "e.g. seed=0")
        self.views = views.detach().cpu()  # kept compact (uint8) on the CPU; a batch moves per call
        self.p = float(p)
        self.draw: Draw = draw  # type: ignore[assignment]
        self.seed = int(seed)
        self._uses = np.zeros(self.count, dtype=np.int64)

    @property
    def count(self) -> int:
        """N: the training images the bank covers."""
        return int(self.views.shape[0])

    @property
    def k(self) -> int:
        """K: the generated views of each image."""
        return int(self.views.shape[1])

    def synthetic_images(self) -> np.ndarray:
        """per_image: which images start from a generated view for the whole run (bool [N])."""
        if self.draw != "per_image":
            raise LanternError(
                "only a per_image draw fixes which images are synthetic", WHERE, "draw='per_image'"
            )
        return self._choice(np.arange(self.count), np.zeros(self.count, dtype=np.int64))

    def _choice(self, index: np.ndarray, use: np.ndarray) -> np.ndarray:
        return uniform_hash(self.seed, _CHOICE_STREAM, index, use) < self.p

    def plan(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw for a batch: (synthetic bool [B], variant long [B]); counts this as one use of each image."""
        index = np.asarray(torch.as_tensor(indices).detach().cpu().numpy(), dtype=np.int64).reshape(-1)
        if len(index) and (index.min() < 0 or index.max() >= self.count):
            bad = int(index.min()) if index.min() < 0 else int(index.max())
            raise LanternError(
                f"image index {bad} is outside the bank's {self.count} images",
                WHERE,
                "the bank must be built on the same training images (dataset, limit and seed)",
            )
        use = self._uses[index] + _occurrence(index)
        np.add.at(self._uses, index, 1)
        if self.draw == "per_image":
            synthetic = self._choice(index, np.zeros_like(index))
        else:
            synthetic = self._choice(index, use)
        variant = np.minimum(
            (uniform_hash(self.seed, _VARIANT_STREAM, index, use) * self.k).astype(np.int64), self.k - 1
        )
        return torch.from_numpy(synthetic), torch.from_numpy(variant)

    def __call__(self, indices: torch.Tensor, images: torch.Tensor, generator: Any = None) -> torch.Tensor:
        """View 2's starting images for a batch. `generator` (training's) is deliberately left untouched."""
        if images.ndim != 4 or tuple(images.shape[1:]) != tuple(self.views.shape[2:]):
            raise LanternError(
                f"the bank's views are {list(self.views.shape[2:])} [C, H, W] but the training images are "
                f"{list(images.shape[1:])}",
                WHERE,
                "build the bank on the same dataset (and image size) as the SSL training",
            )
        if len(images) != torch.as_tensor(indices).numel():
            raise LanternError(
                f"{torch.as_tensor(indices).numel()} indices for a batch of {len(images)} images", WHERE, ""
            )
        synthetic, variant = self.plan(indices)
        if not bool(synthetic.any()):
            return images
        rows = torch.as_tensor(indices).detach().cpu().reshape(-1).long()
        chosen = self.views[rows[synthetic], variant[synthetic]]
        if chosen.dtype == torch.uint8:
            chosen = chosen.to(torch.float32) / 255.0
        chosen = chosen.to(device=images.device, dtype=images.dtype)
        out = images.clone()
        out[synthetic.to(images.device)] = chosen
        return out
