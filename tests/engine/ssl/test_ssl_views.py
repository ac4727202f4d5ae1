"""BankSecondView: exact rates at p 0 and 1, about p otherwise, per_image fixed for a run, seeded, checked."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from engine.core.errors import LanternError
from engine.ssl.views import BankSecondView, uniform_hash

torch.set_num_threads(1)

N, K = 200, 4


def _bank() -> tuple[torch.Tensor, torch.Tensor]:
    """Sources are all 0; view k of image i is the constant (1 + k) / 255, so an output names its origin."""
    sources = torch.zeros(N, 1, 4, 4)
    views = torch.arange(1, K + 1, dtype=torch.uint8).view(1, K, 1, 1, 1).expand(N, K, 1, 4, 4).clone()
    return sources, views


def _origin(out: torch.Tensor) -> torch.Tensor:
    """-1 for the source, else the variant k each output image came from."""
    level = torch.round(out[:, 0, 0, 0] * 255).long()
    assert torch.all(out == out[:, :1, :1, :1])  # whole images are swapped, never mixed
    return level - 1


def _epochs(view: BankSecondView, sources: torch.Tensor, epochs: int, batch: int = 32) -> list[torch.Tensor]:
    """The origin of every image in each epoch, fed in shuffled batches like training does."""
    generator = torch.Generator().manual_seed(0)
    result = []
    for _ in range(epochs):
        origin = torch.empty(N, dtype=torch.long)
        order = torch.randperm(N, generator=generator)
        for start in range(0, N, batch):
            index = order[start : start + batch]
            origin[index] = _origin(view(index, sources[index], generator))
        result.append(origin)
    return result


@pytest.mark.parametrize("draw", ["per_sample", "per_image"])
def test_p_zero_always_gives_the_source(draw: str) -> None:
    sources, views = _bank()
    view = BankSecondView(views, 0.0, draw, seed=1)
    for origin in _epochs(view, sources, 3):
        assert torch.all(origin == -1)


@pytest.mark.parametrize("draw", ["per_sample", "per_image"])
def test_p_one_always_gives_a_bank_view_with_every_variant_used(draw: str) -> None:
    sources, views = _bank()
    view = BankSecondView(views, 1.0, draw, seed=1)
    origins = torch.cat(_epochs(view, sources, 5))
    assert torch.all(origin_ok := origins >= 0), origin_ok
    counts = torch.bincount(origins, minlength=K).float() / len(origins)
    # 1,000 uses, 4 variants: each near 1/4 (binomial sd about 0.014).
    assert torch.all((counts - 0.25).abs() < 0.06), counts


def test_per_sample_half_is_about_half_and_redrawn_each_epoch() -> None:
    sources, views = _bank()
    view = BankSecondView(views, 0.5, "per_sample", seed=2)
    origins = _epochs(view, sources, 10)
    rates = [float((o >= 0).float().mean()) for o in origins]
    overall = float(np.mean(rates))
    assert abs(overall - 0.5) < 0.04, overall  # 2,000 draws: sd about 0.011
    synthetic = torch.stack([o >= 0 for o in origins])  # [epochs, N]
    # Redrawn per use: an image is synthetic in some epochs and real in others.
    flips = (synthetic.any(0) & ~synthetic.all(0)).float().mean()
    assert flips > 0.9, flips


def test_per_image_fixes_the_choice_for_the_run_but_redraws_the_variant() -> None:
    sources, views = _bank()
    view = BankSecondView(views, 0.5, "per_image", seed=3)
    origins = _epochs(view, sources, 6)
    synthetic = torch.stack([o >= 0 for o in origins])
    assert torch.all(synthetic == synthetic[0])  # identical real/synthetic split every epoch
    assert abs(float(synthetic[0].float().mean()) - 0.5) < 0.1
    assert np.array_equal(synthetic[0].numpy(), view.synthetic_images())
    variants = torch.stack(origins)[:, synthetic[0]]
    # The variant of a synthetic image changes between epochs (6 uses of 4 variants).
    changed = (variants != variants[0]).any(0).float().mean()
    assert changed > 0.9, changed


@pytest.mark.parametrize("p", [0.25, 0.75])
def test_per_image_rate_follows_p(p: float) -> None:
    _, views = _bank()
    big = BankSecondView(views.repeat(20, 1, 1, 1, 1), p, "per_image", seed=5)  # 4,000 images
    assert abs(float(big.synthetic_images().mean()) - p) < 0.025


@pytest.mark.parametrize("draw", ["per_sample", "per_image"])
def test_same_seed_same_views_other_seed_other_views(draw: str) -> None:
    sources, views = _bank()
    first = _epochs(BankSecondView(views, 0.5, draw, seed=7), sources, 3)
    again = _epochs(BankSecondView(views, 0.5, draw, seed=7), sources, 3)
    other = _epochs(BankSecondView(views, 0.5, draw, seed=8), sources, 3)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_draws_do_not_depend_on_batching() -> None:
    """An image's n-th use draws the same whatever batch it is in (so distributed ranks agree)."""
    sources, views = _bank()
    by_32 = _epochs(BankSecondView(views, 0.5, "per_sample", seed=9), sources, 3, batch=32)
    by_7 = _epochs(BankSecondView(views, 0.5, "per_sample", seed=9), sources, 3, batch=7)
    assert all(torch.equal(a, b) for a, b in zip(by_32, by_7, strict=True))


