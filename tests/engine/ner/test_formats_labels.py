"""Label mapping on import: dicts, defaults, dropping a label, the WNUT-to-CoNLL preset, clear errors."""

from __future__ import annotations

import pytest

from engine.ner.formats.conll import parse_conll
from engine.ner.formats.files import CorpusError
from engine.ner.formats.labels import WNUT_TO_CONLL, LabelMap, label_map

WNUT = (
    "Anna\tB-person\nof\tO\nNew\tB-sportsteam\nYork\tI-sportsteam\nFC\tB-company\nin\tO\nParis\tB-geo-loc\n\n"
)


def test_the_wnut_preset_maps_ten_types_to_per_loc_org_misc() -> None:
    [sentence] = parse_conll(WNUT, labels="wnut-to-conll")
    assert sentence.tags == ("B-PER", "O", "B-ORG", "I-ORG", "B-ORG", "O", "B-LOC")
    assert {WNUT_TO_CONLL.label(label, "") for label in ("movie", "tvshow", "other", "facility")} == {"MISC"}
    assert WNUT_TO_CONLL.label("something-new", "") == "MISC"


def test_mapping_keeps_entity_boundaries_when_two_labels_merge() -> None:
    # Adjacent sportsteam and company entities both become ORG: still two entities (B-ORG I-ORG B-ORG).
    [sentence] = parse_conll(WNUT, labels=label_map({"sportsteam": "ORG", "company": "ORG"}, default="O"))
    assert sentence.tags[2:5] == ("B-ORG", "I-ORG", "B-ORG")


def test_mapping_a_label_to_o_drops_its_entities() -> None:
    [sentence] = parse_conll(WNUT, labels=LabelMap({"person": "PER"}, default="O"))
    assert sentence.tags == ("B-PER",) + ("O",) * 6


def test_an_unmapped_label_without_a_default_is_an_error_at_its_line() -> None:
    with pytest.raises(CorpusError) as caught:
        parse_conll(WNUT, "wnut.txt", labels={"person": "PER"})
    assert caught.value.what == "label 'sportsteam' has no mapping in the 'custom' label map (mapped: person)"
    assert caught.value.where == "wnut.txt:3"
    assert "default" in caught.value.hint


def test_an_unknown_preset_is_named() -> None:
    with pytest.raises(CorpusError, match="unknown label map 'wnut'"):
        label_map("wnut")
