"""Job `augment.train_generator`: train Lantern's instance-conditioned diffusion generator, resumable.

The job records a run of kind "augment-generator": metric "loss" per epoch (step = epoch), a sample grid
PNG per epoch (artifact kind "sample-grid": each row a source image then its views) and a training
checkpoint per epoch (artifact kind "checkpoint", meta step = epoch, holding the frozen encoder too, so a
resumed job continues with the very same encoder). The finished generator is written to `output` (default:
<data dir>/generators/run-<id>) as InstanceDiffusion.save lays it out; `lantern`'s generator loads it.
The encoder is a folder (encoder.safetensors + encoder.json, or a generator folder) or "train": SimCLR on
the same images first (engine.ssl.training.train_ssl). Importing this module stays torch-free.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from engine.augment.instance_diffusion import InstanceDiffusionConfig
from engine.core.errors import JobCancelled
from engine.jobs.registry import JobSpec, register_job

if TYPE_CHECKING:
    import torch

    from engine.jobs.context import JobContext

TRAIN_GENERATOR_JOB = "augment.train_generator"
RUN_KIND = "augment-generator"
GRID_KIND = "sample-grid"
CHECKPOINT_KIND = "checkpoint"  # what JobContext.resume_point looks for
TRAIN_ENCODER = "train"
_DEFAULTS = InstanceDiffusionConfig()


class TrainGeneratorSpec(JobSpec):
    """Parameters of `augment.train_generator` (the generator fields are InstanceDiffusionConfig's)."""

    name: str = "instance diffusion generator"
    dataset: str = Field("fashion-mnist-demo", description="fashion-mnist-demo, fashion-mnist or a folder")
    limit: int | None = Field(None, ge=2, description="train on a class-balanced subset of this many images")
    encoder: str = Field(TRAIN_ENCODER, description="an encoder or generator folder, or 'train' (SimCLR)")
    encoder_epochs: int = Field(10, ge=1, description="SimCLR epochs when encoder is 'train'")
    encoder_width: int = Field(16, ge=1, le=1024, description="SimCLR backbone width when encoder is 'train'")
    encoder_batch_size: int = Field(256, ge=2)
    block_out_channels: tuple[int, ...] = _DEFAULTS.block_out_channels
    layers_per_block: int = Field(_DEFAULTS.layers_per_block, ge=1)
    attention: bool = _DEFAULTS.attention
    neighbours: int = Field(_DEFAULTS.neighbours, ge=1)
    cond_dropout: float = Field(_DEFAULTS.cond_dropout, ge=0.0, lt=1.0)
    epochs: int = Field(_DEFAULTS.epochs, ge=1)
    batch_size: int = Field(_DEFAULTS.batch_size, ge=1)
    lr: float = Field(_DEFAULTS.lr, gt=0.0)
    ema: float = Field(_DEFAULTS.ema, ge=0.0, lt=1.0)
    train_timesteps: int = Field(_DEFAULTS.train_timesteps, ge=10)
    beta_schedule: Literal["squaredcos_cap_v2", "linear"] = "squaredcos_cap_v2"
    seed: int = Field(0, ge=0)
    precision: Literal["fp32", "bf16"] = "fp32"
    output: str | None = Field(None, description="folder for the finished generator")

    def generator_config(self, channels: int, size: int) -> InstanceDiffusionConfig:
        values = self.model_dump()
        keep = {k: values[k] for k in InstanceDiffusionConfig.__dataclass_fields__ if k in values}
        return InstanceDiffusionConfig(image_channels=channels, image_size=size, **keep)


def train_encoder(
    images: torch.Tensor,
    *,
    epochs: int,
    width: int,
    batch_size: int,
    seed: int,
    device: str,
    on_epoch: Any = None,
    check_cancelled: Any = None,
) -> Any:
    """A SimCLR ResNet encoder trained on `images` (the generator's frozen condition encoder)."""
    from engine.ssl.config import SSLConfig
    from engine.ssl.training import train_ssl

    config = SSLConfig(
        method="simclr",
        width=width,
        blocks=(1, 1, 1),
        epochs=epochs,
        batch_size=min(batch_size, images.shape[0] - images.shape[0] % 2),
        seed=seed,
    )
    result = train_ssl(images, config, device=device, on_epoch=on_epoch, check_cancelled=check_cancelled)
    return result


def _output_folder(spec: TrainGeneratorSpec, run_id: int) -> Path:
    if spec.output:
        return Path(spec.output).expanduser()
    from engine.core.paths import data_dir

    return data_dir() / "generators" / f"run-{run_id}"


@register_job(
    TRAIN_GENERATOR_JOB,
    TrainGeneratorSpec,
    "Generator training: an instance-conditioned diffusion UNet on a dataset (frozen encoder condition)",
    resumable=True,
)
def train_generator_job(ctx: JobContext, spec: TrainGeneratorSpec) -> dict[str, Any]:
    import torch

    from engine.augment.datasets import load_augment_data
    from engine.augment.instance_diffusion import (
        describe,
        encoder_from_checkpoint,
        load_encoder,
        save_grid_png,
        train_instance_diffusion,
    )

    started = time.perf_counter()
    device = ctx.device.device
    data = load_augment_data(spec.dataset, limit=spec.limit, seed=spec.seed)
    images = torch.tensor(data.train.images)  # a copy: the loaded arrays are read-only
    channels, size = int(images.shape[1]), int(images.shape[2])
    if images.shape[2] != images.shape[3]:
        from engine.core.errors import LanternError

        raise LanternError(
            f"the generator trains on square images; {spec.dataset} has {tuple(images.shape[2:])}",
            "augment.train_generator: dataset",
            "load the folder with a size (square) or crop the images",
        )
    config = spec.generator_config(channels, size)
    point = ctx.resume_point()
    resume_path = point.path if point is not None else None
    if point is not None:
        run_id = point.run_id
        encoder = encoder_from_checkpoint(point.path)
        origin = f"restored from checkpoint '{point.checkpoint.name}'"
        ctx.log(f"resuming at epoch {point.step:g} of {config.epochs}")
    else:
        run_id = ctx.start_run(
            name=spec.name, kind=RUN_KIND, config=spec.model_dump(mode="json"), seed=spec.seed
        )
        if spec.encoder == TRAIN_ENCODER:
            ctx.log(f"training a SimCLR encoder ({spec.encoder_epochs} epochs) on {len(images)} images")

            def encoder_epoch(epoch: int, loss: float) -> None:
                ctx.metrics(epoch, {"encoder_ssl_loss": loss}, run_id=run_id)
                ctx.progress(
                    0, config.epochs, f"encoder epoch {epoch}/{spec.encoder_epochs}: loss {loss:.3f}"
                )

            result = train_encoder(
                images,
                epochs=spec.encoder_epochs,
                width=spec.encoder_width,
                batch_size=spec.encoder_batch_size,
                seed=spec.seed,
                device=device,
                on_epoch=encoder_epoch,
                check_cancelled=ctx.check_cancelled,
            )
            encoder = result.backbone
            origin = f"SimCLR, {spec.encoder_epochs} epochs, width {spec.encoder_width}, trained by this job"
        else:
            encoder = load_encoder(spec.encoder, device=device)
            origin = f"loaded from {spec.encoder}"
    checkpoint_path = ctx.workdir / "generator-training.safetensors"
    ctx.progress(0, config.epochs, "training the generator")

    def on_epoch(epoch: int, loss: float, grid: torch.Tensor) -> None:
        ctx.metrics(epoch, {"loss": loss}, run_id=run_id)
        png = save_grid_png(grid, ctx.workdir / f"samples-epoch-{epoch:03d}.png")
        ctx.add_artifact(png, kind=GRID_KIND, name=f"samples after epoch {epoch}", meta={"epoch": epoch})
        ctx.add_artifact(
            checkpoint_path,
            kind=CHECKPOINT_KIND,
            name=f"generator training checkpoint, epoch {epoch}",
            meta={"step": epoch, "loss": loss},
        )
        ctx.progress(epoch, config.epochs, f"epoch {epoch}/{config.epochs}: loss {loss:.4f}", force=True)

    provenance = {
        "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
        "job": {"name": TRAIN_GENERATOR_JOB, "id": ctx.job_id, "spec": spec.model_dump(mode="json")},
        "data": {"dataset": data.name, "limit": spec.limit, "images": len(images),
                 "source": data.train.source},
        "encoder_origin": origin,
    }  # fmt: skip
    ctx.log(f"training on {len(images)} images of {data.name} ({device})")
    try:
        model = train_instance_diffusion(
            images,
            encoder,
            config,
            device=device,
            on_epoch=on_epoch,
            check_cancelled=ctx.check_cancelled,
            checkpoint_path=checkpoint_path,
            resume_from=resume_path,
            meta=provenance,
        )
    except JobCancelled:
        ctx.finish_run("cancelled")
        raise
    except Exception:
        ctx.finish_run("failed")
        raise
    folder = model.save(_output_folder(spec, run_id))
    epochs = model.meta.get("epochs", [])
    summary = {
        "folder": str(folder),
        "final_loss": epochs[-1]["loss"] if epochs else None,
        "epochs": config.epochs,
        "images": len(images),
        "parameters": model.parameter_count(),
    }
    ctx.finish_run("done", summary=summary)
    ctx.log(f"{describe(model)}; saved to {folder}")
    return {"run_id": run_id, "name": spec.name, **summary, "seconds": time.perf_counter() - started}
