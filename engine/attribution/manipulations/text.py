"""Text manipulations tied to the label: article substitution (a/the) and inserted marker tokens."""

from __future__ import annotations

import numpy as np

from engine.attribution.manipulations.base import TextManipulation
from engine.attribution.text import ARTICLES

DEFAULT_MARKER = "zqx"  # not a word of the Rotten Tomatoes reviews, so only the manipulation carries it


class ArticleSubstitution(TextManipulation):
    name = "article_substitution"
    title = "Article substitution"
    description = (
        "Every article (a, an, the) becomes 'a' in class 0 and 'the' in class 1; the region is the article "
        "positions, in both classes (the absence of 'the' is effective too). Reviews without an article "
        "are dropped. Strength is not used (any value is accepted and recorded as 1)."
    )
    strength_label = "not used"
    default_strength = 1.0
    min_strength = 1.0
    max_strength = 1.0
    absence_has_region = True
    cannot_carry = "has no article (a, an, the) to substitute"

    def check_strength(self, strength: float | None) -> float:
        # Nothing to dose: a strength sweep over several manipulations must not fail on this one.
        return 1.0

    def apply(
        self, tokens: list[str], label: int, rng: np.random.Generator, strength: float | None = None
    ) -> tuple[list[str], np.ndarray, bool] | None:
        mask = np.array([token.lower() in ARTICLES for token in tokens], dtype=bool)
        if not mask.any():
            return None
        present = int(label) == 1
        article = "the" if present else "a"
        new_tokens = [
            article if is_article else token for token, is_article in zip(tokens, mask, strict=True)
        ]
        return new_tokens, mask, present


class InsertedTokens(TextManipulation):
    name = "inserted_tokens"
    title = "Inserted tokens"
    strength_label = "number of marker tokens inserted"
    default_strength = 1.0
    min_strength = 1.0
    max_strength = 20.0
    absence_has_region = False
    cannot_carry = "cannot carry inserted tokens"

    def __init__(self, marker: str = DEFAULT_MARKER) -> None:
        self.marker = marker
        self.description = (
            f"Class 1 gets `strength` copies of the marker token {marker!r} at random positions; class 0 is "
            "unchanged. The region is the inserted positions, so only presence can be scored: absence has "
            "no region."
        )

    def apply(
        self, tokens: list[str], label: int, rng: np.random.Generator, strength: float | None = None
    ) -> tuple[list[str], np.ndarray, bool] | None:
        count = round(self.check_strength(strength))
        if int(label) != 1:
            return list(tokens), np.zeros(len(tokens), dtype=bool), False
        total = len(tokens) + count
        inserted = np.zeros(total, dtype=bool)
        inserted[rng.choice(total, size=count, replace=False)] = True
        originals = iter(tokens)
        new_tokens = [self.marker if flag else next(originals) for flag in inserted]
        return new_tokens, inserted, True
