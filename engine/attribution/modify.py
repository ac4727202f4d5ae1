"""Dataset modification (Zhou et al. 2022): reassign labels, then apply a manipulation by the new label.

After it, no feature of the original input predicts the new label better than p*, so a model that beats
p* must use the manipulation's effective region: ground truth for attribution. Numpy only.
"""

from __future__ import annotations

import numpy as np

from engine.attribution.manipulations import image_manipulation, text_manipulation
from engine.attribution.relabel import (
    binary_matrix,
    class_prior,
    keep_matrix,
    p_star,
    reassign_labels,
    validate_matrix,
)
from engine.attribution.types import ImageSet, ModifiedImages, ModifiedTexts, TextSet
from engine.core.errors import LanternError

# The class that carries the manipulation; every other class goes without it.
MANIPULATED_CLASS = 1


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent generators for relabelling and for the manipulation, so one does not shift the other."""
    relabel_seed, manipulate_seed = np.random.SeedSequence(int(seed)).spawn(2)
    return np.random.default_rng(relabel_seed), np.random.default_rng(manipulate_seed)


def _matrix_for(num_classes: int, r: float, matrix: np.ndarray | list[list[float]] | None) -> np.ndarray:
    if matrix is None:
        return binary_matrix(r) if num_classes == 2 else keep_matrix(r, num_classes)
    checked = validate_matrix(matrix)
    if checked.shape[0] != num_classes:
        raise LanternError(
            f"the reassignment matrix is {checked.shape[0]} x {checked.shape[0]} but the base data has "
            f"{num_classes} classes",
            "matrix",
            "give one row and one column per class of the base data",
        )
    return checked


def modify_images(
    base: ImageSet,
    manipulation: str,
    *,
    strength: float | None = None,
    r: float = 0.5,
    matrix: np.ndarray | list[list[float]] | None = None,
    seed: int = 0,
) -> ModifiedImages:
    """Reassign labels (binary matrix from r, or `matrix`), then manipulate every sample whose new label is 1.

    strength None uses the manipulation's default. With K > 2 classes and no matrix, a sample keeps its
    label with probability r and otherwise moves to one of the other classes uniformly; only new label 1
    carries the manipulation, so the manipulation separates class 1 from the rest. When `matrix` is given,
    the recorded r is the mean of its diagonal (the keep probability).
    """
    chosen = image_manipulation(manipulation)
    value = chosen.check_strength(strength)
    images = chosen.check_images(base.images)
    if images.shape[0] == 0:
        raise LanternError("the base data holds no images", base.source, "choose base data with images")
    reassign = _matrix_for(base.num_classes, r, matrix)
    relabel_rng, manipulate_rng = _streams(seed)
    original_labels = np.asarray(base.labels, dtype=np.int64)
    labels = reassign_labels(original_labels, reassign, relabel_rng)
    manipulated = labels == MANIPULATED_CLASS
    region = chosen.region(images.shape[2], images.shape[3])
    modified = images.copy()
    if manipulated.any():
        modified[manipulated] = chosen.apply(images[manipulated], value, manipulate_rng)
    return ModifiedImages(
        images=modified,
        originals=images.copy() if images is base.images else images,
        labels=labels,
        original_labels=original_labels.copy(),
        masks=np.repeat(region[None], images.shape[0], axis=0),
        manipulated=manipulated,
        manipulation=chosen.name,
        strength=value,
        r=float(np.mean(np.diag(reassign))),
        p_star=p_star(reassign, class_prior(original_labels, base.num_classes)),
        class_names=base.class_names,
        source=base.source,
    )


def modify_texts(
    base: TextSet,
    manipulation: str,
    *,
    strength: float | None = None,
    r: float = 0.5,
    matrix: np.ndarray | list[list[float]] | None = None,
    seed: int = 0,
) -> ModifiedTexts:
    """Reassign labels (binary matrix from r, or a 2 x 2 `matrix`), then apply a text manipulation by the
    new label.

    Samples the manipulation cannot carry (e.g. reviews without an article) are dropped and counted in
    `dropped`; p* is computed on the samples kept. All dropped -> LanternError.
    """
    chosen = text_manipulation(manipulation)
    value = chosen.check_strength(strength)
    if base.num_classes != 2:
        raise LanternError(
            f"text manipulations are tied to two classes; the base data has {base.num_classes}",
            base.source,
            "use binary base data (e.g. fresh and rotten reviews)",
        )
    if not base.texts:
        raise LanternError("the base data holds no texts", base.source, "choose base data with texts")
    reassign = _matrix_for(2, r, matrix)
    relabel_rng, manipulate_rng = _streams(seed)
    original_labels = np.asarray(base.labels, dtype=np.int64)
    labels = reassign_labels(original_labels, reassign, relabel_rng)
    kept: list[int] = []
    tokens: list[list[str]] = []
    masks: list[np.ndarray] = []
    present: list[bool] = []
    for index, (text, label) in enumerate(zip(base.texts, labels, strict=True)):
        result = chosen.apply(text, int(label), manipulate_rng, value)
        if result is None:
            continue
        kept.append(index)
        tokens.append(result[0])
        masks.append(result[1])
        present.append(result[2])
    if not kept:
        what = (
            "no articles to substitute: no text has a, an or the"
            if chosen.name == "article_substitution"
            else f"no text can carry {chosen.name}: every one {chosen.cannot_carry}"
        )
        raise LanternError(what, base.source, "use a corpus of ordinary sentences, or another manipulation")
    index = np.asarray(kept, dtype=np.int64)
    return ModifiedTexts(
        tokens=tokens,
        original_tokens=[list(base.texts[i]) for i in kept],
        labels=labels[index],
        original_labels=original_labels[index],
        masks=masks,
        manipulated=np.asarray(present, dtype=bool),
        manipulation=chosen.name,
        strength=value,
        r=float(np.mean(np.diag(reassign))),
        p_star=p_star(reassign, class_prior(original_labels[index], 2)),
        class_names=base.class_names,
        source=base.source,
        dropped=len(base.texts) - len(kept),
    )
