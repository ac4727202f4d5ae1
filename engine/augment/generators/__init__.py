"""View generators behind one registry: diffusers pipelines, Lantern's own model, and the two controls.

Listing them (`generator_catalogue`, `GENERATORS`) is torch-free, for the GUI; `make_generator` imports the
generator's module, and with it torch, only when one is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.augment.generators.base import CATALOGUE, Generator, GeneratorInfo, SettingSpec
from engine.core.lazy_registry import registered_class

if TYPE_CHECKING:
    import torch

# name -> "module:Class", imported on first use so that listing generators needs no torch.
GENERATORS: dict[str, str] = {
    "lantern": "engine.augment.generators.lantern:LanternGenerator",
    "unclip": "engine.augment.generators.unclip:UnclipGenerator",
    "image_variation": "engine.augment.generators.image_variation:ImageVariationGenerator",
    "sdedit": "engine.augment.generators.sdedit:SDEditGenerator",
    "identity": "engine.augment.generators.controls:IdentityGenerator",
    "other_image": "engine.augment.generators.controls:OtherImageGenerator",
}

__all__ = [
    "CATALOGUE",
    "GENERATORS",
    "Generator",
    "GeneratorInfo",
    "SettingSpec",
    "generator_catalogue",
    "generator_class",
    "make_generator",
]


def generator_class(name: str) -> type[Generator]:
    """The class registered under `name` (imports its module, and torch)."""
    return registered_class(GENERATORS, name, "generator", "generator name")


def make_generator(
    name: str,
    *,
    checkpoint: str | None = None,
    device: str = "cpu",
    pool: torch.Tensor | None = None,
    **load_args: Any,
) -> Generator:
    """The generator `name` ready to make views on `device`.

    `checkpoint`: a hub id or folder for the diffusers generators, "bundled" or a folder for lantern (None:
    the catalogue's default). `pool`: float images [N, C, H, W] that other_image draws from (its inner
    generator is `inner=`, default lantern). `load_args` go to the generator's constructor (e.g. sdedit's
    `prompt`, `max_batch`, a diffusers `cache_dir`).
    """
    cls = generator_class(name)
    return cls.build(checkpoint=checkpoint, device=device, pool=pool, **load_args)


def generator_catalogue() -> list[dict[str, Any]]:
    """Every generator's name, title, description, settings and checkpoint help, as plain data (no torch)."""
    return [CATALOGUE[name].to_dict() for name in GENERATORS]
