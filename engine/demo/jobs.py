"""The demo job `demo.train_classifier`: train SmallCNN on the bundled Fashion-MNIST subset.

Importing this module stays torch-free (the GUI lists and validates jobs); torch loads when the job runs.
Every epoch reseeds the shuffling and dropout from (seed, epoch), so a run resumed from an epoch
checkpoint continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from engine.core.errors import JobCancelled, LanternError
from engine.jobs.registry import JobSpec, register_job

if TYPE_CHECKING:
    import torch

    from engine.demo.model import SmallCNN
    from engine.jobs.context import JobContext, ResumePoint

JOB_NAME = "demo.train_classifier"
RUN_KIND = "demo.classifier"
CHECKPOINT_FORMAT = "lantern.demo.classifier"
TRAIN_METRICS_PER_EPOCH = 10
EVAL_BATCH = 512
MODEL_FIELDS = ("channels", "hidden", "dropout")


class TrainClassifierSpec(JobSpec):
    """Parameters of `demo.train_classifier`."""

    epochs: int = Field(3, ge=1, le=200, description="passes over the training images")
    batch_size: int = Field(128, ge=8, le=4096)
    learning_rate: float = Field(2e-3, gt=0, le=10, allow_inf_nan=False, description="AdamW learning rate")
    channels: tuple[Annotated[int, Field(ge=1, le=512)], ...] = Field(
        (16, 32), min_length=1, max_length=4, description="output channels of each conv block"
    )
    hidden: int = Field(64, ge=1, le=4096, description="units of the hidden layer of the head")
    dropout: float = Field(0.1, ge=0, le=0.9)
    train_limit: int | None = Field(None, ge=16, description="use only the first N training images")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    checkpoint_every: int = Field(1, ge=1, le=200, description="save a checkpoint every N epochs")
    name: str | None = Field(None, max_length=200, description="run name")


def _epoch_seed(seed: int, epoch: int) -> int:
    return seed * 1_000_003 + epoch


def _batches(count: int, batch_size: int) -> list[tuple[int, int]]:
    """(start, stop) of each batch; a last batch of a single image is dropped (batch norm needs two)."""
    bounds = [(start, min(start + batch_size, count)) for start in range(0, count, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds.pop()
    return bounds


def _evaluate(
    model: SmallCNN, images: torch.Tensor, labels: torch.Tensor, ctx: JobContext, autocast: Callable
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over a split, in eval mode."""
    import torch
    import torch.nn.functional as F

    model.eval()
    loss_sum = torch.zeros((), device=images.device)
    correct = torch.zeros((), device=images.device, dtype=torch.long)
    with torch.no_grad():
        for start in range(0, len(images), EVAL_BATCH):
            ctx.check_cancelled()
            x, y = images[start : start + EVAL_BATCH], labels[start : start + EVAL_BATCH]
            with autocast():
                logits = model(x)
            loss_sum += F.cross_entropy(logits.float(), y, reduction="sum")
            correct += (logits.argmax(dim=1) == y).sum()
    model.train()
    return loss_sum.item() / len(images), correct.item() / len(images)


def _model_config(spec: TrainClassifierSpec, num_classes: int) -> dict[str, Any]:
    return {
        "channels": list(spec.channels),
        "hidden": spec.hidden,
        "dropout": spec.dropout,
        "num_classes": num_classes,
    }


def _run_name(spec: TrainClassifierSpec, images: int) -> str:
    if spec.name:
        return spec.name
    channels = "-".join(str(c) for c in spec.channels)
    return f"Fashion-MNIST CNN {channels}/{spec.hidden}, {spec.epochs} epochs, {images} images"


@dataclass
class _Progress:
    """What a checkpoint carries forward besides the weights: where training stands and what it cost."""

    next_epoch: int = 1
    train_seconds: float = 0.0
    images_seen: int = 0


def _restore(
    resume: ResumePoint, config: dict[str, Any], model: Any, optimizer: Any, scaler: Any, device: str
) -> _Progress:
    """Load weights, optimizer and scaler state from the resume checkpoint, refusing another architecture."""
    from engine.core.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(resume.path, device=device)
    stored = checkpoint.meta.get("model", {})
    changed = [key for key in MODEL_FIELDS if stored.get(key) != config[key]]
    if checkpoint.meta.get("format") != CHECKPOINT_FORMAT or changed:
        raise LanternError(
            "the checkpoint to resume from does not fit this job's model"
            + (f" ({', '.join(changed)} differ)" if changed else ""),
            f"run #{resume.run_id}, checkpoint '{resume.checkpoint.name}'",
            "resume with the original job's parameters, or start a new job",
        )
    model.load_state_dict(checkpoint.model_state)
    if checkpoint.optimizer_state is not None:
        optimizer.load_state_dict(checkpoint.optimizer_state)
    if "grad_scaler" in checkpoint.meta and scaler.is_enabled():
        scaler.load_state_dict(checkpoint.meta["grad_scaler"])
    return _Progress(
        next_epoch=int(checkpoint.meta["epoch"]) + 1,
        train_seconds=float(checkpoint.meta.get("train_seconds", 0.0)),
        images_seen=int(checkpoint.meta.get("images_seen", 0)),
    )


