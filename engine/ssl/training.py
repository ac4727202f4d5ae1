"""SSL training: two classically augmented views per image, one method's loss, warm-up + cosine schedule.

View 1 is always the real image; view 2 starts from `second_view(indices, images, generator)` (the
source itself by default, a bank view for the generative arms) and gets its own classic augmentation.
Runs unchanged under torchrun: every rank draws the same global permutation and augmentations from the
same seed and trains on its slice of each global batch; the methods compute their loss over the gathered
global batch and the backbone's batch norm is global, so N processes follow one process's trajectory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from engine.core import distributed
from engine.core.errors import LanternError
from engine.ssl.backbone import ResNetBackbone, build_backbone
from engine.ssl.config import SSLConfig
from engine.ssl.methods import make_method, method_class
from engine.ssl.methods.base import SSLMethod

# (indices LongTensor[B] on the CPU, images float [B, C, H, W] on the device, CPU generator) -> the images
# view 2 starts from, float [B, C, H, W] in [0, 1] (any device: moved to the images' device).
SecondView = Callable[[torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]

# Offsets of the seeds of the run's independent random streams (initialisation uses the seed itself).
_ORDER_STREAM = 1
_AUGMENT_STREAM = 2
_SECOND_VIEW_STREAM = 3


@dataclass
class SSLResult:
    """A trained run: the backbone (eval mode), the method around it, mean loss per epoch, training speed."""

    backbone: ResNetBackbone
    method: SSLMethod
    epoch_losses: list[float] = field(default_factory=list)
    images_per_second: float = 0.0


def _check_images(images: torch.Tensor, config: SSLConfig) -> None:
    where = "SSL training images"
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or not images.is_floating_point():
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise LanternError(
            f"SSL training takes float images [N, C, H, W] in [0, 1], got {shape}",
            where,
            "convert the images to a float tensor with a channel dimension",
        )
    count = int(images.shape[0])
    if count < config.batch_size:
        raise LanternError(
            f"{count} images make no full batch of {config.batch_size} (incomplete batches are dropped)",
            where,
            f"use a batch_size of at most {count}, or more images",
        )
    size = distributed.world_size()
    if config.batch_size % size:
        raise LanternError(
            f"batch_size {config.batch_size} does not split evenly over {size} processes",
            "SSL config",
            f"choose a batch_size divisible by {size}",
        )
    low, high = float(images.min()), float(images.max())
    if low < 0.0 or high > 1.0:
        raise LanternError(
            f"SSL training images must lie in [0, 1], got values in [{low:.3g}, {high:.3g}]",
            where,
            "scale the images to [0, 1] (e.g. divide uint8 pixels by 255)",
        )


def _parameter_groups(method: SSLMethod, weight_decay: float) -> list[dict[str, object]]:
    # Weight decay on biases and normalisation scales only shrinks them; the usual practice exempts them.
    decay, no_decay = [], []
    for parameter in method.trainable_parameters():
        (no_decay if parameter.ndim <= 1 else decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(method: SSLMethod, config: SSLConfig) -> torch.optim.Optimizer:
    """The optimiser the config names, over the method's trainable parameters."""
    groups = _parameter_groups(method, config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    return torch.optim.AdamW(groups, lr=config.lr)


def learning_rate(config: SSLConfig, step: int, total_steps: int, steps_per_epoch: int) -> float:
    """The learning rate of optimiser step `step` (0-based): linear warm-up, then cosine to 0 or constant."""
    warmup = round(config.warmup_epochs * steps_per_epoch)
    if step < warmup:
        return config.lr * (step + 1) / warmup
    if config.schedule == "constant":
        return config.lr
    progress = (step - warmup) / max(1, total_steps - warmup)
    return config.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_method(config: SSLConfig, in_channels: int, dataset_size: int) -> SSLMethod:
    """The config's backbone and method, initialised from config.seed (identical on every rank)."""
    torch.manual_seed(config.seed)
    backbone = build_backbone(config.backbone_config(in_channels))
    settings = method_class(config.method).fit_settings(
        dict(config.method_settings), dataset_size=dataset_size, batch_size=config.batch_size
    )
    return make_method(config.method, backbone, **settings)


def train_ssl(
    images: torch.Tensor,
    config: SSLConfig,
    *,
    second_view: SecondView | None = None,
    device: str | torch.device = "cpu",
    on_epoch: Callable[[int, float], None] | None = None,
    check_cancelled: Callable[[], None] | None = None,
) -> SSLResult:
    """Train config.method on `images` float [N, C, H, W] in [0, 1]; same config and seed, same result.

    on_epoch(epoch, mean loss) is called after each epoch (1-based; on the main process only);
    check_cancelled is called before every step and may raise to stop. The last incomplete batch of
    each epoch is dropped.
    """
    from engine.augment.classic import ClassicAugment

    _check_images(images, config)
    device = torch.device(device)
    count, channels = int(images.shape[0]), int(images.shape[1])
    data = images.detach().to(device=device, dtype=torch.float32)
    method = build_method(config, channels, count).to(device)
    model: nn.Module = distributed.wrap(method)
    model.train()
    optimizer = make_optimizer(method, config)
    first_config, second_config = config.classic_configs()
    augment_first, augment_second = ClassicAugment(first_config), ClassicAugment(second_config)

    # CPU generators: the same draws on every device and on every rank.
    order_gen = torch.Generator().manual_seed(config.seed * 10 + _ORDER_STREAM)
    augment_gen = torch.Generator().manual_seed(config.seed * 10 + _AUGMENT_STREAM)
    view_gen = torch.Generator().manual_seed(config.seed * 10 + _SECOND_VIEW_STREAM)
    steps_per_epoch = count // config.batch_size
    total_steps = steps_per_epoch * config.epochs
    autocast = config.precision == "bf16"

    epoch_losses: list[float] = []
    step = 0
    train_seconds = 0.0
    for epoch in range(config.epochs):
        permutation = torch.randperm(count, generator=order_gen)
        loss_sum = torch.zeros((), device=device)
        for batch in range(steps_per_epoch):
            if check_cancelled is not None:
                check_cancelled()
            started = time.perf_counter()
            indices = permutation[batch * config.batch_size : (batch + 1) * config.batch_size]
            source = data[indices.to(device)]
            start2 = source if second_view is None else second_view(indices, source, view_gen)
            view1 = augment_first(source, augment_gen)
            view2 = augment_second(start2.to(device=device, dtype=torch.float32), augment_gen)
            view1, view2 = distributed.local_slice(view1), distributed.local_slice(view2)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step, total_steps, steps_per_epoch)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
                loss = model(view1, view2)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            method.step_end(step / total_steps)
            loss_sum += loss.detach().float()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            train_seconds += time.perf_counter() - started
        mean_loss = float(distributed.all_reduce_mean(loss_sum)) / steps_per_epoch
        if not math.isfinite(mean_loss):
            raise LanternError(
                f"the {config.method} loss became {mean_loss} in epoch {epoch + 1}",
                "SSL training",
                "lower the learning rate, or use precision fp32",
            )
        epoch_losses.append(mean_loss)
        if on_epoch is not None and distributed.is_main():
            on_epoch(epoch + 1, mean_loss)
    method.eval()
    rate = total_steps * config.batch_size / max(train_seconds, 1e-9)
    return SSLResult(
        backbone=method.backbone,  # type: ignore[arg-type]
        method=method,
        epoch_losses=epoch_losses,
        images_per_second=rate,
    )
