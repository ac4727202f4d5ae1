"""Toy NER data for the model tests (people are capitalised names, places are '<Name> City'), and a
fixture that runs torch on one thread.

One thread because the models here are tiny: on a 2-core CI machine that is busy with other processes,
two OpenMP threads spin and wait for each other, and a 1-second simulation took 12 seconds (measured).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from engine.ner.types import Sentence

NAMES = ("Alice", "Bob", "Carol", "Dave", "Erin", "Frank")
PLACES = ("Paris", "Rome", "Oslo", "Lima", "Kyiv")
FILLER = ("the", "a", "met", "in", "went", "to", "saw", "today", "yesterday", "and", "with", "later")
LABELS = ("PER", "LOC")
# Small sizes: the tests exercise behaviour, not capacity.
SMALL = {
    "word_filters": 32,
    "decoder_hidden": 32,
    "word_dim": 16,
    "char_filters": 16,
    "tag_dim": 8,
    "learning_rate": 3e-3,
    "dropout": 0.1,
    "word_dropout": 0.1,
    "seed": 1,
}


def toy_sentences(count: int, seed: int) -> list[Sentence]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        tokens: list[str] = []
        tags: list[str] = []
        for _ in range(rng.randint(3, 8)):
            draw = rng.random()
            if draw < 0.2:
                tokens.append(rng.choice(NAMES))
                tags.append("B-PER")
            elif draw < 0.3:
                tokens += [rng.choice(PLACES), "City"]
                tags += ["B-LOC", "I-LOC"]
            else:
                tokens.append(rng.choice(FILLER))
                tags.append("O")
        out.append(Sentence(tuple(tokens), tuple(tags)))
    return out


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """torch on one thread here and in spawned job workers (they read OMP_NUM_THREADS at start)."""
    import torch

    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
