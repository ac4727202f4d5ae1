"""A torchrun worker for test_distributed_generator: trains a tiny instance-diffusion generator, saves it.

Run as `torchrun --standalone --nproc_per_node 2 generator_ddp_worker.py OUT_FOLDER [--no-sync]`; rank 0
writes OUT_FOLDER/checkpoint.safetensors (the training checkpoint, raw and EMA weights). With --no-sync the
model is not wrapped in DistributedDataParallel, so each rank steps on its own half of the batch: the
negative control that shows the test can tell averaged gradients from rank-local ones.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from engine.augment.instance_diffusion import InstanceDiffusionConfig, train_instance_diffusion
from engine.core import distributed
from engine.ssl.backbone import BackboneConfig, build_backbone

CONFIG = InstanceDiffusionConfig(
    image_size=16, block_out_channels=(8, 16), layers_per_block=1, epochs=1, batch_size=16, lr=1e-2, ema=0.0
)


def tiny_images() -> torch.Tensor:
    """32 bright squares at seeded places: the same set in every process."""
    g = torch.Generator().manual_seed(0)
    out = torch.zeros(32, 1, 16, 16)
    for i in range(out.shape[0]):
        r, c = torch.randint(0, 10, (2,), generator=g).tolist()
        out[i, 0, r : r + 6, c : c + 6] = 0.5 + 0.5 * torch.rand((), generator=g)
    return out


def tiny_encoder() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_backbone(BackboneConfig(in_channels=1, width=8, blocks=(1, 1)))


def main() -> None:
    torch.set_num_threads(1)
    out = Path(sys.argv[1])
    if "--no-sync" in sys.argv:
        distributed.wrap = lambda module: module  # rank-local gradients: the control
    try:
        train_instance_diffusion(
            tiny_images(),
            tiny_encoder(),
            CONFIG,
            checkpoint_path=out / "checkpoint.safetensors",
            sample_grid=(1, 1),
        )
        distributed.barrier()
    finally:
        distributed.shutdown()


if __name__ == "__main__":
    main()
