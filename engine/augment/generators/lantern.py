"""The `lantern` generator: views from Lantern's own instance-conditioned diffusion model (offline).

Wraps engine.augment.instance_diffusion.InstanceDiffusion behind the generator interface of
docs/AUGMENT-CONTRACT.md. checkpoint "bundled" (the default) is the Fashion-MNIST generator shipped in
assets/augment/fashion-mnist/ (made by scripts/train_bundled_generator.py); any folder written by
InstanceDiffusion.save (e.g. by job `augment.train_generator`) works too.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from engine.augment.generators.base import Generator, is_out_of_memory
from engine.core.errors import LanternError

if TYPE_CHECKING:
    import torch

    from engine.augment.instance_diffusion import InstanceDiffusion

BUNDLED = "bundled"
BUNDLED_FOLDER = ("augment", "fashion-mnist")  # under engine.core.paths.assets_dir()


def bundled_folder() -> Path:
    from engine.core.paths import assets_dir

    return assets_dir().joinpath(*BUNDLED_FOLDER)


def resolve_checkpoint(checkpoint: str | Path | None) -> Path:
    """The generator folder a checkpoint argument names ("bundled" and None: the shipped one)."""
    if checkpoint is None or str(checkpoint) == BUNDLED:
        folder = bundled_folder()
        if not (folder / "config.json").is_file():
            raise LanternError(
                "the bundled Fashion-MNIST generator is not installed",
                str(folder),
                "run `python scripts/train_bundled_generator.py`, or pass a generator folder as checkpoint",
            )
        return folder
    return Path(checkpoint).expanduser()


class LanternGenerator(Generator):
    """Views of a source image sampled from an instance-conditioned diffusion model (DDIM).

    All sources x count views are one sampling pass (InstanceDiffusion.sample: one noise draw from `seed`,
    chunked forwards); `max_batch` is the rows per UNet forward, halved on out-of-memory, which changes
    nothing in the views because the noise is drawn before chunking.
    """

    name: ClassVar[str] = "lantern"  # title, description and settings come from the catalogue

    def __init__(self, checkpoint: str | Path | None = BUNDLED, device: str = "cpu") -> None:
        from engine.augment.instance_diffusion import CPU_SAMPLE_BATCH, CUDA_SAMPLE_BATCH, InstanceDiffusion

        self.checkpoint = resolve_checkpoint(checkpoint)
        self.device = device
        self.model: InstanceDiffusion = InstanceDiffusion.load(self.checkpoint, device=device)
        self.max_batch = CUDA_SAMPLE_BATCH if str(device).startswith("cuda") else CPU_SAMPLE_BATCH

    @property
    def image_shape(self) -> tuple[int, int, int]:
        cfg = self.model.config
        return (cfg.image_channels, cfg.image_size, cfg.image_size)

    def views_batch(self, sources: torch.Tensor, count: int, seed: int, **settings: Any) -> torch.Tensor:
        """`count` views of each source [B, C, H, W] in [0, 1] -> [B, count, C, H, W], in one pass."""
        self.check_request(sources, count, seed)
        values = self.check_settings(settings)
        while True:
            try:
                return self.model.sample(
                    sources.float(),
                    count,
                    seed,
                    steps=int(values["steps"]),
                    guidance=float(values["guidance"]),
                    eta=float(values["eta"]),
                    anchor=float(values["anchor"]),
                    batch_size=self.max_batch,
                )
            except (RuntimeError, MemoryError) as error:
                if not (isinstance(error, MemoryError) or is_out_of_memory(error)) or self.max_batch == 1:
                    raise
                self.max_batch = max(1, self.max_batch // 2)
                self.warn(f"lantern: out of memory; sampling {self.max_batch} views per forward instead")
