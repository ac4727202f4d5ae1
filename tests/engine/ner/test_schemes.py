"""Tag schemes: BIO / IOB1 / IOBES conversion both ways, strict errors with their place, lenient repair."""

from __future__ import annotations

import pytest

from engine.ner.formats.schemes import (
    TagError,
    convert,
    from_bio,
    scheme_name,
    spans_to_tags,
    tags_to_spans,
    to_bio,
)
from engine.ner.types import Span

# One sentence in all three schemes: two adjacent PER entities, a LOC of three tokens, a one-token ORG.
BIO = ("B-PER", "I-PER", "B-PER", "O", "B-LOC", "I-LOC", "I-LOC", "O", "B-ORG")
IOB1 = ("I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-LOC", "I-LOC", "O", "I-ORG")
IOBES = ("B-PER", "E-PER", "S-PER", "O", "B-LOC", "I-LOC", "E-LOC", "O", "S-ORG")


@pytest.mark.parametrize(("scheme", "tags"), [("BIO", BIO), ("IOB1", IOB1), ("IOBES", IOBES)])
def test_each_scheme_converts_to_bio_and_back(scheme: str, tags: tuple[str, ...]) -> None:
    assert to_bio(tags, scheme) == BIO
    assert from_bio(BIO, scheme) == tags


def test_conversion_between_any_two_schemes() -> None:
    assert convert(IOB1, "IOB1", "IOBES") == IOBES
    assert convert(IOBES, "IOBES", "IOB1") == IOB1
    assert convert(IOBES, "bioes", "iob2") == BIO  # aliases, any case


def test_the_spans_are_the_same_in_every_scheme() -> None:
    expected = [Span(0, 2, "PER"), Span(2, 3, "PER"), Span(4, 7, "LOC"), Span(8, 9, "ORG")]
    assert tags_to_spans(BIO) == expected
    assert tags_to_spans(IOBES) == expected
    assert spans_to_tags(len(BIO), expected) == BIO


def test_strict_bio_refuses_an_i_tag_after_o_and_says_where() -> None:
    with pytest.raises(TagError) as caught:
        to_bio(["O", "I-PER"], "BIO", locate=lambda i: f"corpus.conll:{i + 10}")
    assert caught.value.what == "I-PER follows O: an entity must begin with B-PER"
    assert caught.value.where == "corpus.conll:11"
    assert "lenient" in caught.value.hint


def test_strict_bio_refuses_an_i_tag_after_another_type() -> None:
    with pytest.raises(TagError, match="I-LOC follows B-PER"):
        to_bio(["B-PER", "I-LOC"], "BIO")


def test_lenient_mode_repairs_orphan_i_tags_to_b() -> None:
    assert to_bio(["I-PER", "O", "I-LOC", "B-PER", "I-LOC"], "BIO", strict=False) == (
        "B-PER",
        "O",
        "B-LOC",
        "B-PER",
        "B-LOC",
    )


def test_strict_iobes_refuses_unclosed_and_unopened_entities() -> None:
    with pytest.raises(TagError, match="never ends") as caught:
        to_bio(["B-PER", "O"], "IOBES")
    assert caught.value.where == "token 1"
    with pytest.raises(TagError, match="E-PER follows O"):
        to_bio(["O", "E-PER"], "IOBES")
    assert to_bio(["B-PER", "O", "O", "E-PER"], "IOBES", strict=False) == ("B-PER", "O", "O", "B-PER")


def test_tags_a_scheme_does_not_have_are_refused_even_when_lenient() -> None:
    with pytest.raises(TagError, match="'S-PER' is not a tag of the BIO scheme"):
        to_bio(["S-PER"], "BIO", strict=False)
    with pytest.raises(TagError, match="'PER' is not a tag of the BIO scheme"):
        to_bio(["PER"], "BIO", strict=False)
    with pytest.raises(TagError, match="'B-' is not a tag of the IOBES scheme"):
        to_bio(["B-"], "IOBES")
    with pytest.raises(TagError, match="unknown tag scheme 'BILOU'"):
        scheme_name("BILOU")


def test_labels_with_hyphens_survive_every_conversion() -> None:
    tags = ("B-geo-loc", "I-geo-loc", "O", "B-geo-loc")
    assert from_bio(tags, "IOBES") == ("B-geo-loc", "E-geo-loc", "O", "S-geo-loc")
    assert convert(from_bio(tags, "IOB1"), "IOB1", "BIO") == tags
    assert tags_to_spans(tags) == [Span(0, 2, "geo-loc"), Span(3, 4, "geo-loc")]


def test_spans_to_tags_refuses_overlaps() -> None:
    with pytest.raises(ValueError, match="overlaps"):
        spans_to_tags(4, [Span(0, 2, "PER"), Span(1, 3, "LOC")])
