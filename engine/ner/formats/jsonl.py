"""JSONL with character spans, one record per line, as Prodigy, doccano and spaCy write them:
{"text": ..., "spans": [{"start", "end", "label"}]}, optionally with "tokens" (strings or offset dicts)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.ner.formats.building import RawSentence, build_sentences
from engine.ner.formats.files import CorpusError, read_text, text_lines, write_text_atomic
from engine.ner.formats.labels import LabelSpec, label_map
from engine.ner.formats.schemes import spans_to_tags, tags_to_spans, to_bio
from engine.ner.formats.tokenize import Token, tokenize
from engine.ner.types import Sentence, Span

# Where the entity spans may be, in the order looked for: Prodigy, spaCy's Doc.to_json, doccano (2).
SPAN_KEYS = ("spans", "ents", "entities", "label", "labels")
SPAN_HINT = "span edges must fall on token boundaries (tokens are words and single punctuation marks)"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _given_tokens(tokens: Any, text: str, where: str) -> list[Token]:
    """The record's own tokens: strings found in order in the text, or dicts with start/end offsets."""
    found: list[Token] = []
    cursor = 0
    if not isinstance(tokens, list):
        raise CorpusError(
            "'tokens' is not a list", where, "give a list of strings or of {start, end} objects"
        )
    for number, token in enumerate(tokens, start=1):
        if isinstance(token, str):
            start = text.find(token, cursor) if token else -1
            if start < 0 or text[cursor:start].strip():
                raise CorpusError(
                    f"token {number} {token!r} is not the next word of the text (after character {cursor})",
                    where,
                    "make 'tokens' the words of 'text' in order, or leave 'tokens' out",
                )
            end = start + len(token)
        elif isinstance(token, dict) and _is_int(token.get("start")) and _is_int(token.get("end")):
            start, end = token["start"], token["end"]
            if (
                not cursor <= start < end <= len(text)
                or token.get("text", text[start:end]) != text[start:end]
            ):
                raise CorpusError(
                    f"token {number} [{start}, {end}) does not fit the text or overlaps the previous token",
                    where,
                    "correct the token offsets, or leave 'tokens' out to tokenise the text",
                )
        else:
            raise CorpusError(
                f"token {number} is neither a string nor an object with integer start and end",
                where,
                "give 'tokens' as a list of strings or of {start, end} objects",
            )
        cursor = end
        if text[start:end].strip():  # spaCy keeps runs of whitespace as tokens; Lantern drops them
            found.append(Token(text[start:end], start, end))
    return found


def _char_spans(record: dict[str, Any], where: str) -> list[tuple[int, int, str]] | None:
    """The record's entity spans as (start, end, label), or None when it carries no annotation."""
    key = next((key for key in SPAN_KEYS if key in record), None)
    if key is None:
        return None
    items = record[key]
    if not isinstance(items, list):
        raise CorpusError(
            f"'{key}' is not a list of spans", where, 'write spans as [{"start", "end", "label"}]'
        )
    spans = []
    for number, item in enumerate(items, start=1):
        if isinstance(item, dict):
            start = item.get("start", item.get("start_offset"))
            end = item.get("end", item.get("end_offset"))
            label = item.get("label")
        elif isinstance(item, list) and len(item) == 3:
            start, end, label = item
        else:
            start = end = label = None
        if not (_is_int(start) and _is_int(end) and isinstance(label, str)):
            raise CorpusError(
                f"span {number} of '{key}' is not a span with integer start and end and a label",
                where,
                'write spans as {"start": 0, "end": 5, "label": "PER"}',
            )
        if not label.strip() or label.split() != [label] or label == "O":
            raise CorpusError(
                f"span {number} has the label {label!r}; labels are non-empty words other than O",
                where,
                "rename the label (e.g. PER, geo-loc)",
            )
        spans.append((start, end, label))
    return spans


