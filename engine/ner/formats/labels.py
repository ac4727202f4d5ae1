"""Label mapping on import: rename entity labels (e.g. WNUT's ten types to CoNLL's PER/LOC/ORG/MISC)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from engine.ner.formats.files import CorpusError
from engine.ner.formats.schemes import split_tag

DROP = "O"  # mapping a label to "O" removes its entities


@dataclass(frozen=True)
class LabelMap:
    """label -> new label; labels not in `mapping` get `default`, or are an error when it is None."""

    mapping: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None
    name: str = "custom"

    def label(self, label: str, where: str) -> str:
        if label in self.mapping:
            return self.mapping[label]
        if self.default is not None:
            return self.default
        known = ", ".join(sorted(self.mapping)) or "none"
        raise CorpusError(
            f"label '{label}' has no mapping in the '{self.name}' label map (mapped: {known})",
            where,
            "add the label to the mapping, or give a default label for unmapped ones",
        )

    def apply(self, tags: Sequence[str], locate: Callable[[int], str]) -> tuple[str, ...]:
        """Map the labels of BIO tags. Entities keep their boundaries: each still starts with B-."""
        mapped = []
        for index, tag in enumerate(tags):
            prefix, label = split_tag(tag)
            if prefix == "O":
                mapped.append("O")
                continue
            new = self.label(label, locate(index))
            mapped.append("O" if new == DROP else f"{prefix}-{new}")
        return tuple(mapped)


WNUT_TO_CONLL = LabelMap(
    {
        "person": "PER",
        "geo-loc": "LOC",
        "company": "ORG",
        "sportsteam": "ORG",
        "facility": "MISC",
        "product": "MISC",
        "musicartist": "MISC",
        "movie": "MISC",
        "tvshow": "MISC",
        "other": "MISC",
    },
    default="MISC",
    name="wnut-to-conll",
)

PRESETS: dict[str, LabelMap] = {WNUT_TO_CONLL.name: WNUT_TO_CONLL}

LabelSpec = LabelMap | Mapping[str, str] | str | None


def label_map(spec: LabelSpec, default: str | None = None) -> LabelMap | None:
    """A LabelMap from a preset name, a dict (with an optional default), or None for no mapping."""
    if spec is None or isinstance(spec, LabelMap):
        return spec
    if isinstance(spec, str):
        if spec not in PRESETS:
            raise CorpusError(
                f"unknown label map '{spec}'",
                "label map option",
                f"use one of: {', '.join(sorted(PRESETS))}, or give a mapping",
            )
        return PRESETS[spec]
    return LabelMap(dict(spec), default=default)
