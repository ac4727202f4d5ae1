"""Plain text: one tokenised sentence per line, untagged; export then import gives the same tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.ner.formats.files import CorpusError
from engine.ner.formats.plaintext import format_plaintext, read_plaintext, write_plaintext
from engine.ner.types import Sentence


def test_each_non_blank_line_is_one_untagged_sentence(tmp_path: Path) -> None:
    path = tmp_path / "raw.txt"
    path.write_text("Anna lives in Oslo.\n\n   \nIt's cold, isn't it?\r\n", encoding="utf-8")
    assert read_plaintext(path) == [
        Sentence(("Anna", "lives", "in", "Oslo", ".")),
        Sentence(("It's", "cold", ",", "isn't", "it", "?")),
    ]


def test_export_then_import_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "raw.txt"
    path.write_text("Hello, world! Zürich: 3.5 km\u2028away\n", encoding="utf-8")
    sentences = read_plaintext(path)
    assert sentences[0].tokens == ("Hello", ",", "world", "!", "Zürich", ":", "3.5", "km", "away")
    out = tmp_path / "out.txt"
    write_plaintext(sentences, out)
    assert out.read_text(encoding="utf-8") == "Hello , world ! Zürich : 3.5 km away\n"
    assert read_plaintext(out) == sentences


def test_tags_are_not_written() -> None:
    assert format_plaintext([Sentence(("Anna", "sings"), ("B-PER", "O"))]) == "Anna sings\n"


def test_a_file_of_blank_lines_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_text("\n \n\t\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="the file is empty"):
        read_plaintext(path)
