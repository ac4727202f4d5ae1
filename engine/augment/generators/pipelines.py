"""Loading diffusers image-conditioned pipelines for view generation, and the generator base they share.

`load_pipeline` checks a hub id or folder before diffusers sees it, so a wrong folder gets a message naming
what is wrong (not a pipeline, another pipeline class, a missing image encoder, not in the offline cache).
`PipelineGenerator` turns Lantern's images (float [B, C, H, W] in [0, 1], any size, 1 or 3 channels) into
the pipeline's RGB input and its outputs back to the source's shape, with one seeded torch.Generator per
view. diffusers is imported only when a pipeline is loaded.
"""

from __future__ import annotations

import json
import os
import re
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F

from engine.augment.generators.base import CATALOGUE, Generator, item_seed
from engine.core.errors import LanternError

PipelineKind = Literal["unclip", "image_variation", "sdedit"]

# The pipeline class each kind runs, and the model_index.json classes a folder may name for it (any Stable
# Diffusion checkpoint serves img2img: it has the same components).
PIPELINE_CLASSES: dict[str, str] = {
    "unclip": "StableUnCLIPImg2ImgPipeline",
    "image_variation": "StableDiffusionImageVariationPipeline",
    "sdedit": "StableDiffusionImg2ImgPipeline",
}
ACCEPTED_CLASSES: dict[str, frozenset[str]] = {
    "unclip": frozenset({"StableUnCLIPImg2ImgPipeline"}),
    "image_variation": frozenset({"StableDiffusionImageVariationPipeline"}),
    "sdedit": frozenset({"StableDiffusionImg2ImgPipeline", "StableDiffusionPipeline"}),
}
# Components a kind cannot work without; the image encoder is what a wrong download most often lacks.
REQUIRED_COMPONENTS: dict[str, tuple[str, ...]] = {
    "unclip": (
        "image_encoder",
        "feature_extractor",
        "image_normalizer",
        "image_noising_scheduler",
        "unet",
        "vae",
    ),
    "image_variation": ("image_encoder", "feature_extractor", "unet", "vae"),
    "sdedit": ("text_encoder", "tokenizer", "unet", "vae"),
}
DEFAULT_STEPS = 10

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _kind_for_class(class_name: str) -> str | None:
    for kind, accepted in ACCEPTED_CLASSES.items():
        if class_name in accepted:
            return kind
    return None


def check_model_index(index: dict[str, Any], kind: str, where: str) -> None:
    """Refuse a model_index.json that names another pipeline class or lacks a component `kind` needs."""
    class_name = str(index.get("_class_name", "unknown"))
    if class_name not in ACCEPTED_CLASSES[kind]:
        fits = _kind_for_class(class_name)
        hint = (
            f"use it with the '{fits}' generator, or give a {PIPELINE_CLASSES[kind]} for '{kind}'"
            if fits
            else f"the '{kind}' generator needs a {PIPELINE_CLASSES[kind]}"
        )
        raise LanternError(
            f"this is a {class_name}, not a pipeline the '{kind}' generator can run", where, hint
        )
    missing = [
        name
        for name in REQUIRED_COMPONENTS[kind]
        if not isinstance(index.get(name), list) or None in index[name][:2]
    ]
    if missing:
        raise LanternError(
            f"the pipeline lacks {', '.join(missing)} (the '{kind}' generator needs "
            f"{'an image encoder' if 'image_encoder' in missing else 'every component it lists'})",
            where,
            f"give the complete {PIPELINE_CLASSES[kind]} folder (with {', '.join(missing)}/ and "
            "model_index.json naming it)",
        )


def _read_model_index(path: Path, where: str) -> dict[str, Any]:
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LanternError(
            f"model_index.json cannot be read: {error}",
            where,
            "give a folder saved by diffusers' save_pretrained",
        ) from error
    if not isinstance(index, dict):
        raise LanternError("model_index.json is not a JSON object", where, "give a diffusers pipeline folder")
    return index


