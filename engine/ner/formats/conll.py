"""CoNLL files: token<TAB or spaces>tag, or CoNLL-2003's token POS chunk NER; blank lines end sentences."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.ner.formats.building import RawSentence, build_sentences
from engine.ner.formats.files import CorpusError, read_text, text_lines, write_text_atomic
from engine.ner.formats.labels import LabelSpec, label_map
from engine.ner.formats.schemes import from_bio, scheme_name
from engine.ner.types import Sentence

DOCSTART = "-DOCSTART-"


def _columns(line: str) -> list[str]:
    # Tab-separated files may hold spaces inside a token; otherwise any run of spaces separates columns.
    return line.split("\t") if "\t" in line else line.split()


def parse_conll(
    text: str, source: str = "<text>", *, scheme: str = "BIO", strict: bool = True, labels: LabelSpec = None
) -> list[Sentence]:
    """Sentences from CoNLL text: the first column is the token, the last the tag (any middle columns,
    such as CoNLL-2003's POS and chunk tags, are ignored). Every line must have as many columns as the
    first; -DOCSTART- lines are skipped; a line that is empty or only whitespace ends a sentence."""
    scheme = scheme_name(scheme)
    raw: list[RawSentence] = []
    current = RawSentence(tags=[])
    expected: tuple[int, int] | None = None  # (columns, line that set it)
    for number, line in enumerate(text_lines(text), start=1):
        stripped = line.strip()
        columns = _columns(stripped) if stripped else []
        if not columns or columns[0] == DOCSTART:
            if current.tokens:
                raw.append(current)
                current = RawSentence(tags=[])
            continue
        where = f"{source}:{number}"
        if expected is None:
            if len(columns) < 2:
                raise CorpusError(
                    "a CoNLL line needs at least two columns, the token and its tag; this one has one",
                    where,
                    "separate token and tag with a tab; for text without tags use the plain-text format",
                )
            expected = (len(columns), number)
        if len(columns) != expected[0]:
            raise CorpusError(
                f"this line has {len(columns)} columns, but line {expected[1]} has {expected[0]}",
                where,
                "give every line the same columns (token ... tag), separated by tabs or spaces",
            )
        if any(not column.strip() for column in columns):
            raise CorpusError(
                "this line has an empty column", where, "remove the extra tab or fill the column"
            )
        assert current.tags is not None
        current.tokens.append(columns[0])
        current.tags.append(columns[-1])
        current.where.append(where)
    if current.tokens:
        raw.append(current)
    return build_sentences(raw, source, scheme=scheme, strict=strict, labels=label_map(labels))


def read_conll(
    path: str | Path, *, scheme: str = "BIO", strict: bool = True, labels: LabelSpec = None
) -> list[Sentence]:
    """Read a CoNLL file (see parse_conll); any problem raises a CorpusError naming the file and line."""
    return parse_conll(read_text(path), str(path), scheme=scheme, strict=strict, labels=labels)


def format_conll(sentences: Sequence[Sentence], scheme: str = "BIO") -> str:
    """CoNLL text: token<TAB>tag lines in `scheme`, a blank line after each sentence."""
    lines: list[str] = []
    for index, sentence in enumerate(sentences):
        if sentence.tags is None:
            raise CorpusError(
                f"sentence {index + 1} has no tags, and CoNLL needs one per token",
                "CoNLL export",
                "export untagged sentences as plain text or JSONL",
            )
        for token, tag in zip(sentence.tokens, from_bio(sentence.tags, scheme), strict=True):
            if any(character in token for character in "\t\n\r") or not token.strip():
                raise CorpusError(
                    f"token {token!r} of sentence {index + 1} is empty or holds a tab or line break",
                    "CoNLL export",
                    "export as JSONL, which can hold any token",
                )
            lines.append(f"{token}\t{tag}")
        lines.append("")
    return "\n".join(lines) + ("\n" if lines else "")


def write_conll(sentences: Sequence[Sentence], path: str | Path, *, scheme: str = "BIO") -> None:
    write_text_atomic(path, format_conll(sentences, scheme))
