"""The SSL backbone: ResNet-18 layout with a small-image stem, config round trip, and bad settings."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.core.errors import LanternError
from engine.ssl.backbone import BackboneConfig, GlobalBatchNorm, ResNetBackbone, build_backbone

torch.set_num_threads(1)


def test_features_have_eight_times_the_width() -> None:
    torch.manual_seed(0)
    backbone = build_backbone(BackboneConfig(in_channels=1, width=8))
    features = backbone(torch.rand(5, 1, 28, 28))
    assert backbone.feature_dim == 64
    assert features.shape == (5, 64)
    assert BackboneConfig(width=8).feature_dim == 64
    assert BackboneConfig(width=8, blocks=(1, 1, 1)).feature_dim == 32


def test_small_image_stem_and_stage_strides() -> None:
    backbone = ResNetBackbone(BackboneConfig(in_channels=1, width=8))
    stem_conv = backbone.stem[0]
    assert stem_conv.kernel_size == (3, 3) and stem_conv.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in backbone.modules())
    sizes: list[tuple[int, ...]] = []
    for stage in backbone.stages:
        stage.register_forward_hook(lambda _m, _i, out: sizes.append(tuple(out.shape[1:])))
    backbone(torch.rand(2, 1, 28, 28))
    # Stage 1 keeps the full 28x28 resolution; each later stage halves it and doubles the width.
    assert sizes == [(8, 28, 28), (16, 14, 14), (32, 7, 7), (64, 4, 4)]


def test_width_64_rgb_has_resnet18_cifar_parameter_count() -> None:
    backbone = build_backbone(BackboneConfig(in_channels=3, width=64))
    # ResNet-18 for CIFAR (3x3 stem, no max-pool) without its 512x10 classifier: 11,168,832 parameters.
    assert sum(p.numel() for p in backbone.parameters()) == 11_168_832
    assert sum(isinstance(m, nn.Conv2d) for m in backbone.modules()) == 1 + 16 + 3


def test_config_round_trip_and_validation() -> None:
    config = BackboneConfig(in_channels=3, width=16, blocks=(1, 2), norm="group")
    data = config.to_dict()
    assert data == {"in_channels": 3, "width": 16, "blocks": [1, 2], "norm": "group"}
    assert BackboneConfig.from_dict(data) == config
    with pytest.raises(LanternError, match="unknown backbone settings: depth"):
        BackboneConfig.from_dict({"depth": 18})
    with pytest.raises(LanternError, match="blocks"):
        BackboneConfig(blocks=(2, 0))
    with pytest.raises(LanternError, match="unknown norm"):
        BackboneConfig(norm="layer")  # type: ignore[arg-type]
    with pytest.raises(LanternError, match="width"):
        BackboneConfig(width=0)


def test_group_norm_backbone_has_no_batch_statistics() -> None:
    torch.manual_seed(0)
    backbone = build_backbone(BackboneConfig(width=8, norm="group"))
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in backbone.modules())
    images = torch.rand(4, 1, 16, 16)
    # Without batch statistics a sample's features do not depend on the rest of the batch.
    assert torch.allclose(backbone(images)[:1], backbone(images[:1]), atol=1e-5)


def test_global_batch_norm_is_plain_batch_norm_in_one_process() -> None:
    torch.manual_seed(0)
    ours, theirs = GlobalBatchNorm(6), nn.BatchNorm2d(6)
    x = torch.randn(4, 6, 5, 5) * 3 + 1
    assert torch.allclose(ours(x), theirs(x), atol=1e-6)
    assert torch.allclose(ours.running_var, theirs.running_var)


def test_wrong_channel_count_is_a_clear_error() -> None:
    backbone = build_backbone(BackboneConfig(in_channels=1, width=4))
    with pytest.raises(LanternError, match=r"expects images \[B, 1, H, W\]"):
        backbone(torch.rand(2, 3, 16, 16))
