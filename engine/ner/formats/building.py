"""Turn parsed tokens and tags, each with its file:line, into canonical BIO Sentences (scheme, label map)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.ner.formats.files import CorpusError
from engine.ner.formats.labels import LabelMap
from engine.ner.formats.schemes import to_bio
from engine.ner.types import Sentence


@dataclass
class RawSentence:
    """A sentence as read from a file, before validation: `where[i]` names token i ('file:line')."""

    tokens: list[str] = field(default_factory=list)
    tags: list[str] | None = None
    where: list[str] = field(default_factory=list)


def build_sentences(
    raw: list[RawSentence], source: str, *, scheme: str, strict: bool, labels: LabelMap | None
) -> list[Sentence]:
    """Validate and convert every sentence; the first problem raises (so nothing is half-imported)."""
    if not raw:
        raise CorpusError("the file holds no sentences", source, "check that this is the corpus file")
    sentences = []
    for item in raw:
        tags = None
        if item.tags is not None:
            tags = to_bio(item.tags, scheme, strict=strict, locate=item.where.__getitem__)
            if labels is not None:
                tags = labels.apply(tags, item.where.__getitem__)
        sentences.append(Sentence(tuple(item.tokens), tags))
    return sentences
