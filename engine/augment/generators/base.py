"""What a view generator is: its settings, its catalogue entry and the `Generator` base class (torch-free).

The GUI lists generators and their settings from `CATALOGUE` without torch; a generator module imports
torch and subclasses `Generator`, taking its name, title, description and settings from `CATALOGUE` so the
listing and the code cannot drift apart. Images are float [B, C, H, W] in [0, 1] everywhere.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from engine.core.errors import LanternError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

Item = TypeVar("Item")


@dataclass(frozen=True)
class SettingSpec:
    """One numeric setting of a generator, as the GUI shows it and `check_settings` enforces it."""

    name: str
    kind: Literal["int", "float"]
    default: int | float
    minimum: int | float
    maximum: int | float
    help: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def check(self, value: object, where: str) -> int | float:
        """`value` as this setting's type, or a LanternError saying what is allowed."""
        allowed = f"{self.kind} from {self.minimum} to {self.maximum} (default {self.default})"
        # bool is an int subclass; True for "steps" is a mistake, not 1.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise LanternError(
                f"setting '{self.name}' must be a number, got {value!r}",
                where,
                f"give {self.name} as {allowed}",
            )
        if self.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise LanternError(
                    f"setting '{self.name}' must be a whole number, got {value!r}",
                    where,
                    f"give {self.name} as {allowed}",
                )
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise LanternError(
                    f"setting '{self.name}' must be finite, got {value!r}",
                    where,
                    f"give {self.name} as {allowed}",
                )
        if not self.minimum <= value <= self.maximum:
            raise LanternError(
                f"setting '{self.name}' = {value} is out of range", where, f"give {self.name} as {allowed}"
            )
        return value


@dataclass(frozen=True)
class GeneratorInfo:
    """A generator's catalogue entry: what the GUI shows before anything heavy is imported."""

    name: str
    title: str
    description: str
    settings: tuple[SettingSpec, ...] = ()
    # None: the generator takes no checkpoint; otherwise the one used when the caller names none.
    default_checkpoint: str | None = None
    checkpoint_help: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "settings": [spec.to_dict() for spec in self.settings],
            "takes_checkpoint": self.default_checkpoint is not None,
            "default_checkpoint": self.default_checkpoint,
            "checkpoint_help": self.checkpoint_help,
            **self.extra,
        }


def _steps(default: int = 10) -> SettingSpec:
    return SettingSpec("steps", "int", default, 1, 1000, "DDIM denoising steps (the paper uses 10)")


def _eta() -> SettingSpec:
    return SettingSpec("eta", "float", 0.0, 0.0, 1.0, "DDIM eta: 0 is deterministic given the seed")


def _guidance(default: float, maximum: float = 30.0) -> SettingSpec:
    return SettingSpec(
        "guidance", "float", default, 0.0, maximum, "classifier-free guidance scale; 1 or less turns it off"
    )


_PIPELINE_CHECKPOINT_HELP = (
    "a Hugging Face hub id (from the local cache) or a folder holding a diffusers pipeline"
)

