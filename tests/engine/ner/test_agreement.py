"""Agreement between annotators: Cohen's kappa and span F1 on cases worked out by hand."""

from __future__ import annotations

import math
from datetime import datetime

import pytest

from engine.ner import agreement as agreement_module
from engine.ner.agreement import agreement, between, cohen_kappa, label_kappas, token_kappa
from engine.ner.records import AnnotationRecord


def test_identical_annotations_have_kappa_one_and_span_f1_one() -> None:
    tags = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG"]]
    result = agreement(tags, tags)
    assert (result.kappa_bio, result.kappa_type, result.spans.f1) == (1.0, 1.0, 1.0)
    assert result.kappa_per_label == {"LOC": 1.0, "ORG": 1.0, "PER": 1.0}
    assert (result.sentences, result.tokens) == (2, 6)


def test_kappa_by_hand() -> None:
    # Types PER PER O O against PER O O O: observed 3/4; chance .5*.25 + .5*.75 = .5; kappa (.75-.5)/.5.
    first, second = [["B-PER", "I-PER", "O", "O"]], [["B-PER", "O", "O", "O"]]
    assert token_kappa(first, second, level="type") == pytest.approx(0.5)
    # BIO tags B I O O against B O O O: chance .25*.25 + .25*0 + .5*.75 = .4375; (.75-.4375)/.5625 = 5/9.
    assert token_kappa(first, second, level="bio") == pytest.approx(5 / 9)


def test_agreement_at_chance_level_is_zero_and_systematic_disagreement_negative() -> None:
    # PER PER O O against PER O PER O: observed 1/2, chance .5*.5 + .5*.5 = 1/2.
    assert token_kappa([["B-PER", "I-PER", "O", "O"]], [["B-PER", "O", "B-PER", "O"]], level="type") == 0.0
    assert cohen_kappa(["X", "O"], ["O", "X"]) == -1.0


def test_one_label_used_everywhere_by_both_counts_as_full_agreement() -> None:
    assert cohen_kappa(["O", "O", "O"], ["O", "O", "O"]) == 1.0
    assert math.isnan(cohen_kappa([], []))


def test_per_label_kappa_is_this_type_or_not_per_token() -> None:
    first = [["B-PER", "O", "B-LOC", "O"]]
    second = [["B-PER", "O", "O", "B-LOC"]]
    kappas = label_kappas(first, second)
    assert kappas["PER"] == 1.0
    # LOC: yes no against no yes on tokens 2-3, both no on 0-1: observed 1/2, chance .75*.75+.25*.25.
    assert kappas["LOC"] == pytest.approx((0.5 - 0.625) / (1 - 0.625))


def test_span_f1_takes_the_first_annotator_as_reference_per_label_and_per_sentence() -> None:
    first = [["B-PER", "I-PER", "O"], ["B-LOC", "O", "O"], ["O", "O"]]
    second = [["B-PER", "O", "B-PER"], ["B-LOC", "O", "B-ORG"], ["O", "O"]]
    result = agreement(first, second, sentence_ids=[10, 11, 12])
    assert (result.spans.support, result.spans.predicted, result.spans.correct) == (2, 4, 1)
    assert (result.spans.precision, result.spans.recall) == (0.25, 0.5)
    assert result.spans.per_label["LOC"].f1 == 1.0
    assert result.spans.per_label["PER"].f1 == 0.0
    # Lowest first: sentence 10 (no entity matches), then 11 (one of two), then 12 (both marked nothing).
    assert [(d.sentence_id, d.span_f1) for d in result.documents] == [
        (10, 0.0),
        (11, pytest.approx(2 / 3)),
        (12, 1.0),
    ]
    assert result.documents[2].kappa == 1.0


def test_between_pairs_two_annotators_on_the_sentences_both_accepted() -> None:
    now = datetime(2026, 1, 1)
    records = [
        AnnotationRecord(1, "ann", 1, ("B-PER", "O"), now),
        AnnotationRecord(1, "bob", 2, ("B-PER", "O"), now),
        AnnotationRecord(2, "ann", 1, ("O", "B-LOC"), now),
        AnnotationRecord(3, "ann", 1, ("O", "O"), now),
        AnnotationRecord(3, "bob", 2, ("B-ORG", "O"), now),
    ]
    result = between(records, "ann", "bob")
    assert result.sentences == 2
    assert [d.sentence_id for d in result.documents] == [3, 1]
    assert (result.spans.correct, result.spans.predicted, result.spans.support) == (1, 2, 1)


def test_every_measure_has_a_one_line_explanation() -> None:
    for name in ("KAPPA_BIO", "KAPPA_TYPE", "SPAN_F1", "PER_LABEL", "PER_DOCUMENT"):
        text = getattr(agreement_module, f"{name}_MEANING")
        assert 60 < len(text) < 260 and "\n" not in text