def _hub_offline() -> bool:
    # huggingface_hub reads HF_HUB_OFFLINE at import; the environment may have changed since.
    value = os.environ.get("HF_HUB_OFFLINE", "")
    if value.upper() in {"1", "ON", "YES", "TRUE"}:
        return True
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _not_cached(hub_id: str, kind: str, detail: str = "") -> LanternError:
    return LanternError(
        f"the pipeline '{hub_id}' is not in the local Hugging Face cache and cannot be fetched offline"
        + (f" ({detail})" if detail else ""),
        f"loading the {kind} pipeline",
        f"download it where there is a network (huggingface-cli download {hub_id}) or give a folder "
        f"holding the pipeline (no folder named {hub_id} exists here)",
    )


def load_pipeline(
    name_or_folder: str,
    kind: PipelineKind,
    device: str | torch.device = "cpu",
    *,
    cache_dir: str | None = None,
) -> Any:
    """The diffusers pipeline of `kind` from a hub id (local cache first) or a folder, on `device`.

    fp16 on CUDA, fp32 elsewhere; DDIM scheduler (10 steps, eta 0 by default); progress bar and safety
    checker off. Anything that is not a usable pipeline of `kind` raises LanternError saying what is wrong.
    """
    if kind not in PIPELINE_CLASSES:
        raise LanternError(
            f"unknown pipeline kind '{kind}'",
            "load_pipeline",
            f"choose one of: {', '.join(PIPELINE_CLASSES)}",
        )
    where = f"{kind} pipeline '{name_or_folder}'"
    path = Path(str(name_or_folder)).expanduser()
    is_folder = path.is_dir()
    if not is_folder and (path.exists() or not _HUB_ID.match(str(name_or_folder))):
        raise LanternError(
            f"the folder {path} does not exist" if not path.exists() else f"{path} is a file, not a folder",
            where,
            "give a folder holding a diffusers pipeline (model_index.json and one subfolder per component) "
            "or a hub id such as " + _default_hub_id(kind),
        )

    local_files_only = True
    if is_folder:
        index_path = path / "model_index.json"
        if not index_path.is_file():
            raise LanternError(
                f"{path} is not a diffusers pipeline (no model_index.json)",
                where,
                f"give a folder saved by {PIPELINE_CLASSES[kind]}.save_pretrained or downloaded from the hub",
            )
        check_model_index(_read_model_index(index_path, where), kind, where)
        source = str(path)
    else:
        from huggingface_hub import try_to_load_from_cache

        source = str(name_or_folder)
        cached = try_to_load_from_cache(source, "model_index.json", cache_dir=cache_dir)
        if isinstance(cached, str):
            check_model_index(_read_model_index(Path(cached), where), kind, where)
        elif _hub_offline():
            raise _not_cached(source, kind)
        else:
            local_files_only = False
    return _from_pretrained(source, kind, torch.device(device), local_files_only, cache_dir, where)


def _default_hub_id(kind: str) -> str:
    return str(CATALOGUE[kind].default_checkpoint)


def _from_pretrained(
    source: str, kind: str, device: torch.device, local_files_only: bool, cache_dir: str | None, where: str
) -> Any:
    import diffusers

    cls = getattr(diffusers, PIPELINE_CLASSES[kind])
    kwargs: dict[str, Any] = {"local_files_only": local_files_only, "cache_dir": cache_dir}
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    if dtype != torch.float32:
        kwargs["dtype"] = dtype
    if kind != "unclip":
        # Views of a dataset, not images shown to the public; the checker also needs a large CLIP model.
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    try:
        pipeline = cls.from_pretrained(source, **kwargs)
    except Exception as error:  # diffusers raises many types; the user needs one clear message
        if not (local_files_only and not Path(source).is_dir() and not _hub_offline()):
            raise _load_error(source, kind, where, error) from error
        # A hub id with only model_index.json cached: fetch the rest, since the network is allowed.
        try:
            pipeline = cls.from_pretrained(source, **{**kwargs, "local_files_only": False})
        except Exception as second:
            raise _load_error(source, kind, where, second) from second
    from diffusers import DDIMScheduler

    # DDIM with 10 steps and eta 0, as Ayromlou et al. sample their views; keeps the checkpoint's betas
    # and prediction type. Latents range beyond [-1, 1], so DDIM's default clipping is off unless the
    # checkpoint asks for it.
    config = pipeline.scheduler.config
    pipeline.scheduler = DDIMScheduler.from_config(config, clip_sample=bool(config.get("clip_sample", False)))
    pipeline.set_progress_bar_config(disable=True)
    pipeline = pipeline.to(device)
    if pipeline.unet.dtype != dtype:
        # A diffusers release older than the `dtype` keyword loaded float32.
        pipeline = pipeline.to(device, dtype)
    return pipeline


