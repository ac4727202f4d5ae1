"""Entity-level scores: exact-span precision, recall and F1, overall (micro) and per label, as seqeval.

An entity counts as found only when its first token, last token and label all match. Entities are read
from the tags as seqeval's default mode reads them (an I- without a B- starts an entity).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from engine.ner.formats.schemes import tags_to_spans as spans
from engine.ner.types import Span

__all__ = ["LabelScore", "Scores", "entity_scores", "prf", "spans"]


class LabelScore(NamedTuple):
    precision: float
    recall: float
    f1: float
    support: int  # gold entities of this label


@dataclass(frozen=True)
class Scores:
    """Micro-averaged scores over all entities, and per label (sorted by label)."""

    precision: float
    recall: float
    f1: float
    support: int  # gold entities
    predicted: int  # predicted entities
    correct: int  # predicted entities that match a gold one exactly
    per_label: dict[str, LabelScore] = field(default_factory=dict)

    @property
    def macro_f1(self) -> float:
        """The unweighted mean of the per-label F1 scores (0 when there are no labels)."""
        if not self.per_label:
            return 0.0
        return sum(score.f1 for score in self.per_label.values()) / len(self.per_label)


def prf(correct: int, predicted: int, gold: int) -> tuple[float, float, float]:
    """Precision, recall, F1 from counts; a ratio with nothing to divide by is 0 (as seqeval)."""
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def entity_set(sentences: Sequence[Sequence[str]]) -> set[tuple[int, Span]]:
    """Every entity of a corpus as (sentence index, span)."""
    return {(index, span) for index, tags in enumerate(sentences) for span in spans(tags)}


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> Scores:
    """Exact-span entity scores of `pred` against `gold`, one tag sequence per sentence."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted ones")
    for index, (gold_tags, pred_tags) in enumerate(zip(gold, pred, strict=True)):
        if len(gold_tags) != len(pred_tags):
            raise ValueError(
                f"sentence {index}: {len(gold_tags)} gold tags but {len(pred_tags)} predicted ones"
            )
    gold_entities = entity_set(gold)
    pred_entities = entity_set(pred)
    hits = gold_entities & pred_entities
    by_gold = Counter(span.label for _, span in gold_entities)
    by_pred = Counter(span.label for _, span in pred_entities)
    by_hit = Counter(span.label for _, span in hits)
    per_label = {
        label: LabelScore(*prf(by_hit[label], by_pred[label], by_gold[label]), support=by_gold[label])
        for label in sorted(by_gold.keys() | by_pred.keys())
    }
    precision, recall, f1 = prf(len(hits), len(pred_entities), len(gold_entities))
    return Scores(precision, recall, f1, len(gold_entities), len(pred_entities), len(hits), per_label)
