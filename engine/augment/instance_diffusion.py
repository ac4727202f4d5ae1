"""Lantern's own generator: a diffusers UNet conditioned on a frozen encoder's embedding of a source image.

In the spirit of IC-GAN (Casanova et al.), the generator the paper (Ayromlou et al., SCIENCE.md A) uses:
the condition is the L2-normalised embedding h(x_i) of an instance, the training target is a random image
among x_i's k nearest neighbours in that embedding (cosine, x_i itself included), so samples are new images
around the instance that keep its meaning. Conditioning enters `UNet2DModel(class_embed_type="identity")`
through a learned linear projection of the embedding to the time-embedding width; the condition is dropped
(zero embedding) with probability `cond_dropout` so that sampling can use classifier-free guidance.
Training: DDPM epsilon-prediction loss, 1000 steps, squared-cosine (or linear) betas, EMA weights.
Sampling: DDIM, 10 steps, eta 0 by default, diffusers' default "leading" timestep spacing (t = 900, ..., 0).

Images are float [B, C, H, W] in [0, 1] (scaled to [-1, 1] inside). At 28x28 the default UNet uses three
blocks (16, 32, 64) and two downsamples (28 -> 14 -> 7, attention at 7x7): no padding to 32 is needed.

Importing this module stays torch-free (the job registry and the GUI read `InstanceDiffusionConfig`);
torch and diffusers load inside the functions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.core.errors import LanternError

if TYPE_CHECKING:
    import torch
    from torch import nn

FORMAT = "lantern-instance-diffusion"
VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "generator.safetensors"  # unet/* and projection/* (EMA weights: what sampling uses)
ENCODER_FILE = "encoder.safetensors"
ENCODER_JSON = "encoder.json"
PRECISIONS = ("fp32", "bf16")
BETA_SCHEDULES = ("squaredcos_cap_v2", "linear")
# Rows per UNet forward when sampling: large batches amortise Python overhead; on a CPU activations of a
# few hundred 28x28 images still fit in cache.
CPU_SAMPLE_BATCH = 256
CUDA_SAMPLE_BATCH = 8192


@dataclass(frozen=True)
class InstanceDiffusionConfig:
    """Everything that defines a generator and how it was trained (torch-free, JSON round-trip)."""

    image_channels: int = 1
    image_size: int = 28
    # The bundled recipe (CPU, minutes): 0.7 M parameters; (32, 64, 64) is 1.1 M and ~1.7x slower per image.
    block_out_channels: tuple[int, ...] = (16, 32, 64)
    layers_per_block: int = 1
    attention: bool = True  # self-attention in the lowest-resolution block
    neighbours: int = 5  # k of the k-nearest-neighbour targets (the source itself included)
    cond_dropout: float = 0.1
    epochs: int = 15
    batch_size: int = 32  # small batches, high lr: more updates in a CPU budget
    lr: float = 2e-3
    ema: float = 0.999  # 0 disables the EMA copy
    train_timesteps: int = 1000
    beta_schedule: str = "squaredcos_cap_v2"
    seed: int = 0
    precision: str = "fp32"

    def __post_init__(self) -> None:
        where = "instance diffusion config"
        checks = [
            (self.image_channels >= 1, "image_channels must be at least 1", "1 for grey, 3 for colour"),
            (self.image_size >= 8, f"image_size must be at least 8, got {self.image_size}", "e.g. 28"),
            (len(self.block_out_channels) >= 1, "block_out_channels is empty", "e.g. (32, 64, 64)"),
            (all(c >= 8 and c % 8 == 0 for c in self.block_out_channels),
             f"block_out_channels must be multiples of 8, got {self.block_out_channels}",
             "e.g. (32, 64, 64)"),
            (self.image_size % 2 ** (len(self.block_out_channels) - 1) == 0,
             f"image_size {self.image_size} is not divisible by 2^{len(self.block_out_channels) - 1} "
             "(one downsample between blocks)", "use fewer blocks or an image size divisible by it"),
            (self.layers_per_block >= 1, "layers_per_block must be at least 1", "e.g. 1 or 2"),
            (self.neighbours >= 1, "neighbours must be at least 1", "e.g. 5 (1: the source itself)"),
            (0.0 <= self.cond_dropout < 1.0, "cond_dropout must be in [0, 1)", "e.g. 0.1"),
            (self.epochs >= 1, "epochs must be at least 1", "e.g. 10"),
            (self.batch_size >= 1, "batch_size must be at least 1", "e.g. 64"),
            (self.lr > 0, "lr must be positive", "e.g. 3e-4"),
            (0.0 <= self.ema < 1.0, "ema must be in [0, 1)", "e.g. 0.999, or 0 to disable"),
            (self.train_timesteps >= 10, "train_timesteps must be at least 10", "e.g. 1000"),
            (self.beta_schedule in BETA_SCHEDULES, f"unknown beta_schedule {self.beta_schedule!r}",
             f"use one of {', '.join(BETA_SCHEDULES)}"),
            (self.precision in PRECISIONS, f"unknown precision {self.precision!r}",
             f"use one of {', '.join(PRECISIONS)}"),
        ]  # fmt: skip
        for ok, what, hint in checks:
            if not ok:
                raise LanternError(what, where, hint)

    @property
    def time_embed_dim(self) -> int:
        return self.block_out_channels[0] * 4

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["block_out_channels"] = list(self.block_out_channels)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InstanceDiffusionConfig:
        from engine.core.config_validation import refuse_unknown_keys

        refuse_unknown_keys(
            data, (f.name for f in fields(cls)), "instance diffusion setting(s)", "instance diffusion config"
        )
        values = dict(data)
        if "block_out_channels" in values:
            values["block_out_channels"] = tuple(int(c) for c in values["block_out_channels"])
        return cls(**values)


def build_unet(config: InstanceDiffusionConfig) -> nn.Module:
    """The UNet2DModel for `config`: class_embed_type "identity" takes the projected embedding as is."""
    from diffusers import UNet2DModel

    blocks = len(config.block_out_channels)
    attention_at = blocks - 1 if config.attention and blocks > 1 else -1
    down = tuple("AttnDownBlock2D" if i == attention_at else "DownBlock2D" for i in range(blocks))
    up = tuple("AttnUpBlock2D" if i == blocks - 1 - attention_at else "UpBlock2D" for i in range(blocks))
    return UNet2DModel(
        sample_size=config.image_size,
        in_channels=config.image_channels,
        out_channels=config.image_channels,
        block_out_channels=tuple(config.block_out_channels),
        layers_per_block=config.layers_per_block,
        down_block_types=down,
        up_block_types=up,
        class_embed_type="identity",
        norm_num_groups=min(32, min(config.block_out_channels)),
    )


def build_ddim_scheduler(config: InstanceDiffusionConfig) -> Any:
    """The DDIMScheduler sampling uses (and the reference loop steps through)."""
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        num_train_timesteps=config.train_timesteps,
        beta_schedule=config.beta_schedule,
        clip_sample=True,
        set_alpha_to_one=True,
        # "leading" (t = 900, 800, ..., 0 for 10 steps), not "trailing" (999, ..., 99): at t = 999 the
        # squared-cosine schedule leaves sqrt(alpha_bar) ~ 5e-5, so the first step's x0 estimate magnifies
        # the noise-prediction error ~2e4 times and clipping turns it into a saturated +-1 texture.
        timestep_spacing="leading",
    )


def _alphas_cumprod(config: InstanceDiffusionConfig) -> torch.Tensor:
    return build_ddim_scheduler(config).alphas_cumprod.clone()


def _denoiser_class() -> type:
    """The trainable module (UNet + condition projection), defined lazily to keep the import torch-free."""
    global _DENOISER
    if _DENOISER is None:
        import torch
        from torch import nn

        class Denoiser(nn.Module):
            """Predicts the noise in x_t given the timestep and the (projected) instance embedding."""

            def __init__(self, config: InstanceDiffusionConfig, embed_dim: int) -> None:
                super().__init__()
                self.unet = build_unet(config)
                self.projection = nn.Linear(embed_dim, config.time_embed_dim)
                # The training images' mean embedding: SSL embeddings sit in a narrow cone (mean cosine
                # ~0.86 for a briefly trained SimCLR encoder), so uncentred they barely tell images apart.
                self.register_buffer("centre", torch.zeros(embed_dim))
                # The training images' mean in [-1, 1]: sampling starts at DDIM's first timestep (900 of
                # 1000 for 10 steps), where the true marginal still has mean sqrt(a_t) * E[x0]; pure noise
                # there biases every view towards mid-grey backgrounds (Lin et al. 2024).
                self.register_buffer(
                    "image_mean", torch.zeros(config.image_channels, config.image_size, config.image_size)
                )
                # A unit vector has entries ~1/sqrt(D): scaled to ~1 each, the projected condition starts
                # at the time embedding's scale instead of ~10x below it.
                self.scale = float(embed_dim) ** 0.5

            def features(self, embedding: torch.Tensor) -> torch.Tensor:
                """The condition vector of L2-normalised encoder embeddings [B, D]: centred, renormalised."""
                centred = torch.nn.functional.normalize(embedding - self.centre, dim=1)
                return centred * self.scale

            def condition(self, features: torch.Tensor) -> torch.Tensor:
                """The UNet's class-embedding input; all-zero features mean "no condition" (guidance)."""
                return self.projection(features)

            def forward(self, x_t: torch.Tensor, t: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
                return self.unet(x_t, t, class_labels=self.condition(features)).sample

        _DENOISER = Denoiser
    return _DENOISER


_DENOISER: type | None = None


def make_denoiser(config: InstanceDiffusionConfig, embed_dim: int) -> nn.Module:
    return _denoiser_class()(config, embed_dim)


# ---------------------------------------------------------------------------------------------- encoder
def encoder_record(encoder: nn.Module) -> dict[str, Any]:
    """How to rebuild `encoder`: its kind and config (a ResNetBackbone via BackboneConfig.to_dict)."""
    config = getattr(encoder, "config", None)
    to_dict = getattr(config, "to_dict", None)
    if type(encoder).__name__ == "ResNetBackbone" and callable(to_dict):
        return {"kind": "resnet_backbone", "config": to_dict()}
    raise LanternError(
        f"an encoder of type {type(encoder).__name__} cannot be saved with the generator",
        "instance diffusion: save",
        "use an engine.ssl.backbone.ResNetBackbone (e.g. from train_ssl) as the frozen encoder",
    )


def _encoder_record_or_none(encoder: nn.Module) -> dict[str, Any] | None:
    try:
        return encoder_record(encoder)
    except LanternError:
        return None  # a test's ad-hoc encoder: the checkpoint still resumes with the caller's encoder


def encoder_from_checkpoint(path: str | Path) -> nn.Module:
    """The frozen encoder stored in a training checkpoint (a resumed job needs the very same one)."""
    from engine.core.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(path)
    record = checkpoint.meta.get("encoder")
    if not isinstance(record, dict):
        raise LanternError(
            "the training checkpoint holds no rebuildable encoder", str(path), "start the training afresh"
        )
    encoder = build_encoder(record, str(path))
    encoder.load_state_dict({k[4:]: v for k, v in checkpoint.model_state.items() if k.startswith("enc.")})
    return freeze(encoder)


def save_encoder(encoder: nn.Module, folder: str | Path) -> Path:
    """Write a frozen encoder as encoder.safetensors + encoder.json (what `load_encoder` reads)."""
    from safetensors.torch import save_file

    from engine.core.checkpoint import _prepare

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(_prepare(encoder.state_dict()), str(folder / ENCODER_FILE), metadata={"lantern.format": FORMAT})
    (folder / ENCODER_JSON).write_text(json.dumps(encoder_record(encoder), indent=2) + "\n")
    return folder


def load_encoder(folder: str | Path, device: str = "cpu") -> nn.Module:
    """A frozen encoder from a folder of save_encoder, or the encoder of a generator folder."""
    folder = Path(folder).expanduser()
    where = str(folder)
    hint = "pass a folder with encoder.safetensors and encoder.json (or a generator folder), or 'train'"
    record: Any = None
    try:
        if (folder / ENCODER_JSON).is_file():
            record = json.loads((folder / ENCODER_JSON).read_text())
        elif (folder / CONFIG_FILE).is_file():
            record = json.loads((folder / CONFIG_FILE).read_text()).get("encoder")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError) as exc:
        raise LanternError(f"the encoder description is not readable JSON ({exc})", where, hint) from exc
    if not isinstance(record, dict) or not (folder / ENCODER_FILE).is_file():
        raise LanternError("the folder holds no Lantern encoder", where, hint)
    encoder = build_encoder(record, where)
    _load_weights(encoder, folder / ENCODER_FILE, hint)
    return freeze(encoder).to(device)