def _load_error(source: str, kind: str, where: str, error: Exception) -> LanternError:
    if isinstance(error, LanternError):
        return error
    if not Path(source).is_dir():
        return _not_cached(source, kind, f"{type(error).__name__}: {error}")
    return LanternError(
        f"the pipeline cannot be loaded: {type(error).__name__}: {error}",
        where,
        "check that every component folder is complete (weights and config files)",
    )


def pipeline_size(pipeline: Any) -> int:
    """The square image side the pipeline generates natively (UNet sample size times the VAE's scale)."""
    return int(pipeline.unet.config.sample_size) * int(pipeline.vae_scale_factor)


def to_rgb(images: torch.Tensor, size: int) -> torch.Tensor:
    """Images [B, C, H, W] (C 1 or 3) as RGB [B, 3, size, size] in [0, 1] (stretched if not square)."""
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    if tuple(images.shape[-2:]) != (size, size):
        # Stretching keeps the whole image; the views are stretched back to the source's shape.
        images = F.interpolate(images, size=(size, size), mode="bicubic", antialias=True, align_corners=False)
    return images.clamp(0.0, 1.0)


def to_source_shape(images: torch.Tensor, channels: int, height: int, width: int) -> torch.Tensor:
    """RGB (or grey) images [N, c, h, w] back to [N, channels, height, width] in [0, 1]."""
    images = images.float()
    if images.shape[1] == 3 and channels == 1:
        # ITU-R BT.601 luminance, the usual grey of an RGB image.
        weights = torch.tensor([0.299, 0.587, 0.114], device=images.device).view(1, 3, 1, 1)
        images = (images * weights).sum(dim=1, keepdim=True)
    elif images.shape[1] == 1 and channels == 3:
        images = images.expand(-1, 3, -1, -1)
    if tuple(images.shape[-2:]) != (height, width):
        images = F.interpolate(
            images, size=(height, width), mode="bicubic", antialias=True, align_corners=False
        )
    return images.clamp(0.0, 1.0).contiguous()


def _size_field(size: Any, key: str, default: int | None = None) -> int:
    """A side from a processor's size: an int, a dict (transformers 4) or a SizeDict (transformers 5)."""
    if isinstance(size, (int, float)):
        return int(size)
    value = size.get(key) if isinstance(size, dict) else getattr(size, key, None)
    if value is None:
        if default is None:
            raise LanternError(
                f"the pipeline's feature extractor has no {key} in its size {size!r}",
                "feature_extractor/preprocessor_config.json",
                "give a pipeline whose CLIP image processor has size and crop_size",
            )
        return default
    return int(value)


def clip_pixels(images: torch.Tensor, feature_extractor: Any) -> torch.Tensor:
    """RGB images [B, 3, H, W] in [0, 1] as the CLIP image encoder's input, on their own device.

    The pipelines pass a tensor image straight to the encoder, so the processor's resize, centre crop and
    normalisation are done here, batched in torch, from the processor's own settings.
    """
    crop_h = _size_field(feature_extractor.crop_size, "height")
    crop_w = _size_field(feature_extractor.crop_size, "width")
    shortest = _size_field(feature_extractor.size, "shortest_edge", default=min(crop_h, crop_w))
    height, width = images.shape[-2:]
    scale = shortest / min(height, width)
    resized = (max(crop_h, round(height * scale)), max(crop_w, round(width * scale)))
    images = F.interpolate(images.float(), size=resized, mode="bicubic", antialias=True, align_corners=False)
    top, left = (resized[0] - crop_h) // 2, (resized[1] - crop_w) // 2
    images = images[..., top : top + crop_h, left : left + crop_w].clamp(0.0, 1.0)
    mean = torch.tensor(feature_extractor.image_mean, device=images.device).view(1, -1, 1, 1)
    std = torch.tensor(feature_extractor.image_std, device=images.device).view(1, -1, 1, 1)
    return (images - mean) / std


