"""Tag schemes (BIO, IOB1, IOBES): validation, conversion to and from Lantern's canonical BIO, and spans."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from engine.core.errors import LanternError
from engine.ner.types import Span

SCHEMES = ("BIO", "IOB1", "IOBES")
ALIASES = {"IOB2": "BIO", "BIOES": "IOBES"}
PREFIXES = {"BIO": "BI", "IOB1": "BI", "IOBES": "BIES"}

Locate = Callable[[int], str]


class TagError(LanternError):
    """A tag that is malformed or breaks the rules of its scheme."""


def scheme_name(scheme: str) -> str:
    """The canonical name of a scheme ('iob2' -> 'BIO'); an unknown one is a TagError."""
    name = ALIASES.get(scheme.upper(), scheme.upper())
    if name not in SCHEMES:
        raise TagError(
            f"unknown tag scheme '{scheme}'",
            "tag scheme option",
            f"use one of {', '.join(SCHEMES)} (IOB2 is BIO, BIOES is IOBES)",
        )
    return name


def split_tag(tag: str) -> tuple[str, str]:
    """('B', 'PER') for 'B-PER', ('O', '') for 'O'; no validation (see parse_tags)."""
    if tag == "O":
        return "O", ""
    prefix, _, label = tag.partition("-")
    return prefix, label


def _where(locate: Locate | None, index: int) -> str:
    return locate(index) if locate else f"token {index + 1}"


def parse_tags(tags: Sequence[str], scheme: str, locate: Locate | None = None) -> list[tuple[str, str]]:
    """Split every tag into (prefix, label), refusing tags the scheme does not have."""
    allowed = PREFIXES[scheme_name(scheme)]
    parsed = []
    for index, tag in enumerate(tags):
        prefix, label = split_tag(tag)
        if prefix != "O" and (
            len(prefix) != 1 or prefix not in allowed or not label or label.strip() != label
        ):
            shown = ", ".join(f"{p}-LABEL" for p in allowed)
            raise TagError(
                f"'{tag}' is not a tag of the {scheme_name(scheme)} scheme",
                _where(locate, index),
                f"tags are O or {shown}; choose the scheme the file uses",
            )
        parsed.append((prefix, label))
    return parsed


def to_bio(
    tags: Sequence[str], scheme: str = "BIO", *, strict: bool = True, locate: Locate | None = None
) -> tuple[str, ...]:
    """Convert tags of `scheme` to BIO.

    Strict mode refuses tags that break the scheme (BIO: an I- after O or after another type; IOBES: an
    I-/E- that continues nothing, a B-/I- that is never closed); lenient mode repairs them, an orphan
    I-X becoming B-X. `locate(i)` names token i in error messages (e.g. 'file.conll:12').
    """
    name = scheme_name(scheme)
    parsed = parse_tags(tags, name, locate)
    bio: list[str] = []
    for index, (prefix, label) in enumerate(parsed):
        if prefix == "O":
            bio.append("O")
            continue
        previous_prefix, previous_label = parsed[index - 1] if index else ("O", "")
        continues = previous_label == label and previous_prefix in ("B", "I")
        if name == "IOB1":
            bio.append(f"I-{label}" if prefix == "I" and continues else f"B-{label}")
            continue
        if prefix in ("I", "E") and not continues:
            if strict:
                after = "O" if previous_prefix == "O" else f"{previous_prefix}-{previous_label}"
                raise TagError(
                    f"{prefix}-{label} follows {after}: an entity must begin with B-{label}",
                    _where(locate, index),
                    f"fix the tag, or import in lenient mode to turn it into B-{label}",
                )
            bio.append(f"B-{label}")
            continue
        if name == "IOBES" and strict and prefix in ("B", "I"):
            following = parsed[index + 1] if index + 1 < len(parsed) else ("O", "")
            if following[1] != label or following[0] not in ("I", "E"):
                raise TagError(
                    f"{prefix}-{label} is not followed by I-{label} or E-{label}: the entity never ends",
                    _where(locate, index),
                    f"end the entity with E-{label} (a one-token entity is S-{label}), or import in "
                    "lenient mode",
                )
        bio.append(f"B-{label}" if prefix in ("B", "S") else f"I-{label}")
    return tuple(bio)


def from_bio(tags: Sequence[str], scheme: str) -> tuple[str, ...]:
    """Convert BIO tags (orphan I- tags are read as B-) to `scheme`."""
    name = scheme_name(scheme)
    bio = to_bio(tags, "BIO", strict=False)
    if name == "BIO":
        return bio
    out = list(bio)
    for span in tags_to_spans(bio):
        if name == "IOBES":
            if span.end - span.start == 1:
                out[span.start] = f"S-{span.label}"
            else:
                out[span.start] = f"B-{span.label}"
                out[span.end - 1] = f"E-{span.label}"
        else:  # IOB1: B- only where an entity touches a previous one of the same type
            follows_same = span.start > 0 and split_tag(bio[span.start - 1])[1] == span.label
            out[span.start] = f"B-{span.label}" if follows_same else f"I-{span.label}"
    return tuple(out)


def convert(tags: Sequence[str], source: str, target: str, *, strict: bool = True) -> tuple[str, ...]:
    """Convert tags from one scheme to another (through BIO)."""
    return from_bio(to_bio(tags, source, strict=strict), target)


def _ends_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    if prev_tag in ("E", "S"):
        return True
    if prev_tag in ("B", "I") and tag in ("B", "S", "O"):
        return True
    return prev_tag not in ("O", ".") and prev_type != type_


def _starts_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    if tag in ("B", "S"):
        return True
    if prev_tag in ("E", "S", "O") and tag in ("E", "I"):
        return True
    return tag not in ("O", ".") and prev_type != type_


def tags_to_spans(tags: Sequence[str]) -> list[Span]:
    """The entities in one sentence's tags, read exactly as seqeval's default mode reads them.

    Works for BIO and IOBES; an I- (or E-) that follows O or another type starts a new entity.
    """
    found: list[Span] = []
    prev_tag, prev_type, begin = "O", "", 0
    for index, chunk in enumerate([*tags, "O"]):
        tag = chunk[0] if chunk else "O"
        type_ = chunk[1:].split("-", maxsplit=1)[-1] or "_"
        if _ends_chunk(prev_tag, tag, prev_type, type_):
            found.append(Span(begin, index, prev_type))
        if _starts_chunk(prev_tag, tag, prev_type, type_):
            begin = index
        prev_tag, prev_type = tag, type_
    return found


def spans_to_tags(length: int, spans: Sequence[Span]) -> tuple[str, ...]:
    """BIO tags for `length` tokens holding non-overlapping `spans`."""
    tags = ["O"] * length
    for span in spans:
        if not 0 <= span.start < span.end <= length:
            raise ValueError(f"span {span} lies outside a sentence of {length} tokens")
        if any(tag != "O" for tag in tags[span.start : span.end]):
            raise ValueError(f"span {span} overlaps another span")
        tags[span.start] = f"B-{span.label}"
        for index in range(span.start + 1, span.end):
            tags[index] = f"I-{span.label}"
    return tuple(tags)


def labels_of(tags: Sequence[str]) -> set[str]:
    """The entity labels used in a sequence of tags."""
    return {split_tag(tag)[1] for tag in tags if tag != "O"}
