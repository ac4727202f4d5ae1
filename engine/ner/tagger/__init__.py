"""NER taggers behind one interface, and their registry (importing this stays free of torch).

TAGGERS["cnn_cnn_lstm"].create(labels, config, device)   a new tagger
load_tagger(path, device)                                 a tagger from its checkpoint
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.core.errors import LanternError

if TYPE_CHECKING:
    from engine.ner.tagger.base import Tagger


@dataclass(frozen=True)
class TaggerEntry:
    """A registered tagger: its class is imported only when one is made (torch comes with it)."""

    name: str
    title: str
    module: str
    class_name: str

    def load(self) -> type[Tagger]:
        return getattr(importlib.import_module(self.module), self.class_name)

    def create(
        self, labels: Sequence[str], config: dict[str, Any] | None = None, device: str = "cpu"
    ) -> Tagger:
        return self.load()(labels, config, device)


# CNN-CNN-LSTM settings for small corpora and laptop CPUs: the paper's architecture, narrower, with
# lighter dropout and a faster step. The paper's defaults are tuned for CoNLL-2003 (200k training words,
# pretrained embeddings); on WNUT-16 (37k words, none pretrained) they still score F1 0 after 5 epochs,
# while these reach about 0.37 after 10 and train about 6x faster (bench/ner.py). The jobs and the bench
# use them (preset "small-data"); preset "paper" keeps the paper's sizes.
SMALL_DATA_CONFIG: dict[str, Any] = {
    "word_filters": 200,
    "decoder_hidden": 128,
    "dropout": 0.25,
    "word_dropout": 0.25,
    "learning_rate": 3e-3,
}
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "small-data": {"cnn_cnn_lstm": SMALL_DATA_CONFIG},
    "paper": {},
}


def preset_config(preset: str, tagger: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """A tagger config: the preset's settings for that tagger (if any), then the caller's overrides."""
    if preset not in PRESETS:
        raise LanternError(f"unknown preset '{preset}'", "tagger preset", f"use one of: {', '.join(PRESETS)}")
    return {**PRESETS[preset].get(tagger, {}), **(overrides or {})}


TAGGERS: dict[str, TaggerEntry] = {
    entry.name: entry
    for entry in (
        TaggerEntry(
            "cnn_cnn_lstm",
            "CNN-CNN-LSTM (Shen et al. 2018)",
            "engine.ner.tagger.cnn_cnn_lstm",
            "CnnCnnLstmTagger",
        ),
        TaggerEntry(
            "transformer",
            "Pretrained transformer encoder + linear head (MiniLM by default)",
            "engine.ner.tagger.transformer",
            "TransformerTagger",
        ),
    )
}


def tagger_entry(name: str) -> TaggerEntry:
    if name not in TAGGERS:
        raise LanternError(f"unknown tagger '{name}'", "tagger", f"use one of: {', '.join(TAGGERS)}")
    return TAGGERS[name]


def create_tagger(
    name: str, labels: Sequence[str], config: dict[str, Any] | None = None, device: str = "cpu"
) -> Tagger:
    """A new, untrained tagger of the named kind."""
    return tagger_entry(name).create(labels, config, device)


def load_tagger(path: Path | str, device: str = "cpu") -> Tagger:
    """The tagger saved at `path` (any registered kind), ready to predict or to continue fitting."""
    from engine.core.checkpoint import load_checkpoint
    from engine.ner.tagger.base import check_checkpoint_meta

    checkpoint = load_checkpoint(path)
    check_checkpoint_meta(checkpoint.meta, str(path))
    return tagger_entry(str(checkpoint.meta.get("tagger"))).load().from_checkpoint(checkpoint, device)
