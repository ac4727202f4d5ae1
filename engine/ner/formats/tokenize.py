"""A simple tokenizer that keeps character offsets: words (with inner ' - . like don't, e-mail, U.S) and
single punctuation marks; whitespace separates."""

from __future__ import annotations

import re
from typing import NamedTuple

TOKEN = re.compile(r"\w+(?:['’\-.]\w+)*|[^\w\s]")


class Token(NamedTuple):
    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Tokens of `text` with their [start, end) character offsets."""
    return [Token(match.group(), match.start(), match.end()) for match in TOKEN.finditer(text)]
