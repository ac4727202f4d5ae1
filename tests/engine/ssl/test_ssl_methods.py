"""SSL methods: each loss against its formula written out by hand, momentum and queue updates, and that a
training step lowers each loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from engine.core.errors import LanternError
from engine.ssl.backbone import BackboneConfig, build_backbone
from engine.ssl.config import SSLConfig
from engine.ssl.methods import SSL_METHODS, make_method, method_defaults
from engine.ssl.methods.barlow_twins import barlow_twins_loss
from engine.ssl.methods.byol import regression_loss, target_momentum
from engine.ssl.methods.moco_v2 import MoCoV2, info_nce
from engine.ssl.methods.simclr import nt_xent
from engine.ssl.methods.simsiam import negative_cosine
from engine.ssl.training import train_ssl

torch.set_num_threads(1)


def _backbone(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_backbone(BackboneConfig(width=4, blocks=(1, 1)))


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a @ b / (a.norm() * b.norm()))


def test_registry_lists_five_methods_and_rejects_unknown_names_and_settings() -> None:
    assert set(SSL_METHODS) == {"simclr", "simsiam", "byol", "moco_v2", "barlow_twins"}
    with pytest.raises(LanternError, match="unknown SSL method 'swav'") as caught:
        make_method("swav", _backbone())
    assert "simclr, simsiam, byol, moco_v2, barlow_twins" in caught.value.hint
    with pytest.raises(LanternError, match="unknown settings for simclr: tau"):
        make_method("simclr", _backbone(), tau=0.1)
    with pytest.raises(LanternError, match="positive number"):
        make_method("simclr", _backbone(), temperature=-1.0)
    assert method_defaults("simclr")["temperature"] == 0.5
    assert method_defaults("byol")["momentum"] == 0.996
    assert method_defaults("moco_v2")["momentum"] == 0.99 and method_defaults("moco_v2")["temperature"] == 0.2
    assert method_defaults("barlow_twins")["off_diagonal_weight"] == 5e-3
    simclr = make_method("simclr", _backbone())
    assert simclr.projector[-1].out_features == 128 and len(simclr.projector) == 4  # 2 linear layers


def test_nt_xent_matches_the_formula() -> None:
    generator = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(3, 4, generator=generator), torch.randn(3, 4, generator=generator)
    samples = list(z1) + list(z2)
    t = 0.5
    total = 0.0
    for i in range(6):
        positive = (i + 3) % 6
        denominator = sum(math.exp(_cos(samples[i], samples[k]) / t) for k in range(6) if k != i)
        total += -math.log(math.exp(_cos(samples[i], samples[positive]) / t) / denominator)
    assert float(nt_xent(z1, z2, t)) == pytest.approx(total / 6, rel=1e-5)


def test_simsiam_negative_cosine_matches_the_formula_and_stops_the_gradient() -> None:
    p = torch.tensor([[1.0, 0.0], [1.0, 1.0]], requires_grad=True)
    z = torch.tensor([[0.0, 2.0], [3.0, 3.0]], requires_grad=True)
    loss = negative_cosine(p, z)
    assert float(loss.detach()) == pytest.approx(-(0.0 + 1.0) / 2)
    loss.backward()
    assert z.grad is None and p.grad is not None


def test_byol_regression_loss_and_momentum_schedule() -> None:
    p, z = torch.tensor([[3.0, 4.0]]), torch.tensor([[1.0, 0.0]])
    # normalise(p) = (0.6, 0.8): ||(0.6 - 1, 0.8)||^2 = 0.16 + 0.64 = 0.8 = 2 - 2 * 0.6.
    assert float(regression_loss(p, z)) == pytest.approx(0.8)
    assert target_momentum(0.996, 0.0) == pytest.approx(0.996)
    assert target_momentum(0.996, 0.5) == pytest.approx(0.998)
    assert target_momentum(0.996, 1.0) == pytest.approx(1.0)


def test_byol_target_follows_the_online_network_by_ema() -> None:
    method = make_method("byol", _backbone(), hidden_dim=16, out_dim=8)
    trainable = {id(p) for p in method.trainable_parameters()}
    assert not any(id(p) in trainable for p in method.target_backbone.parameters())
    with torch.no_grad():
        for online in method.backbone.parameters():
            online.add_(1.0)
    before = [p.clone() for p in method.target_backbone.parameters()]
    online = [p.clone() for p in method.backbone.parameters()]
    method.step_end(0.5)
    tau = 0.998
    for old, new, source in zip(before, method.target_backbone.parameters(), online, strict=True):
        assert torch.allclose(new, tau * old + (1 - tau) * source, atol=1e-6)
    assert method.momentum == pytest.approx(tau)


def test_moco_info_nce_matches_the_formula() -> None:
    generator = torch.Generator().manual_seed(1)
    q = F.normalize(torch.randn(2, 3, generator=generator), dim=1)
    k = F.normalize(torch.randn(2, 3, generator=generator), dim=1)
    queue = F.normalize(torch.randn(4, 3, generator=generator), dim=1)
    t = 0.2
    expected = 0.0
    for i in range(2):
        logits = [float(q[i] @ k[i]) / t] + [float(q[i] @ queue[j]) / t for j in range(4)]
        expected += -logits[0] + math.log(sum(math.exp(v) for v in logits))
    assert float(info_nce(q, k, queue, t)) == pytest.approx(expected / 2, rel=1e-5)


def test_moco_queue_overwrites_the_oldest_keys_and_wraps() -> None:
    method = make_method("moco_v2", _backbone(), queue_size=5, out_dim=2)
    assert isinstance(method, MoCoV2)
    keys = torch.arange(16, dtype=torch.float32).view(8, 2)
    method.enqueue(keys[:3])
    assert torch.equal(method.queue[:3], keys[:3]) and int(method.queue_pointer) == 3
    method.enqueue(keys[3:6])
    # Rows 3, 4 then wrap to row 0.
    assert torch.equal(method.queue[[3, 4, 0]], keys[3:6]) and int(method.queue_pointer) == 1
    assert torch.equal(method.queue[[1, 2]], keys[1:3])
    assert MoCoV2.fit_settings({}, dataset_size=300, batch_size=32)["queue_size"] == 300
    assert MoCoV2.fit_settings({}, dataset_size=60000, batch_size=256)["queue_size"] == 4096
    assert MoCoV2.fit_settings({"queue_size": 64}, dataset_size=300, batch_size=32)["queue_size"] == 64


def test_moco_step_end_updates_the_key_encoder_and_enqueues_both_views() -> None:
    method = make_method("moco_v2", _backbone(), queue_size=32, hidden_dim=16, out_dim=8)
    views = torch.rand(2, 6, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    method.train()
    method.loss(views[0], views[1])
    with torch.no_grad():
        for p in method.backbone.parameters():
            p.add_(1.0)
    key_before = [p.clone() for p in method.key_backbone.parameters()]
    method.step_end(0.1)
    for old, new, online in zip(
        key_before, method.key_backbone.parameters(), method.backbone.parameters(), strict=True
    ):
        assert torch.allclose(new, 0.99 * old + 0.01 * online, atol=1e-6)
    assert int(method.queue_pointer) == 12
    assert torch.allclose(method.queue[:12].norm(dim=1), torch.ones(12), atol=1e-5)


def test_barlow_twins_loss_matches_the_formula() -> None:
    generator = torch.Generator().manual_seed(2)
    z1, z2 = torch.randn(5, 3, generator=generator), torch.randn(5, 3, generator=generator)

    def standard(z: torch.Tensor) -> torch.Tensor:
        return (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + 1e-5)

    a, b = standard(z1), standard(z2)
    expected = 0.0
    for i in range(3):
        for j in range(3):
            c = float(sum(a[n, i] * b[n, j] for n in range(5))) / 5
            expected += (1 - c) ** 2 if i == j else 5e-3 * c**2
    assert float(barlow_twins_loss(z1, z2, 5e-3)) == pytest.approx(expected, rel=1e-5)
    # Identical standardised views: C is the correlation matrix; its diagonal is 1 up to the eps.
    assert float(barlow_twins_loss(z1, z1, 0.0)) == pytest.approx(0.0, abs=1e-4)


SMALL = {
    "simclr": {"hidden_dim": 16, "out_dim": 8},
    "simsiam": {"dim": 16, "predictor_dim": 8},
    "byol": {"hidden_dim": 16, "out_dim": 8},
    "moco_v2": {"hidden_dim": 16, "out_dim": 8, "queue_size": 64},
    "barlow_twins": {"dim": 16},
}


@pytest.mark.parametrize("name", sorted(SSL_METHODS))
def test_a_training_step_lowers_the_loss_on_a_fixed_batch(name: str) -> None:
    method = make_method(name, _backbone(), **SMALL[name])
    method.train()
    views = torch.rand(2, 16, 1, 16, 16, generator=torch.Generator().manual_seed(3))
    optimizer = torch.optim.SGD(method.trainable_parameters(), lr=0.05)
    before = method.loss(views[0], views[1])
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    after = method.loss(views[0], views[1])
    assert float(after.detach()) < float(before.detach())


@pytest.mark.parametrize("name", sorted(SSL_METHODS))
def test_every_method_trains_through_train_ssl(name: str) -> None:
    images = torch.rand(32, 1, 16, 16, generator=torch.Generator().manual_seed(4))
    config = SSLConfig(
        method=name, method_settings=SMALL[name], width=4, blocks=(1, 1), epochs=1, batch_size=16
    )
    result = train_ssl(images, config)
    assert len(result.epoch_losses) == 1 and math.isfinite(result.epoch_losses[0])
    assert result.method.name == name and result.backbone is result.method.backbone
