"""A torchrun worker for test_distributed_ssl: trains each SSL method on a tiny fixed set, saves the results.

Run as `torchrun --standalone --nproc_per_node 2 ssl_ddp_worker.py OUT_FOLDER [CONFIG_JSON]`; every rank
writes OUT_FOLDER/rank{r}.pt with, per method, the epoch losses and the backbone's state dict. CONFIG_JSON
overrides settings of the tiny config.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from engine.core import distributed
from engine.ssl.config import SSLConfig
from engine.ssl.training import train_ssl

# Shared with the test: the single-process reference run uses exactly these.
IMAGE_COUNT, SIDE, IMAGE_SEED = 64, 16, 0
SMALL = {
    "simclr": {"hidden_dim": 16, "out_dim": 8},
    "simsiam": {"dim": 16, "predictor_dim": 8},
    "byol": {"hidden_dim": 16, "out_dim": 8},
    "moco_v2": {"hidden_dim": 16, "out_dim": 8, "queue_size": 48},
    "barlow_twins": {"dim": 16},
}


def tiny_images() -> torch.Tensor:
    return torch.rand(IMAGE_COUNT, 1, SIDE, SIDE, generator=torch.Generator().manual_seed(IMAGE_SEED))


def tiny_config(method: str, **overrides: object) -> SSLConfig:
    # Batch 32 of 64 images for 1 epoch: 2 optimiser steps, each over a global batch split 16 + 16.
    settings: dict[str, object] = {
        "method": method,
        "method_settings": SMALL[method],
        "width": 8,
        "blocks": (1, 1),
        "epochs": 1,
        "batch_size": 32,
        "optimizer": "sgd",
        "lr": 0.01,
        "warmup_epochs": 0,
        "precision": "fp32",
    }
    settings.update(overrides)
    return SSLConfig.model_validate(settings)


def main(out: Path, overrides: dict[str, object]) -> None:
    torch.set_num_threads(1)
    if not distributed.init_from_env():
        raise SystemExit("this worker must be started by torchrun with 2 or more processes")
    try:
        results = {}
        for method in SMALL:
            result = train_ssl(tiny_images(), tiny_config(method, **overrides))
            results[method] = {
                "losses": result.epoch_losses,
                "state": {k: v.detach().clone() for k, v in result.backbone.state_dict().items()},
            }
        results["world_size"] = distributed.world_size()  # type: ignore[assignment]
        torch.save(results, out / f"rank{distributed.rank()}.pt")
        distributed.barrier()
    finally:
        distributed.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]), json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
