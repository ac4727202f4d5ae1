"""The control generators: identity returns the source; other_image conditions on another pool image."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from engine.augment.generators import make_generator
from engine.augment.generators.controls import IdentityGenerator, OtherImageGenerator
from engine.core.errors import LanternError


def _pool(n: int = 12, shape: tuple[int, int, int] = (1, 28, 28)) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(11))


def test_identity_returns_exact_copies() -> None:
    sources = _pool(3)
    generator = make_generator("identity")
    assert isinstance(generator, IdentityGenerator)
    views = generator.views_batch(sources, 4, seed=0)
    assert views.shape == (3, 4, 1, 28, 28)
    for k in range(4):
        assert torch.equal(views[:, k], sources)
    assert torch.equal(generator.views(sources[1], 2, seed=5), sources[1].expand(2, -1, -1, -1))
    views[0, 0].zero_()  # the views are copies, not views of the caller's tensor
    assert sources[0].sum() > 0
    with pytest.raises(LanternError, match="unknown setting"):
        generator.views_batch(sources, 1, seed=0, steps=10)


def _other(pool: torch.Tensor) -> OtherImageGenerator:
    return OtherImageGenerator(inner=IdentityGenerator(), pool=pool)


def test_other_image_never_uses_the_source_and_is_seeded() -> None:
    pool = _pool(5)
    generator = _other(pool)
    sources = pool.clone()
    index = list(range(5))
    picks = [generator.pick_others(sources, seed, index) for seed in range(40)]
    for seed_picks in picks:
        assert all(pick != own for pick, own in zip(seed_picks, index, strict=True))
    assert generator.pick_others(sources, 3, index) == picks[3]
    assert len({tuple(p) for p in picks}) > 20  # other seeds draw other images
    # Over the seeds every other image is drawn for source 0.
    assert {p[0] for p in picks} == {1, 2, 3, 4}

    views = generator.views_batch(sources, 2, seed=3, source_index=index)
    for b, pick in enumerate(picks[3]):
        assert torch.equal(views[b, 0], pool[pick]) and torch.equal(views[b, 1], pool[pick])
        assert not torch.equal(views[b, 0], sources[b])
    one = generator.views(sources[2], 2, seed=3, source_index=2)
    assert one.shape == (2, 1, 28, 28) and not torch.equal(one[0], pool[2])


def test_other_image_skips_copies_of_the_source_without_an_index() -> None:
    pool = _pool(4)
    pool[3] = pool[0]  # a duplicate in the dataset must not turn the control into the identity
    generator = _other(pool)
    for seed in range(30):
        assert generator.pick_others(pool[:1], seed)[0] in (1, 2)


def test_other_image_views_keep_the_source_shape() -> None:
    pool = _pool(6, shape=(3, 32, 32))
    generator = _other(pool)
    views = generator.views_batch(torch.rand(2, 1, 28, 28), 3, seed=0)
    assert views.shape == (2, 3, 1, 28, 28)
    assert float(views.min()) >= 0 and float(views.max()) <= 1


def test_other_image_conditions_the_inner_generator_on_the_drawn_image(tiny_pipeline_folders: Any) -> None:
    pool = _pool(6, shape=(3, 32, 32))
    generator = make_generator(
        "other_image", pool=pool, inner="unclip", checkpoint=str(tiny_pipeline_folders["unclip"])
    )
    assert isinstance(generator, OtherImageGenerator) and generator.inner.name == "unclip"
    assert [s.name for s in generator.SETTINGS] == ["steps", "guidance", "noise_level", "eta"]
    sources = pool[:2]
    pick = generator.pick_others(sources, 9, [0, 1])
    views = generator.views_batch(sources, 2, seed=9, source_index=[0, 1], steps=2)
    expected = generator.inner.views_batch(pool[pick], 2, seed=9, steps=2)
    assert torch.allclose(views, expected, atol=1e-6)
    with pytest.raises(LanternError, match="unknown setting"):
        generator.views_batch(sources, 1, seed=0, strength=0.5)


def test_other_image_refuses_what_it_cannot_use() -> None:
    def refused(**kwargs: Any) -> str:
        with pytest.raises(LanternError) as caught:
            OtherImageGenerator(inner=IdentityGenerator(), **kwargs)
        return caught.value.what

    assert "needs a pool" in refused()
    assert "at least 2" in refused(pool=_pool(1))
    assert "float images" in refused(pool=(_pool(3) * 255).to(torch.uint8))
    generator = _other(_pool(3))
    with pytest.raises(LanternError, match="outside the pool"):
        generator.views_batch(_pool(1), 1, seed=0, source_index=3)
    with pytest.raises(LanternError, match="names 1 image"):
        generator.views_batch(_pool(2), 1, seed=0, source_index=[0])
    same = _pool(1).expand(3, -1, -1, -1).clone()
    with pytest.raises(LanternError, match="every image of the pool equals the source"):
        _other(same).views_batch(same[:1], 1, seed=0)
    with pytest.raises(LanternError, match="cannot wrap itself"):
        make_generator("other_image", pool=_pool(3), inner="other_image")
