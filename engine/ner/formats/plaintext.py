"""Plain text: one sentence per line, tokenised, no tags (a corpus to annotate from scratch)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.ner.formats.files import CorpusError, read_text, text_lines, write_text_atomic
from engine.ner.formats.tokenize import tokenize
from engine.ner.types import Sentence


def parse_plaintext(text: str, source: str = "<text>") -> list[Sentence]:
    """One untagged sentence per non-blank line."""
    sentences = []
    for line in text_lines(text):
        tokens = tuple(token.text for token in tokenize(line))
        if tokens:
            sentences.append(Sentence(tokens))
    if not sentences:
        raise CorpusError("the file holds no words", source, "choose a text file with one sentence per line")
    return sentences


def read_plaintext(path: str | Path) -> list[Sentence]:
    return parse_plaintext(read_text(path), str(path))


def format_plaintext(sentences: Sequence[Sentence]) -> str:
    """Tokens joined by single spaces, one sentence per line (tags are not written)."""
    return "".join(" ".join(sentence.tokens) + "\n" for sentence in sentences)


def write_plaintext(sentences: Sequence[Sentence], path: str | Path) -> None:
    write_text_atomic(path, format_plaintext(sentences))