def view_generators(seed: int, items: Sequence[tuple[int, int]]) -> list[torch.Generator]:
    """One CPU torch.Generator per (source, view) item: the same view whatever the batch or device."""
    return [torch.Generator(device="cpu").manual_seed(item_seed(seed, b, k)) for b, k in items]


class PipelineGenerator(Generator):
    """A generator running a diffusers pipeline: one call per chunk of (source, view) items."""

    KIND: PipelineKind

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # The pipeline kind a generator loads is its name (title, description and settings come from
        # CATALOGUE[name] through Generator).
        super().__init_subclass__(**kwargs)
        cls.KIND = cls.name  # type: ignore[assignment]  (every pipeline generator's name is a PipelineKind)

    def __init__(
        self,
        checkpoint: str | None = None,
        device: str | torch.device = "cpu",
        *,
        pipeline: Any = None,
        cache_dir: str | None = None,
        max_batch: int | None = None,
    ) -> None:
        self.checkpoint = checkpoint or str(CATALOGUE[self.name].default_checkpoint)
        self.device = torch.device(device)
        self.pipeline = (
            pipeline
            if pipeline is not None
            else load_pipeline(self.checkpoint, self.KIND, self.device, cache_dir=cache_dir)
        )
        if max_batch is not None:
            self.max_batch = max_batch

    @property
    def size(self) -> int:
        return pipeline_size(self.pipeline)

    def check_values(self, values: dict[str, int | float]) -> None:
        """Refuse combinations of settings the pipeline cannot run (per kind; none by default)."""

    def sampling_arguments(
        self, values: dict[str, int | float], generators: list[torch.Generator]
    ) -> dict[str, Any]:
        """The pipeline-call arguments every kind shares: steps, guidance, eta, one generator per view and
        tensor output."""
        return {
            "num_inference_steps": int(values["steps"]),
            "guidance_scale": float(values["guidance"]),
            "eta": float(values["eta"]),
            "generator": generators,
            "output_type": "pt",
        }

    def clip_image_arguments(self, images: torch.Tensor) -> dict[str, Any]:
        """For the kinds conditioned on a CLIP image embedding: the sources as the encoder's pixels, and
        views at the pipeline's own size."""
        return {
            "image": clip_pixels(images, self.pipeline.feature_extractor),
            "height": self.size,
            "width": self.size,
        }

    @abstractmethod
    def generate(
        self, images: torch.Tensor, generators: list[torch.Generator], values: dict[str, int | float]
    ) -> torch.Tensor:
        """One pipeline call: RGB images [n, 3, size, size] in [0, 1] -> one view each, [n, 3, size, size]."""

    @torch.no_grad()
    def views_batch(self, sources: torch.Tensor, count: int, seed: int, **settings: Any) -> torch.Tensor:
        self.check_request(sources, count, seed)
        values = self.check_settings(settings)
        self.check_values(values)
        batch, channels, height, width = sources.shape
        images = to_rgb(sources.to(self.device, torch.float32), self.size)
        items = [(b, k) for b in range(batch) for k in range(count)]

        def run(part: Sequence[tuple[int, int]]) -> torch.Tensor:
            chosen = images[torch.tensor([b for b, _ in part], device=images.device)]
            made = self.generate(chosen, view_generators(seed, part), values)
            return to_source_shape(made, channels, height, width)

        views = self.run_in_chunks(run, items)
        return views.view(batch, count, channels, height, width).to(sources.device)
