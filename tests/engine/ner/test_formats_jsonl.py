"""JSONL with character spans (Prodigy, doccano, spaCy layouts): tokenising, spans to tags, round trips,
and bad records named by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.ner.formats.files import CorpusError
from engine.ner.formats.jsonl import format_jsonl, parse_jsonl, read_jsonl, sentence_record, write_jsonl
from engine.ner.formats.tokenize import Token, tokenize
from engine.ner.types import Sentence


def _write(tmp_path: Path, records: list[object] | str, name: str = "corpus.jsonl") -> Path:
    path = tmp_path / name
    text = records if isinstance(records, str) else "".join(json.dumps(r) + "\n" for r in records)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_tokenizer_splits_words_and_punctuation_and_keeps_offsets() -> None:
    text = "Don't go to the U.S, Anna-Lena!"
    tokens = tokenize(text)
    assert [t.text for t in tokens] == ["Don't", "go", "to", "the", "U.S", ",", "Anna-Lena", "!"]
    assert all(text[t.start : t.end] == t.text for t in tokens)
    assert tokens[4] == Token("U.S", 16, 19)


def test_prodigy_spans_become_bio_tags_over_the_tokens(tmp_path: Path) -> None:
    record = {
        "text": "Anna Maria lives in New York.",
        "spans": [{"start": 0, "end": 10, "label": "PER"}, {"start": 20, "end": 28, "label": "LOC"}],
    }
    assert read_jsonl(_write(tmp_path, [record])) == [
        Sentence(
            ("Anna", "Maria", "lives", "in", "New", "York", "."),
            ("B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O"),
        )
    ]


def test_doccano_and_spacy_layouts_and_a_record_without_spans(tmp_path: Path) -> None:
    records = [
        {"id": 7, "text": "Oslo is cold", "label": [[0, 4, "LOC"]]},  # doccano (seq2seq export)
        {"text": "Oslo is cold", "entities": [{"start_offset": 0, "end_offset": 5, "label": "LOC"}]},
        {  # spaCy Doc.to_json, with its own token offsets
            "text": "Oslo is cold",
            "ents": [{"start": 0, "end": 4, "label": "LOC"}],
            "tokens": [
                {"id": 0, "start": 0, "end": 4},
                {"id": 1, "start": 5, "end": 7},
                {"start": 8, "end": 12},
            ],
        },
        {"text": "nothing marked yet"},
        {"text": "Oslo is cold", "spans": []},
    ]
    tagged = Sentence(("Oslo", "is", "cold"), ("B-LOC", "O", "O"))
    assert read_jsonl(_write(tmp_path, records)) == [
        tagged,
        tagged,  # doccano's trailing space at a span edge is trimmed
        tagged,
        Sentence(("nothing", "marked", "yet")),
        Sentence(("Oslo", "is", "cold"), ("O", "O", "O")),
    ]


def test_given_string_tokens_are_used_instead_of_the_tokenizer(tmp_path: Path) -> None:
    record = {"text": "e-mail  @anna now", "tokens": ["e", "-", "mail", "@anna", "now"], "spans": []}
    [sentence] = read_jsonl(_write(tmp_path, [record]))
    assert sentence.tokens == ("e", "-", "mail", "@anna", "now")


def test_export_joins_tokens_by_single_spaces_and_rebuilds_character_spans() -> None:
    sentence = Sentence(("Anna", "met", "New", "York", "FC"), ("B-PER", "O", "B-ORG", "I-ORG", "I-ORG"))
    assert sentence_record(sentence) == {
        "text": "Anna met New York FC",
        "tokens": ["Anna", "met", "New", "York", "FC"],
        "spans": [{"start": 0, "end": 4, "label": "PER"}, {"start": 9, "end": 20, "label": "ORG"}],
    }
    assert "spans" not in sentence_record(Sentence(("untagged",)))


def test_export_then_import_round_trips_tagged_and_untagged_sentences(tmp_path: Path) -> None:
    sentences = [
        Sentence(
            ("@anna", "loves", "San", "Francisco", "!!"), ("B-person", "O", "B-geo-loc", "I-geo-loc", "O")
        ),
        Sentence(("New York", "U.S.", "x"), ("B-LOC", "B-LOC", "O")),  # tokens the tokenizer would split
        Sentence(("just", "text")),
        Sentence(("Zürich", "→", "😀"), ("B-LOC", "O", "O")),
    ]
    path = tmp_path / "out.jsonl"
    write_jsonl(sentences, path)
    assert read_jsonl(path) == sentences
    assert format_jsonl(read_jsonl(path)) == path.read_text(encoding="utf-8")


def test_a_span_that_cuts_a_token_is_refused_with_its_line(tmp_path: Path) -> None:
    good = {"text": "fine", "spans": []}
    bad = {"text": "Anna lives in Oslo", "spans": [{"start": 0, "end": 2, "label": "PER"}]}
    path = _write(tmp_path, [good, bad])
    with pytest.raises(CorpusError) as caught:
        read_jsonl(path)
    assert caught.value.what == "span [0, 2) 'An' (PER) cuts the token 'Anna' [0, 4)"
    assert caught.value.where == f"{path}:2"
    assert "token boundaries" in caught.value.hint


def test_overlapping_spans_are_refused(tmp_path: Path) -> None:
    record = {
        "text": "New York City",
        "spans": [{"start": 0, "end": 8, "label": "LOC"}, {"start": 4, "end": 13, "label": "LOC"}],
    }
    path = _write(tmp_path, [record])
    with pytest.raises(CorpusError) as caught:
        read_jsonl(path)
    assert caught.value.what == "span [4, 13) 'York City' (LOC) overlaps span [0, 8) (LOC)"
    assert caught.value.where == f"{path}:1"


def test_invalid_json_is_named_by_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"text": "ok"}\n\n{"text": "broken",\n')
    with pytest.raises(CorpusError) as caught:
        read_jsonl(path)
    assert caught.value.what.startswith("this line is not valid JSON (")
    assert caught.value.where == f"{path}:3"
    assert '"spans"' in caught.value.hint


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (["a list"], 'no "text" string'),
        ({"txt": "typo"}, 'no "text" string'),
        ({"text": "  "}, "holds no tokens"),
        ({"text": "a b", "spans": {"start": 0}}, "is not a list of spans"),
        ({"text": "a b", "spans": [{"start": "0", "end": 1, "label": "X"}]}, "integer start and end"),
        ({"text": "a b", "spans": [{"start": 0, "end": 1, "label": "two words"}]}, "labels are non-empty"),
        ({"text": "a b", "spans": [{"start": 0, "end": 9, "label": "X"}]}, "lies outside the text"),
        ({"text": "a b", "spans": [{"start": 1, "end": 2, "label": "X"}]}, "holds no whole token"),
        ({"text": "a b", "tokens": ["a", "c"]}, "token 2 'c' is not the next word"),
        ({"text": "a b", "tokens": [{"start": 0, "end": 5}]}, "does not fit the text"),
    ],
)
def test_bad_records_are_refused_with_their_line(tmp_path: Path, record: object, message: str) -> None:
    path = _write(tmp_path, [{"text": "fine"}, record])
    with pytest.raises(CorpusError, match=message) as caught:
        read_jsonl(path)
    assert caught.value.where == f"{path}:2"


def test_parse_jsonl_applies_a_label_map() -> None:
    text = json.dumps({"text": "Anna in Oslo", "spans": [[0, 4, "person"], [8, 12, "geo-loc"]]})
    [sentence] = parse_jsonl(text, labels="wnut-to-conll")
    assert sentence.tags == ("B-PER", "O", "B-LOC")