@register_job(JOB_NAME, TrainClassifierSpec, title="Train a Fashion-MNIST classifier", resumable=True)
def train_classifier(ctx: JobContext, spec: TrainClassifierSpec) -> dict[str, Any]:
    """Train, evaluate each epoch, checkpoint every `checkpoint_every` epochs and at the end."""
    import torch
    import torch.nn.functional as F

    from engine.core.checkpoint import save_checkpoint
    from engine.core.seeding import seed_everything
    from engine.demo.fashion_mnist import load_demo
    from engine.demo.model import PIXEL_MEAN, PIXEL_STD, SmallCNN, images_to_tensor

    seed_everything(spec.seed)
    data = load_demo()
    limit = min(spec.train_limit or len(data.train_images), len(data.train_images))
    device = torch.device(ctx.device.device)
    train_x = images_to_tensor(data.train_images[:limit], device)
    train_y = torch.tensor(data.train_labels[:limit], device=device)
    test_x = images_to_tensor(data.test_images, device)
    test_y = torch.tensor(data.test_labels, device=device)
    config = _model_config(spec, len(data.class_names))

    # Mixed precision only pays on CUDA; CPU runs (and MPS here) stay float32.
    amp_dtype = ctx.device.torch_dtype() if device.type == "cuda" and ctx.device.dtype != "float32" else None

    def autocast() -> contextlib.AbstractContextManager:
        if amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=amp_dtype)

    model = SmallCNN.from_config(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.learning_rate)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    batches = _batches(limit, spec.batch_size)
    per_epoch = len(batches)
    log_every = max(1, math.ceil(per_epoch / TRAIN_METRICS_PER_EPOCH))
    test_loss = test_accuracy = math.nan
    checkpoint_record = None
    # The worker also closes a run its job left open; closing it here covers in-process callers too.
    try:
        resume = ctx.resume_point()
        if resume is not None:
            state = _restore(resume, config, model, optimizer, scaler, str(device))
            run_id = resume.run_id
            ctx.log(f"continuing at epoch {state.next_epoch} of {spec.epochs}")
        else:
            state = _Progress()
            run_id = ctx.start_run(
                name=_run_name(spec, limit),
                kind=RUN_KIND,
                config=spec.model_dump(mode="json"),
                seed=spec.seed,
            )
        for epoch in range(state.next_epoch, spec.epochs + 1):
            torch.manual_seed(_epoch_seed(spec.seed, epoch))  # dropout
            generator = torch.Generator().manual_seed(_epoch_seed(spec.seed, epoch))
            order = torch.randperm(limit, generator=generator).to(device)
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            counted = 0
            epoch_start = time.perf_counter()
            for index, (start, stop) in enumerate(batches, start=1):
                ctx.check_cancelled()
                chosen = order[start:stop]
                x, y = train_x[chosen], train_y[chosen]
                with autocast():
                    logits = model(x)
                loss = F.cross_entropy(logits.float(), y)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                # Summed on the device; read back only when reported, so a GPU is not synchronised per batch.
                loss_sum += loss.detach() * len(y)
                correct += (logits.detach().argmax(dim=1) == y).sum()
                counted += len(y)
                if index % log_every == 0 or index == per_epoch:
                    ctx.metrics(
                        round(epoch - 1 + index / per_epoch, 6),
                        {"train_loss": loss_sum.item() / counted, "train_accuracy": correct.item() / counted},
                    )
                    loss_sum.zero_()
                    correct.zero_()
                    counted = 0
                ctx.progress(
                    (epoch - 1) * per_epoch + index, spec.epochs * per_epoch, f"epoch {epoch}/{spec.epochs}"
                )
            state.train_seconds += time.perf_counter() - epoch_start
            state.images_seen += sum(stop - start for start, stop in batches)
            test_loss, test_accuracy = _evaluate(model, test_x, test_y, ctx, autocast)
            ctx.metrics(epoch, {"test_loss": test_loss, "test_accuracy": test_accuracy})
            ctx.log(
                f"epoch {epoch}/{spec.epochs}: test accuracy {test_accuracy:.4f}, test loss {test_loss:.4f}"
            )
            if epoch % spec.checkpoint_every == 0 or epoch == spec.epochs:
                meta = {
                    "format": CHECKPOINT_FORMAT,
                    "model": config,
                    "class_names": list(data.class_names),
                    "normalization": {"mean": PIXEL_MEAN, "std": PIXEL_STD},
                    "epoch": epoch,
                    "step": epoch,
                    "run_id": run_id,
                    "seed": spec.seed,
                    "test_accuracy": test_accuracy,
                    "test_loss": test_loss,
                    "train_seconds": state.train_seconds,
                    "images_seen": state.images_seen,
                    "device": ctx.device.to_dict(),
                }
                if scaler.is_enabled():
                    meta["grad_scaler"] = scaler.state_dict()
                name = f"classifier-epoch{epoch}.safetensors"
                path = save_checkpoint(ctx.workdir / name, model.state_dict(), optimizer.state_dict(), meta)
                checkpoint_record = ctx.add_artifact(
                    path,
                    kind="checkpoint",
                    name=name,
                    meta={
                        "step": epoch,
                        "epoch": epoch,
                        "test_accuracy": test_accuracy,
                        "test_loss": test_loss,
                    },
                )
                path.unlink()  # the store holds its own copy
        if checkpoint_record is None and resume is not None:
            # Resumed after the last epoch had been trained already: report the stored final checkpoint.
            checkpoint_record = resume.checkpoint
            test_loss, test_accuracy = _evaluate(model, test_x, test_y, ctx, autocast)
    except JobCancelled:
        ctx.finish_run("cancelled")
        raise
    except Exception:
        ctx.finish_run("failed")
        raise
    seconds = state.train_seconds
    summary = {
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "epochs": spec.epochs,
        "train_seconds": round(seconds, 3),
        "images_per_second": round(state.images_seen / seconds, 1) if seconds > 0 else 0.0,
    }
    ctx.finish_run("done", summary=summary)
    assert checkpoint_record is not None  # every path through the loop ends on a checkpointed epoch
    return {**summary, "run_id": run_id, "checkpoint_artifact": checkpoint_record.id}