def _tags(text: str, tokens: list[Token], spans: list[tuple[int, int, str]], where: str) -> list[str]:
    starts = {token.start: index for index, token in enumerate(tokens)}
    ends = {token.end: index for index, token in enumerate(tokens)}
    token_spans: list[Span] = []
    previous: tuple[int, int, str] | None = None
    for start, end, label in sorted(spans):
        if not 0 <= start < end <= len(text):
            raise CorpusError(
                f"span [{start}, {end}) ({label}) is empty or lies outside the text ({len(text)} characters)",
                where,
                "spans need 0 <= start < end <= len(text)",
            )
        # doccano often takes a space in at an edge; whitespace is never part of an entity.
        while text[start].isspace() and start < end - 1:
            start += 1
        while text[end - 1].isspace() and end > start + 1:
            end -= 1
        shown = f"span [{start}, {end}) {text[start:end]!r} ({label})"
        if previous is not None and start < previous[1]:
            raise CorpusError(
                f"{shown} overlaps span [{previous[0]}, {previous[1]}) ({previous[2]})",
                where,
                "Lantern keeps flat entities: remove or shorten one of the two spans",
            )
        if start not in starts or end not in ends:
            cut = next(
                (t for t in tokens if t.start < start < t.end or t.start < end < t.end),
                None,
            )
            what = f"cuts the token {cut.text!r} [{cut.start}, {cut.end})" if cut else "holds no whole token"
            raise CorpusError(f"{shown} {what}", where, SPAN_HINT)
        token_spans.append(Span(starts[start], ends[end] + 1, label))
        previous = (start, end, label)
    return list(spans_to_tags(len(tokens), token_spans))


def parse_jsonl(text: str, source: str = "<text>", *, labels: LabelSpec = None) -> list[Sentence]:
    """Sentences from JSONL text; a record without spans is an unlabelled sentence."""
    raw: list[RawSentence] = []
    for number, line in enumerate(text_lines(text), start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(
                f"this line is not valid JSON ({exc.msg} at column {exc.colno})",
                where,
                "each line must be one JSON object, e.g. "
                '{"text": "Anna lives in Oslo", "spans": [{"start": 0, "end": 4, "label": "PER"}]}',
            ) from exc
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise CorpusError(
                'this record has no "text" string',
                where,
                'each line must be a JSON object with a "text" string and, when labelled, "spans"',
            )
        body = record["text"]
        tokens = _given_tokens(record["tokens"], body, where) if "tokens" in record else tokenize(body)
        if not tokens:
            raise CorpusError("this record's text holds no tokens", where, "remove the empty record")
        spans = _char_spans(record, where)
        tags = None if spans is None else _tags(body, tokens, spans, where)
        raw.append(RawSentence([token.text for token in tokens], tags, [where] * len(tokens)))
    return build_sentences(raw, source, scheme="BIO", strict=True, labels=label_map(labels))


def read_jsonl(path: str | Path, *, labels: LabelSpec = None) -> list[Sentence]:
    """Read a JSONL file (see parse_jsonl); any problem raises a CorpusError naming the file and line."""
    return parse_jsonl(read_text(path), str(path), labels=labels)


def sentence_record(sentence: Sentence) -> dict[str, Any]:
    """{"text", "tokens", "spans"}: tokens joined by single spaces, spans in characters of that text."""
    offsets = []
    cursor = 0
    for token in sentence.tokens:
        offsets.append((cursor, cursor + len(token)))
        cursor += len(token) + 1
    record: dict[str, Any] = {"text": " ".join(sentence.tokens), "tokens": list(sentence.tokens)}
    if sentence.tags is not None:
        record["spans"] = [
            {"start": offsets[span.start][0], "end": offsets[span.end - 1][1], "label": span.label}
            for span in tags_to_spans(to_bio(sentence.tags, strict=False))
        ]
    return record


def format_jsonl(sentences: Sequence[Sentence]) -> str:
    return "".join(json.dumps(sentence_record(s), ensure_ascii=False) + "\n" for s in sentences)


def write_jsonl(sentences: Sequence[Sentence], path: str | Path) -> None:
    write_text_atomic(path, format_jsonl(sentences))
