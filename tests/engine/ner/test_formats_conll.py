"""CoNLL import and export: 2- and 4-column layouts, schemes, round trips, and bad files named by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.ner.formats.conll import format_conll, parse_conll, read_conll, write_conll
from engine.ner.formats.files import CorpusError
from engine.ner.formats.schemes import TagError
from engine.ner.types import Sentence

CONLL2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC
"""

EXPECTED = [
    Sentence(("EU", "rejects", "German", "call", "."), ("B-ORG", "O", "B-MISC", "O", "O")),
    Sentence(("Peter", "Blackburn"), ("B-PER", "I-PER")),
    Sentence(("BRUSSELS",), ("B-LOC",)),
]


def _write(tmp_path: Path, text: str | bytes, name: str = "corpus.conll") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_the_conll2003_layout_takes_token_and_last_column_and_skips_docstart(tmp_path: Path) -> None:
    assert read_conll(_write(tmp_path, CONLL2003)) == EXPECTED


def test_token_tab_tag_with_tab_only_separator_lines_as_wnut_writes_them(tmp_path: Path) -> None:
    text = "New York\tB-geo-loc\nrocks\tO\n\t\n@anna\tB-person\n \t \nok\tO"
    assert read_conll(_write(tmp_path, text)) == [
        Sentence(("New York", "rocks"), ("B-geo-loc", "O")),  # a tab file may hold spaces in a token
        Sentence(("@anna",), ("B-person",)),
        Sentence(("ok",), ("O",)),
    ]


def test_windows_line_ends_and_a_byte_order_mark_are_read(tmp_path: Path) -> None:
    path = _write(tmp_path, "\ufeffAnna B-PER\r\nsings O\r\n\r\n".encode())
    assert read_conll(path) == [Sentence(("Anna", "sings"), ("B-PER", "O"))]


def test_iob1_and_iobes_files_are_converted_to_bio(tmp_path: Path) -> None:
    iob1 = "Peter I-PER\nBlackburn I-PER\nPaul B-PER\nsaw O\nBonn I-LOC\n"
    iobes = "Peter B-PER\nBlackburn E-PER\nPaul S-PER\nsaw O\nBonn S-LOC\n"
    expected = [
        Sentence(("Peter", "Blackburn", "Paul", "saw", "Bonn"), ("B-PER", "I-PER", "B-PER", "O", "B-LOC"))
    ]
    assert read_conll(_write(tmp_path, iob1, "a.iob"), scheme="IOB1") == expected
    assert read_conll(_write(tmp_path, iobes, "b.conll"), scheme="IOBES") == expected


@pytest.mark.parametrize("scheme", ["BIO", "IOB1", "IOBES"])
def test_export_then_import_round_trips_in_every_scheme(tmp_path: Path, scheme: str) -> None:
    original = read_conll(_write(tmp_path, CONLL2003))
    path = tmp_path / f"out-{scheme}.conll"
    write_conll(original, path, scheme=scheme)
    assert read_conll(path, scheme=scheme) == original
    again = tmp_path / f"again-{scheme}.conll"
    write_conll(read_conll(path, scheme=scheme), again, scheme=scheme)
    assert again.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")


def test_the_exported_text_is_token_tab_tag_with_a_blank_line_after_each_sentence() -> None:
    assert format_conll(EXPECTED[1:], "IOBES") == "Peter\tB-PER\nBlackburn\tE-PER\n\nBRUSSELS\tS-LOC\n\n"


def test_a_line_with_the_wrong_number_of_columns_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "EU NNP B-NP B-ORG\nrejects VBZ O\n")
    with pytest.raises(CorpusError) as caught:
        read_conll(path)
    assert caught.value.what == "this line has 3 columns, but line 1 has 4"
    assert caught.value.where == f"{path}:2"
    assert "same columns" in caught.value.hint


def test_a_single_column_file_is_refused_with_a_pointer_to_plain_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "\n\nhello\nworld\n")
    with pytest.raises(CorpusError) as caught:
        read_conll(path)
    assert caught.value.where == f"{path}:3"
    assert "plain-text format" in caught.value.hint


def test_an_empty_column_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "a\tO\nb\t\tO\n")
    with pytest.raises(CorpusError, match=r"3 columns, but line 1 has 2"):
        read_conll(path)
    path = _write(tmp_path, "a\t\tO\n", "c.conll")
    with pytest.raises(CorpusError, match="empty column") as caught:
        read_conll(path)
    assert caught.value.where == f"{path}:1"


def test_strict_mode_refuses_i_after_o_at_its_line_and_lenient_mode_repairs_it(tmp_path: Path) -> None:
    path = _write(tmp_path, "Anna B-PER\n\nin O\nNew I-LOC\nYork I-LOC\n")
    with pytest.raises(TagError) as caught:
        read_conll(path)
    assert caught.value.what == "I-LOC follows O: an entity must begin with B-LOC"
    assert caught.value.where == f"{path}:4"
    assert read_conll(path, strict=False)[1] == Sentence(("in", "New", "York"), ("O", "B-LOC", "I-LOC"))


def test_a_tag_outside_the_scheme_is_named_by_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "Anna PERSON\n")
    with pytest.raises(TagError, match="'PERSON' is not a tag of the BIO scheme") as caught:
        read_conll(path)
    assert caught.value.where == f"{path}:1"


@pytest.mark.parametrize("content", ["", "\n\n \t\n"])
def test_an_empty_file_is_refused(tmp_path: Path, content: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(CorpusError) as caught:
        read_conll(path)
    assert caught.value.what == "the file is empty"
    assert caught.value.where == str(path)


def test_a_file_with_only_docstart_lines_holds_no_sentences(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="holds no sentences"):
        read_conll(_write(tmp_path, "-DOCSTART- -X- -X- O\n\n"))


def test_a_file_that_is_not_utf8_is_refused_at_the_line_of_the_first_bad_byte(tmp_path: Path) -> None:
    path = _write(tmp_path, "Anna B-PER\nin O\nZ\xfcrich B-LOC\n".encode("latin-1"))
    with pytest.raises(CorpusError) as caught:
        read_conll(path)
    assert caught.value.what == "the file is not UTF-8 text (byte 0xfc cannot be decoded)"
    assert caught.value.where == f"{path}:3"
    assert "iconv" in caught.value.hint


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        read_conll(tmp_path / "nope.conll")


def test_untagged_sentences_cannot_be_exported_as_conll(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="sentence 2 has no tags"):
        write_conll([EXPECTED[0], Sentence(("a",))], tmp_path / "x.conll")
    assert not (tmp_path / "x.conll").exists()


def test_parse_conll_reads_text_and_names_its_source() -> None:
    with pytest.raises(TagError) as caught:
        parse_conll("a I-PER\n", "pasted")
    assert caught.value.where == "pasted:1"
