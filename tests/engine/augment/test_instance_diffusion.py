"""Lantern's instance-conditioned diffusion generator: config checks, neighbours, the fast DDIM path against
a plain diffusers loop, training (frozen encoder, per-epoch grids, resume), save/load and bad folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from engine.augment.instance_diffusion import (
    CONFIG_FILE,
    ENCODER_FILE,
    WEIGHTS_FILE,
    InstanceDiffusion,
    InstanceDiffusionConfig,
    ddim_coefficients,
    load_encoder,
    nearest_neighbours,
    reference_sample,
    save_encoder,
    save_grid_png,
    train_instance_diffusion,
)
from engine.core.errors import LanternError
from engine.ssl.backbone import BackboneConfig, build_backbone

TINY = InstanceDiffusionConfig(
    image_size=16, block_out_channels=(8, 16), layers_per_block=1, epochs=2, batch_size=8, ema=0.9
)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def images(n: int = 24, seed: int = 0) -> torch.Tensor:
    """Bright squares at different places: neighbours in any sensible embedding are similar squares."""
    g = torch.Generator().manual_seed(seed)
    out = torch.zeros(n, 1, 16, 16)
    for i in range(n):
        r, c = torch.randint(0, 10, (2,), generator=g).tolist()
        out[i, 0, r : r + 6, c : c + 6] = 0.5 + 0.5 * torch.rand((), generator=g)
    return out


def encoder() -> nn.Module:
    torch.manual_seed(0)
    return build_backbone(BackboneConfig(in_channels=1, width=8, blocks=(1, 1)))


@pytest.fixture(scope="module")
def trained() -> tuple[InstanceDiffusion, list, nn.Module, dict]:
    torch.set_num_threads(1)
    enc = encoder()
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    epochs: list = []
    model = train_instance_diffusion(
        images(),
        enc,
        TINY,
        on_epoch=lambda e, loss, grid: epochs.append((e, loss, grid)),
        sample_grid=(3, 4),
        meta={"data": "squares"},
    )
    return model, epochs, enc, before


def test_config_checks_values_and_round_trips() -> None:
    assert InstanceDiffusionConfig.from_dict(TINY.to_dict()) == TINY
    assert json.loads(json.dumps(TINY.to_dict()))["block_out_channels"] == [8, 16]
    with pytest.raises(LanternError, match="not divisible"):
        InstanceDiffusionConfig(image_size=28, block_out_channels=(32, 64, 64, 64))
    with pytest.raises(LanternError, match="precision"):
        InstanceDiffusionConfig(precision="fp8")
    with pytest.raises(LanternError, match="unknown instance diffusion setting"):
        InstanceDiffusionConfig.from_dict({"epochz": 3})
    # 28 -> 14 -> 7: the default works on Fashion-MNIST without padding.
    assert InstanceDiffusionConfig().image_size == 28 and InstanceDiffusionConfig().time_embed_dim == 64


def test_nearest_neighbours_are_cosine_nearest_and_start_with_the_source() -> None:
    e = nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [1.0, 0.0]]))
    nn_index = nearest_neighbours(e, 2, chunk=2)
    assert nn_index[:, 0].tolist() == [0, 1, 2, 3, 4]  # itself first, even beside an exact duplicate (4)
    assert nn_index[0, 1] == 4 and nn_index[4, 1] == 0 and nn_index[2, 1] == 3 and nn_index[3, 1] == 2


def test_ddim_coefficients_match_the_scheduler_formulas() -> None:
    timesteps, coef = ddim_coefficients(TINY, 10, eta=0.0)
    assert timesteps.tolist() == [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]
    assert coef[-1, 2] == pytest.approx(1.0)  # the last step lands on alpha = 1 (set_alpha_to_one)
    assert torch.all(coef[:, 4] == 0)  # eta 0: no noise
    _, noisy = ddim_coefficients(TINY, 10, eta=1.0)
    assert torch.all(noisy[:-1, 4] > 0)


@pytest.mark.parametrize(("guidance", "eta"), [(1.0, 0.0), (2.5, 0.0), (0.0, 0.0), (1.0, 0.7)])
def test_the_fast_path_equals_a_plain_diffusers_ddim_loop(trained, guidance: float, eta: float) -> None:
    model = trained[0]
    sources = images(3, seed=5)
    fast = model.sample(sources, 4, seed=11, guidance=guidance, eta=eta, batch_size=5, fp32=True)
    plain = reference_sample(model, sources, 4, seed=11, guidance=guidance, eta=eta)
    assert fast.shape == (3, 4, 1, 16, 16)
    assert torch.allclose(fast, plain, atol=1e-5), (fast - plain).abs().max()
    assert fast.min() >= 0 and fast.max() <= 1


def test_training_keeps_the_encoder_frozen_and_reports_every_epoch(trained, tmp_path: Path) -> None:
    model, epochs, enc, before = trained
    assert all(torch.equal(before[k], v) for k, v in enc.state_dict().items())
    assert not any(p.requires_grad for p in enc.parameters())
    assert [e for e, _, _ in epochs] == [1, 2]
    assert all(loss == loss and 0 < loss < 2 for _, loss, _ in epochs)
    grid = epochs[-1][2]
    assert grid.shape == (1, 3 * 16, 5 * 16)  # 3 rows: the source then 4 views
    assert torch.equal(grid[:, :16, :16], epochs[0][2][:, :16, :16])  # the same sources every epoch
    png = save_grid_png(grid, tmp_path / "grid.png")
    assert png.stat().st_size > 100
    assert [r["epoch"] for r in model.meta["epochs"]] == [1, 2] and model.meta["updates"] == 6


def test_samples_depend_on_the_seed_and_the_source(trained) -> None:
    model = trained[0]
    sources = images(2, seed=3)
    a = model.sample(sources, 2, seed=1)
    assert torch.equal(a, model.sample(sources, 2, seed=1))
    assert not torch.equal(a, model.sample(sources, 2, seed=2))
    with pytest.raises(LanternError, match="shape"):
        model.sample(torch.rand(2, 3, 16, 16), 2, seed=0)
    with pytest.raises(LanternError, match="guidance"):
        model.sample(sources, 2, seed=0, guidance=-1.0)


def test_save_and_load_round_trip_with_the_same_views(trained, tmp_path: Path) -> None:
    model = trained[0]
    folder = model.save(tmp_path / "gen")
    assert {p.name for p in folder.iterdir()} == {CONFIG_FILE, WEIGHTS_FILE, ENCODER_FILE}
    meta = json.loads((folder / CONFIG_FILE).read_text())
    assert meta["config"] == TINY.to_dict() and meta["data"] == "squares" and meta["encoder"]["kind"]
    loaded = InstanceDiffusion.load(folder)
    sources = images(2, seed=9)
    assert torch.equal(loaded.sample(sources, 3, seed=4), model.sample(sources, 3, seed=4))
    # The generator folder also serves as an encoder folder, and save_encoder writes a stand-alone one.
    x = images(4)
    assert torch.equal(load_encoder(folder)(x), model.encoder(x))
    assert torch.equal(load_encoder(save_encoder(model.encoder, tmp_path / "enc"))(x), model.encoder(x))


def test_bad_generator_folders_raise_clear_errors(trained, tmp_path: Path) -> None:
    with pytest.raises(LanternError, match="does not exist"):
        InstanceDiffusion.load(tmp_path / "nowhere")
    folder = trained[0].save(tmp_path / "gen")
    (folder / ENCODER_FILE).unlink()
    with pytest.raises(LanternError, match=r"no encoder\.safetensors"):
        InstanceDiffusion.load(folder)
    folder = trained[0].save(tmp_path / "gen2")
    (folder / WEIGHTS_FILE).write_bytes(b"not safetensors")
    with pytest.raises(LanternError, match="cannot be read"):
        InstanceDiffusion.load(folder)
    folder = trained[0].save(tmp_path / "gen3")
    (folder / CONFIG_FILE).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(LanternError, match="does not describe"):
        InstanceDiffusion.load(folder)
    folder = trained[0].save(tmp_path / "gen4")
    meta = json.loads((folder / CONFIG_FILE).read_text())
    meta["config"]["block_out_channels"] = [16, 16]
    (folder / CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.raises(LanternError, match="does not fit"):
        InstanceDiffusion.load(folder)
    with pytest.raises(LanternError, match="cannot be saved"):
        InstanceDiffusion(TINY, trained[0].denoiser, nn.Flatten(), {}).save(tmp_path / "gen5")


def test_training_resumed_from_a_checkpoint_matches_uninterrupted_training(tmp_path: Path) -> None:
    config = InstanceDiffusionConfig(**{**TINY.to_dict(), "block_out_channels": (8, 8), "epochs": 2})
    data = images(16)
    whole = train_instance_diffusion(data, encoder(), config)
    first = InstanceDiffusionConfig(**{**config.to_dict(), "epochs": 1})
    path = tmp_path / "ckpt.safetensors"
    train_instance_diffusion(data, encoder(), first, checkpoint_path=path)
    with pytest.raises(LanternError, match="another configuration"):
        train_instance_diffusion(data, encoder(), config, resume_from=path)
    # The checkpoint says epoch 1 of a 1-epoch config; resuming under the 2-epoch config is refused above,
    # so rewrite its config to the 2-epoch one, as a job interrupted after epoch 1 would have stored it.
    from engine.core.checkpoint import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(path)
    save_checkpoint(path, ckpt.model_state, ckpt.optimizer_state, {**ckpt.meta, "config": config.to_dict()})
    resumed = train_instance_diffusion(data, encoder(), config, resume_from=path)
    for (k, a), b in zip(
        whole.denoiser.state_dict().items(), resumed.denoiser.state_dict().values(), strict=True
    ):
        assert torch.allclose(a, b, atol=1e-6), k


def test_the_lantern_generator_serves_views_and_checks_settings(trained, tmp_path: Path, monkeypatch) -> None:
    from engine.augment.generators import lantern

    folder = trained[0].save(tmp_path / "gen")
    generator = lantern.LanternGenerator(checkpoint=folder)
    assert [s.name for s in generator.settings()] == ["steps", "guidance", "eta", "anchor"]
    sources = images(3, seed=2)
    batch = generator.views_batch(sources, 2, seed=5, steps=3)
    assert batch.shape == (3, 2, 1, 16, 16)
    assert torch.equal(batch, trained[0].sample(sources, 2, seed=5, steps=3))
    assert generator.views(sources[0], 2, seed=1).shape == (2, 1, 16, 16)
    with pytest.raises(LanternError, match="unknown setting"):
        generator.views(sources[0], 2, seed=1, strength=0.5)
    with pytest.raises(LanternError, match="out of range"):
        generator.views(sources[0], 2, seed=1, eta=2.0)
    monkeypatch.setattr(lantern, "bundled_folder", lambda: tmp_path / "not-installed")
    with pytest.raises(LanternError, match="bundled Fashion-MNIST generator is not installed"):
        lantern.LanternGenerator()


def test_sampling_starts_from_the_mean_image_or_the_source_layout(trained) -> None:
    from engine.augment.instance_diffusion import start_latents

    model = trained[0]
    data = images()
    # Training stores the images' mean in [-1, 1]: the first timestep's marginal mean is sqrt(a_t) times it.
    assert torch.allclose(model.denoiser.image_mean, data.mean(dim=0) * 2 - 1, atol=1e-6)
    sources = images(2, seed=3)
    noise = torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    first = torch.tensor([0.2, 0.9])
    mean_start = start_latents(model, sources, noise, first, 2, anchor=0.0)
    assert torch.allclose(mean_start, 0.2 * model.denoiser.image_mean + 0.9 * noise)
    source_start = start_latents(model, sources, noise, first, 2, anchor=1.0)
    expected = 0.2 * (sources * 2 - 1).repeat_interleave(2, dim=0) + 0.9 * noise
    assert torch.allclose(source_start, expected)
    half = start_latents(model, sources, noise, first, 2, anchor=0.5)
    assert torch.allclose(half, (mean_start + source_start) / 2, atol=1e-6)
    assert not torch.equal(model.sample(sources, 2, seed=1, anchor=0.0), model.sample(sources, 2, seed=1))
    with pytest.raises(LanternError, match="anchor"):
        model.sample(sources, 2, seed=1, anchor=1.5)
