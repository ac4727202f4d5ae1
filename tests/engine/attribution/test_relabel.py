"""Label reassignment: the matrices, their validation, the empirical flip rate and p*."""

from __future__ import annotations

import numpy as np
import pytest

from engine.attribution.relabel import (
    binary_matrix,
    class_prior,
    keep_matrix,
    p_star,
    reassign_labels,
    validate_matrix,
)
from engine.core.errors import LanternError

THREE_CLASSES = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.1, 0.1, 0.8]])


def test_binary_matrix_keeps_with_r_and_flips_otherwise() -> None:
    np.testing.assert_allclose(binary_matrix(0.8), [[0.8, 0.2], [0.2, 0.8]])
    np.testing.assert_allclose(binary_matrix(0), [[0, 1], [1, 0]])


@pytest.mark.parametrize("r", [-0.01, 1.5, float("nan"), "half"])
def test_r_outside_unit_interval_is_a_clear_error(r: object) -> None:
    with pytest.raises(LanternError) as caught:
        binary_matrix(r)  # type: ignore[arg-type]
    assert caught.value.where == "r"
    assert caught.value.hint


def test_keep_matrix_generalises_the_binary_one() -> None:
    np.testing.assert_allclose(keep_matrix(0.7, 2), binary_matrix(0.7))
    matrix = keep_matrix(0.4, 4)
    np.testing.assert_allclose(np.diag(matrix), 0.4)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    assert matrix[0, 1] == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("matrix", "fragment"),
    [
        ([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], "square"),
        ([[1.0]], "at least 2 x 2"),
        ([[0.5, 0.6], [0.5, 0.5]], "row 0 sums to 1.1"),
        ([[1.2, -0.2], [0.5, 0.5]], "outside [0, 1]"),
        ([["a", "b"], ["c", "d"]], "not a numeric"),
    ],
)
def test_invalid_matrices_are_rejected(matrix: list[list[object]], fragment: str) -> None:
    with pytest.raises(LanternError, match=r"reassignment matrix") as caught:
        validate_matrix(matrix)  # type: ignore[arg-type]
    assert fragment in caught.value.what
    assert caught.value.where == "matrix"


@pytest.mark.parametrize("r", [0.0, 0.2, 0.5, 0.75, 1.0])
def test_p_star_of_a_binary_matrix_is_max_r_one_minus_r(r: float) -> None:
    assert p_star(binary_matrix(r)) == pytest.approx(max(r, 1 - r))
    # The prior does not matter for a symmetric binary matrix.
    assert p_star(binary_matrix(r), np.array([0.9, 0.1])) == pytest.approx(max(r, 1 - r))


def test_p_star_of_a_three_class_matrix_sums_prior_times_row_maximum() -> None:
    assert p_star(THREE_CLASSES) == pytest.approx((0.6 + 0.6 + 0.8) / 3)
    assert p_star(THREE_CLASSES, np.array([2.0, 1.0, 1.0])) == pytest.approx(
        0.5 * 0.6 + 0.25 * 0.6 + 0.25 * 0.8
    )
    with pytest.raises(LanternError, match="prior"):
        p_star(THREE_CLASSES, np.array([0.5, 0.5]))


@pytest.mark.parametrize("r", [0.5, 0.8, 0.95])
def test_reassign_labels_flips_at_the_rate_one_minus_r(r: float) -> None:
    n = 40_000
    labels = np.arange(n) % 2
    new = reassign_labels(labels, binary_matrix(r), np.random.default_rng(1))
    assert new.dtype == np.int64
    # Standard error of the rate is at most 0.0025 here: 0.01 is four of them.
    assert np.mean(new != labels) == pytest.approx(1 - r, abs=0.01)
    assert np.mean(new[labels == 0] != 0) == pytest.approx(1 - r, abs=0.014)


def test_reassign_labels_follows_each_row_of_a_k_by_k_matrix() -> None:
    labels = np.repeat(np.arange(3), 20_000)
    new = reassign_labels(labels, THREE_CLASSES, np.random.default_rng(7))
    observed = np.stack([np.bincount(new[labels == k], minlength=3) / 20_000 for k in range(3)])
    np.testing.assert_allclose(observed, THREE_CLASSES, atol=0.012)


def test_reassign_labels_is_exact_at_r_one_and_zero_and_seeded() -> None:
    labels = np.array([0, 1, 1, 0, 1])
    np.testing.assert_array_equal(
        reassign_labels(labels, binary_matrix(1.0), np.random.default_rng(0)), labels
    )
    np.testing.assert_array_equal(
        reassign_labels(labels, binary_matrix(0.0), np.random.default_rng(0)), 1 - labels
    )
    first = reassign_labels(labels, binary_matrix(0.5), np.random.default_rng(3))
    again = reassign_labels(labels, binary_matrix(0.5), np.random.default_rng(3))
    np.testing.assert_array_equal(first, again)


def test_labels_outside_the_matrix_are_rejected() -> None:
    with pytest.raises(LanternError, match=r"labels must lie in 0\.\.1"):
        reassign_labels(np.array([0, 2]), binary_matrix(0.5), np.random.default_rng(0))


def test_class_prior_counts_shares() -> None:
    np.testing.assert_allclose(class_prior(np.array([0, 0, 0, 1]), 2), [0.75, 0.25])
    np.testing.assert_allclose(class_prior(np.array([], dtype=np.int64), 2), [0.5, 0.5])
