"""Entity-level exact-span scores on hand-made cases with known answers, and against seqeval itself."""

from __future__ import annotations

import random

import pytest

from engine.ner.metrics import LabelScore, entity_scores, prf, spans
from engine.ner.types import Span


def test_a_wrong_label_halves_precision_and_recall() -> None:
    scores = entity_scores([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-ORG"]])
    assert (scores.precision, scores.recall, scores.f1) == (0.5, 0.5, 0.5)
    assert (scores.support, scores.predicted, scores.correct) == (2, 2, 1)
    assert scores.per_label == {
        "LOC": LabelScore(0.0, 0.0, 0.0, 1),
        "ORG": LabelScore(0.0, 0.0, 0.0, 0),
        "PER": LabelScore(1.0, 1.0, 1.0, 1),
    }
    assert scores.macro_f1 == pytest.approx(1 / 3)


def test_only_exact_spans_count() -> None:
    scores = entity_scores([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]])
    assert (scores.precision, scores.recall, scores.f1, scores.correct) == (0.0, 0.0, 0.0, 0)


def test_three_gold_four_predicted_two_right() -> None:
    gold = [["B-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "O"]]
    pred = [["B-PER", "O", "B-LOC"], ["B-ORG", "O", "B-LOC"]]  # ORG cut short, one LOC too many
    scores = entity_scores(gold, pred)
    assert (scores.correct, scores.predicted, scores.support) == (2, 4, 3)
    assert (scores.precision, scores.recall) == (0.5, pytest.approx(2 / 3))
    assert scores.f1 == pytest.approx(4 / 7)
    assert scores.per_label["LOC"] == LabelScore(0.5, 1.0, pytest.approx(2 / 3), 1)
    assert scores.per_label["ORG"] == LabelScore(0.0, 0.0, 0.0, 1)


def test_an_i_tag_without_b_starts_an_entity_as_in_seqeval() -> None:
    assert spans(["O", "I-PER", "I-PER", "I-LOC", "B-LOC", "I-PER"]) == [
        Span(1, 3, "PER"),
        Span(3, 4, "LOC"),
        Span(4, 5, "LOC"),
        Span(5, 6, "PER"),
    ]
    assert entity_scores([["O", "B-PER", "I-PER"]], [["O", "I-PER", "I-PER"]]).f1 == 1.0


def test_entities_in_different_sentences_are_not_confused() -> None:
    scores = entity_scores([["B-PER"], ["O"]], [["O"], ["B-PER"]])
    assert (scores.correct, scores.f1) == (0, 0.0)


def test_nothing_to_divide_by_gives_zero_as_seqeval() -> None:
    assert prf(0, 0, 0) == (0.0, 0.0, 0.0)
    scores = entity_scores([["O", "O"]], [["O", "O"]])
    assert (scores.precision, scores.recall, scores.f1, scores.per_label) == (0.0, 0.0, 0.0, {})


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="2 gold sentences but 1 predicted"):
        entity_scores([["O"], ["O"]], [["O"]])
    with pytest.raises(ValueError, match="sentence 0: 2 gold tags but 1 predicted"):
        entity_scores([["O", "O"]], [["O"]])


def _noisy(tags: list[str], labels: list[str], rng: random.Random) -> list[str]:
    """Tags with random damage: wrong labels, dropped or shifted entities, orphan I- tags."""
    out = list(tags)
    for index in range(len(out)):
        roll = rng.random()
        if roll < 0.05:
            out[index] = "O"
        elif roll < 0.10:
            out[index] = f"{rng.choice('BI')}-{rng.choice(labels)}"
    return out


def test_scores_equal_seqeval_on_wnut16_with_random_errors() -> None:
    seqeval_metrics = pytest.importorskip("seqeval.metrics")
    from engine.ner.formats.demo import load_wnut16

    rng = random.Random(3)
    gold = [list(s.tags) for s in load_wnut16()[:800]]
    labels = sorted({tag[2:] for tags in gold for tag in tags if tag != "O"})
    pred = [_noisy(tags, labels, rng) for tags in gold]
    ours = entity_scores(gold, pred)
    assert ours.precision == pytest.approx(seqeval_metrics.precision_score(gold, pred))
    assert ours.recall == pytest.approx(seqeval_metrics.recall_score(gold, pred))
    assert ours.f1 == pytest.approx(seqeval_metrics.f1_score(gold, pred))
    report = seqeval_metrics.classification_report(gold, pred, output_dict=True, zero_division=0)
    for label, score in ours.per_label.items():
        theirs = report[label]
        assert (score.precision, score.recall, score.f1) == pytest.approx(
            (theirs["precision"], theirs["recall"], theirs["f1-score"])
        )
        assert score.support == theirs["support"]
    assert 0.3 < ours.f1 < 0.9  # the noise is real: a comparison of non-trivial numbers
