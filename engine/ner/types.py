"""The shapes every NER module shares: a sentence of tokens with BIO tags, and entity spans."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """An entity over tokens [start, end) with its label (e.g. PER)."""

    start: int
    end: int
    label: str


@dataclass(frozen=True)
class Sentence:
    """Tokens and, when labelled, one BIO tag per token (BIO is Lantern's canonical scheme;
    other schemes are converted on import and export)."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...] | None = None
    id: int | None = None  # the store's sentence id, when it came from the store

    @property
    def is_labelled(self) -> bool:
        return self.tags is not None

    def __len__(self) -> int:
        return len(self.tokens)
