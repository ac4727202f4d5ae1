"""What image and text attribution share: eval mode for the call, seeded RNG, device, superpixel grids."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from engine.core.errors import LanternError


def model_label(model: nn.Module) -> str:
    """How errors name a model: its registry name when it has one, else its class."""
    name = getattr(model, "name", "")
    return f"{name} ({type(model).__name__})" if isinstance(name, str) and name else type(model).__name__


def as_device(device: torch.device | str) -> torch.device:
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise LanternError(f"unknown device {device!r}", where="device", hint="e.g. 'cpu' or 'cuda'") from exc


@contextmanager
def explaining(model: nn.Module, device: torch.device, seed: int) -> Iterator[None]:
    """Run attribution with the model in eval mode on `device`, the global RNG forked and seeded.

    The model's train/eval mode is restored afterwards and the caller's RNG state is untouched, so
    attributing never changes training that follows. Captum takes input gradients with autograd.grad,
    so no parameter .grad is accumulated.
    """
    was_training = model.training
    model.to(device)
    model.eval()
    cuda_devices = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda_devices), warnings.catch_warnings():
            # Lime/KernelSHAP warn that a batch trains one surrogate per sample: that is what we want.
            warnings.filterwarnings("ignore", message="You are providing multiple inputs for Lime")
            # DeepLift announces the hooks it sets (and removes) on every call.
            warnings.filterwarnings("ignore", message="Setting forward, backward hooks and attributes")
            torch.manual_seed(seed)
            yield
    finally:
        model.train(was_training)


def auto_side(height: int, width: int, per_side: int = 14) -> int:
    """About 1/per_side of the shorter image side (2 px on 28x28 by default): the occlusion window and cell.

    Why this fine: a cell that straddles the effective region splits its one value between region and
    background, so the score measures the grid rather than the model. With 4-px cells on the 2-px stripes
    of the striped manipulations, every cell is half region and grid methods score exactly 0.5.
    """
    return max(1, round(min(height, width) / per_side))


def grid_mask(height: int, width: int, cell: int, device: torch.device) -> torch.Tensor:
    """Superpixels as a regular grid of cell x cell squares: feature ids LongTensor [1, 1, H, W]."""
    rows = torch.arange(height, device=device) // cell
    cols = torch.arange(width, device=device) // cell
    per_row = (width + cell - 1) // cell
    return (rows[:, None] * per_row + cols[None, :])[None, None]


def rows_per_eval(setting: int, batch: int, max_rows: int, cap: int) -> int:
    """Perturbations evaluated per forward pass: the setting, or as many as `max_rows` rows allow."""
    if setting:
        return int(setting)
    return int(max(1, min(cap, max_rows // max(batch, 1))))
