"""Scores of attribution maps against the ground-truth region: Attr%, pointing game, top-k, AUROC, and more.

Numpy only (the GUI imports this module). Every metric is vectorised over the batch. Maps and masks are
either image arrays [N, H, W] (any trailing shape; flattened per sample) or, for text, lists of 1-D arrays,
one per sample (padded internally; padding never counts). Every metric scores |map|, as the paper does.

A sample whose region is empty scores NaN on every localisation metric (there is nothing to localise;
Quantus does the same); AUROC is also NaN when the region covers the whole input (nothing outside it).
Ties are resolved by their expected value under random tie-breaking, so an all-zero map scores the random
baseline on every metric: the region share (Attr%, pointing game, top-k overlap) or 0.5 (AUROC).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from engine.attribution.types import CONDITIONS, Condition
from engine.core.errors import LanternError

MapsLike = np.ndarray | Sequence[np.ndarray]


class _Batch(NamedTuple):
    values: np.ndarray  # float64 [N, P], |map|; padding holds -inf so it never ranks or points
    region: np.ndarray  # bool [N, P]; False on padding
    valid: np.ndarray  # bool [N, P]; False on padding
    lengths: np.ndarray  # int64 [N], real positions per sample


def _is_ragged(x: MapsLike) -> bool:
    return not isinstance(x, np.ndarray)


def _batch(maps: MapsLike, masks: MapsLike, where: str) -> _Batch:
    """Flatten image batches or pad text lists into one [N, P] layout with a validity mask."""
    if _is_ragged(maps) or _is_ragged(masks):
        map_list = [np.asarray(m, dtype=np.float64).ravel() for m in maps]
        mask_list = [np.asarray(m).astype(bool).ravel() for m in masks]
        if len(map_list) != len(mask_list):
            raise LanternError(
                f"{len(map_list)} maps but {len(mask_list)} masks",
                where=where,
                hint="pass one mask per map",
            )
        for i, (m, s) in enumerate(zip(map_list, mask_list, strict=True)):
            if m.shape != s.shape:
                raise LanternError(
                    f"sample {i}: map has {m.size} values but its mask {s.size}",
                    where=where,
                    hint="each mask must be as long as its map (one entry per token)",
                )
        n = len(map_list)
        lengths = np.array([m.size for m in map_list], dtype=np.int64)
        width = int(lengths.max()) if n else 0
        valid = np.arange(width)[None, :] < lengths[:, None]
        values = np.full((n, width), -np.inf)
        region = np.zeros((n, width), dtype=bool)
        if n and width:
            values[valid] = np.abs(np.concatenate(map_list))
            region[valid] = np.concatenate(mask_list)
        return _Batch(values, region, valid, lengths)
    maps_a = np.asarray(maps)
    masks_a = np.asarray(masks)
    if maps_a.shape != masks_a.shape or maps_a.ndim < 2:
        raise LanternError(
            f"maps of shape {maps_a.shape} do not match masks of shape {masks_a.shape}",
            where=where,
            hint="pass maps and masks as [N, H, W] arrays of the same shape",
        )
    n = maps_a.shape[0]
    values = np.abs(maps_a.reshape(n, -1).astype(np.float64))
    region = masks_a.reshape(n, -1).astype(bool)
    valid = np.ones_like(region)
    return _Batch(values, region, valid, np.full(n, values.shape[1], dtype=np.int64))


def _with_empty_as_nan(scores: np.ndarray, region: np.ndarray) -> np.ndarray:
    scores = scores.astype(np.float64)
    scores[region.sum(axis=1) == 0] = np.nan
    return scores


def region_share(masks: MapsLike) -> np.ndarray:
    """Each sample's region as a share of its input: the random baseline of Attr%, float [N]."""
    if _is_ragged(masks):
        return np.array([np.asarray(m).mean() if np.size(m) else np.nan for m in masks], dtype=np.float64)
    masks_a = np.asarray(masks).astype(bool)
    return masks_a.reshape(masks_a.shape[0], -1).mean(axis=1)


