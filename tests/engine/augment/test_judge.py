"""The faithfulness judge: learns Fashion-MNIST, saves and loads losslessly, refuses bad folders clearly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.attribution.types import ImageSet
from engine.augment.datasets import AugmentData, load_augment_data
from engine.augment.judge import (
    META_FILE,
    WEIGHTS_FILE,
    Judge,
    JudgeArchitecture,
    JudgeNet,
    recalibrate_batch_norm,
    shift_and_flip,
    train_judge,
)
from engine.core.errors import LanternError

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data() -> AugmentData:
    return load_augment_data("fashion-mnist-demo", limit=1000)


@pytest.fixture(scope="module")
def judge(data: AugmentData) -> Judge:
    # Small batches give the 1,000 images enough steps in 4 epochs (a few seconds on one core).
    return train_judge(data.train, epochs=4, batch_size=32, lr=5e-3, seed=0)


def test_a_briefly_trained_judge_classifies_held_out_images(judge: Judge, data: AugmentData) -> None:
    accuracy = judge.accuracy(data.test.images, data.test.labels)
    assert accuracy > 0.7, accuracy
    assert judge.train_accuracy > 0.7
    assert judge.class_names == data.class_names
    assert (judge.channels, judge.image_size) == (1, (28, 28))
    assert sum(p.numel() for p in judge.net.parameters()) < 100_000


def test_features_are_unit_vectors_and_predictions_are_distributions(judge: Judge, data: AugmentData) -> None:
    images = torch.from_numpy(data.test.images[:16])
    features = judge.features(images)
    assert features.shape == (16, judge.feature_dim)
    torch.testing.assert_close(features.norm(dim=1), torch.ones(16))
    labels, probs = judge.predict(data.test.images[:16])  # numpy works too
    assert labels.dtype == torch.int64 and probs.shape == (16, 10)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(16))
    assert torch.equal(labels, probs.argmax(dim=1))
    # Same image, same features: the judge is in eval mode (batch norm uses its running statistics).
    torch.testing.assert_close(judge.features(images[:1]), features[:1], atol=1e-5, rtol=0)


def test_save_and_load_give_identical_predictions(judge: Judge, data: AugmentData, tmp_path: Path) -> None:
    folder = judge.save(tmp_path / "judge")
    assert sorted(p.name for p in folder.iterdir()) == sorted([WEIGHTS_FILE, META_FILE])
    meta = json.loads((folder / META_FILE).read_text())
    assert meta["class_names"] == list(data.class_names)
    assert (meta["channels"], meta["image_size"]) == (1, [28, 28])
    assert meta["architecture"]["widths"] == list(judge.arch.widths)
    assert meta["train_accuracy"] == pytest.approx(judge.train_accuracy)
    loaded = Judge.load(folder)
    images = data.test.images[:200]
    before_labels, before_probs = judge.predict(images)
    after_labels, after_probs = loaded.predict(images)
    assert torch.equal(before_labels, after_labels)
    assert torch.equal(before_probs, after_probs)
    assert torch.equal(judge.features(images), loaded.features(images))
    assert loaded.class_names == judge.class_names and loaded.train_accuracy == judge.train_accuracy


def test_missing_or_damaged_folders_are_clear_errors(judge: Judge, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(LanternError, match="there is no judge folder here") as info:
        Judge.load(missing)
    assert info.value.where == str(missing) and "train_judge" in info.value.hint
    folder = judge.save(tmp_path / "judge")
    (folder / WEIGHTS_FILE).unlink()
    with pytest.raises(LanternError, match=f"lacks {WEIGHTS_FILE}"):
        Judge.load(folder)
    folder = judge.save(tmp_path / "judge")
    (folder / WEIGHTS_FILE).write_bytes(b"not safetensors")
    with pytest.raises(LanternError, match="weights cannot be read"):
        Judge.load(folder)
    folder = judge.save(tmp_path / "judge")
    (folder / META_FILE).write_text("{broken")
    with pytest.raises(LanternError, match="description is damaged"):
        Judge.load(folder)
    (folder / META_FILE).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(LanternError, match="description is damaged"):
        Judge.load(folder)


def test_images_of_another_shape_are_refused(judge: Judge) -> None:
    with pytest.raises(LanternError, match=r"judge takes images \[B, 1, 28, 28\]"):
        judge.features(torch.rand(2, 3, 32, 32))


def test_bad_training_data_is_refused() -> None:
    one_class = ImageSet(
        images=np.zeros((4, 1, 28, 28), np.float32),
        labels=np.zeros(4, np.int64),
        class_names=("a",),
        source="t",
    )
    with pytest.raises(LanternError, match="at least 2 classes"):
        train_judge(one_class, epochs=1)
    tiny = ImageSet(
        images=np.zeros((4, 1, 4, 4), np.float32),
        labels=np.array([0, 1, 0, 1]),
        class_names=("a", "b"),
        source="t",
    )
    with pytest.raises(LanternError, match="too small"):
        train_judge(tiny, epochs=1)


def test_training_is_seeded_and_reports_each_epoch() -> None:
    rng = np.random.default_rng(0)
    labels = np.arange(64) % 2
    images = rng.random((64, 1, 16, 16), dtype=np.float32) * 0.2
    images[labels == 1, :, :, :8] += 0.7  # class 1 is bright on the left
    small = ImageSet(images=images, labels=labels.astype(np.int64), class_names=("dark", "left"), source="t")
    seen: list[tuple[int, float, float]] = []
    first = train_judge(small, epochs=3, batch_size=16, seed=4, on_epoch=lambda *a: seen.append(a))
    again = train_judge(small, epochs=3, batch_size=16, seed=4)
    assert [epoch for epoch, _, _ in seen] == [1, 2, 3]
    assert all(loss > 0 and 0 <= acc <= 1 for _, loss, acc in seen)
    assert torch.equal(first.features(images), again.features(images))
    # Training must not disturb the caller's global random stream.
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    train_judge(small, epochs=1, batch_size=32, seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_shift_and_flip_moves_and_mirrors_whole_images() -> None:
    images = torch.arange(2 * 6 * 6, dtype=torch.float32).reshape(2, 1, 6, 6) + 1
    out = shift_and_flip(images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    for original, moved in zip(images[:, 0], out[:, 0], strict=True):
        # Some shift (dy, dx) in [-2, 2] and maybe a mirror explains the output exactly, zeros filling in.
        found = False
        for mirror in (False, True):
            source = original.flip(1) if mirror else original
            padded = torch.nn.functional.pad(source, (2, 2, 2, 2))
            for dy in range(5):
                for dx in range(5):
                    found |= torch.equal(padded[dy : dy + 6, dx : dx + 6], moved)
        assert found


def test_batch_norm_statistics_are_recomputed_exactly_after_training() -> None:
    torch.manual_seed(0)
    net = JudgeNet(JudgeArchitecture(in_channels=1, num_classes=2, widths=(4, 4)))
    images = torch.rand(40, 1, 8, 8)
    recalibrate_batch_norm(net, images, batch_size=20)
    first_conv, first_norm = net.body[0], net.body[1]
    with torch.no_grad():
        activations = first_conv(images)
    torch.testing.assert_close(first_norm.running_mean, activations.mean(dim=(0, 2, 3)), atol=1e-5, rtol=1e-4)
    assert first_norm.momentum == 0.1 and not net.training