def test_the_training_generator_is_left_untouched() -> None:
    sources, views = _bank()
    view = BankSecondView(views, 0.5, "per_sample", seed=0)
    generator = torch.Generator().manual_seed(11)
    state = generator.get_state().clone()
    view(torch.arange(16), sources[:16], generator)
    assert torch.equal(generator.get_state(), state)


def test_identity_bank_at_p_one_reproduces_the_source_exactly() -> None:
    """uint8 bank views of uint8-derived sources come back bit-identical (the identity control)."""
    pixels = torch.randint(0, 256, (N, 1, 4, 4), dtype=torch.uint8)
    sources = torch.from_numpy(pixels.numpy().astype(np.float32) / np.float32(255.0))
    views = pixels[:, None].expand(N, K, 1, 4, 4).clone()
    out = BankSecondView(views, 1.0, "per_image", seed=0)(torch.arange(N), sources)
    assert torch.equal(out, sources)


def test_float_views_and_repeated_indices() -> None:
    sources, views = _bank()
    floats = views.float() / 255.0
    view = BankSecondView(floats.numpy(), 1.0, "per_sample", seed=0)
    index = torch.tensor([5, 5, 5, 5, 5, 5, 5, 5])
    origin = _origin(view(index, sources[index]))
    assert torch.all(origin >= 0)
    assert len(set(origin.tolist())) > 1  # repeats of one image in a batch are separate uses
    assert view.plan(torch.tensor([5]))[1].shape == (1,)


def test_uniform_hash_is_uniform() -> None:
    u = uniform_hash(0, 1, np.arange(50_000), np.zeros(50_000))
    assert u.min() >= 0.0 and u.max() < 1.0
    histogram = np.histogram(u, bins=10, range=(0, 1))[0] / len(u)
    assert np.all(np.abs(histogram - 0.1) < 0.006), histogram


@pytest.mark.parametrize(
    ("views", "p", "draw", "seed", "message"),
    [
        (torch.zeros(3, 2, 1, 4), 0.5, "per_image", 0, "shape [N, K, C, H, W]"),
        (torch.zeros(3, 0, 1, 4, 4), 0.5, "per_image", 0, "shape [N, K, C, H, W]"),
        (torch.zeros(3, 2, 1, 4, 4, dtype=torch.int32), 0.5, "per_image", 0, "uint8 (0-255) or float"),
        ([[1, 2]], 0.5, "per_image", 0, "tensor or numpy array"),
        (torch.zeros(3, 2, 1, 4, 4), 1.5, "per_image", 0, "p must be a probability in [0, 1], got 1.5"),
        (torch.zeros(3, 2, 1, 4, 4), -0.1, "per_image", 0, "got -0.1"),
        (torch.zeros(3, 2, 1, 4, 4), True, "per_image", 0, "p must be a probability"),
        (torch.zeros(3, 2, 1, 4, 4), 0.5, "per_epoch", 0, "unknown draw 'per_epoch'"),
        (torch.zeros(3, 2, 1, 4, 4), 0.5, "per_image", 1.5, "seed must be a whole number"),
    ],
)
def test_bad_arguments_are_refused(views: object, p: float, draw: str, seed: int, message: str) -> None:
    with pytest.raises(LanternError, match=re.escape(message)):
        BankSecondView(views, p, draw, seed)  # type: ignore[arg-type]


def test_bad_batches_are_refused() -> None:
    sources, views = _bank()
    view = BankSecondView(views, 0.5, "per_sample", seed=0)
    with pytest.raises(LanternError, match="outside the bank's 200 images"):
        view(torch.tensor([0, 200]), sources[:2])
    with pytest.raises(LanternError, match="same dataset"):
        view(torch.arange(2), torch.zeros(2, 3, 4, 4))
    with pytest.raises(LanternError, match="3 indices for a batch of 2"):
        view(torch.arange(3), sources[:2])
    with pytest.raises(LanternError, match="only a per_image draw"):
        view.synthetic_images()
