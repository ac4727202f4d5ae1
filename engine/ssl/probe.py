"""Evaluation of a frozen SSL backbone: a linear probe and a weighted kNN on its features.

The features are computed once, in eval mode under no_grad, and the probes only ever see those tensors:
the backbone cannot change (a "linear" probe that fine-tunes the backbone would measure something else).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.core.errors import LanternError

if TYPE_CHECKING:
    from engine.augment.datasets import AugmentData

_PROBE_BATCH = 256
_KNN_CHUNK = 1024


def extract_features(
    backbone: nn.Module,
    images: torch.Tensor | np.ndarray,
    *,
    batch_size: int = 512,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Features float32 [N, D] on the CPU of images [N, C, H, W], with the backbone frozen.

    The backbone runs in eval mode (batch norm uses its running statistics and does not update them) and
    is handed back in the mode and on the device it came in.
    """
    # A copy of a numpy array: ImageSet arrays may be read-only, which torch refuses to wrap.
    data = torch.from_numpy(np.array(images, copy=True)) if isinstance(images, np.ndarray) else images
    if data.dim() != 4 or not data.is_floating_point():
        raise LanternError(
            f"features need float images [N, C, H, W], got {tuple(data.shape)} of {data.dtype}",
            "feature extraction",
            "pass the images of an ImageSet (float32 in [0, 1])",
        )
    device = torch.device(device)
    was_training = backbone.training
    parameter = next(backbone.parameters(), None)
    home = parameter.device if parameter is not None else torch.device("cpu")
    backbone.eval()
    backbone.to(device)
    try:
        parts = []
        with torch.no_grad():
            for start in range(0, data.shape[0], batch_size):
                batch = data[start : start + batch_size].to(device=device, dtype=torch.float32)
                parts.append(backbone(batch).float().cpu())
        return torch.cat(parts) if parts else torch.zeros(0, 0)
    finally:
        backbone.to(home)
        backbone.train(was_training)


def _labels(values: Any) -> torch.Tensor:
    return torch.tensor(np.asarray(values), dtype=torch.int64)


def _checked_pairs(
    train_x: torch.Tensor, train_y: Any, test_x: torch.Tensor, test_y: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Features as float CPU tensors and labels as int64, checked to pair up: (train_x, train_y, test_x,
    test_y)."""
    train_x, test_x = train_x.detach().float().cpu(), test_x.detach().float().cpu()
    train_y, test_y = _labels(train_y), _labels(test_y)
    where = "probe features"
    if train_x.dim() != 2 or test_x.dim() != 2 or train_x.shape[1] != test_x.shape[1]:
        raise LanternError(
            f"features must be [N, D] with the same D, got {tuple(train_x.shape)} and {tuple(test_x.shape)}",
            where,
            "compute both with extract_features of the same backbone",
        )
    if len(train_x) != len(train_y) or len(test_x) != len(test_y) or len(train_x) == 0 or len(test_x) == 0:
        raise LanternError(
            f"{len(train_x)}/{len(train_y)} train and {len(test_x)}/{len(test_y)} test features/labels",
            where,
            "give one label per feature row, and at least one row in each split",
        )
    return train_x, train_y, test_x, test_y


def linear_probe(
    train_x: torch.Tensor,
    train_y: Any,
    test_x: torch.Tensor,
    test_y: Any,
    *,
    epochs: int = 100,
    lr: float = 0.01,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> float:
    """Top-1 test accuracy of a linear classifier trained on fixed features (Adam, minibatches of 256,
    cosine learning rate). Features are standardised with the train split's mean and spread."""
    train_x, train_y, test_x, test_y = _checked_pairs(train_x, train_y, test_x, test_y)
    mean = train_x.mean(0)
    std = train_x.std(0, unbiased=False).clamp_min(1e-6)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    classes = int(max(train_y.max(), test_y.max())) + 1
    # Zero initialisation: the problem is convex, and the result then depends only on the shuffles.
    head = nn.Linear(train_x.shape[1], classes)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    optimizer = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = -(-len(train_x) // _PROBE_BATCH)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(train_x), generator=generator)
        for start in range(0, len(order), _PROBE_BATCH):
            rows = order[start : start + _PROBE_BATCH]
            loss = F.cross_entropy(head(train_x[rows]), train_y[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
    with torch.no_grad():
        predicted = head(test_x).argmax(1)
    return float((predicted == test_y).float().mean())


def knn_top1(
    train_x: torch.Tensor,
    train_y: Any,
    test_x: torch.Tensor,
    test_y: Any,
    *,
    k: int = 20,
    temperature: float = 0.07,
) -> float:
    """Top-1 test accuracy of a weighted kNN on cosine similarity (Wu et al. 2018): each of the k nearest
    train samples votes for its class with weight exp(similarity / temperature)."""
    train_x, train_y, test_x, test_y = _checked_pairs(train_x, train_y, test_x, test_y)
    if k < 1 or temperature <= 0:
        raise LanternError(
            f"kNN needs k >= 1 and temperature > 0, got {k}, {temperature}", "kNN", "k=20, 0.07"
        )
    k = min(k, len(train_x))
    classes = int(max(train_y.max(), test_y.max())) + 1
    train_n, test_n = F.normalize(train_x, dim=1), F.normalize(test_x, dim=1)
    correct = 0
    for start in range(0, len(test_n), _KNN_CHUNK):
        similarity = test_n[start : start + _KNN_CHUNK] @ train_n.T
        top, index = similarity.topk(k, dim=1)
        votes = torch.zeros(len(top), classes)
        votes.scatter_add_(1, train_y[index], (top / temperature).exp())
        correct += int((votes.argmax(1) == test_y[start : start + _KNN_CHUNK]).sum())
    return correct / len(test_n)


def evaluate_backbone(
    backbone: nn.Module,
    data: AugmentData,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    probe_epochs: int = 100,
) -> dict[str, float]:
    """Linear-probe and kNN top-1 on data.test of the frozen backbone's features (probe trained on
    data.train): {"linear_top1": ..., "knn_top1": ...}."""
    train_x = extract_features(backbone, data.train.images, device=device)
    test_x = extract_features(backbone, data.test.images, device=device)
    return {
        "linear_top1": linear_probe(
            train_x, data.train.labels, test_x, data.test.labels, epochs=probe_epochs, seed=seed
        ),
        "knn_top1": knn_top1(train_x, data.train.labels, test_x, data.test.labels),
    }
