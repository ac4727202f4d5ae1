"""Label reassignment with a K x K matrix, and p*: the best accuracy any feature of the original input allows.

Step one of the dataset modification (Zhou et al. 2022): the new label of a sample whose old label is k is
drawn from row k of the matrix. With the binary matrix [[r, 1-r], [1-r, r]] no function of the original
input predicts the new label better than max(r, 1-r) on balanced data, so a model that beats it must use
the manipulation applied afterwards by the new label.
"""

from __future__ import annotations

import numpy as np

from engine.core.errors import LanternError

_ROW_SUM_TOLERANCE = 1e-6


def _check_r(r: float) -> float:
    try:
        value = float(r)
    except (TypeError, ValueError) as exc:
        raise LanternError(f"r must be a number, got {r!r}", "r", "give r in [0, 1], e.g. 0.5") from exc
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise LanternError(
            "r must lie in [0, 1]",
            "r",
            f"got {value}; r is the probability of keeping the original label (0.5 makes the original "
            "features useless, 1.0 keeps every label)",
        )
    return value


def binary_matrix(r: float) -> np.ndarray:
    """The 2 x 2 reassignment matrix [[r, 1-r], [1-r, r]]: keep the label with probability r, else flip."""
    value = _check_r(r)
    return np.array([[value, 1.0 - value], [1.0 - value, value]], dtype=np.float64)


def keep_matrix(r: float, num_classes: int) -> np.ndarray:
    """The K x K binary_matrix: keep with probability r, else move to one of the other classes uniformly."""
    value = _check_r(r)
    if num_classes < 2:
        raise LanternError(
            f"label reassignment needs at least 2 classes, got {num_classes}",
            "num_classes",
            "use base data with two or more classes",
        )
    off = (1.0 - value) / (num_classes - 1)
    matrix = np.full((num_classes, num_classes), off, dtype=np.float64)
    np.fill_diagonal(matrix, value)
    return matrix


def validate_matrix(matrix: np.ndarray | list[list[float]]) -> np.ndarray:
    """The matrix as float64 when it is square, at least 2 x 2, entries in [0, 1] and rows summing to 1."""
    try:
        array = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise LanternError(
            "the reassignment matrix is not a numeric K x K table",
            "matrix",
            "give a list of K rows of K numbers",
        ) from exc
    if array.ndim != 2 or array.shape[0] != array.shape[1] or array.shape[0] < 2:
        raise LanternError(
            f"the reassignment matrix must be square and at least 2 x 2, got shape {list(array.shape)}",
            "matrix",
            "give one row per original class and one column per new class",
        )
    if not np.all(np.isfinite(array)) or array.min() < 0.0 or array.max() > 1.0:
        raise LanternError(
            "the reassignment matrix holds entries outside [0, 1]",
            "matrix",
            "every entry is a probability: M[k, j] = P(new label j | old label k)",
        )
    sums = array.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > _ROW_SUM_TOLERANCE)
    if bad.size:
        detail = ", ".join(f"row {int(k)} sums to {sums[k]:.6g}" for k in bad[:5])
        raise LanternError(
            f"the reassignment matrix is not row-stochastic: {detail}",
            "matrix",
            "make each row sum to 1 (row k is the distribution of the new label of class k)",
        )
    return array


def reassign_labels(labels: np.ndarray, matrix: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """New labels, int64 [N]: the new label of a sample with old label k is drawn from row k of the matrix."""
    matrix = validate_matrix(matrix)
    labels = np.asarray(labels)
    num_classes = matrix.shape[0]
    if labels.ndim != 1:
        raise LanternError(f"labels must be one-dimensional, got shape {list(labels.shape)}", "labels")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise LanternError(
            f"labels must lie in 0..{num_classes - 1} for a {num_classes} x {num_classes} matrix, "
            f"found {int(labels.min())}..{int(labels.max())}",
            "labels",
            "use a matrix with one row per class of the base data",
        )
    cumulative = np.cumsum(matrix, axis=1)
    draws = rng.random(labels.shape[0])
    # Inverse-CDF sampling for every sample at once; the clip guards a last cumulative entry of 1 - 1e-16.
    new = (draws[:, None] >= cumulative[labels.astype(np.int64)]).sum(axis=1)
    return np.minimum(new, num_classes - 1).astype(np.int64)


def p_star(matrix: np.ndarray, prior: np.ndarray | None = None) -> float:
    """The best accuracy any function of the original input can reach: sum_k prior_k * max_j M[k, j].

    Assumes the original input determines the original label (the most favourable case). prior defaults
    to uniform; a balanced binary matrix gives max(r, 1 - r).
    """
    matrix = validate_matrix(matrix)
    num_classes = matrix.shape[0]
    if prior is None:
        weights = np.full(num_classes, 1.0 / num_classes)
    else:
        weights = np.asarray(prior, dtype=np.float64)
        if weights.shape != (num_classes,) or weights.min() < 0 or not np.isfinite(weights).all():
            raise LanternError(
                f"the class prior must be {num_classes} non-negative numbers, got {weights.tolist()}",
                "prior",
                "give the share of each original class",
            )
        total = weights.sum()
        if total <= 0:
            raise LanternError("the class prior sums to 0", "prior", "give the share of each original class")
        weights = weights / total
    return float(np.sum(weights * matrix.max(axis=1)))


def class_prior(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """The share of each class among labels, float64 [K] (uniform when there are no labels)."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size == 0:
        return np.full(num_classes, 1.0 / num_classes)
    return np.bincount(labels, minlength=num_classes)[:num_classes] / labels.size
