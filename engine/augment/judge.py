"""The faithfulness judge: a small CNN classifier trained on the labelled real images, blind to generators.

It answers two questions about a generated view: does the view still look like its source (cosine between
the judge's penultimate features) and does it keep the source's class (the judge's prediction). It is
trained with random shifts and flips so that a view that is merely moved or mirrored is not judged
unfaithful. Saved as a folder: judge.safetensors (weights) and judge.json (architecture, classes, shape).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.attribution.types import ImageSet
from engine.core.errors import LanternError

FORMAT = "lantern-judge"
VERSION = 1
WEIGHTS_FILE = "judge.safetensors"
META_FILE = "judge.json"
# Shifts of up to this many pixels during training: views come from crops and generators that move things.
MAX_SHIFT = 2
EVAL_BATCH = 512


@dataclass(frozen=True)
class JudgeArchitecture:
    """Conv widths of the blocks; the last width is the feature dimension."""

    in_channels: int
    num_classes: int
    # Four blocks, not three: the fourth sees the whole 28x28 image (receptive field 36 pixels) before the
    # global pool, which lifted test accuracy on the bundled Fashion-MNIST from 0.75 to 0.83 at 5 epochs.
    widths: tuple[int, ...] = (16, 32, 64, 64)

    def to_dict(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "num_classes": self.num_classes, "widths": list(self.widths)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JudgeArchitecture:
        return cls(
            in_channels=int(data["in_channels"]),
            num_classes=int(data["num_classes"]),
            widths=tuple(int(w) for w in data["widths"]),
        )


class JudgeNet(nn.Module):
    """Conv blocks (conv, batch norm, ReLU; all but the last halve the size), global average pool, linear."""

    def __init__(self, arch: JudgeArchitecture) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = arch.in_channels
        for index, width in enumerate(arch.widths):
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
            if index < len(arch.widths) - 1:
                layers.append(nn.MaxPool2d(2))
            channels = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(channels, arch.num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


def _as_tensor(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    if isinstance(images, np.ndarray):
        array = np.ascontiguousarray(images, dtype=np.float32)
        # torch warns about read-only arrays (memory-mapped files, shared bank shards): copy those.
        return torch.from_numpy(array if array.flags.writeable else array.copy())
    return images.float()


class Judge:
    """A trained judge: features, predictions and accuracy on images float [B, C, H, W] in [0, 1].

    Outputs are CPU tensors whatever the judge's device, so callers can hand them straight to numpy.
    """

    def __init__(
        self,
        net: JudgeNet,
        arch: JudgeArchitecture,
        class_names: tuple[str, ...],
        image_size: tuple[int, int],
        train_accuracy: float,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.net = net.eval()
        self.arch = arch
        self.class_names = class_names
        self.image_size = image_size
        self.train_accuracy = train_accuracy
        self.info = dict(info or {})  # provenance: epochs, seed, training source

    @property
    def channels(self) -> int:
        return self.arch.in_channels

    @property
    def feature_dim(self) -> int:
        return self.arch.widths[-1]

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def _check(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or tuple(images.shape[1:]) != (self.channels, *self.image_size):
            raise LanternError(
                f"the judge takes images [B, {self.channels}, {self.image_size[0]}, {self.image_size[1]}], "
                f"got {tuple(images.shape)}",
                "faithfulness judge",
                "judge views with a judge trained on images of the same dataset (same channels and size)",
            )
        return images

    @torch.no_grad()
    def _run(self, images: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(L2-normalised features, logits) for every image, in batches, on the CPU."""
        images = self._check(_as_tensor(images))
        self.net.eval()
        features, logits = [], []
        for start in range(0, images.shape[0], EVAL_BATCH):
            batch = images[start : start + EVAL_BATCH].to(self.device)
            embedded = self.net.embed(batch)
            logits.append(self.net.head(embedded).float().cpu())
            features.append(F.normalize(embedded.float(), dim=1).cpu())
        if not features:
            return torch.zeros(0, self.feature_dim), torch.zeros(0, self.arch.num_classes)
        return torch.cat(features), torch.cat(logits)

    def features(self, images: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Penultimate features, L2-normalised, float [B, D]."""
        return self._run(images)[0]

    def predict(self, images: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(labels int64 [B], class probabilities float [B, K])."""
        _, labels, probs = self.assess(images)
        return labels, probs

    def assess(self, images: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(features [B, D], labels [B], probabilities [B, K]) from one forward pass."""
        features, logits = self._run(images)
        probs = logits.softmax(dim=1)
        return features, probs.argmax(dim=1), probs

    def accuracy(self, images: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray) -> float:
        """Share of images whose predicted class is the given label."""
        predicted, _ = self.predict(images)
        truth = torch.as_tensor(np.array(labels, dtype=np.int64))
        if truth.shape != predicted.shape:
            raise LanternError(
                f"{predicted.shape[0]} images but {truth.numel()} labels",
                "faithfulness judge accuracy",
                "pass one label per image",
            )
        return float((predicted == truth).float().mean()) if truth.numel() else 0.0

    def save(self, folder: Path | str) -> Path:
        """Write judge.safetensors and judge.json into the folder (created if needed); returns the folder."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "architecture": self.arch.to_dict(),
            "class_names": list(self.class_names),
            "channels": self.channels,
            "image_size": list(self.image_size),
            "train_accuracy": self.train_accuracy,
            "info": self.info,
        }
        state = {key: t.detach().cpu().contiguous() for key, t in self.net.state_dict().items()}
        # Each file goes to a temporary name first, so an interrupted save never leaves a half-written judge.
        _write_atomic(folder / WEIGHTS_FILE, lambda path: save_file(state, str(path)))
        _write_atomic(folder / META_FILE, lambda path: path.write_text(json.dumps(meta, indent=2)))
        return folder

    @classmethod
    def load(cls, folder: Path | str, device: str | torch.device = "cpu") -> Judge:
        """A judge saved by `save`; a missing folder or file, or a damaged one, raises LanternError."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        folder = Path(folder)
        hint = "train a judge again (train_judge) and save it to this folder"
        if not folder.is_dir():
            raise LanternError("there is no judge folder here", str(folder), hint)
        for name in (META_FILE, WEIGHTS_FILE):
            if not (folder / name).is_file():
                raise LanternError(f"the judge folder lacks {name}", str(folder / name), hint)
        try:
            meta = json.loads((folder / META_FILE).read_text())
            if meta.get("format") != FORMAT:
                raise ValueError(f"format is {meta.get('format')!r}, not {FORMAT!r}")
            if int(meta.get("version", 0)) > VERSION:
                raise ValueError(f"layout {meta['version']} is newer than this Lantern reads ({VERSION})")
            arch = JudgeArchitecture.from_dict(meta["architecture"])
            class_names = tuple(str(name) for name in meta["class_names"])
            height, width = (int(v) for v in meta["image_size"])
            train_accuracy = float(meta["train_accuracy"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LanternError(
                f"the judge's description is damaged ({exc})", str(folder / META_FILE), hint
            ) from exc
        net = JudgeNet(arch)
        try:
            state = load_file(str(folder / WEIGHTS_FILE), device="cpu")
            net.load_state_dict(state)
        except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
            raise LanternError(
                f"the judge's weights cannot be read ({str(exc).splitlines()[0]})",
                str(folder / WEIGHTS_FILE),
                hint,
            ) from exc
        return cls(
            net.to(device),
            arch,
            class_names,
            (height, width),
            train_accuracy,
            info=dict(meta.get("info") or {}),
        )


def _write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def shift_and_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image moved by up to MAX_SHIFT pixels each way (zero fill) and mirrored with probability 0.5."""
    batch, _, height, width = images.shape
    device = images.device
    shifts = torch.randint(0, 2 * MAX_SHIFT + 1, (batch, 2), generator=generator, device=generator.device).to(
        device
    )
    flips = (torch.rand(batch, generator=generator, device=generator.device) < 0.5).to(device)
    padded = F.pad(images, (MAX_SHIFT, MAX_SHIFT, MAX_SHIFT, MAX_SHIFT))
    rows = shifts[:, 0, None] + torch.arange(height, device=device)[None, :]
    cols = shifts[:, 1, None] + torch.arange(width, device=device)[None, :]
    # Mirroring is reading the columns in reverse order.
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    picked = padded[torch.arange(batch, device=device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    return picked.permute(0, 3, 1, 2).contiguous()  # advanced indexing put the channels last


def _check_train(train: ImageSet, epochs: int, batch_size: int, widths: tuple[int, ...]) -> None:
    images, labels = train.images, train.labels
    if images.ndim != 4 or images.shape[1] not in (1, 3) or images.shape[0] == 0:
        raise LanternError(
            f"the judge trains on images [N, 1 or 3, H, W], got {images.shape}",
            train.source or "judge training data",
            "pass an ImageSet from load_augment_data",
        )
    if labels.shape != (images.shape[0],):
        raise LanternError(
            f"{images.shape[0]} images but labels of shape {labels.shape}",
            train.source or "judge training data",
            "pass one label per image",
        )
    if len(train.class_names) < 2 or labels.min() < 0 or labels.max() >= len(train.class_names):
        raise LanternError(
            f"labels must lie in [0, {len(train.class_names)}) over at least 2 classes",
            train.source or "judge training data",
            "check the dataset's class names and labels",
        )
    smallest = 2 ** (len(widths) - 1)
    if not widths or min(images.shape[2:]) < smallest:
        raise LanternError(
            f"images of {images.shape[2]}x{images.shape[3]} pixels are too small for {len(widths)} blocks",
            train.source or "judge training data",
            f"use images of at least {smallest}x{smallest} pixels, or fewer widths",
        )
    if epochs < 1 or batch_size < 1:
        raise LanternError(
            f"epochs and batch_size must be at least 1, got {epochs} and {batch_size}",
            "judge training",
            "e.g. epochs=5, batch_size=128",
        )


@torch.no_grad()
def recalibrate_batch_norm(net: nn.Module, images: torch.Tensor, batch_size: int = 256) -> None:
    """Replace batch norm's running statistics by exact averages over the images, under the final weights.

    The running averages lag behind weights that moved during training; after a short training (a few
    dozen steps) they are far enough off that eval-mode predictions collapse. One forward pass fixes that.
    """
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for module in norms:
        module.reset_running_stats()
        module.momentum = None  # None: a cumulative average, each batch weighted equally
    net.train()
    for start in range(0, images.shape[0], batch_size):
        net(images[start : start + batch_size])
    for module, momentum in zip(norms, momenta, strict=True):
        module.momentum = momentum
    net.eval()


def train_judge(
    train: ImageSet,
    *,
    epochs: int = 5,
    batch_size: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    device: str | torch.device = "cpu",
    on_epoch: Callable[[int, float, float], None] | None = None,
    widths: tuple[int, ...] = JudgeArchitecture.widths,
) -> Judge:
    """Train a judge on labelled real images; on_epoch(epoch from 1, mean loss, batch accuracy) per epoch.

    Seeded: the same data, seed and device give the same judge. The recorded train accuracy is measured
    on the un-augmented training images at the end.
    """
    _check_train(train, epochs, batch_size, widths)
    arch = JudgeArchitecture(
        in_channels=int(train.images.shape[1]), num_classes=len(train.class_names), widths=widths
    )
    # Seed the initial weights without touching the caller's global random state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = JudgeNet(arch)
    device = torch.device(device)
    net.to(device).train()
    images = _as_tensor(train.images).to(device)
    labels = torch.from_numpy(np.array(train.labels, dtype=np.int64)).to(device)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = -(-images.shape[0] // batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.2
    )
    for epoch in range(1, epochs + 1):
        order = torch.randperm(images.shape[0], generator=generator).to(device)
        total_loss, correct = 0.0, 0
        for start in range(0, images.shape[0], batch_size):
            index = order[start : start + batch_size]
            batch = shift_and_flip(images[index], generator)
            logits = net(batch)
            loss = F.cross_entropy(logits, labels[index])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            scheduler.step()
            total_loss += float(loss.detach()) * index.numel()
            correct += int((logits.argmax(dim=1) == labels[index]).sum())
        if on_epoch is not None:
            on_epoch(epoch, total_loss / images.shape[0], correct / images.shape[0])
    recalibrate_batch_norm(net, images, batch_size=max(batch_size, 256))
    judge = Judge(
        net,
        arch,
        tuple(train.class_names),
        (int(train.images.shape[2]), int(train.images.shape[3])),
        train_accuracy=0.0,
        info={"epochs": epochs, "seed": seed, "lr": lr, "batch_size": batch_size, "trained_on": train.source},
    )
    judge.train_accuracy = judge.accuracy(train.images, train.labels)
    return judge
