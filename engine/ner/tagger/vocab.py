"""Ids for what a tagger reads and writes: a word and character vocabulary that grows with labelled data,
and the IOBES tag codec (BIO in and out, IOBES inside the model).

Vocabulary policy: it starts from the first labelled sentences and grows with every later fit; a model
grows its embedding tables to match (new rows start fresh, trained ones are kept). Words never seen in
labelled text map to UNK, whose embedding is trained through word dropout. Unlabelled pool text is not
added: an embedding that no gradient ever reaches would be noise, while UNK is a trained guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from engine.ner.formats.schemes import from_bio, to_bio

PAD, UNK = 0, 1
SPECIALS = ("<pad>", "<unk>")
_DIGITS = str.maketrans("0123456789", "0000000000")


def normalise_word(word: str) -> str:
    """The word-embedding key: lower case, every digit 0 (the character CNN still sees the raw word)."""
    return word.lower().translate(_DIGITS)


class Vocab:
    """Word and character ids; 0 is padding, 1 is unknown."""

    def __init__(self, words: Sequence[str] = (), chars: Sequence[str] = ()) -> None:
        self.words: list[str] = list(SPECIALS)
        self.chars: list[str] = list(SPECIALS)
        self._word_index: dict[str, int] = {w: i for i, w in enumerate(self.words)}
        self._char_index: dict[str, int] = {c: i for i, c in enumerate(self.chars)}
        self.grow_tokens(words, chars)

    def grow_tokens(self, words: Iterable[str], chars: Iterable[str]) -> None:
        for word in words:
            if word not in self._word_index:
                self._word_index[word] = len(self.words)
                self.words.append(word)
        for char in chars:
            if char not in self._char_index:
                self._char_index[char] = len(self.chars)
                self.chars.append(char)

    def grow(self, sentences: Iterable[Any]) -> None:
        """Add the words and characters of these sentences (objects with .tokens)."""
        for sentence in sentences:
            self.grow_tokens(
                (normalise_word(t) for t in sentence.tokens), (c for t in sentence.tokens for c in t)
            )

    def word_ids(self, tokens: Sequence[str]) -> list[int]:
        index = self._word_index
        return [index.get(normalise_word(token), UNK) for token in tokens]

    def char_ids(self, token: str, max_chars: int) -> list[int]:
        index = self._char_index
        return [index.get(char, UNK) for char in token[:max_chars]] or [UNK]

    def to_dict(self) -> dict[str, list[str]]:
        return {"words": self.words[len(SPECIALS) :], "chars": self.chars[len(SPECIALS) :]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocab:
        return cls(list(data.get("words", [])), list(data.get("chars", [])))


class TagCodec:
    """IOBES tag ids over a label set: 0 is O, then B, I, E, S of each label in order.

    BIO goes in, and valid BIO comes out: greedy decoding may emit an IOBES sequence that breaks the
    scheme, and the lenient conversion (engine.ner.formats.schemes) repairs it token by token (an I-/E-
    that continues nothing starts an entity), so tags and per-token confidences stay aligned.
    """

    PREFIXES = ("B", "I", "E", "S")

    def __init__(self, labels: Sequence[str]) -> None:
        self.labels = tuple(labels)
        self.tags = ("O", *(f"{p}-{label}" for label in self.labels for p in self.PREFIXES))
        self._index = {tag: i for i, tag in enumerate(self.tags)}
        self._labels = set(self.labels)

    def __len__(self) -> int:
        return len(self.tags)

    def knows(self, bio_tag: str) -> bool:
        if bio_tag == "O":
            return True
        prefix, _, label = bio_tag.partition("-")
        return prefix in ("B", "I") and label in self._labels

    def encode_bio(self, tags: Sequence[str]) -> np.ndarray:
        """BIO tags -> IOBES ids (an orphan I- is read as B-, as seqeval reads it)."""
        return np.array([self._index[tag] for tag in from_bio(tags, "IOBES")], dtype=np.int64)

    def iobes(self, ids: Iterable[int]) -> tuple[str, ...]:
        return tuple(self.tags[int(i)] for i in ids)

    def decode_bio(self, ids: Iterable[int]) -> tuple[str, ...]:
        """IOBES ids -> valid BIO tags."""
        return to_bio(self.iobes(ids), "IOBES", strict=False)
