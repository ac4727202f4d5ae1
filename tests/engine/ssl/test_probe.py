"""Probes of a frozen backbone: the backbone never changes; the linear probe and kNN compute what they say."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.core.errors import LanternError
from engine.ssl.backbone import BackboneConfig, build_backbone
from engine.ssl.probe import evaluate_backbone, extract_features, knn_top1, linear_probe

torch.set_num_threads(1)


def _snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in module.state_dict().items()}


def test_evaluate_backbone_leaves_the_backbone_bit_identical() -> None:
    from engine.augment.datasets import load_augment_data

    data = load_augment_data("fashion-mnist-demo", limit=200)
    torch.manual_seed(0)
    backbone = build_backbone(BackboneConfig(width=4, blocks=(1, 1)))
    # A few training-mode passes give batch norm non-trivial running statistics to guard.
    with torch.no_grad():
        for _ in range(3):
            backbone(torch.from_numpy(data.train.images[:64]))
    before = _snapshot(backbone)
    assert backbone.training
    scores = evaluate_backbone(backbone, data, seed=0, probe_epochs=5)
    after = backbone.state_dict()
    assert before.keys() == after.keys()
    # Bit for bit, including the running means/variances and num_batches_tracked of every batch norm.
    assert all(torch.equal(before[key], after[key]) for key in before)
    assert any("running_var" in key for key in before)
    assert backbone.training, "the backbone comes back in the mode it was given"
    assert all(p.grad is None for p in backbone.parameters())
    assert set(scores) == {"linear_top1", "knn_top1"}
    # Even a random 4-wide backbone's features beat chance (0.1) on Fashion-MNIST.
    assert 0.2 < scores["linear_top1"] <= 1.0 and 0.2 < scores["knn_top1"] <= 1.0


def test_features_do_not_depend_on_the_batch() -> None:
    torch.manual_seed(0)
    backbone = build_backbone(BackboneConfig(width=4, blocks=(1, 1)))
    images = torch.rand(10, 1, 16, 16)
    whole = extract_features(backbone, images, batch_size=4)
    assert whole.shape == (10, backbone.feature_dim) and whole.dtype == torch.float32
    # Eval mode: running statistics, so a sample's features are the same alone or in a batch.
    assert torch.allclose(extract_features(backbone, images[3:4]), whole[3:4], atol=1e-6)
    with pytest.raises(LanternError, match="float images"):
        extract_features(backbone, torch.zeros(10, 16, 16))


def test_linear_probe_separates_separable_features() -> None:
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 16, generator=generator) * 3.0
    train_y = torch.arange(400) % 4
    test_y = torch.arange(200) % 4
    # Classes far apart relative to their spread, on a large offset and scale the standardisation removes.
    train_x = 100 + 50 * (centres[train_y] + 0.3 * torch.randn(400, 16, generator=generator))
    test_x = 100 + 50 * (centres[test_y] + 0.3 * torch.randn(200, 16, generator=generator))
    assert linear_probe(train_x, train_y, test_x, test_y, epochs=20, seed=0) >= 0.99
    # Labels unrelated to the features: the probe cannot beat chance by much on the test split.
    shuffled = train_y[torch.randperm(400, generator=generator)]
    assert linear_probe(train_x, shuffled, test_x, test_y, epochs=20, seed=0) < 0.5
    first = linear_probe(train_x, train_y.numpy(), test_x, test_y.numpy(), epochs=3, seed=1)
    assert first == linear_probe(train_x, train_y, test_x, test_y, epochs=3, seed=1)


def test_knn_matches_a_hand_computed_vote() -> None:
    # Train directions at angles 0, 10, 20 degrees (class 0) and 30, 90 degrees (class 1); the test
    # point at 25 degrees. k = 3 nearest by cosine: 20 (class 0), 30 (class 1), 10 (class 0).
    def at(degrees: float) -> list[float]:
        return [math.cos(math.radians(degrees)), math.sin(math.radians(degrees))]

    train_x = torch.tensor([at(0), at(10), at(20), at(30), at(90)]) * torch.tensor(
        [[1.0], [2], [3], [4], [5]]
    )
    train_y = np.array([0, 0, 0, 1, 1])
    test_x = torch.tensor([at(25)])
    cos = [math.cos(math.radians(d)) for d in (5, 5, 15)]  # to 20, 30 and 10 degrees
    # Temperature 0.07: class 0 gets e^(cos5/T) + e^(cos15/T), class 1 e^(cos5/T): class 0 wins.
    assert math.exp(cos[0] / 0.07) + math.exp(cos[2] / 0.07) > math.exp(cos[1] / 0.07)
    assert knn_top1(train_x, train_y, test_x, np.array([0]), k=3) == 1.0
    assert knn_top1(train_x, train_y, test_x, np.array([1]), k=3) == 0.0
    # k = 1 with the 20-degree sample gone: the nearest is the class-1 sample at 30 degrees.
    keep = [0, 1, 3, 4]
    assert knn_top1(train_x[keep], train_y[keep], test_x, np.array([1]), k=1) == 1.0
    with pytest.raises(LanternError, match="one label per feature row"):
        knn_top1(train_x, train_y[:3], test_x, np.array([0]))