# Single source of truth for names, titles, descriptions and settings; keep the order the GUI lists them in.
CATALOGUE: dict[str, GeneratorInfo] = {
    info.name: info
    for info in (
        GeneratorInfo(
            "lantern",
            "Lantern instance diffusion",
            "Lantern's own small diffusion UNet conditioned on a frozen encoder's embedding of the source "
            "image, trained on your images; sampled with DDIM. Works fully offline.",
            (
                _steps(),
                _guidance(1.0, 20.0),
                _eta(),
                SettingSpec(
                    "anchor",
                    "float",
                    1.0,
                    0.0,
                    1.0,
                    "what the first DDIM step starts from besides noise: 1 the source's coarse layout (the "
                    "source noised to the first timestep), 0 the training images' mean (the embedding alone "
                    "conditions)",
                ),
            ),
            default_checkpoint="bundled",
            checkpoint_help='"bundled" (the Fashion-MNIST checkpoint in assets/augment/) or a folder '
            "written by the augment.train_generator job",
        ),
        GeneratorInfo(
            "unclip",
            "Stable unCLIP image-to-image",
            "Stable Diffusion unCLIP (StableUnCLIPImg2ImgPipeline) conditioned on the CLIP image embedding "
            "of the source, as in Ayromlou et al.; noise_level adds noise to that embedding.",
            (
                _steps(),
                _guidance(10.0),
                SettingSpec(
                    "noise_level",
                    "int",
                    0,
                    0,
                    999,
                    "noise added to the CLIP image embedding (more = farther)",
                ),
                _eta(),
            ),
            default_checkpoint="stabilityai/stable-diffusion-2-1-unclip",
            checkpoint_help=_PIPELINE_CHECKPOINT_HELP,
        ),
        GeneratorInfo(
            "image_variation",
            "Stable Diffusion image variations",
            "StableDiffusionImageVariationPipeline: Stable Diffusion fine-tuned to take the CLIP image "
            "embedding of the source instead of a text prompt.",
            (_steps(), _guidance(3.0), _eta()),
            default_checkpoint="lambdalabs/sd-image-variations-diffusers",
            checkpoint_help=_PIPELINE_CHECKPOINT_HELP,
        ),
        GeneratorInfo(
            "sdedit",
            "SDEdit (img2img)",
            "Any Stable Diffusion checkpoint as img2img (SDEdit): the source is noised to `strength` and "
            "denoised again, optionally towards a text prompt given when the generator is made.",
            (
                _steps(),
                SettingSpec(
                    "strength",
                    "float",
                    0.5,
                    0.05,
                    1.0,
                    "how far the source is noised: 0 keeps it, 1 ignores it",
                ),
                _guidance(7.5),
                _eta(),
            ),
            default_checkpoint="stable-diffusion-v1-5/stable-diffusion-v1-5",
            checkpoint_help=_PIPELINE_CHECKPOINT_HELP,
        ),
        GeneratorInfo(
            "identity",
            "Identity (control)",
            'Returns the source itself: the control "G returns x", which must match the baseline.',
        ),
        GeneratorInfo(
            "other_image",
            "Other image (control)",
            "Runs an inner generator (Lantern's by default) on a random OTHER image of the dataset: the "
            'control "G conditioned on a random other image", which should hurt.',
            # The default inner generator's settings; an instance takes its inner generator's.
            (_steps(), _guidance(1.0, 20.0), _eta()),
            extra={"inner_default": "lantern"},
        ),
    )
}


def item_seed(seed: int, *keys: int) -> int:
    """An independent 64-bit seed for (seed, *keys): one per view, so a view does not depend on batching."""
    import numpy as np

    return int(np.random.SeedSequence([seed, *keys]).generate_state(1, dtype=np.uint64)[0])


