"""SSL training: seeded reproducibility, the second view's hook, callbacks, schedule and bad input."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from engine.core.errors import LanternError
from engine.ssl.config import SSLConfig
from engine.ssl.training import learning_rate, train_ssl

torch.set_num_threads(1)


def _images(count: int = 64, side: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(count, 1, side, side, generator=torch.Generator().manual_seed(seed))


def _tiny(**overrides: object) -> SSLConfig:
    settings: dict[str, object] = {"width": 4, "blocks": (1, 1), "epochs": 2, "batch_size": 16}
    settings.update(overrides)
    return SSLConfig.model_validate(settings)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    left, right = a.state_dict(), b.state_dict()
    return left.keys() == right.keys() and all(torch.equal(left[k], right[k]) for k in left)


def test_same_config_and_seed_give_the_same_backbone() -> None:
    images = _images()
    first = train_ssl(images, _tiny())
    second = train_ssl(images, _tiny())
    other = train_ssl(images, _tiny(seed=1))
    assert first.epoch_losses == second.epoch_losses
    assert _same_weights(first.backbone, second.backbone)
    assert not _same_weights(first.backbone, other.backbone)
    assert len(first.epoch_losses) == 2 and all(math.isfinite(v) for v in first.epoch_losses)
    assert first.images_per_second > 0
    assert not first.backbone.training


def test_simclr_loss_falls_on_real_images() -> None:
    from engine.augment.datasets import load_augment_data

    data = load_augment_data("fashion-mnist-demo", limit=128)
    images = torch.from_numpy(data.train.images)
    result = train_ssl(
        images, _tiny(width=8, epochs=4, batch_size=32, lr=3e-3, warmup_epochs=0, augment={"crop_p": 0.0})
    )
    # NT-Xent over 2 x 32 samples starts near log(63) = 4.14 and must drop as views get matched.
    first, last_two = result.epoch_losses[0], result.epoch_losses[-2:]
    assert first > 3.5
    assert sum(last_two) / 2 < first - 0.15


def test_second_view_receives_the_batch_and_feeds_view_two() -> None:
    images = _images(count=48)
    calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def black(indices: torch.Tensor, source: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        assert isinstance(generator, torch.Generator)
        calls.append((indices.clone(), source.clone()))
        return torch.zeros_like(source)

    result = train_ssl(images, _tiny(batch_size=16, epochs=1), second_view=black)
    # 48 images, batch 16: three full batches, each the images its indices name, all images once.
    assert len(calls) == 3
    for indices, source in calls:
        assert indices.dtype == torch.int64 and torch.equal(source, images[indices])
    assert sorted(torch.cat([i for i, _ in calls]).tolist()) == list(range(48))
    plain = train_ssl(images, _tiny(batch_size=16, epochs=1))
    assert result.epoch_losses != plain.epoch_losses


def test_last_incomplete_batch_is_dropped() -> None:
    seen: list[int] = []

    def count(indices: torch.Tensor, source: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        seen.append(len(indices))
        return source

    train_ssl(_images(count=40), _tiny(batch_size=16, epochs=1), second_view=count)
    assert seen == [16, 16]


def test_on_epoch_and_cancellation() -> None:
    reported: list[tuple[int, float]] = []
    result = train_ssl(_images(), _tiny(epochs=3), on_epoch=lambda e, loss: reported.append((e, loss)))
    assert [e for e, _ in reported] == [1, 2, 3]
    assert [loss for _, loss in reported] == result.epoch_losses

    class Stop(Exception):
        pass

    steps = []

    def cancel_after_two() -> None:
        steps.append(1)
        if len(steps) > 2:
            raise Stop

    with pytest.raises(Stop):
        train_ssl(_images(), _tiny(epochs=3), check_cancelled=cancel_after_two)
    assert len(steps) == 3


def test_bf16_and_sgd_run() -> None:
    result = train_ssl(_images(), _tiny(epochs=1, precision="bf16", optimizer="sgd", lr=0.05))
    assert math.isfinite(result.epoch_losses[0])


def test_warmup_then_cosine_schedule() -> None:
    config = _tiny(lr=1.0, epochs=4, warmup_epochs=1)
    rates = [learning_rate(config, step, total_steps=40, steps_per_epoch=10) for step in range(40)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert rates[10] == pytest.approx(1.0)
    assert rates[25] == pytest.approx(0.5 * (1 + math.cos(math.pi * 15 / 30)))
    assert all(a >= b for a, b in itertools.pairwise(rates[10:]))
    constant = _tiny(lr=1.0, epochs=4, warmup_epochs=0, schedule="constant")
    assert learning_rate(constant, 33, 40, 10) == 1.0


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(LanternError, match="no full batch"):
        train_ssl(_images(count=8), _tiny(batch_size=16))
    with pytest.raises(LanternError, match=r"in \[0, 1\]"):
        train_ssl(_images() * 255, _tiny())
    with pytest.raises(LanternError, match=r"float images \[N, C, H, W\]"):
        train_ssl(torch.rand(64, 16, 16), _tiny())


def test_config_rejects_unknown_keys_methods_and_augment_settings() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="extra"):
        SSLConfig.model_validate({"epoch": 3})
    with pytest.raises(ValidationError, match="unknown SSL method 'swav'"):
        SSLConfig(method="swav")
    with pytest.raises(ValidationError, match="unknown classic augmentation setting"):
        SSLConfig(augment={"rotate_p": 0.5})
    config = SSLConfig.model_validate({"blocks": [1, 2], "augment_view2": {"solarise_p": 0.2}})
    first, second = config.classic_configs()
    assert first.solarise_p == 0.0 and second.solarise_p == 0.2
    assert config.backbone_config(3).blocks == (1, 2)
    assert SSLConfig.model_validate(config.to_dict()) == config


def test_config_registry_and_distributed_helpers_import_without_torch() -> None:
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys\n"
        "import engine.core.distributed, engine.ssl.methods\n"
        "from engine.ssl.config import SSLConfig\n"
        "SSLConfig(method='byol', augment={'blur_p': 0.1}).classic_configs()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    repo = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
