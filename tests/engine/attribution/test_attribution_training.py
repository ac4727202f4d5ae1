"""Attribution training: learns separable tasks and stops early, reports failure, threshold above p*."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.attribution.models import build_image_model, build_text_model
from engine.attribution.training import TrainConfig, check_threshold, predict, train_model
from engine.core.device import DeviceChoice
from engine.core.errors import JobCancelled, LanternError

FILLER = [f"w{i}" for i in range(40)]


def square_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Dim noise; class 1 also has a bright 6x6 square at a random spot."""
    rng = np.random.default_rng(seed)
    images = (rng.random((n, 1, 28, 28)) * 0.4).astype(np.float32)
    labels = rng.integers(0, 2, n).astype(np.int64)
    for i in np.flatnonzero(labels):
        top, left = rng.integers(0, 22, 2)
        images[i, 0, top : top + 6, left : left + 6] = 1.0
    return images, labels


def keyword_texts(n: int, seed: int) -> tuple[list[list[str]], np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n).astype(np.int64)
    texts = []
    for label in labels:
        words = [FILLER[i] for i in rng.integers(0, len(FILLER), rng.integers(6, 13))]
        words.insert(int(rng.integers(0, len(words) + 1)), "the" if label else "a")
        texts.append(words)
    return texts, labels


def small_cnn(seed: int = 0) -> torch.nn.Module:
    return build_image_model("small_cnn", in_channels=1, num_classes=2, image_size=28, width=8, seed=seed)


def test_small_cnn_learns_a_bright_square_and_stops_early() -> None:
    train_x, train_y = square_images(640, seed=0)
    val_x, val_y = square_images(200, seed=1)
    model = small_cnn()
    progress: list[tuple[int, int]] = []
    metrics: list[tuple[float, dict[str, float]]] = []
    cancels: list[int] = []
    cfg = TrainConfig(max_epochs=10, batch_size=64, lr=2e-3, min_accuracy=0.95)
    result = train_model(
        model,
        train_x,
        train_y,
        val_x,
        val_y,
        cfg,
        device=DeviceChoice("cpu", "float32", "CPU"),
        progress=lambda done, total: progress.append((done, total)),
        metrics=lambda step, values: metrics.append((step, values)),
        check_cancelled=lambda: cancels.append(1),
    )
    assert result.passed and result.val_accuracy >= 0.95
    assert result.epochs < cfg.max_epochs and len(result.history) == result.epochs
    batches = 10 * result.epochs  # 640 / 64 per epoch
    assert len(cancels) == batches
    assert [p[0] for p in progress[:-1]] == list(range(1, batches + 1))
    assert progress[-1] == (10 * 10, 10 * 10)  # the bar completes on an early stop
    assert [m[0] for m in metrics] == [float(e) for e in range(1, result.epochs + 1)]
    assert metrics[-1][1]["val_accuracy"] == result.val_accuracy
    assert {"train_loss", "train_accuracy", "val_accuracy", "seconds"} <= set(metrics[-1][1])
    predictions = predict(model, val_x, device="cpu", batch_size=50)
    assert predictions.dtype == np.int64 and predictions.shape == (200,)
    assert float((predictions == val_y).mean()) == pytest.approx(result.val_accuracy)
    assert not model.training


def test_a_model_that_cannot_reach_the_threshold_does_not_pass_and_keeps_its_best_weights() -> None:
    rng = np.random.default_rng(3)
    train_x, val_x = square_images(256, seed=2)[0], square_images(128, seed=3)[0]
    train_y, val_y = rng.integers(0, 2, 256), rng.integers(0, 2, 128)  # labels unrelated to the images
    model = small_cnn()
    cfg = TrainConfig(max_epochs=4, batch_size=64, min_accuracy=0.99, patience=1)
    result = train_model(model, train_x, train_y, val_x, val_y, cfg, device=torch.device("cpu"))
    assert not result.passed and result.val_accuracy < 0.8
    assert result.val_accuracy == max(h["val_accuracy"] for h in result.history)
    assert float((predict(model, val_x, device="cpu") == val_y).mean()) == pytest.approx(result.val_accuracy)


def test_training_is_deterministic_under_a_seed() -> None:
    train_x, train_y = square_images(128, seed=4)
    val_x, val_y = square_images(64, seed=5)
    cfg = TrainConfig(max_epochs=2, batch_size=32, min_accuracy=1.0, seed=7)
    runs = []
    for _ in range(2):
        model = small_cnn(seed=1)
        result = train_model(model, train_x, train_y, val_x, val_y, cfg, device="cpu")
        runs.append((model.state_dict(), [h["train_loss"] for h in result.history]))
    assert runs[0][1] == runs[1][1]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][0].values(), runs[1][0].values(), strict=True))


def test_the_threshold_must_lie_above_p_star() -> None:
    check_threshold(0.97, 0.5)
    with pytest.raises(LanternError, match=r"must lie above p\* = 0\.800, or no model could prove") as caught:
        check_threshold(0.8, 0.8)
    assert caught.value.where == "train: min_accuracy" and "0.800" in caught.value.hint
    with pytest.raises(LanternError, match="above 1"):
        check_threshold(1.2, 0.5)


def test_training_stops_when_cancelled_and_rejects_bad_input() -> None:
    images, labels = square_images(40, seed=6)
    model = small_cnn()

    def cancel() -> None:
        raise JobCancelled()

    with pytest.raises(JobCancelled):
        train_model(
            model, images, labels, images, labels, TrainConfig(), device="cpu", check_cancelled=cancel
        )
    with pytest.raises(LanternError, match="labels of shape"):
        train_model(model, images, labels[:-1], images, labels, TrainConfig(), device="cpu")
    with pytest.raises(LanternError, match=r"must lie in \[0, 2\)"):
        train_model(model, images, labels + 1, images, labels, TrainConfig(), device="cpu")
    with pytest.raises(LanternError, match=r"expected training images \[N, 1, H, W\]"):
        train_model(model, images.repeat(3, axis=1), labels, images, labels, TrainConfig(), device="cpu")
    with pytest.raises(LanternError, match="validation set is empty"):
        train_model(model, images, labels, images[:0], labels[:0], TrainConfig(), device="cpu")
    with pytest.raises(LanternError, match="batch_size"):
        train_model(model, images, labels, images, labels, TrainConfig(batch_size=0), device="cpu")


def test_bilstm_attention_learns_a_keyword_task() -> None:
    texts, labels = keyword_texts(500, seed=0)
    model = build_text_model("bilstm_attention", texts_for_vocab=texts[:400], num_classes=2, seed=0)
    cfg = TrainConfig(max_epochs=8, batch_size=32, lr=3e-3, min_accuracy=0.97)
    result = train_model(model, texts[:400], labels[:400], texts[400:], labels[400:], cfg, device="cpu")
    assert result.passed and result.val_accuracy >= 0.97 and result.epochs < cfg.max_epochs
    predictions = predict(model, texts[400:], device="cpu", batch_size=64)
    assert predictions.dtype == np.int64 and float((predictions == labels[400:]).mean()) >= 0.97
