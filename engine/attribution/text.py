"""Word tokenisation for the text side of the attribution workspace: lower-cased words, no punctuation."""

from __future__ import annotations

import re

# Words with an optional apostrophe suffix ("don't", "film's") stay one token, as readers see them.
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")

ARTICLES = frozenset({"a", "an", "the"})


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits, any script); punctuation and spaces are dropped."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))
