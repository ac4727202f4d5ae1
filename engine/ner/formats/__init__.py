"""Corpus import and export: CoNLL, JSONL with character spans, plain text, spaCy JSONL and DocBin.

`read_corpus` / `write_corpus` pick the format by name or by file extension; every reader returns
Sentences in BIO (Lantern's canonical scheme) or raises a CorpusError naming the file and line, having
read nothing into the store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from engine.ner.formats.conll import read_conll, write_conll
from engine.ner.formats.files import CorpusError, read_text, text_lines
from engine.ner.formats.jsonl import read_jsonl, write_jsonl
from engine.ner.formats.labels import LabelMap, LabelSpec, label_map
from engine.ner.formats.plaintext import read_plaintext, write_plaintext
from engine.ner.formats.schemes import SCHEMES
from engine.ner.formats.spacy_io import read_docbin, read_spacy_jsonl, write_docbin, write_spacy_jsonl
from engine.ner.types import Sentence

FORMATS = ("conll", "jsonl", "text", "spacy-jsonl", "docbin")
TAGGED_ONLY = ("conll",)  # formats that cannot hold untagged sentences

EXTENSIONS = {
    ".conll": "conll",
    ".conllu": "conll",
    ".iob": "conll",
    ".bio": "conll",
    ".tsv": "conll",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".spacy": "docbin",
}

__all__ = [
    "FORMATS",
    "SCHEMES",
    "CorpusError",
    "LabelMap",
    "detect_format",
    "read_corpus",
    "write_corpus",
]


def _looks_like_conll(path: Path) -> bool:
    """A .txt file is CoNLL when its first non-blank line is 'token ... tag' with a tag-like last column."""
    for line in text_lines(read_text(path)):
        columns = line.split("\t") if "\t" in line else line.split()
        columns = [column for column in columns if column.strip()]
        if columns:
            last = columns[-1]
            return len(columns) >= 2 and (
                last == "O" or (len(last) > 2 and last[0] in "BIES" and last[1] == "-")
            )
    return False


def detect_format(path: str | Path, fmt: str | None = None) -> str:
    """The format named, or the one the extension says (.txt: CoNLL when it looks tagged, else text)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise CorpusError(
                f"unknown corpus format '{fmt}'", "format option", f"use one of {', '.join(FORMATS)}"
            )
        return fmt
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    if suffix in (".txt", ".text", ""):
        return "conll" if path.is_file() and _looks_like_conll(path) else "text"
    raise CorpusError(
        f"cannot tell the format of a '{suffix}' file",
        str(path),
        f"name the format ({', '.join(FORMATS)})",
    )


def read_corpus(
    path: str | Path,
    fmt: str | None = None,
    *,
    scheme: str = "BIO",
    strict: bool = True,
    labels: LabelSpec = None,
    default_label: str | None = None,
) -> list[Sentence]:
    """Read a whole corpus file into BIO Sentences, or raise a CorpusError (file:line, what to do).

    scheme/strict apply to CoNLL; `labels` is a label-map preset name ("wnut-to-conll"), a dict, or a
    LabelMap, and `default_label` the label given to labels the dict does not name.
    """
    mapping = label_map(labels, default=default_label)
    kind = detect_format(path, fmt)
    if kind == "conll":
        return read_conll(path, scheme=scheme, strict=strict, labels=mapping)
    if kind == "jsonl":
        return read_jsonl(path, labels=mapping)
    if kind == "spacy-jsonl":
        return read_spacy_jsonl(path, labels=mapping)
    if kind == "docbin":
        return read_docbin(path, labels=mapping)
    return read_plaintext(path)


WRITERS: dict[str, Callable[[Sequence[Sentence], Path], None]] = {
    "jsonl": write_jsonl,
    "text": write_plaintext,
    "spacy-jsonl": write_spacy_jsonl,
    "docbin": write_docbin,
}


def write_corpus(
    sentences: Sequence[Sentence], path: str | Path, fmt: str | None = None, *, scheme: str = "BIO"
) -> str:
    """Write sentences in a format (by name or extension; CoNLL in `scheme`); returns the format used."""
    path = Path(path)
    suffix = path.suffix.lower()
    if fmt is None and suffix not in EXTENSIONS and suffix != ".txt":
        raise CorpusError(
            f"cannot tell which format to write for a '{suffix}' file",
            str(path),
            f"name the format ({', '.join(FORMATS)})",
        )
    kind = detect_format(path, fmt or EXTENSIONS.get(suffix, "conll"))
    if kind == "conll":
        write_conll(sentences, path, scheme=scheme)
    else:
        WRITERS[kind](sentences, path)
    return kind
