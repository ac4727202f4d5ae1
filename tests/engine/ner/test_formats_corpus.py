"""read_corpus / write_corpus: the format by name or extension, and every format's round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.ner.formats import CorpusError, detect_format, read_corpus, write_corpus
from engine.ner.types import Sentence

TAGGED = [
    Sentence(("Anna", "flew", "to", "New", "York", "."), ("B-PER", "O", "O", "B-LOC", "I-LOC", "O")),
    Sentence(("IBM", "IBM"), ("B-ORG", "B-ORG")),
]


def test_the_format_follows_the_extension_and_txt_is_sniffed(tmp_path: Path) -> None:
    conll_txt = tmp_path / "wnut.txt"
    conll_txt.write_text("Anna\tB-person\n\t\n", encoding="utf-8")
    plain_txt = tmp_path / "notes.txt"
    plain_txt.write_text("Anna went home\nNothing else here O\n", encoding="utf-8")
    assert detect_format(conll_txt) == "conll"
    assert detect_format(plain_txt) == "text"
    assert detect_format(tmp_path / "x.iob") == "conll"
    assert detect_format(tmp_path / "x.jsonl") == "jsonl"
    assert detect_format(tmp_path / "x.spacy") == "docbin"
    assert detect_format(tmp_path / "x.whatever", "spacy-jsonl") == "spacy-jsonl"
    with pytest.raises(CorpusError, match=r"cannot tell the format of a '\.xlsx' file"):
        detect_format(tmp_path / "x.xlsx")
    with pytest.raises(CorpusError, match="unknown corpus format 'csv'"):
        detect_format(tmp_path / "x.txt", "csv")


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("c.conll", None), ("c.txt", "conll"), ("c.jsonl", None), ("c.spacy", None), ("s.jsonl", "spacy-jsonl")],
)
def test_every_format_round_trips_through_write_and_read(tmp_path: Path, name: str, fmt: str | None) -> None:
    if name.endswith(".spacy") or fmt == "spacy-jsonl":
        pytest.importorskip("spacy")
    path = tmp_path / name
    used = write_corpus(TAGGED, path, fmt, scheme="IOBES")
    assert used == (fmt or {"c.conll": "conll", "c.jsonl": "jsonl", "c.spacy": "docbin"}[name])
    assert read_corpus(path, fmt, scheme="IOBES") == TAGGED


def test_plain_text_round_trips_the_tokens(tmp_path: Path) -> None:
    path = tmp_path / "c.text"
    write_corpus(TAGGED, path, "text")
    assert read_corpus(path, "text") == [Sentence(s.tokens) for s in TAGGED]


def test_read_corpus_maps_labels_with_a_default(tmp_path: Path) -> None:
    path = tmp_path / "c.conll"
    write_corpus(TAGGED, path)
    sentences = read_corpus(path, labels={"PER": "person"}, default_label="thing")
    assert sentences[0].tags == ("B-person", "O", "O", "B-thing", "I-thing", "O")


def test_an_unknown_extension_is_refused_on_export(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="cannot tell which format to write"):
        write_corpus(TAGGED, tmp_path / "c.xlsx")