def is_out_of_memory(error: BaseException) -> bool:
    """Whether `error` is the device running out of memory (CUDA's own error or a backend's RuntimeError)."""
    import torch

    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    text = str(error).lower()
    # The CPU allocator says "can't allocate memory" where CUDA says "out of memory".
    return isinstance(error, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


class Generator(ABC):
    """Makes views of source images: `views_batch(sources [B,C,H,W], count, seed) -> [B,count,C,H,W]`.

    Views keep the source's shape and lie in [0, 1]; the same seed gives the same views. A subclass sets
    `name`; a catalogued one gets `title`, `description` and `SETTINGS` from `CATALOGUE[name]` (unless it
    sets them itself).
    """

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    SETTINGS: tuple[SettingSpec, ...] = ()
    # Views made in one device call at most; halved on out-of-memory (see run_in_chunks).
    max_batch: int = 32
    # Told about retries and other things the user should know; None logs a warning.
    on_warning: Callable[[str], None] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        info = CATALOGUE.get(cls.__dict__.get("name", ""))
        if info is not None:
            for attribute, value in (
                ("title", info.title),
                ("description", info.description),
                ("SETTINGS", info.settings),
            ):
                if attribute not in cls.__dict__:
                    setattr(cls, attribute, value)

    @classmethod
    def settings(cls) -> list[SettingSpec]:
        """The settings `views` takes (class-level; the GUI reads the same list from `CATALOGUE`)."""
        return list(cls.SETTINGS)

    @classmethod
    def build(
        cls,
        *,
        checkpoint: str | None = None,
        device: str = "cpu",
        pool: torch.Tensor | None = None,
        **load_args: Any,
    ) -> Generator:
        """Make one for `make_generator`: the checkpoint (when named), device and loader arguments go to the
        constructor; `pool` matters only to generators that draw from a dataset and is ignored here."""
        kwargs: dict[str, Any] = {"device": device, **load_args}
        if checkpoint is not None:
            kwargs["checkpoint"] = checkpoint
        return cls(**kwargs)

    def warn(self, message: str) -> None:
        if self.on_warning is not None:
            self.on_warning(message)
        else:
            log.warning(message)

    def check_settings(self, settings: Mapping[str, object]) -> dict[str, int | float]:
        """`settings` with defaults filled in; unknown names and bad values raise LanternError."""
        where = f"settings of the {self.name} generator"
        known = {spec.name: spec for spec in self.SETTINGS}
        unknown = sorted(set(settings) - set(known))
        if unknown:
            takes = ", ".join(known) if known else "no settings"
            raise LanternError(
                f"unknown setting(s) {', '.join(unknown)}", where, f"the {self.name} generator takes {takes}"
            )
        return {
            name: spec.check(settings[name], where) if name in settings else spec.default
            for name, spec in known.items()
        }

    def check_request(self, sources: torch.Tensor, count: int, seed: int) -> None:
        """Refuse what no generator can serve: a wrong shape, values outside [0, 1], a bad count or seed."""
        import torch

        where = f"views from the {self.name} generator"
        if not isinstance(sources, torch.Tensor) or sources.dim() != 4 or sources.shape[1] not in (1, 3):
            shape = tuple(sources.shape) if isinstance(sources, torch.Tensor) else type(sources).__name__
            raise LanternError(
                f"source images must be a float tensor [B, C, H, W] with C = 1 or 3, got {shape}",
                where,
                "pass images as float [B, C, H, W] in [0, 1] (one image: [C, H, W] to views)",
            )
        if sources.shape[0] == 0 or min(sources.shape[2:]) < 2:
            raise LanternError(
                f"no usable source images in a tensor of shape {tuple(sources.shape)}", where, ""
            )
        if not sources.is_floating_point() or not torch.isfinite(sources).all():
            raise LanternError(
                "source images must be finite floats", where, "convert images to float in [0, 1]"
            )
        low, high = float(sources.min()), float(sources.max())
        if low < -1e-4 or high > 1 + 1e-4:
            raise LanternError(
                f"source images must lie in [0, 1], got values from {low:.3g} to {high:.3g}",
                where,
                "divide uint8 images by 255; undo any normalisation",
            )
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise LanternError(f"count must be a whole number of at least 1, got {count!r}", where, "")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise LanternError(f"seed must be a whole number of at least 0, got {seed!r}", where, "")

    def views(self, source: torch.Tensor, count: int, seed: int, **settings: Any) -> torch.Tensor:
        """`count` views [count, C, H, W] of one source image [C, H, W]."""
        if getattr(source, "dim", lambda: 0)() != 3:
            shape = tuple(getattr(source, "shape", ()))
            raise LanternError(
                f"a source image must be [C, H, W], got shape {shape}",
                f"views from the {self.name} generator",
                "use views_batch for a batch of images",
            )
        return self.views_batch(source.unsqueeze(0), count, seed, **settings)[0]

    @abstractmethod
    def views_batch(self, sources: torch.Tensor, count: int, seed: int, **settings: Any) -> torch.Tensor:
        """`count` views per source: [B, C, H, W] -> [B, count, C, H, W], in [0, 1], seeded by `seed`."""

    def run_in_chunks(
        self, run: Callable[[Sequence[Item]], torch.Tensor], items: Sequence[Item]
    ) -> torch.Tensor:
        """`run` over `items` in chunks of at most `max_batch`, concatenated along dim 0.

        On out-of-memory the chunk is halved and retried (down to one item) and `warn` says so; `run` must
        give each item the same result whatever chunk it is in (per-item seeds), so a retry changes nothing.
        """
        import torch

        chunk = max(1, int(self.max_batch))
        parts: list[torch.Tensor] = []
        start = 0
        while start < len(items):
            part = items[start : start + chunk]
            try:
                parts.append(run(part))
            except (RuntimeError, MemoryError) as error:
                if not (isinstance(error, MemoryError) or is_out_of_memory(error)):
                    raise
                if chunk == 1:
                    raise LanternError(
                        f"the {self.name} generator ran out of memory even for one view",
                        "generating views",
                        "use a smaller pipeline or fewer steps, free the device, or generate on the CPU",
                    ) from error
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                chunk = max(1, len(part) // 2)
                self.max_batch = chunk
                self.warn(
                    f"{self.name}: out of memory with {len(part)} views at once; retrying {chunk} at a time"
                )
                continue
            start += len(part)
        return torch.cat(parts, dim=0)
