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
