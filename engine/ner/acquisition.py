"""Acquisition functions for active learning (Shen et al. 2018): which unlabelled sentences to ask next.

Each is one small class behind the ACQUISITIONS registry; `score` returns one number per sentence,
higher = more informative = ask sooner. Importing this module needs numpy only (the GUI lists them).

- LC:   1 - P(greedy sequence)
- MNLP: -(1/n) sum_i log P(y_i), the negated length-normalised log-probability of the greedy sequence
        (with the log: without it the score is a mean probability, which is not MNLP)
- BALD: the fraction of M Monte Carlo dropout masks whose greedy tag disagrees with the modal tag,
        averaged over tokens
- random: uniform scores (the baseline)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from engine.core.errors import LanternError
from engine.ner.types import Sentence

if TYPE_CHECKING:
    from engine.ner.tagger.base import TaggedSentence, Tagger


def lc_score(token_logprobs: np.ndarray) -> float:
    """Least confidence: 1 - prod_i P(y_i), from the log-probabilities of the greedy tags."""
    return float(-np.expm1(np.sum(token_logprobs, dtype=np.float64))) if len(token_logprobs) else 0.0


def mnlp_score(token_logprobs: np.ndarray) -> float:
    """Maximum normalised log-probability, negated so that higher means ask sooner: -(1/n) sum log P(y_i)."""
    return float(-np.mean(token_logprobs, dtype=np.float64)) if len(token_logprobs) else 0.0


def bald_score(sampled_tags: np.ndarray) -> float:
    """[M masks, n tokens] tag ids -> mean over tokens of the share of masks that disagree with the mode."""
    masks, tokens = sampled_tags.shape
    if tokens == 0 or masks == 0:
        return 0.0
    disagreement = 0.0
    for column in sampled_tags.T:
        disagreement += 1.0 - np.bincount(column).max() / masks
    return disagreement / tokens


class AcquisitionFunction(ABC):
    """Scores unlabelled sentences with a tagger; higher = more informative."""

    name: ClassVar[str]
    title: ClassVar[str]
    uses_predictions: ClassVar[bool] = False  # True: can score from TaggedSentence lists already made

    @abstractmethod
    def score(
        self,
        tagger: Tagger,
        sentences: Sequence[Sentence],
        rng: np.random.Generator,
        *,
        tagged: Sequence[TaggedSentence] | None = None,
    ) -> np.ndarray:
        """One float64 score per sentence; `tagged` (optional) is `tagger.predict(sentences)` made already."""


class _SequenceConfidence(AcquisitionFunction):
    """Functions of the greedy sequence's per-token log-probabilities."""

    uses_predictions = True

    @staticmethod
    @abstractmethod
    def of(token_logprobs: np.ndarray) -> float: ...

    def score(
        self,
        tagger: Tagger,
        sentences: Sequence[Sentence],
        rng: np.random.Generator,
        *,
        tagged: Sequence[TaggedSentence] | None = None,
    ) -> np.ndarray:
        if tagged is not None:
            if len(tagged) != len(sentences):
                raise ValueError(f"{len(tagged)} predictions for {len(sentences)} sentences")
            logprobs = [np.asarray(t.token_logprobs, dtype=np.float64) for t in tagged]
        else:
            logprobs = tagger.token_logprobs(sentences)
        return np.array([self.of(values) for values in logprobs], dtype=np.float64)


class LeastConfidence(_SequenceConfidence):
    name = "lc"
    title = "Least confidence (1 - P(best sequence))"

    @staticmethod
    def of(token_logprobs: np.ndarray) -> float:
        return lc_score(token_logprobs)


class MaximumNormalisedLogProbability(_SequenceConfidence):
    name = "mnlp"
    title = "MNLP (lowest length-normalised log-probability first)"

    @staticmethod
    def of(token_logprobs: np.ndarray) -> float:
        return mnlp_score(token_logprobs)


class Bald(AcquisitionFunction):
    name = "bald"
    title = "BALD (disagreement between Monte Carlo dropout masks)"

    def __init__(self, samples: int = 10) -> None:
        if samples < 2:
            raise LanternError(
                f"BALD needs at least 2 dropout masks, got {samples}", "acquisition: bald", "use e.g. 10"
            )
        self.samples = samples

    def score(
        self,
        tagger: Tagger,
        sentences: Sequence[Sentence],
        rng: np.random.Generator,
        *,
        tagged: Sequence[TaggedSentence] | None = None,
    ) -> np.ndarray:
        seed = int(rng.integers(0, 2**31 - 1))
        sampled = tagger.sample_tags(sentences, self.samples, seed)
        return np.array([bald_score(tags) for tags in sampled], dtype=np.float64)


class RandomAcquisition(AcquisitionFunction):
    name = "random"
    title = "Random (the baseline)"

    def score(
        self,
        tagger: Tagger,
        sentences: Sequence[Sentence],
        rng: np.random.Generator,
        *,
        tagged: Sequence[TaggedSentence] | None = None,
    ) -> np.ndarray:
        return rng.random(len(sentences))


ACQUISITIONS: dict[str, type[AcquisitionFunction]] = {
    cls.name: cls for cls in (MaximumNormalisedLogProbability, LeastConfidence, Bald, RandomAcquisition)
}


def get_acquisition(name: str, **options: Any) -> AcquisitionFunction:
    """An acquisition function by registry name ('mnlp', 'lc', 'bald', 'random')."""
    if name not in ACQUISITIONS:
        raise LanternError(
            f"unknown acquisition function '{name}'", "acquisition", f"use one of: {', '.join(ACQUISITIONS)}"
        )
    return ACQUISITIONS[name](**options)


def parse_strategies(text: str | Sequence[str]) -> tuple[str, ...]:
    """'mnlp,lc' or ['mnlp', 'lc'] -> ('mnlp', 'lc'), each checked against the registry, no repeats."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if not names:
        raise LanternError(
            "no acquisition functions named", "strategies", f"use some of: {', '.join(ACQUISITIONS)}"
        )
    for name in names:
        if name not in ACQUISITIONS:
            raise LanternError(
                f"unknown acquisition function '{name}'",
                "strategies",
                f"use some of: {', '.join(ACQUISITIONS)}",
            )
    if len(set(names)) != len(names):
        raise LanternError("a strategy is named twice", "strategies", "name each once")
    return tuple(names)