def attr_pct(maps: MapsLike, masks: MapsLike) -> np.ndarray:
    """Attr%: sum of |s| in the region / sum of |s|, float [N]; an all-zero map scores the region share."""
    b = _batch(maps, masks, "attr_pct")
    values = np.where(b.valid, b.values, 0.0)
    inside = (values * b.region).sum(axis=1)
    total = values.sum(axis=1)
    share = b.region.sum(axis=1) / np.maximum(b.lengths, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(total > 0, inside / np.where(total > 0, total, 1.0), share)
    return _with_empty_as_nan(scores, b.region)


def pointing_game(maps: MapsLike, masks: MapsLike) -> np.ndarray:
    """1 where the map's maximum lies in the region, else 0, float [N].

    Tied maxima count by the share of them inside the region (the expected hit under random
    tie-breaking), so a map equal to the mask scores 1 and a uniform map the region share.
    """
    b = _batch(maps, masks, "pointing_game")
    at_max = b.values == b.values.max(axis=1, keepdims=True)
    at_max &= b.valid
    scores = (at_max & b.region).sum(axis=1) / np.maximum(at_max.sum(axis=1), 1)
    return _with_empty_as_nan(scores, b.region)


def top_k_overlap(maps: MapsLike, masks: MapsLike, k: int | None = None) -> np.ndarray:
    """Share of the map's k largest values that lie in the region, float [N].

    k defaults to each sample's region size (then a perfect map scores 1 and a random one the region
    share); a given k is clipped to each sample's length. Values tied at the k-th place count by the
    share of them inside the region.
    """
    b = _batch(maps, masks, "top_k_overlap")
    n, width = b.values.shape
    if k is None:
        ks = b.region.sum(axis=1)
    else:
        if k < 1:
            raise LanternError(f"k must be at least 1, not {k}", where="top_k_overlap", hint="pass k >= 1")
        ks = np.minimum(b.lengths, k)
    if n == 0 or width == 0:
        return np.full(n, np.nan)
    descending = -np.sort(-b.values, axis=1)
    kth = descending[np.arange(n), np.maximum(ks, 1) - 1][:, None]
    above = b.values > kth
    tied = b.values == kth
    n_above = above.sum(axis=1)
    tied_in = (tied & b.region).sum(axis=1)
    n_tied = np.maximum(tied.sum(axis=1), 1)
    hits = (above & b.region).sum(axis=1) + (ks - n_above) * tied_in / n_tied
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = hits / ks
    scores = np.where(ks > 0, scores, np.nan)
    return _with_empty_as_nan(scores, b.region)


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks along axis 1, ties given their average rank (as Mann–Whitney needs), float [N, P]."""
    n, width = values.shape
    order = np.argsort(values, axis=1, kind="stable")
    ordered = np.take_along_axis(values, order, axis=1)
    positions = np.broadcast_to(np.arange(width), (n, width))
    new_group = np.ones((n, width), dtype=bool)
    new_group[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    first = np.maximum.accumulate(np.where(new_group, positions, 0), axis=1)
    ends_group = np.ones((n, width), dtype=bool)
    ends_group[:, :-1] = new_group[:, 1:]
    last = np.minimum.accumulate(np.where(ends_group, positions, width - 1)[:, ::-1], axis=1)[:, ::-1]
    ranks = np.empty((n, width))
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=1)
    return ranks


def auroc(maps: MapsLike, masks: MapsLike) -> np.ndarray:
    """Area under the ROC curve of |map| as a score for "in the region", float [N] (ties count half).

    Computed as the Mann–Whitney U statistic from average ranks: equal to sklearn's roc_auc_score.
    """
    b = _batch(maps, masks, "auroc")
    n, width = b.values.shape
    if n == 0 or width == 0:
        return np.full(n, np.nan)
    ranks = _average_ranks(b.values)
    n_pad = (~b.valid).sum(axis=1)  # padding holds -inf: it ranks below every real value
    n_pos = b.region.sum(axis=1)
    n_neg = b.lengths - n_pos
    rank_sum = (ranks * b.region).sum(axis=1) - n_pos * n_pad
    u = rank_sum - n_pos * (n_pos + 1) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = u / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), scores, np.nan)


def bound(r: float) -> float:
    """Lower bound on Attr%-style scores for label-keeping probability r: 1.5 - max(r, 1 - r).

    SCIENCE D: for r > 0.5 only v(F_M) >= 1.5 - r holds; r = 0.5 gives 1 (the point value).
    """
    if not 0.0 <= r <= 1.0:
        raise LanternError(f"r must lie in [0, 1], not {r}", where="bound", hint="pass r in [0, 1]")
    return 1.5 - max(r, 1.0 - r)


def rationale_precision_recall(selected: MapsLike, masks: MapsLike) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall of a rationale against the region, float [N] each.

    selected: bool per token, or values where > 0.5 counts as selected. Precision is NaN where nothing is
    selected, recall NaN where the region is empty.
    """
    as_bool = (
        [np.asarray(s) if np.asarray(s).dtype == bool else np.asarray(s) > 0.5 for s in selected]
        if _is_ragged(selected)
        else (np.asarray(selected) if np.asarray(selected).dtype == bool else np.asarray(selected) > 0.5)
    )
    b = _batch(as_bool, masks, "rationale_precision_recall")
    chosen = (b.values > 0) & b.valid
    both = (chosen & b.region).sum(axis=1)
    n_chosen = chosen.sum(axis=1)
    n_region = b.region.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(n_chosen > 0, both / np.maximum(n_chosen, 1), np.nan)
        recall = np.where(n_region > 0, both / np.maximum(n_region, 1), np.nan)
    return precision, recall


def attention_mass(weights: MapsLike, masks: MapsLike) -> tuple[np.ndarray, np.ndarray]:
    """Attention mass on the region and the region's frequency (its share of tokens), float [N] each.

    The paper compares the two: attention that tracks the manipulation puts more mass there than the
    manipulated tokens' frequency.
    """
    b = _batch(weights, masks, "attention_mass")
    values = np.where(b.valid, b.values, 0.0)
    total = values.sum(axis=1)
    frequency = b.region.sum(axis=1) / np.maximum(b.lengths, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mass = np.where(total > 0, (values * b.region).sum(axis=1) / np.where(total > 0, total, 1), frequency)
    return _with_empty_as_nan(mass, b.region), _with_empty_as_nan(frequency, b.region)


class Metric(NamedTuple):
    title: str
    fn: Callable[[MapsLike, MapsLike], np.ndarray]
    higher_is_better: bool
    random_baseline_fn: Callable[[MapsLike], np.ndarray]  # masks -> expected score of a random map [N]


def _half(masks: MapsLike) -> np.ndarray:
    return np.full(len(masks), 0.5)


METRICS: dict[str, Metric] = {
    "attr_pct": Metric("Attr% (mass in region)", attr_pct, True, region_share),
    "pointing_game": Metric("Pointing game", pointing_game, True, region_share),
    "top_k_overlap": Metric("Top-k overlap (k = region size)", top_k_overlap, True, region_share),
    "auroc": Metric("AUROC of map against region", auroc, True, _half),
}


def kendall_tau(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Kendall's tau-b between two score lists (pairs with a NaN on either side are dropped).

    tau-b = (concordant - discordant) / sqrt((n0 - ties_a) (n0 - ties_b)), n0 = n (n - 1) / 2; NaN when
    either side is constant or fewer than two pairs remain.
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise LanternError(
            f"kendall_tau needs lists of equal length, got {x.size} and {y.size}",
            where="kendall_tau",
        )
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 2:
        return float("nan")
    upper = np.triu_indices(x.size, k=1)
    sx = np.sign(x[:, None] - x[None, :])[upper]
    sy = np.sign(y[:, None] - y[None, :])[upper]
    n0 = sx.size
    denominator = np.sqrt(float(np.count_nonzero(sx)) * float(np.count_nonzero(sy)))
    if denominator == 0 or n0 == 0:
        return float("nan")
    return float((sx * sy).sum() / denominator)


def rank_agreement(table: Mapping[str, Mapping[str, float]]) -> tuple[list[str], np.ndarray]:
    """Kendall tau-b between every pair of metrics over the methods both scored: (metrics, tau [M, M])."""
    metrics = list(table)
    tau = np.full((len(metrics), len(metrics)), np.nan)
    for i, first in enumerate(metrics):
        for j, second in enumerate(metrics):
            if j < i:
                tau[i, j] = tau[j, i]
                continue
            methods = [m for m in table[first] if m in table[second]]
            tau[i, j] = kendall_tau([table[first][m] for m in methods], [table[second][m] for m in methods])
    return metrics, tau


def score_maps(
    maps: MapsLike, masks: MapsLike, manipulated: np.ndarray
) -> dict[tuple[str, Condition], np.ndarray]:
    """Every metric in METRICS for each condition: {(metric, condition): scores of that condition's samples}.

    "presence" holds the samples carrying the manipulation, "absence" the others, "all" every sample
    (in input order). Each metric is computed once over the batch, then split.
    """
    flags = np.asarray(manipulated).astype(bool).ravel()
    if flags.size != len(maps):
        raise LanternError(
            f"{flags.size} manipulated flags for {len(maps)} maps",
            where="score_maps",
            hint="pass one flag per sample",
        )
    selections = {"presence": flags, "absence": ~flags, "all": np.ones_like(flags)}
    result: dict[tuple[str, Condition], np.ndarray] = {}
    for name, metric in METRICS.items():
        scores = metric.fn(maps, masks)
        for condition in CONDITIONS:
            result[(name, condition)] = scores[selections[condition]]
    return result