def build_encoder(record: dict[str, Any], where: str) -> nn.Module:
    if record.get("kind") != "resnet_backbone":
        raise LanternError(
            f"unknown encoder kind {record.get('kind')!r}",
            where,
            "the generator folder was written by another program or a newer Lantern: retrain it",
        )
    from engine.ssl.backbone import BackboneConfig, build_backbone

    return build_backbone(BackboneConfig.from_dict(record["config"]))


def freeze(encoder: nn.Module) -> nn.Module:
    encoder.eval()
    for parameter in encoder.parameters():
        parameter.requires_grad_(False)
    return encoder


def embed_images(
    encoder: nn.Module, images: torch.Tensor, *, batch_size: int = 512, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """L2-normalised embeddings [N, D] of images [N, C, H, W] under the frozen encoder (eval, no_grad)."""
    import torch

    encoder.eval()
    out = []
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            chunk = images[start : start + batch_size].to(device, torch.float32)
            out.append(torch.nn.functional.normalize(encoder(chunk).float(), dim=1))
    return torch.cat(out)


def nearest_neighbours(embeddings: torch.Tensor, k: int, *, chunk: int = 1024) -> torch.Tensor:
    """Indices [N, k] of each row's k most cosine-similar rows (rows are L2-normalised), itself first."""
    import torch

    k = min(k, embeddings.shape[0])
    rows = []
    for start in range(0, embeddings.shape[0], chunk):
        similarity = embeddings[start : start + chunk] @ embeddings.T
        own = torch.arange(start, start + similarity.shape[0], device=embeddings.device)
        # Ties (duplicate images) must not push the source out of its own neighbour list.
        similarity[torch.arange(similarity.shape[0]), own] = float("inf")
        rows.append(similarity.topk(k, dim=1).indices)
    return torch.cat(rows)


# ---------------------------------------------------------------------------------------------- sampling
def ddim_coefficients(
    config: InstanceDiffusionConfig, steps: int, eta: float, device: str | torch.device = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """DDIM's per-step numbers as tensors, so the loop runs no scheduler Python objects.

    Returns timesteps [steps] (long) and coefficients [steps, 5]: sqrt(a_t), sqrt(1 - a_t), sqrt(a_prev),
    sqrt(1 - a_prev - sigma^2) and sigma (sigma = eta * sqrt(variance)); the same formulas as
    diffusers' DDIMScheduler.step with clip_sample and set_alpha_to_one.
    """
    import torch

    scheduler = build_ddim_scheduler(config)
    scheduler.set_timesteps(steps)
    # float32 and the scheduler's own operations: at t = 999 sqrt(a_t) is tiny and x0 = (x - ...) / sqrt(a_t)
    # amplifies any rounding difference, so the numbers are computed exactly as DDIMScheduler.step does.
    alphas = scheduler.alphas_cumprod
    gap = config.train_timesteps // steps
    rows = []
    for t in scheduler.timesteps.tolist():
        a_t = alphas[t]
        a_prev = alphas[t - gap] if t - gap >= 0 else scheduler.final_alpha_cumprod
        variance = scheduler._get_variance(t, t - gap)
        sigma = eta * variance ** (0.5)
        rows.append(
            torch.stack(
                [a_t ** (0.5), (1 - a_t) ** (0.5), a_prev ** (0.5), (1 - a_prev - sigma**2) ** (0.5), sigma]
            ).float()
        )
    return scheduler.timesteps.to(device), torch.stack(rows).to(device)


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (AMX tiles), where bf16 autocast pays."""
    import torch

    try:
        return bool(torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):  # a private helper: absent in other torch versions
        return False


@dataclass
class InstanceDiffusion:
    """A trained generator: the denoiser (EMA weights), the frozen encoder and their provenance."""

    config: InstanceDiffusionConfig
    denoiser: Any  # Denoiser (nn.Module)
    encoder: Any  # the frozen encoder (nn.Module), [B, C, H, W] -> [B, D]
    meta: dict[str, Any]
    device: str = "cpu"
    compiled: bool = False

    @property
    def embed_dim(self) -> int:
        return int(self.denoiser.projection.in_features)

    def to(self, device: str) -> InstanceDiffusion:
        self.denoiser.to(device)
        self.encoder.to(device)
        self.device = device
        return self

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.denoiser.parameters())

    def enable_compile(self, mode: str = "max-autotune") -> None:
        """torch.compile the UNet (CUDA only: on a CPU the compile time outweighs the sampling time)."""
        import torch

        if not str(self.device).startswith("cuda"):
            raise LanternError(
                "torch.compile is only used on CUDA devices",
                "instance diffusion: compile",
                "sample on a CPU without compiling",
            )
        self.denoiser.unet = torch.compile(self.denoiser.unet, mode=mode, dynamic=False)
        self.compiled = True

    def _autocast(self) -> Any:
        import contextlib

        import torch

        if str(self.device).startswith("cuda"):
            return torch.autocast("cuda", dtype=torch.bfloat16)  # tensor cores
        if str(self.device) == "cpu" and cpu_has_fast_bf16():
            # With AMX the UNet ran 1.4-1.6x faster in bf16 (one thread, 28x28, 64 rows); without it bf16
            # is emulated and slower than fp32.
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def sample(
        self,
        sources: torch.Tensor,
        count: int,
        seed: int,
        steps: int = 10,
        guidance: float = 1.0,
        eta: float = 0.0,
        anchor: float = 1.0,
        *,
        batch_size: int | None = None,
        fp32: bool = False,
    ) -> torch.Tensor:
        """`count` views of every source: [B, C, H, W] in [0, 1] -> [B, count, C, H, W] in [0, 1].

        One noise draw for all sources x count (a torch.Generator on the CPU seeded with `seed`, in
        source-major order, then one draw per step when eta > 0), sampled in chunks of `batch_size` rows;
        guidance != 1 runs the conditional and unconditional halves as one forward of twice the rows.
        The first step starts from `start_latents` (anchor 1: the source's coarse layout; 0: the mean image).
        bf16 autocast on CUDA and on CPUs with AMX (the DDIM arithmetic stays fp32); `fp32` turns it off
        (the comparison with the reference loop uses it).
        """
        import torch

        self._check_sample_args(sources, count, steps, guidance, eta, anchor)
        device = self.device
        b = sources.shape[0]
        generator = torch.Generator().manual_seed(int(seed))
        noise = torch.randn((b * count, *sources.shape[1:]), generator=generator)
        step_noise = (
            torch.randn((steps, b * count, *sources.shape[1:]), generator=generator) if eta > 0 else None
        )
        timesteps, coef = ddim_coefficients(self.config, steps, eta, device)
        noise = start_latents(self, sources, noise, coef[0, :2].cpu(), count, anchor)
        with torch.no_grad():
            embedding = embed_images(self.encoder, sources, device=device)
            # The projection runs once per source, not once per step and view.
            features = self.denoiser.features(embedding)
            cond = self.denoiser.condition(features).repeat_interleave(count, dim=0)
            uncond = self.denoiser.condition(torch.zeros_like(features[:1]))
        rows = batch_size or (CUDA_SAMPLE_BATCH if str(device).startswith("cuda") else CPU_SAMPLE_BATCH)
        if guidance not in (0.0, 1.0):
            rows = max(1, rows // 2)
        out = []
        for start in range(0, b * count, rows):
            stop = min(start + rows, b * count)
            chunk_noise = None if step_noise is None else step_noise[:, start:stop]
            out.append(
                self._denoise(
                    noise[start:stop].to(device), cond[start:stop], uncond, timesteps, coef, guidance,
                    chunk_noise, fp32,
                ).cpu()
            )  # fmt: skip
        return torch.cat(out).view(b, count, *sources.shape[1:])

    def _check_sample_args(
        self, sources: torch.Tensor, count: int, steps: int, guidance: float, eta: float, anchor: float
    ) -> None:
        where = "instance diffusion: sample"
        c, s = self.config.image_channels, self.config.image_size
        if sources.ndim != 4 or tuple(sources.shape[1:]) != (c, s, s):
            raise LanternError(
                f"sources have shape {tuple(sources.shape)}, the generator makes [B, {c}, {s}, {s}]",
                where,
                "pass images of the size and channels the generator was trained on",
            )
        if count < 1 or not 1 <= steps <= self.config.train_timesteps:
            raise LanternError(
                f"count {count} and steps {steps} must be at least 1 (steps at most "
                f"{self.config.train_timesteps})",
                where,
                "e.g. count=4, steps=10",
            )
        if guidance < 0 or not 0 <= eta <= 1 or not 0 <= anchor <= 1:
            raise LanternError(
                f"guidance {guidance} must be >= 0, eta {eta} and anchor {anchor} in [0, 1]",
                where,
                "e.g. guidance 1.0, eta 0, anchor 1",
            )

    def _denoise(
        self,
        x: torch.Tensor,
        cond: torch.Tensor,
        uncond: torch.Tensor,
        timesteps: torch.Tensor,
        coef: torch.Tensor,
        guidance: float,
        step_noise: torch.Tensor | None,
        fp32: bool,
    ) -> torch.Tensor:
        import contextlib

        import torch

        unet = self.denoiser.unet
        n = x.shape[0]
        both = torch.cat([cond, uncond.expand(n, -1)]) if guidance not in (0.0, 1.0) else None
        only = uncond.expand(n, -1) if guidance == 0.0 else cond
        autocast = contextlib.nullcontext() if fp32 else self._autocast()
        with torch.no_grad(), autocast:
            for i in range(timesteps.shape[0]):
                t = timesteps[i]
                if both is None:
                    eps = unet(x, t, class_labels=only).sample.float()
                else:
                    eps_c, eps_u = unet(torch.cat([x, x]), t, class_labels=both).sample.float().chunk(2)
                    eps = eps_u + guidance * (eps_c - eps_u)
                c = coef[i]
                x0 = ((x - c[1] * eps) / c[0]).clamp(-1.0, 1.0)
                x = c[2] * x0 + c[3] * eps
                if step_noise is not None:
                    x = x + c[4] * step_noise[i].to(x.device)
        return ((x + 1.0) / 2.0).clamp(0.0, 1.0)

    # ------------------------------------------------------------------------------------- persistence
    def save(self, folder: str | Path) -> Path:
        """Write config.json, generator.safetensors (unet/*, projection/*) and encoder.safetensors."""
        from safetensors.torch import save_file

        from engine.core.checkpoint import _prepare

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        record = encoder_record(self.encoder)
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "config": self.config.to_dict(),
            "embed_dim": self.embed_dim,
            "encoder": record,
            **{k: v for k, v in self.meta.items() if k not in {"format", "version", "config", "encoder"}},
        }
        tag = {"lantern.format": FORMAT}
        save_file(_prepare(self.denoiser.state_dict()), str(folder / WEIGHTS_FILE), metadata=tag)
        save_file(_prepare(self.encoder.state_dict()), str(folder / ENCODER_FILE), metadata=tag)
        (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> InstanceDiffusion:
        """Read a folder written by save(); missing, damaged or foreign files raise LanternError."""
        folder = Path(folder)
        where = str(folder)
        hint = "pick a folder written by Lantern's generator training, or train a new generator"
        if not folder.is_dir():
            raise LanternError("the generator folder does not exist", where, hint)
        for name in (CONFIG_FILE, WEIGHTS_FILE, ENCODER_FILE):
            if not (folder / name).is_file():
                raise LanternError(f"the generator folder has no {name}", where, hint)
        try:
            meta = json.loads((folder / CONFIG_FILE).read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise LanternError(f"{CONFIG_FILE} is not readable JSON ({exc})", where, hint) from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise LanternError(f"{CONFIG_FILE} does not describe a Lantern instance-diffusion generator",
                               where, hint)  # fmt: skip
        if int(meta.get("version", 0)) > VERSION:
            raise LanternError(
                f"the generator was written by a newer Lantern (layout {meta.get('version')})",
                where,
                "upgrade Lantern",
            )
        try:
            config = InstanceDiffusionConfig.from_dict(meta["config"])
            embed_dim = int(meta["embed_dim"])
            encoder_spec = meta["encoder"]
        except (KeyError, TypeError, ValueError) as exc:
            raise LanternError(f"{CONFIG_FILE} is incomplete ({exc!r})", where, hint) from exc
        denoiser = make_denoiser(config, embed_dim)
        encoder = build_encoder(encoder_spec, where)
        _load_weights(denoiser, folder / WEIGHTS_FILE, hint)
        _load_weights(encoder, folder / ENCODER_FILE, hint)
        denoiser.eval()
        extra = {k: v for k, v in meta.items() if k not in {"format", "version", "config", "embed_dim"}}
        return cls(config, denoiser, freeze(encoder), extra).to(device)


def _load_weights(module: nn.Module, path: Path, hint: str) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise LanternError(f"{path.name} cannot be read ({exc})", str(path), hint) from exc
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:3]
        raise LanternError(
            f"{path.name} does not fit the model described by {CONFIG_FILE} ({' '.join(first)})",
            str(path),
            hint,
        ) from exc


def reference_sample(
    model: InstanceDiffusion,
    sources: torch.Tensor,
    count: int,
    seed: int,
    steps: int = 10,
    guidance: float = 1.0,
    eta: float = 0.0,
    anchor: float = 1.0,
) -> torch.Tensor:
    """The plain eager diffusers loop over the same UNet and scheduler (the peer of the fast path).

    fp32, one source at a time (its `count` views as one batch), DDIMScheduler.step every step and, with
    guidance != 1, two forwards per step. The noise is drawn exactly as `InstanceDiffusion.sample` draws
    it, so with the same seed both give the same views (tested).
    """
    import torch

    scheduler = build_ddim_scheduler(model.config)
    scheduler.set_timesteps(steps)
    b = sources.shape[0]
    shape = tuple(sources.shape[1:])
    generator = torch.Generator().manual_seed(int(seed))
    noise = torch.randn((b * count, *shape), generator=generator)
    step_noise = torch.randn((steps, b * count, *shape), generator=generator) if eta > 0 else None
    first = ddim_coefficients(model.config, steps, eta)[1][0, :2]
    noise = start_latents(model, sources, noise, first, count, anchor).view(b, count, *shape)
    unet, condition = model.denoiser.unet, model.denoiser.condition
    views = []
    with torch.no_grad():
        # The condition is computed for all sources together as the fast path does (a one-time cost, not
        # what is measured): a batch-of-one encoder pass differs in the last bits, and the first DDIM step's
        # division by sqrt(alpha_bar) magnifies that, which would blur the equality the tests check.
        embeddings = embed_images(model.encoder, sources, device=model.device)
        features = model.denoiser.features(embeddings)
        conds = condition(features)
        uncond = condition(torch.zeros_like(features[:1])).expand(count, -1)
        for i in range(b):
            cond = conds[i : i + 1].expand(count, -1)
            x = noise[i].to(model.device)
            for s, t in enumerate(scheduler.timesteps):
                eps = unet(x, t, class_labels=cond).sample
                if guidance != 1.0:
                    eps_u = unet(x, t, class_labels=uncond).sample
                    eps = eps_u + guidance * (eps - eps_u)
                kwargs: dict[str, Any] = {}
                if step_noise is not None:
                    kwargs["variance_noise"] = step_noise[s, i * count : (i + 1) * count].to(model.device)
                x = scheduler.step(eps, t, x, eta=eta, **kwargs).prev_sample
            views.append(((x + 1.0) / 2.0).clamp(0.0, 1.0).cpu())
    return torch.stack(views)


def start_latents(
    model: InstanceDiffusion,
    sources: torch.Tensor,
    noise: torch.Tensor,
    first: torch.Tensor,
    count: int,
    anchor: float,
) -> torch.Tensor:
    """x at DDIM's first timestep t: sqrt(a_t) * x0_start + sqrt(1 - a_t) * noise, rows source-major.

    x0_start = anchor * source + (1 - anchor) * the training images' mean (both in [-1, 1]); `first` holds
    (sqrt(a_t), sqrt(1 - a_t)). At t = 900 of 1000 only ~2 % of the signal's power survives, so the source
    gives the coarse layout (SDEdit at strength 0.9) and the embedding everything else.
    """
    base = model.denoiser.image_mean.detach().cpu()
    if anchor > 0:
        source = (sources.detach().cpu().float() * 2.0 - 1.0).repeat_interleave(count, dim=0)
        base = anchor * source + (1.0 - anchor) * base
    return first[0] * base + first[1] * noise


def make_sample_grid(model: InstanceDiffusion, sources: torch.Tensor, views: int, seed: int) -> torch.Tensor:
    """A grid image [C, rows*H, (views+1)*W]: each row one source (first column) and its views."""
    import torch

    samples = model.sample(sources, views, seed)
    rows = torch.cat([sources.cpu().unsqueeze(1), samples], dim=1)  # [B, V+1, C, H, W]
    b, v, c, h, w = rows.shape
    return rows.permute(2, 0, 3, 1, 4).reshape(c, b * h, v * w)


def save_grid_png(grid: torch.Tensor, path: str | Path, scale: int = 2) -> Path:
    """Write a grid from make_sample_grid as a PNG (nearest-neighbour upscaled by `scale`)."""
    import numpy as np
    from PIL import Image

    array = (grid.clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    image = Image.fromarray(array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0))
    image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


# ---------------------------------------------------------------------------------------------- training
@dataclass(frozen=True)
class EpochReport:
    epoch: int  # 1-based
    loss: float
    seconds: float
    images_per_second: float


def train_instance_diffusion(
    images: torch.Tensor,
    encoder: nn.Module,
    config: InstanceDiffusionConfig,
    *,
    device: str = "cpu",
    on_epoch: Callable[[int, float, torch.Tensor], None] | None = None,
    check_cancelled: Callable[[], None] | None = None,
    sample_grid: tuple[int, int] = (8, 4),
    checkpoint_path: str | Path | None = None,
    resume_from: str | Path | None = None,
    meta: dict[str, Any] | None = None,
) -> InstanceDiffusion:
    """Train a generator on images [N, C, H, W] in [0, 1] conditioned on the frozen `encoder`.

    Embeddings and neighbours are computed once. Each step takes a batch of sources i, picks a random
    target among i's `neighbours` nearest (itself included), noises the target and learns to predict the
    noise given the projected embedding of i (zeroed with probability cond_dropout). After every epoch:
    a training checkpoint to `checkpoint_path` (when given; `resume_from` continues from one), then
    `on_epoch(epoch, mean loss, grid)` with a sample grid of `sample_grid` (sources, views) made with
    the EMA weights. Under torchrun (engine.core.distributed initialised) every rank takes its slice of
    the same global batch and gradients are averaged by DDP.
    """
    import copy

    import torch

    from engine.core.checkpoint import load_checkpoint, save_checkpoint

    where = "instance diffusion: training"
    c, s = config.image_channels, config.image_size
    if images.ndim != 4 or tuple(images.shape[1:]) != (c, s, s):
        raise LanternError(
            f"images have shape {tuple(images.shape)}, the config expects [N, {c}, {s}, {s}]",
            where,
            "set image_channels and image_size to the data's",
        )
    if images.shape[0] < 2:
        raise LanternError("training needs at least 2 images", where, "use a larger dataset or limit")
    from engine.core import distributed as dist

    dist.init_from_env()
    world = dist.world_size()
    torch.manual_seed(config.seed)
    encoder = freeze(encoder.to(device))
    images = images.float()
    embeddings = embed_images(encoder, images, device=device)
    denoiser = make_denoiser(config, embeddings.shape[1]).to(device)
    with torch.no_grad():
        denoiser.centre.copy_(embeddings.mean(dim=0))
        denoiser.image_mean.copy_(images.mean(dim=0).to(device) * 2.0 - 1.0)
        features = denoiser.features(embeddings)
    # Neighbours by cosine of the centred embeddings: the same geometry the condition lives in.
    neighbours = nearest_neighbours(features / denoiser.scale, config.neighbours)
    ema = copy.deepcopy(denoiser).eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(denoiser.parameters(), lr=config.lr, weight_decay=0.0)
    alphas = _alphas_cumprod(config).to(device)
    generator = torch.Generator().manual_seed(config.seed)
    start_epoch, updates = 0, 0
    if resume_from is not None:
        checkpoint = load_checkpoint(resume_from, device="cpu")
        if checkpoint.meta.get("config") != config.to_dict():
            raise LanternError(
                "the checkpoint was trained with another configuration",
                str(resume_from),
                "resume with the configuration it was trained with, or start afresh",
            )
        state = checkpoint.model_state
        denoiser.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("net.")})
        ema.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("ema.")})
        optimizer.load_state_dict(checkpoint.optimizer_state)
        generator.set_state(state["rng"])
        start_epoch, updates = int(checkpoint.meta["epoch"]), int(checkpoint.meta["updates"])
    model = dist.wrap(denoiser)
    n = images.shape[0]
    batch = min(config.batch_size, n)
    steps_per_epoch = n // batch
    grid_generator = torch.Generator().manual_seed(config.seed + 1)
    grid_sources = images[torch.randperm(n, generator=grid_generator)[: sample_grid[0]]]
    autocast_on = config.precision == "bf16"
    device_type = "cuda" if str(device).startswith("cuda") else "cpu"
    result = InstanceDiffusion(config, ema, encoder, dict(meta or {}), device=device)
    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        denoiser.train()
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for step in range(steps_per_epoch):
            if check_cancelled is not None:
                check_cancelled()
            # Draw everything for the global batch on every rank (same generator state), then slice: the
            # result matches a single process at the same global batch.
            index = order[step * batch : (step + 1) * batch]
            pick = torch.randint(0, neighbours.shape[1], (batch,), generator=generator)
            target = images[neighbours[index, pick]]
            keep = (torch.rand(batch, generator=generator) >= config.cond_dropout).float()
            t = torch.randint(0, config.train_timesteps, (batch,), generator=generator)
            noise = torch.randn(target.shape, generator=generator)
            if world > 1:
                index, target, keep, t, noise = (dist.local_slice(v) for v in (index, target, keep, t, noise))
            condition = features[index.to(features.device)] * keep.to(device)[:, None]
            x0 = target.to(device) * 2.0 - 1.0
            t, noise = t.to(device), noise.to(device)
            a = alphas[t].view(-1, 1, 1, 1)
            x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
            with torch.autocast(device_type, dtype=torch.bfloat16, enabled=autocast_on):
                predicted = model(x_t, t, condition)
            loss = torch.nn.functional.mse_loss(predicted.float(), noise)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            updates += 1
            # EMA warm-up: early on the average would be dominated by the random initial weights.
            decay = min(config.ema, (1 + updates) / (10 + updates))
            with torch.no_grad():
                for e, p in zip(ema.parameters(), denoiser.parameters(), strict=True):
                    e.lerp_(p.detach(), 1.0 - decay)
                for e, p in zip(ema.buffers(), denoiser.buffers(), strict=True):
                    e.copy_(p)
            total += float(loss.detach())
        mean = total / max(1, steps_per_epoch)
        if world > 1:
            mean = float(dist.all_reduce_mean(torch.tensor(mean, device=device)))
        seconds = time.perf_counter() - started
        result.meta.setdefault("epochs", []).append(
            asdict(EpochReport(epoch + 1, mean, seconds, steps_per_epoch * batch / seconds))
        )
        is_main = dist.is_main()
        if checkpoint_path is not None and is_main:
            state = {f"net.{k}": v for k, v in denoiser.state_dict().items()}
            state.update({f"ema.{k}": v for k, v in ema.state_dict().items()})
            state.update({f"enc.{k}": v for k, v in encoder.state_dict().items()})
            state["rng"] = generator.get_state()
            save_checkpoint(
                checkpoint_path,
                state,
                optimizer.state_dict(),
                {
                    "config": config.to_dict(),
                    "epoch": epoch + 1,
                    "updates": updates,
                    "loss": mean,
                    "encoder": _encoder_record_or_none(encoder),
                    "embed_dim": int(embeddings.shape[1]),
                },
            )
        if on_epoch is not None and is_main:
            grid = make_sample_grid(result, grid_sources, sample_grid[1], seed=config.seed)
            on_epoch(epoch + 1, mean, grid)
    result.meta["updates"] = updates
    result.meta["train_images"] = int(n)
    # No rank returns before rank 0 has written the last checkpoint; a rank that left early and tore down
    # its process group while rank 0 was still writing could abort the others (gloo).
    dist.barrier()
    return result


def describe(model: InstanceDiffusion) -> str:
    """One line for logs: size and how it was trained."""
    cfg = model.config
    millions = model.parameter_count() / 1e6
    return (
        f"instance diffusion UNet {tuple(cfg.block_out_channels)} x{cfg.layers_per_block}, "
        f"{millions:.2f} M parameters, {cfg.image_channels}x{cfg.image_size}x{cfg.image_size}, "
        f"k={cfg.neighbours}, {cfg.epochs} epochs"
    )
