"""Agreement between two annotators: token-level Cohen's kappa and span F1, overall, per label and per
sentence, each with a line saying what it means."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.ner.formats.schemes import split_tag
from engine.ner.metrics import Scores, entity_scores
from engine.ner.records import AnnotationRecord

KAPPA_BIO_MEANING = (
    "Cohen's kappa over BIO tags: how often the two annotators give a token the same tag (B-PER, I-PER, "
    "O, ...), corrected for the agreement chance alone would give; 1 = identical, 0 = no better than "
    "chance, above 0.8 is usually taken as reliable."
)
KAPPA_TYPE_MEANING = (
    "Cohen's kappa over entity types per token: as the BIO kappa, but B-PER and I-PER both count as PER, "
    "so it measures agreement on what each token is, not on where entities begin."
)
SPAN_F1_MEANING = (
    "Span F1: how many entities the two annotators marked identically (same first and last token, same "
    "label), with the first annotator as the reference; 1 = every entity matches exactly."
)
PER_LABEL_MEANING = (
    "Per label: the same measures for one entity type alone (kappa: this type or not, per token), to see "
    "which labels the annotators understand differently."
)
PER_DOCUMENT_MEANING = (
    "Per sentence: agreement on each sentence both annotated, lowest first, to find the sentences worth "
    "talking over; two annotators who both mark no entity agree fully."
)


def cohen_kappa(first: Sequence[str], second: Sequence[str]) -> float:
    """Cohen's kappa of two label sequences: (observed - chance agreement) / (1 - chance agreement).

    Identical sequences score 1 even when they use a single label (where the formula reads 0 / 0).
    """
    if len(first) != len(second):
        raise ValueError(f"{len(first)} labels against {len(second)}")
    if not first:
        return math.nan
    total = len(first)
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / total
    counts_first, counts_second = Counter(first), Counter(second)
    chance = sum(counts_first[label] * counts_second[label] for label in counts_first) / total**2
    if chance >= 1.0:
        return 1.0
    return (observed - chance) / (1.0 - chance)


def entity_type(tag: str) -> str:
    """'PER' for B-PER and I-PER, 'O' for O."""
    return split_tag(tag)[1] or "O"


def _flat(sentences: Sequence[Sequence[str]], level: str) -> list[str]:
    if level not in ("bio", "type"):
        raise ValueError(f"level must be 'bio' or 'type', not {level!r}")
    return [tag if level == "bio" else entity_type(tag) for tags in sentences for tag in tags]


def token_kappa(
    first: Sequence[Sequence[str]], second: Sequence[Sequence[str]], *, level: str = "bio"
) -> float:
    """Cohen's kappa over every token of the corpus: over BIO tags (level='bio') or entity types ('type')."""
    if len(first) != len(second) or any(len(a) != len(b) for a, b in zip(first, second, strict=False)):
        raise ValueError("the two annotations must cover the same sentences with the same tokens")
    return cohen_kappa(_flat(first, level), _flat(second, level))


def label_kappas(first: Sequence[Sequence[str]], second: Sequence[Sequence[str]]) -> dict[str, float]:
    """Per label: kappa of 'this token is of that type' against 'it is not'."""
    types_first, types_second = _flat(first, "type"), _flat(second, "type")
    labels = sorted((set(types_first) | set(types_second)) - {"O"})
    return {
        label: cohen_kappa(
            [label if t == label else "-" for t in types_first],
            [label if t == label else "-" for t in types_second],
        )
        for label in labels
    }


@dataclass(frozen=True)
class DocumentAgreement:
    """Agreement on one sentence both annotators labelled."""

    index: int  # position in the compared lists
    sentence_id: int | None
    tokens: int
    kappa: float  # over entity types per token
    span_f1: float  # 1.0 when neither marked an entity


@dataclass(frozen=True)
class Agreement:
    sentences: int
    tokens: int
    kappa_bio: float
    kappa_type: float
    kappa_per_label: dict[str, float]
    spans: Scores  # precision/recall/F1 of the second annotator against the first, overall and per label
    documents: list[DocumentAgreement]  # lowest span F1 (then kappa) first


def agreement(
    first: Sequence[Sequence[str]],
    second: Sequence[Sequence[str]],
    sentence_ids: Sequence[int | None] | None = None,
) -> Agreement:
    """All agreement measures between two annotators' BIO tags for the same sentences."""
    ids = list(sentence_ids) if sentence_ids is not None else [None] * len(first)
    documents = []
    for index, (a, b) in enumerate(zip(first, second, strict=True)):
        scores = entity_scores([a], [b])
        f1 = 1.0 if scores.support == 0 and scores.predicted == 0 else scores.f1
        kappa = cohen_kappa([entity_type(t) for t in a], [entity_type(t) for t in b])
        documents.append(DocumentAgreement(index, ids[index], len(a), kappa, f1))
    documents.sort(key=lambda doc: (doc.span_f1, doc.kappa, doc.index))
    return Agreement(
        sentences=len(first),
        tokens=sum(len(tags) for tags in first),
        kappa_bio=token_kappa(first, second, level="bio"),
        kappa_type=token_kappa(first, second, level="type"),
        kappa_per_label=label_kappas(first, second),
        spans=entity_scores(first, second),
        documents=documents,
    )


def between(annotations: Iterable[AnnotationRecord], first: str, second: str) -> Agreement:
    """Agreement of annotator `second` with `first` (the reference) on the sentences both accepted."""
    by_sentence: dict[int, dict[str, tuple[str, ...]]] = {}
    for record in annotations:
        by_sentence.setdefault(record.sentence_id, {})[record.annotator] = record.tags
    shared = sorted(sid for sid, tags in by_sentence.items() if first in tags and second in tags)
    return agreement(
        [by_sentence[sid][first] for sid in shared],
        [by_sentence[sid][second] for sid in shared],
        shared,
    )
