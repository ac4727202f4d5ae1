"""Scores against hand-made cases with known answers, and against Quantus on random maps."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from engine.attribution import scores
from engine.core.errors import LanternError

LOCALISATION = ("attr_pct", "pointing_game", "top_k_overlap", "auroc")


def _box_masks(n: int = 5, side: int = 10) -> np.ndarray:
    masks = np.zeros((n, side, side), dtype=bool)
    masks[:, 2:6, 3:8] = True  # 20 of 100 pixels
    return masks


def test_numpy_only_module() -> None:
    # The GUI imports scores: it must not pull torch in (checked in a fresh interpreter).
    import subprocess

    code = "import sys, engine.attribution.scores; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("metric", LOCALISATION)
def test_map_equal_to_mask_scores_one(metric: str) -> None:
    masks = _box_masks()
    np.testing.assert_allclose(scores.METRICS[metric].fn(masks.astype(float), masks), 1.0)


@pytest.mark.parametrize("metric", LOCALISATION)
def test_map_entirely_outside_scores_zero(metric: str) -> None:
    masks = _box_masks()
    np.testing.assert_allclose(scores.METRICS[metric].fn((~masks).astype(float), masks), 0.0)


def test_uniform_map_scores_the_random_baseline() -> None:
    masks = _box_masks()
    uniform = np.full(masks.shape, 3.0)
    np.testing.assert_allclose(scores.region_share(masks), 0.2)
    np.testing.assert_allclose(scores.attr_pct(uniform, masks), 0.2)
    np.testing.assert_allclose(scores.auroc(uniform, masks), 0.5)
    np.testing.assert_allclose(
        scores.pointing_game(uniform, masks), 0.2
    )  # expected hit, ties broken at random
    np.testing.assert_allclose(scores.top_k_overlap(uniform, masks), 0.2)
    for name, metric in scores.METRICS.items():
        np.testing.assert_allclose(metric.fn(uniform, masks), metric.random_baseline_fn(masks), err_msg=name)
    # An all-zero map is uniform too: Attr% is the region share, not 0/0.
    np.testing.assert_allclose(scores.attr_pct(np.zeros(masks.shape), masks), 0.2)


def test_attr_pct_known_values_and_sign() -> None:
    masks = np.array([[[True, False], [False, False]]])
    maps = np.array([[[-3.0, 1.0], [0.0, 2.0]]])  # |s| = 3 inside of 6
    np.testing.assert_allclose(scores.attr_pct(maps, masks), [0.5])
    np.testing.assert_allclose(scores.pointing_game(maps, masks), [1.0])
    # AUROC: the one inside value 3 beats all three outside values.
    np.testing.assert_allclose(scores.auroc(maps, masks), [1.0])


def test_auroc_ties_count_half() -> None:
    masks = np.array([[True, True, False, False]])
    maps = np.array([[2.0, 1.0, 1.0, 0.0]])
    # pairs (in, out): (2,1) win, (2,0) win, (1,1) tie, (1,0) win -> 3.5 / 4
    np.testing.assert_allclose(scores.auroc(maps, masks), [0.875])


def test_top_k_with_explicit_k_and_ties() -> None:
    masks = np.array([[True, False, True, False, False]])
    maps = np.array([[5.0, 4.0, 1.0, 1.0, 0.0]])
    np.testing.assert_allclose(scores.top_k_overlap(maps, masks, k=1), [1.0])
    np.testing.assert_allclose(scores.top_k_overlap(maps, masks, k=2), [0.5])
    # k=3: 5 (in), 4 (out), then one of two tied 1s, half of them in -> (1 + 0.5) / 3
    np.testing.assert_allclose(scores.top_k_overlap(maps, masks, k=3), [1.5 / 3])
    np.testing.assert_allclose(scores.top_k_overlap(maps, masks), [0.5])  # k = region size 2
    with pytest.raises(LanternError, match="k must be at least 1"):
        scores.top_k_overlap(maps, masks, k=0)


def test_empty_region_is_nan_and_full_region_auroc_is_nan() -> None:
    maps = np.random.default_rng(0).random((2, 3, 3))
    masks = np.zeros((2, 3, 3), dtype=bool)
    masks[1] = True
    for name in LOCALISATION:
        assert np.isnan(scores.METRICS[name].fn(maps, masks)[0]), name
    assert np.isnan(scores.auroc(maps, masks)[1])
    assert scores.attr_pct(maps, masks)[1] == pytest.approx(1.0)


def test_text_maps_pad_without_effect() -> None:
    maps = [np.array([0.1, 0.9, 0.0]), np.array([1.0, 0.0, 0.0, 0.0, 0.0]), np.array([0.3])]
    masks = [np.array([False, True, False]), np.array([False, True, True, False, False]), np.array([True])]
    np.testing.assert_allclose(scores.attr_pct(maps, masks), [0.9, 0.0, 1.0])
    np.testing.assert_allclose(scores.pointing_game(maps, masks), [1.0, 0.0, 1.0])
    # second: k = 2; 1.0 lies outside, then one of four tied zeros, half of them inside -> 0.5 / 2
    np.testing.assert_allclose(scores.top_k_overlap(maps, masks), [1.0, 0.25, 1.0])
    auc = scores.auroc(maps, masks)
    # second: in {0, 0} against out {1, 0, 0}: 2 of 6 pairs lost, 4 tied -> 2 / 6
    np.testing.assert_allclose(auc[:2], [1.0, 2 / 6])
    assert np.isnan(auc[2])  # one token, all of it region: nothing outside
    # Each sample alone gives the same as the padded batch.
    for name in LOCALISATION:
        batch = scores.METRICS[name].fn(maps, masks)
        alone = [scores.METRICS[name].fn([m], [s])[0] for m, s in zip(maps, masks, strict=True)]
        np.testing.assert_allclose(batch, alone, err_msg=name)
    np.testing.assert_allclose(scores.region_share(masks), [1 / 3, 2 / 5, 1.0])


def test_mismatched_shapes_are_clear_errors() -> None:
    with pytest.raises(LanternError, match="do not match"):
        scores.attr_pct(np.zeros((2, 3, 3)), np.zeros((2, 3, 4), dtype=bool))
    with pytest.raises(LanternError, match="sample 0"):
        scores.attr_pct([np.zeros(3)], [np.zeros(4, dtype=bool)])
    with pytest.raises(LanternError, match="manipulated flags"):
        scores.score_maps(np.zeros((2, 3, 3)), np.ones((2, 3, 3), dtype=bool), np.array([True]))


def test_bound() -> None:
    assert scores.bound(0.5) == pytest.approx(1.0)
    assert scores.bound(0.8) == pytest.approx(0.7)
    assert scores.bound(0.2) == pytest.approx(0.7)
    assert scores.bound(1.0) == pytest.approx(0.5)
    with pytest.raises(LanternError, match=r"r must lie in \[0, 1\]"):
        scores.bound(1.2)


def test_rationale_precision_recall() -> None:
    selected = [np.array([True, True, False, False]), np.array([0.0, 0.0, 0.0]), np.array([1.0, 1.0])]
    masks = [np.array([True, False, True, False]), np.array([True, False, False]), np.array([False, False])]
    precision, recall = scores.rationale_precision_recall(selected, masks)
    np.testing.assert_allclose(precision, [0.5, np.nan, 0.0])
    np.testing.assert_allclose(recall, [0.5, 0.0, np.nan])


def test_attention_mass_and_frequency() -> None:
    weights = [np.array([0.1, 0.6, 0.3]), np.array([0.25, 0.25, 0.25, 0.25])]
    masks = [np.array([False, True, False]), np.array([True, False, False, False])]
    mass, frequency = scores.attention_mass(weights, masks)
    np.testing.assert_allclose(mass, [0.6, 0.25])
    np.testing.assert_allclose(frequency, [1 / 3, 0.25])


def test_kendall_tau_known_permutations_and_ties() -> None:
    assert scores.kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert scores.kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # One swap of neighbours among 4: 5 concordant, 1 discordant of 6 pairs.
    assert scores.kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    # Ties: x = [1, 2, 2, 3], y = [1, 2, 3, 3]. Pairs: n0 = 6; x ties 1 (x2=x3), y ties 1 (y3=y4).
    # Concordant: (1,2) (1,3) (1,4) (2,4) = 4; (2,3) x-tie; (3,4) y-tie; discordant 0.
    # tau-b = (4 - 0) / sqrt((6 - 1) * (6 - 1)) = 0.8
    assert scores.kendall_tau([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(0.8)
    from scipy.stats import kendalltau

    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 4, 30), rng.integers(0, 4, 30)
    assert scores.kendall_tau(a, b) == pytest.approx(kendalltau(a, b).statistic)
    assert np.isnan(scores.kendall_tau([1, 1, 1], [1, 2, 3]))  # a constant side has no ranking
    assert scores.kendall_tau([1, np.nan, 2, 3], [1, 5, 2, 3]) == pytest.approx(1.0)  # NaN pairs dropped


def test_rank_agreement_matrix() -> None:
    table = {
        "attr_pct": {"saliency": 0.3, "lime": 0.6, "gradcam": 0.5},
        "auroc": {"saliency": 0.55, "lime": 0.8, "gradcam": 0.7},
        "pointing_game": {"saliency": 0.9, "lime": 0.1, "gradcam": 0.5, "occlusion": 0.2},
    }
    metrics, tau = scores.rank_agreement(table)
    assert metrics == ["attr_pct", "auroc", "pointing_game"]
    np.testing.assert_allclose(np.diag(tau), 1.0)
    assert tau[0, 1] == pytest.approx(1.0)
    assert tau[0, 2] == pytest.approx(-1.0)  # over the three methods both scored
    np.testing.assert_allclose(tau, tau.T)


def test_score_maps_splits_conditions() -> None:
    rng = np.random.default_rng(1)
    maps = rng.random((6, 8, 8))
    masks = np.zeros((6, 8, 8), dtype=bool)
    masks[:, :3] = True
    manipulated = np.array([True, False, True, True, False, False])
    result = scores.score_maps(maps, masks, manipulated)
    assert set(result) == {(m, c) for m in scores.METRICS for c in ("presence", "absence", "all")}
    for name, metric in scores.METRICS.items():
        every = metric.fn(maps, masks)
        np.testing.assert_allclose(result[(name, "all")], every)
        np.testing.assert_allclose(result[(name, "presence")], every[manipulated])
        np.testing.assert_allclose(result[(name, "absence")], every[~manipulated])
    text = scores.score_maps(
        [rng.random(4), rng.random(6)], [np.eye(4, dtype=bool)[0], np.ones(6, bool)], [1, 0]
    )
    assert text[("attr_pct", "presence")].shape == (1,)


def test_equal_to_quantus_on_random_maps() -> None:
    quantus = pytest.importorskip("quantus")
    rng = np.random.default_rng(7)
    n, side = 64, 14
    maps = rng.normal(size=(n, side, side))  # signed: both sides take |.| (abs=True)
    masks = np.zeros((n, side, side), dtype=bool)
    masks[:, 3:9, 2:7] = True
    k = int(masks[0].sum())
    x = np.zeros((n, 1, side, side), dtype=np.float32)
    y = np.zeros(n, dtype=np.int64)
    peers = {
        "attr_pct": quantus.RelevanceMassAccuracy(abs=True, normalise=False, disable_warnings=True),
        "pointing_game": quantus.PointingGame(abs=True, normalise=False, disable_warnings=True),
        "top_k_overlap": quantus.TopKIntersection(k=k, abs=True, normalise=False, disable_warnings=True),
        "auroc": quantus.AUC(abs=True, normalise=False, disable_warnings=True),
    }
    for name, peer in peers.items():
        theirs = np.asarray(
            peer(
                model=None,
                x_batch=x,
                y_batch=y,
                a_batch=maps[:, None],
                s_batch=masks[:, None].astype(float),
                channel_first=True,
                batch_size=n,
            ),
            dtype=np.float64,
        )
        np.testing.assert_allclose(
            scores.METRICS[name].fn(maps, masks), theirs, rtol=0, atol=1e-6, err_msg=name
        )
