"""Plain, frozen records the NER repository returns: corpora, predictions, annotations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class CorpusRecord:
    id: int
    name: str
    labels: tuple[str, ...]
    source: str
    counts: dict[str, int]  # sentences per split ('pool', 'test')
    words: int  # tokens in all splits
    created_at: datetime

    @property
    def sentences(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Prediction:
    """A tagger's view of one sentence: the acquisition score (higher = ask sooner), its BIO tags and the
    probability of each tag."""

    score: float
    tags: tuple[str, ...]
    confidences: tuple[float, ...]
    model_version: str = ""
    created_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class AnnotationRecord:
    """One annotator's accepted tags for one sentence."""

    sentence_id: int
    annotator: str
    annotator_id: int
    tags: tuple[str, ...]
    accepted_at: datetime
