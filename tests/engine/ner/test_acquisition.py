"""Acquisition functions give the paper's scores on hand-made probabilities."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from engine.core.errors import LanternError
from engine.ner.acquisition import (
    ACQUISITIONS,
    Bald,
    bald_score,
    get_acquisition,
    lc_score,
    mnlp_score,
    parse_strategies,
)
from engine.ner.tagger.base import TaggedSentence
from engine.ner.types import Sentence


class FixedTagger:
    """Stands in for a tagger: fixed per-token probabilities and fixed Monte Carlo samples."""

    def __init__(self, probabilities: list[list[float]], samples: list[np.ndarray] | None = None) -> None:
        self.logprobs = [np.log(np.array(p, dtype=np.float64)) for p in probabilities]
        self.samples = samples or []
        self.sample_calls: list[tuple[int, int]] = []

    def token_logprobs(self, sentences: Sequence[Sentence]) -> list[np.ndarray]:
        return self.logprobs[: len(sentences)]

    def sample_tags(self, sentences: Sequence[Sentence], samples: int, seed: int) -> list[np.ndarray]:
        self.sample_calls.append((samples, seed))
        return self.samples[: len(sentences)]


SENTENCES = [Sentence(("a", "b")), Sentence(("c", "d", "e")), Sentence(("f",))]
PROBABILITIES = [[0.9, 0.5], [0.99, 0.99, 0.2], [0.6]]


def test_mnlp_uses_the_log_and_normalises_by_length():
    scores = get_acquisition("mnlp").score(FixedTagger(PROBABILITIES), SENTENCES, np.random.default_rng(0))
    assert scores[0] == pytest.approx(-(math.log(0.9) + math.log(0.5)) / 2)
    assert scores[1] == pytest.approx(-(2 * math.log(0.99) + math.log(0.2)) / 3)
    assert scores[2] == pytest.approx(-math.log(0.6))
    # Without the log (the mean probability) the ranking is different: that would not be MNLP.
    no_log = [-np.mean(p) for p in PROBABILITIES]
    assert list(np.argsort(-scores)) == [1, 2, 0]
    assert list(np.argsort(-np.array(no_log))) == [2, 0, 1]
    assert mnlp_score(np.log([0.9, 0.5])) != pytest.approx(1 - (0.9 + 0.5) / 2)


def test_lc_is_one_minus_the_sequence_probability():
    scores = get_acquisition("lc").score(FixedTagger(PROBABILITIES), SENTENCES, np.random.default_rng(0))
    assert scores == pytest.approx([1 - 0.9 * 0.5, 1 - 0.99 * 0.99 * 0.2, 1 - 0.6])
    # LC favours long sentences where MNLP does not: per token the 1-token sentence is the least sure.
    assert lc_score(np.log([0.9] * 20)) > lc_score(np.log([0.6])) and mnlp_score(
        np.log([0.9] * 20)
    ) < mnlp_score(np.log([0.6]))


def test_scores_from_existing_predictions_skip_a_second_pass():
    tagged = [TaggedSentence(("O",) * len(p), tuple(math.log(v) for v in p)) for p in PROBABILITIES]

    class NoDecoding(FixedTagger):
        def token_logprobs(self, sentences: Sequence[Sentence]) -> list[np.ndarray]:
            raise AssertionError("predictions were given; the tagger must not decode again")

    scores = get_acquisition("mnlp").score(NoDecoding([]), SENTENCES, np.random.default_rng(0), tagged=tagged)
    assert scores[0] == pytest.approx(-(math.log(0.9) + math.log(0.5)) / 2)


def test_bald_counts_masks_that_disagree_with_the_mode():
    # 4 masks over 3 tokens: token 0 all agree (0), token 1 3 of 4 agree (1/4), token 2 split 2-2 (1/2).
    sampled = np.array([[0, 1, 2], [0, 1, 2], [0, 1, 3], [0, 3, 3]])
    assert bald_score(sampled) == pytest.approx((0 + 0.25 + 0.5) / 3)
    assert bald_score(np.zeros((5, 0), dtype=np.int64)) == 0.0
    tagger = FixedTagger([], samples=[sampled, np.zeros((4, 2), dtype=np.int64)])
    scores = Bald(samples=4).score(tagger, SENTENCES[:2], np.random.default_rng(0))
    assert scores == pytest.approx([0.25, 0.0])
    assert tagger.sample_calls[0][0] == 4
    with pytest.raises(LanternError, match="at least 2"):
        Bald(samples=1)


def test_random_is_uniform_and_seeded():
    first = get_acquisition("random").score(FixedTagger([]), SENTENCES, np.random.default_rng(5))
    again = get_acquisition("random").score(FixedTagger([]), SENTENCES, np.random.default_rng(5))
    assert np.array_equal(first, again) and ((first >= 0) & (first < 1)).all()


def test_registry_names_and_parsing():
    assert set(ACQUISITIONS) == {"mnlp", "lc", "bald", "random"}
    assert parse_strategies("mnlp, lc,bald") == ("mnlp", "lc", "bald")
    assert parse_strategies(["random"]) == ("random",)
    for bad, message in [("mnlp,entropy", "unknown"), ("", "no acquisition"), ("lc,lc", "twice")]:
        with pytest.raises(LanternError, match=message):
            parse_strategies(bad)
    with pytest.raises(LanternError, match="unknown acquisition"):
        get_acquisition("margin")
    assert lc_score(np.zeros(0)) == mnlp_score(np.zeros(0)) == 0.0
