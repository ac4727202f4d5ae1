"""Train an attribution model until its validation accuracy passes a threshold above p* (Zhou et al. 2022).

A model that beats p* on modified data must use the manipulation's region; runs whose best validation
accuracy stays below the threshold are reported as not passed and dropped by the experiment. Training is
Adam on shuffled minibatches, evaluated each epoch; it stops as soon as the threshold is reached, or after
`patience` epochs without improvement, and always leaves the best weights in the model. Float32 throughout
(the models are small; autocast would only add nondeterminism).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.attribution.models.image_base import ImageModel
from engine.attribution.models.text_base import TextModel
from engine.core.device import DeviceChoice
from engine.core.errors import LanternError

ProgressCallback = Callable[[int, int], None]  # (batches done, batches at most)
MetricsCallback = Callable[[float, dict[str, float]], None]  # (epoch, values)
CancelCheck = Callable[[], None]  # raises JobCancelled when the user asked to stop
DeviceLike = torch.device | str | DeviceChoice
Inputs = np.ndarray | Sequence[Sequence[str]]


@dataclass(frozen=True)
class TrainConfig:
    max_epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    min_accuracy: float = 0.97  # the paper's filter; must lie above p* (check_threshold)
    patience: int = 5  # epochs without a better validation accuracy before giving up
    seed: int = 0  # shuffling, dropout and sampling noise

    def validate(self) -> None:
        for key in ("max_epochs", "batch_size", "patience"):
            if getattr(self, key) < 1:
                raise LanternError(f"train setting '{key}' must be at least 1", f"train: {key}", "e.g. 5")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise LanternError(
                f"train setting 'lr' must be positive, got {self.lr}", "train: lr", "e.g. 1e-3"
            )
        if not self.weight_decay >= 0:
            raise LanternError(
                f"train setting 'weight_decay' must be >= 0, got {self.weight_decay}", "train: weight_decay"
            )
        if not 0.0 < self.min_accuracy <= 1.0:
            raise LanternError(
                f"min_accuracy must lie in (0, 1], got {self.min_accuracy}",
                "train: min_accuracy",
                "e.g. 0.97, as the paper",
            )


@dataclass(frozen=True)
class TrainResult:
    val_accuracy: float  # best validation accuracy, that of the weights left in the model
    epochs: int  # epochs run
    passed: bool  # val_accuracy >= min_accuracy
    history: list[dict[str, float]] = field(default_factory=list)  # one entry per epoch


def check_threshold(min_accuracy: float, p_star: float) -> None:
    """Raise unless min_accuracy > p*: only accuracy above p* proves the model uses the manipulation."""
    if not min_accuracy > p_star:
        raise LanternError(
            f"the accuracy threshold must lie above p* = {p_star:.3f}, or no model could prove it uses the "
            f"manipulation (min_accuracy is {min_accuracy:.3f})",
            "train: min_accuracy",
            f"raise min_accuracy above {p_star:.3f}, or move r closer to 0.5 to lower p*",
        )
    if min_accuracy > 1.0:
        raise LanternError(
            f"min_accuracy {min_accuracy:.3f} lies above 1, so no model could pass",
            "train: min_accuracy",
            f"choose a threshold in ({p_star:.3f}, 1]",
        )


def resolve_device(device: DeviceLike) -> torch.device:
    return torch.device(device.device if isinstance(device, DeviceChoice) else device)


def train_model(
    model: nn.Module,
    train_inputs: Inputs,
    train_labels: np.ndarray,
    val_inputs: Inputs,
    val_labels: np.ndarray,
    cfg: TrainConfig,
    *,
    device: DeviceLike,
    progress: ProgressCallback | None = None,
    check_cancelled: CancelCheck | None = None,
    metrics: MetricsCallback | None = None,
) -> TrainResult:
    """Fit `model` (an image model on float [N, C, H, W] arrays in [0, 1], or a TextModel on token lists)."""
    cfg.validate()
    target = resolve_device(device)
    train = _Data.of(model, train_inputs, train_labels, "training")
    val = _Data.of(model, val_inputs, val_labels, "validation")
    model.to(target)
    batches = math.ceil(len(train) / cfg.batch_size)
    total = batches * cfg.max_epochs
    history: list[dict[str, float]] = []
    best_accuracy, best_state, stale, done = -1.0, _state(model), 0, 0
    forked = [target] if target.type == "cuda" else []
    with torch.random.fork_rng(devices=forked):
        torch.manual_seed(cfg.seed)
        groups = model.parameter_groups(cfg.lr) if isinstance(model, TextModel) else model.parameters()
        optimizer = torch.optim.Adam(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
        for epoch in range(1, cfg.max_epochs + 1):
            started = time.perf_counter()
            model.train()
            order = np.random.default_rng([cfg.seed, epoch]).permutation(len(train))
            loss_sum, correct = 0.0, 0
            for start in range(0, len(train), cfg.batch_size):
                if check_cancelled is not None:
                    check_cancelled()
                index = order[start : start + cfg.batch_size]
                logits, labels = train.forward(model, index, target)
                loss = F.cross_entropy(logits, labels)
                extra = model.extra_loss() if isinstance(model, TextModel) else None
                total_loss = loss if extra is None else loss + extra
                optimizer.zero_grad(set_to_none=True)
                total_loss.backward()
                optimizer.step()
                loss_sum += float(loss.detach()) * len(index)
                correct += int((logits.detach().argmax(dim=1) == labels).sum())
                done += 1
                if progress is not None:
                    progress(done, total)
            accuracy = _accuracy(model, val, target, cfg.batch_size)
            entry = {
                "epoch": float(epoch),
                "train_loss": loss_sum / len(train),
                "train_accuracy": correct / len(train),
                "val_accuracy": accuracy,
                "seconds": time.perf_counter() - started,
            }
            history.append(entry)
            if metrics is not None:
                metrics(float(epoch), {k: v for k, v in entry.items() if k != "epoch"})
            if accuracy > best_accuracy:
                best_accuracy, best_state, stale = accuracy, _state(model), 0
            else:
                stale += 1
            if best_accuracy >= cfg.min_accuracy or stale >= cfg.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    if progress is not None:
        progress(total, total)
    return TrainResult(
        val_accuracy=best_accuracy,
        epochs=len(history),
        passed=best_accuracy >= cfg.min_accuracy,
        history=history,
    )


def predict(model: nn.Module, inputs: Inputs, *, device: DeviceLike, batch_size: int = 256) -> np.ndarray:
    """Predicted classes, int64 [N], in eval mode (leaves the model on `device`)."""
    target = resolve_device(device)
    data = _Data.of(model, inputs, None, "prediction")
    model.to(target)
    return _predictions(model, data, target, max(1, batch_size))


@dataclass
class _Data:
    """Inputs (a CPU tensor of images, or token lists) with labels, batched for one model."""

    text: bool
    images: torch.Tensor | None
    texts: list[list[str]] | None
    labels: torch.Tensor | None

    @classmethod
    def of(cls, model: nn.Module, inputs: Inputs, labels: np.ndarray | None, what: str) -> _Data:
        text = isinstance(model, TextModel)
        count = len(inputs)
        if count == 0:
            raise LanternError(
                f"the {what} set is empty", f"train: {what} inputs", "give it at least one sample"
            )
        label_tensor = None
        if labels is not None:
            label_array = np.asarray(labels)
            if label_array.shape != (count,):
                raise LanternError(
                    f"{count} {what} inputs but labels of shape {list(label_array.shape)}",
                    f"train: {what} labels",
                    "give one integer label per sample",
                )
            classes = int(getattr(model, "num_classes", 0)) or None
            if label_array.min() < 0 or (classes is not None and label_array.max() >= classes):
                raise LanternError(
                    f"{what} labels must lie in [0, {classes}), got {label_array.min()}..{label_array.max()}",
                    f"train: {what} labels",
                    "relabel the data or build the model with more classes",
                )
            label_tensor = torch.as_tensor(label_array.astype(np.int64))
        if text:
            if isinstance(inputs, np.ndarray) and inputs.dtype != object:
                raise LanternError(
                    f"a text model needs token lists, got an array of {inputs.dtype}",
                    f"train: {what} inputs",
                    "pass one list of word strings per sample",
                )
            return cls(True, None, [list(t) for t in inputs], label_tensor)
        array = np.asarray(inputs, dtype=np.float32)
        channels = getattr(model, "in_channels", None) if isinstance(model, ImageModel) else None
        if array.ndim != 4 or (channels is not None and array.shape[1] != channels):
            raise LanternError(
                f"expected {what} images [N, {channels or 'C'}, H, W], got {list(array.shape)}",
                f"train: {what} inputs",
                "pass float32 images in [0, 1] with the channels the model was built for",
            )
        return cls(False, torch.from_numpy(np.ascontiguousarray(array)), None, label_tensor)

    def __len__(self) -> int:
        return len(self.texts) if self.texts is not None else int(self.images.shape[0])  # type: ignore[union-attr]

    def forward(self, model: nn.Module, index: np.ndarray, device: torch.device) -> tuple[torch.Tensor, Any]:
        """(logits [b, K], labels [b] on device or None) for the samples at `index`."""
        labels = self.labels[index].to(device) if self.labels is not None else None
        if self.texts is not None:
            enc = model.encode([self.texts[i] for i in index]).to(device)  # type: ignore[operator]
            return model(enc.ids, enc.mask), labels
        assert self.images is not None
        return model(self.images[index].to(device, non_blocking=True)), labels


def _predictions(model: nn.Module, data: _Data, device: torch.device, batch_size: int) -> np.ndarray:
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(data), batch_size):
            index = np.arange(start, min(start + batch_size, len(data)))
            logits, _ = data.forward(model, index, device)
            out.append(logits.argmax(dim=1).cpu().numpy())
    return np.concatenate(out).astype(np.int64)


def _accuracy(model: nn.Module, data: _Data, device: torch.device, batch_size: int) -> float:
    assert data.labels is not None
    predictions = _predictions(model, data, device, max(batch_size, 256))
    return float((predictions == data.labels.numpy()).mean())


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in model.state_dict().items()}
