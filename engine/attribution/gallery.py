"""Save and load galleries (explained samples with their maps) as one .npz file per experiment.

The file holds a JSON index (modality, manipulation, replicate, model, methods, meta per gallery) and the
arrays under names prefixed by the gallery's position. Token lists and ragged per-token arrays are stored
flat with offsets, so nothing is pickled and the file opens anywhere with numpy alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.attribution.types import Gallery
from engine.core.errors import LanternError

FORMAT = "lantern-attribution-gallery/1"


def _flatten(arrays: list[np.ndarray], dtype: type) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    flat = np.concatenate([np.asarray(a, dtype=dtype) for a in arrays]) if arrays else np.zeros(0, dtype)
    return flat, offsets


def _split(flat: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    return [flat[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


def save_galleries(galleries: list[Gallery], path: Path | str) -> Path:
    """Write galleries to `path` (.npz); written to a temporary name first so a crash leaves no half file."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    index = []
    for i, g in enumerate(galleries):
        p = f"g{i}."
        arrays[p + "labels"] = np.asarray(g.labels, dtype=np.int64)
        arrays[p + "predictions"] = np.asarray(g.predictions, dtype=np.int64)
        arrays[p + "manipulated"] = np.asarray(g.manipulated, dtype=bool)
        methods = list(g.maps)
        if g.modality == "image":
            if g.inputs is None:
                raise ValueError("an image gallery needs its inputs")
            arrays[p + "inputs"] = np.asarray(g.inputs, dtype=np.float32)
            arrays[p + "masks"] = np.asarray(g.masks, dtype=bool)
            for j, m in enumerate(methods):
                arrays[f"{p}map{j}"] = np.asarray(g.maps[m], dtype=np.float32)
        else:
            if g.tokens is None:
                raise ValueError("a text gallery needs its tokens")
            words = [t for toks in g.tokens for t in toks]
            arrays[p + "words"] = np.array(words, dtype=np.str_) if words else np.zeros(0, dtype="<U1")
            arrays[p + "masks"], arrays[p + "offsets"] = _flatten(list(g.masks), bool)
            for j, m in enumerate(methods):
                arrays[f"{p}map{j}"], _ = _flatten(list(g.maps[m]), np.float32)
        index.append(
            {
                "modality": g.modality,
                "manipulation": g.manipulation,
                "replicate": g.replicate,
                "model": g.model,
                "methods": methods,
                "meta": g.meta,
            }
        )
    arrays["index"] = np.array(json.dumps({"format": FORMAT, "galleries": index}))
    tmp = path.with_name(path.name + ".part")
    with tmp.open("wb") as fh:
        np.savez_compressed(fh, **arrays)
    tmp.replace(path)
    return path


def load_galleries(path: Path | str) -> list[Gallery]:
    """Read what save_galleries wrote; a missing or foreign file is a LanternError naming it."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError as exc:
        raise LanternError(
            "The gallery file is missing.", where=str(path), hint="Run the experiment again to rebuild it."
        ) from exc
    except (OSError, ValueError) as exc:
        raise LanternError(
            f"The gallery file cannot be read ({exc}).", where=str(path), hint="Run the experiment again."
        ) from exc
    try:
        index = json.loads(str(arrays["index"]))
    except (KeyError, json.JSONDecodeError) as exc:
        raise LanternError(
            "Not a Lantern attribution gallery.", where=str(path), hint="Pick a gallery artifact."
        ) from exc
    if index.get("format") != FORMAT:
        raise LanternError(
            f"Unknown gallery format {index.get('format')!r}.", where=str(path), hint="Update Lantern."
        )
    out = []
    for i, entry in enumerate(index["galleries"]):
        p = f"g{i}."
        methods = entry["methods"]
        common = {
            "modality": entry["modality"],
            "manipulation": entry["manipulation"],
            "replicate": int(entry["replicate"]),
            "labels": arrays[p + "labels"],
            "predictions": arrays[p + "predictions"],
            "manipulated": arrays[p + "manipulated"],
            "model": entry.get("model", ""),
            "meta": entry.get("meta", {}),
        }
        if entry["modality"] == "image":
            out.append(
                Gallery(
                    masks=arrays[p + "masks"],
                    maps={m: arrays[f"{p}map{j}"] for j, m in enumerate(methods)},
                    inputs=arrays[p + "inputs"],
                    **common,
                )
            )
        else:
            offsets = arrays[p + "offsets"]
            words = [str(w) for w in arrays[p + "words"]]
            tokens = [words[offsets[k] : offsets[k + 1]] for k in range(len(offsets) - 1)]
            out.append(
                Gallery(
                    masks=_split(arrays[p + "masks"], offsets),
                    maps={m: _split(arrays[f"{p}map{j}"], offsets) for j, m in enumerate(methods)},
                    tokens=tokens,
                    **common,
                )
            )
    return out
