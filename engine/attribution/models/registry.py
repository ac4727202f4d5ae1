"""Model registries of the attribution workspace and the builders the experiment calls (torch).

Names and titles live in the torch-free `catalog` module, which the GUI lists from; the package's
__init__ loads this module only when a torch name is first used, so importing the catalog stays torch-free.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from engine.attribution.models.bert import BertClassifier
from engine.attribution.models.bilstm_attention import BiLSTMAttention
from engine.attribution.models.rationale import RationaleModel
from engine.attribution.models.resnet import ResNet
from engine.attribution.models.small_cnn import SmallCNN
from engine.attribution.models.text_base import TextModel
from engine.core.errors import LanternError

IMAGE_MODELS: dict[str, Callable[..., nn.Module]] = {"small_cnn": SmallCNN, "resnet": ResNet}
TEXT_MODELS: dict[str, Callable[..., TextModel]] = {
    "bilstm_attention": BiLSTMAttention,
    "bert": BertClassifier,
    "rationale": RationaleModel,
}


def build_image_model(
    name: str,
    *,
    in_channels: int,
    num_classes: int,
    image_size: int | tuple[int, int],
    width: int = 32,
    depth: int = 2,
    seed: int | None = None,
    **options: Any,
) -> nn.Module:
    """An untrained image model by registry name; `options` are the model's own extra settings (e.g. the
    ResNet's `blocks`). With `seed`, the initial weights depend on it alone (the global RNG is left alone)."""
    factory = _lookup(IMAGE_MODELS, name, "image")
    _check_options(name, factory, options, {"in_channels", "num_classes", "image_size", "width", "depth"})
    if width < 1:
        raise LanternError(f"width must be at least 1, got {width}", f"{name}: width", "e.g. 32")
    return _seeded(
        seed,
        lambda: factory(
            in_channels=in_channels,
            num_classes=num_classes,
            image_size=image_size,
            width=width,
            depth=depth,
            **options,
        ),
    )


def build_text_model(
    name: str,
    *,
    texts_for_vocab: Sequence[Sequence[str]],
    num_classes: int,
    seed: int | None = None,
    **cfg: Any,
) -> TextModel:
    """An untrained (or, for "bert", pretrained-encoder) text model by registry name; `cfg` holds the
    model's settings (e.g. hidden, target_rate, model, pooling)."""
    factory = _lookup(TEXT_MODELS, name, "text")
    _check_options(name, factory, cfg, {"texts_for_vocab", "num_classes"})
    return _seeded(seed, lambda: factory(texts_for_vocab=texts_for_vocab, num_classes=num_classes, **cfg))


def _lookup(registry: dict[str, Callable[..., Any]], name: str, kind: str) -> Callable[..., Any]:
    if name not in registry:
        raise LanternError(
            f"unknown {kind} model '{name}'", "model config: name", f"choose one of: {', '.join(registry)}"
        )
    return registry[name]


def _check_options(name: str, factory: Callable[..., Any], options: dict[str, Any], fixed: set[str]) -> None:
    accepted = set(inspect.signature(factory).parameters) - {"self"} - fixed
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise LanternError(
            f"unknown setting(s) for the {name} model: {', '.join(unknown)}",
            f"model config: {name}",
            f"settings are: {', '.join(sorted(accepted)) or 'none'}",
        )


def _seeded(seed: int | None, make: Callable[[], Any]) -> Any:
    if seed is None:
        return make()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()
