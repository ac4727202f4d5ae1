"""spaCy formats: DocBin and Doc.to_json lines round-trip; without spaCy the writers say what to install."""

from __future__ import annotations

import builtins
import json
from pathlib import Path

import pytest

from engine.ner.formats.files import CorpusError
from engine.ner.formats.spacy_io import read_docbin, read_spacy_jsonl, write_docbin, write_spacy_jsonl
from engine.ner.types import Sentence

SENTENCES = [
    Sentence(("@anna", "loves", "San", "Francisco", "!"), ("B-person", "O", "B-geo-loc", "I-geo-loc", "O")),
    Sentence(("Paul", "Paul", "met", "IBM"), ("B-PER", "B-PER", "O", "B-ORG")),
    Sentence(("all", "outside"), ("O", "O")),  # annotated, without entities: not the same as untagged
    Sentence(("not", "annotated")),
]


@pytest.fixture
def no_spacy(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def refuse_spacy(name: str, *args: object, **kwargs: object) -> object:
        if name == "spacy" or name.startswith("spacy."):
            raise ImportError("No module named 'spacy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse_spacy)


def test_without_spacy_the_spacy_formats_say_what_to_install(tmp_path: Path, no_spacy: None) -> None:
    for write in (write_docbin, write_spacy_jsonl):
        with pytest.raises(CorpusError) as caught:
            write(SENTENCES, tmp_path / "out.spacy")
        assert caught.value.what == "spaCy is not installed, and this format needs it"
        assert "pip install spacy" in caught.value.hint
    assert not (tmp_path / "out.spacy").exists()


def test_docbin_round_trips(tmp_path: Path) -> None:
    pytest.importorskip("spacy")
    path = tmp_path / "corpus.spacy"
    write_docbin(SENTENCES, path)
    assert read_docbin(path) == SENTENCES


def test_spacy_jsonl_round_trips_and_holds_doc_to_json_records(tmp_path: Path) -> None:
    pytest.importorskip("spacy")
    path = tmp_path / "corpus.jsonl"
    write_spacy_jsonl(SENTENCES, path)
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert first["text"] == "@anna loves San Francisco !"
    assert first["ents"] == [
        {"start": 0, "end": 5, "label": "person"},
        {"start": 12, "end": 25, "label": "geo-loc"},
    ]
    assert read_spacy_jsonl(path) == SENTENCES


def test_a_damaged_docbin_file_is_named(tmp_path: Path) -> None:
    pytest.importorskip("spacy")
    path = tmp_path / "bad.spacy"
    path.write_bytes(b"not a docbin")
    with pytest.raises(CorpusError, match="not a readable spaCy DocBin file") as caught:
        read_docbin(path)
    assert caught.value.where == str(path)
