"""Image datasets for the Augment workspace: the bundled Fashion-MNIST subset, the full set, or a folder.

Numpy and Pillow only (the GUI lists and previews these). Every dataset has a train split (views, banks and
SSL training) and a test split (the linear probe and kNN evaluation); a folder is split by a seeded,
class-stratified draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.attribution.datasets import image_folder
from engine.attribution.types import ImageSet
from engine.core.errors import LanternError
from engine.demo.fashion_mnist import DEBIAN_FOLDER, load_demo, load_full

BUNDLED = "fashion-mnist-demo"
FULL = "fashion-mnist"
DATASET_NAMES = (BUNDLED, FULL)
# Below this side a 2-downsample UNet and a crop-based augmentation have nothing left to work with.
MIN_SIDE = 16
# Share of each class a folder keeps aside for the probe's test split.
FOLDER_TEST_SHARE = 0.2
_NAME_HINT = f"use {BUNDLED!r} (bundled), {FULL!r} (Debian's dataset-fashion-mnist) or a folder path"


@dataclass(frozen=True)
class AugmentData:
    """A dataset ready for views and SSL: images float32 [N, C, H, W] in [0, 1], labels int64 [N]."""

    name: str
    train: ImageSet
    test: ImageSet

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(v) for v in self.train.images.shape[1:])  # type: ignore[return-value]

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.train.class_names


def _from_uint8(
    images: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...], source: str
) -> ImageSet:
    floats = np.ascontiguousarray(images[:, None, :, :], dtype=np.float32) / np.float32(255.0)
    return ImageSet(
        images=floats, labels=np.asarray(labels, dtype=np.int64), class_names=class_names, source=source
    )


def _take(images: ImageSet, index: np.ndarray) -> ImageSet:
    names = tuple(images.names[i] for i in index) if images.names else ()
    return ImageSet(
        images=np.ascontiguousarray(images.images[index]),
        labels=images.labels[index],
        class_names=images.class_names,
        source=images.source,
        names=names,
    )


def limit_images(images: ImageSet, limit: int | None, seed: int) -> ImageSet:
    """A seeded, class-stratified subset of at most `limit` images (all of them when limit is None)."""
    if limit is None or limit >= len(images.labels):
        return images
    if limit < 1:
        raise LanternError(f"limit must be at least 1, got {limit}", "dataset limit", "e.g. limit=2000")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images.labels))
    # Round-robin over classes in the permuted order keeps the subset balanced like the whole.
    by_class = [order[images.labels[order] == c] for c in np.unique(images.labels)]
    picked: list[int] = []
    depth = 0
    while len(picked) < limit:
        for members in by_class:
            if depth < len(members) and len(picked) < limit:
                picked.append(int(members[depth]))
        depth += 1
    return _take(images, np.sort(np.asarray(picked)))


def _split_folder(images: ImageSet, seed: int) -> tuple[ImageSet, ImageSet]:
    rng = np.random.default_rng(seed)
    test: list[int] = []
    for c in np.unique(images.labels):
        members = rng.permutation(np.flatnonzero(images.labels == c))
        count = round(len(members) * FOLDER_TEST_SHARE)
        if len(members) >= 2:
            test.extend(members[: max(1, count)].tolist())
    mask = np.zeros(len(images.labels), dtype=bool)
    mask[test] = True
    return _take(images, np.flatnonzero(~mask)), _take(images, np.flatnonzero(mask))


def _check_side(images: ImageSet, where: str) -> None:
    height, width = images.images.shape[2:]
    if min(height, width) < MIN_SIDE:
        raise LanternError(
            f"the images are {height}x{width} pixels; views and SSL need at least {MIN_SIDE}x{MIN_SIDE}",
            where,
            f"use larger images, or give a size to resize them to (e.g. size={max(MIN_SIDE, 32)})",
        )


def load_augment_data(
    source: str, *, limit: int | None = None, seed: int = 0, size: int | None = None
) -> AugmentData:
    """The dataset named by `source`: a dataset name or an image folder (one subfolder per class).

    limit caps the train split (seeded, class-stratified); the test split is kept whole.
    """
    if source == BUNDLED:
        demo = load_demo()
        train = _from_uint8(demo.train_images, demo.train_labels, demo.class_names, demo.source)
        test = _from_uint8(demo.test_images, demo.test_labels, demo.class_names, demo.source)
    elif source == FULL:
        full = load_full(DEBIAN_FOLDER)
        train = _from_uint8(full.train_images, full.train_labels, full.class_names, full.source)
        test = _from_uint8(full.test_images, full.test_labels, full.class_names, full.source)
    else:
        folder = Path(source).expanduser()
        if not folder.is_dir():
            raise LanternError("unknown dataset: neither a dataset name nor a folder", source, _NAME_HINT)
        whole = image_folder(folder, size=size)
        _check_side(whole, str(folder))
        train, test = _split_folder(whole, seed)
        if len(train.labels) < 2 or len(test.labels) < 1:
            raise LanternError(
                f"the folder holds {len(whole.labels)} readable images: too few to split for a probe",
                str(folder),
                "put at least 5 images in each class subfolder",
            )
    return AugmentData(name=source, train=limit_images(train, limit, seed), test=test)
