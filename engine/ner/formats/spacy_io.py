"""spaCy's formats: Doc.to_json lines (JSONL) and DocBin (.spacy) files; spaCy is imported here, lazily."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from engine.ner.formats.files import CorpusError, write_bytes_atomic, write_text_atomic
from engine.ner.formats.jsonl import read_jsonl
from engine.ner.formats.labels import LabelSpec, label_map
from engine.ner.formats.schemes import to_bio
from engine.ner.types import Sentence


def _spacy(where: str) -> ModuleType:
    try:
        import spacy
        import spacy.tokens
    except ImportError as exc:
        raise CorpusError(
            "spaCy is not installed, and this format needs it",
            where,
            "pip install spacy (3.x), or use CoNLL or JSONL",
        ) from exc
    return spacy


def _docs(sentences: Sequence[Sentence], where: str) -> list[Any]:
    spacy = _spacy(where)
    vocab = spacy.vocab.Vocab()
    docs = []
    for sentence in sentences:
        spaces = [True] * (len(sentence.tokens) - 1) + [False]
        ents = None if sentence.tags is None else list(to_bio(sentence.tags, strict=False))
        docs.append(spacy.tokens.Doc(vocab, words=list(sentence.tokens), spaces=spaces, ents=ents))
    return docs


def write_spacy_jsonl(sentences: Sequence[Sentence], path: str | Path) -> None:
    """One Doc.to_json() per line ({"text", "ents", "tokens"}); unlabelled sentences have no "ents"."""
    lines = [json.dumps(doc.to_json(), ensure_ascii=False) + "\n" for doc in _docs(sentences, str(path))]
    write_text_atomic(path, "".join(lines))


def read_spacy_jsonl(path: str | Path, *, labels: LabelSpec = None) -> list[Sentence]:
    """Doc.to_json lines are JSONL with character spans ("ents") and token offsets: the JSONL reader reads
    them exactly (without needing spaCy)."""
    return read_jsonl(path, labels=labels)


def write_docbin(sentences: Sequence[Sentence], path: str | Path) -> None:
    """A .spacy file (DocBin), one Doc per sentence, entities set from the tags."""
    spacy = _spacy(str(path))
    data = spacy.tokens.DocBin(docs=_docs(sentences, str(path))).to_bytes()
    write_bytes_atomic(path, data)


def read_docbin(path: str | Path, *, labels: LabelSpec = None) -> list[Sentence]:
    """Sentences from a .spacy file: one per Doc, whitespace tokens dropped; a Doc without entity
    annotation is an unlabelled sentence."""
    spacy = _spacy(str(path))
    path = Path(path)
    if not path.is_file():
        raise CorpusError("the file does not exist", str(path), "check the path")
    try:
        docs = list(spacy.tokens.DocBin().from_disk(path).get_docs(spacy.vocab.Vocab()))
    except Exception as exc:  # spaCy raises ValueError, KeyError, msgpack errors... for a damaged file
        raise CorpusError(
            f"this is not a readable spaCy DocBin file ({type(exc).__name__}: {exc})",
            str(path),
            "choose a .spacy file written by spaCy 3 (DocBin.to_disk)",
        ) from exc
    if not docs:
        raise CorpusError("the file holds no documents", str(path), "choose the file that holds the corpus")
    mapping = label_map(labels)
    sentences = []
    for number, doc in enumerate(docs, start=1):
        kept = [token for token in doc if token.text.strip()]
        if not kept:
            continue
        tokens = tuple(token.text for token in kept)
        tags = None
        if doc.has_annotation("ENT_IOB"):
            raw = [f"{t.ent_iob_}-{t.ent_type_}" if t.ent_iob_ in ("B", "I") else "O" for t in kept]
            tags = to_bio(raw, strict=False)
            if mapping is not None:
                tags = mapping.apply(tags, lambda _index, number=number: f"{path}: document {number}")
        sentences.append(Sentence(tokens, tags))
    return sentences
