"""AttributionRepository on SQLite and PostgreSQL: replicates, scores, leaderboard, CSV, resume keys."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import store_backends

from engine.attribution.gallery import save_galleries
from engine.attribution.records import ScoreRow
from engine.attribution.repository import EXPERIMENT_KIND, GALLERY_KIND, AttributionRepository, aggregate
from engine.attribution.types import Gallery
from engine.core.device import DeviceChoice
from engine.core.errors import LanternError
from engine.store import Store

CPU = DeviceChoice("cpu", "float32", "test CPU")
# The store fixtures of tests/engine/store, on both backends (SQLite and PostgreSQL).
any_store = store_backends.any_store
backend = store_backends.backend
store_url = store_backends.store_url


def _run(store: Store, name: str = "exp") -> int:
    return store.runs.create(name=name, kind=EXPERIMENT_KIND, config={"runs": 3}, device=CPU)


def _scores(attr: float, share: float, n: int = 10) -> list[ScoreRow]:
    return [
        ScoreRow("saliency", "attr_pct", "all", attr, n, share, "abs-sum-channels"),
        ScoreRow("saliency", "attr_pct", "presence", attr + 0.1, n // 2, share),
        ScoreRow("lime", "attr_pct", "all", attr / 2, n, share),
        ScoreRow("saliency", "pointing_game", "all", 1.0, n, share),
    ]


def _add(repo: AttributionRepository, run: int, manipulation: str, replicate: int, passed: bool, **kw) -> int:
    defaults = dict(strength=1.0, r=0.5, model="small_cnn", val_accuracy=0.99 if passed else 0.6, p_star=0.5)
    defaults.update(kw)
    return repo.add_replicate(
        run, manipulation=manipulation, replicate=replicate, passed=passed, epochs=3, **defaults
    )


def test_leaderboard_is_mean_and_std_over_passing_replicates(any_store: Store) -> None:
    repo = AttributionRepository(any_store)
    run = _run(any_store)
    for replicate, attr, share in [(0, 0.5, 0.2), (1, 0.7, 0.3), (2, 0.9, 0.4)]:
        _add(repo, run, "peripheral_blur", replicate, True, scores=_scores(attr, share))
    # A failing replicate's scores (if any were stored) never count.
    _add(repo, run, "peripheral_blur", 3, False, scores=_scores(0.0, 0.9))
    rid = _add(repo, run, "watermark", 0, True)
    repo.add_scores(rid, [ScoreRow("saliency", "attr_pct", "all", 0.25, 8, 0.1)])

    rows = repo.leaderboard(run)
    by_key = {(row.manipulation, row.method): row for row in rows}
    blur = by_key[("peripheral_blur", "saliency")]
    assert blur.mean == pytest.approx(0.7)
    assert blur.std == pytest.approx(0.2)  # sample std of 0.5, 0.7, 0.9
    assert blur.n_runs == 3 and blur.region_share == pytest.approx(0.3)
    assert blur.bound == pytest.approx(1.0) and blur.r == 0.5 and blur.strength == 1.0
    assert by_key[("peripheral_blur", "lime")].mean == pytest.approx(0.35)
    single = by_key[("watermark", "saliency")]
    assert (single.mean, single.std, single.n_runs) == (pytest.approx(0.25), 0.0, 1)
    presence = repo.leaderboard(run, condition="presence")
    assert [(r.method, round(r.mean, 6)) for r in presence] == [("saliency", 0.8)]
    pointing = repo.leaderboard(run, metric="pointing_game")
    assert pointing[0].bound is None and pointing[0].mean == 1.0

    rates = {p.manipulation: (p.passed, p.total) for p in repo.pass_rates(run)}
    assert rates == {"peripheral_blur": (3, 4), "watermark": (1, 1)}
    assert repo.replicate_keys(run) == {("peripheral_blur", 1.0, 0.5, k) for k in range(4)} | {
        ("watermark", 1.0, 0.5, 0)
    }
    assert [r.replicate for r in repo.replicates(run)] == [0, 1, 2, 3, 0]
    assert repo.replicates(run)[3].passed is False


def test_bound_follows_r_and_sweep_points_stay_apart(any_store: Store) -> None:
    repo = AttributionRepository(any_store)
    run = _run(any_store)
    for r in (0.5, 0.8):
        _add(repo, run, "centre_brightness", 0, True, r=r, p_star=max(r, 1 - r), scores=_scores(0.6, 0.25))
    rows = sorted(repo.leaderboard(run), key=lambda row: (row.r, row.method))
    assert [(row.r, row.method, row.bound) for row in rows] == [
        (0.5, "lime", 1.0),
        (0.5, "saliency", 1.0),
        (0.8, "lime", pytest.approx(0.7)),
        (0.8, "saliency", pytest.approx(0.7)),
    ]


def test_a_replicate_is_stored_once_and_bad_rows_store_nothing(any_store: Store) -> None:
    repo = AttributionRepository(any_store)
    run = _run(any_store)
    _add(repo, run, "watermark", 0, True, scores=_scores(0.5, 0.1))
    with pytest.raises(LanternError, match="stored already"):
        _add(repo, run, "watermark", 0, True, scores=_scores(0.9, 0.1))
    with pytest.raises(LanternError, match="unknown condition 'both'"):
        _add(repo, run, "watermark", 1, True, scores=[ScoreRow("saliency", "attr_pct", "both", 0.5, 3, 0.1)])
    with pytest.raises(LanternError, match="no run #999"):
        _add(repo, 999, "watermark", 0, True)
    assert len(repo.replicates(run)) == 1 and len(repo.scores(run)) == 4
    assert repo.leaderboard(run)[0].mean == pytest.approx(0.5)
    with pytest.raises(LanternError, match="unknown condition"):
        repo.leaderboard(run, condition="sometimes")
    with pytest.raises(LanternError, match="no scores for metric 'dice'"):
        repo.leaderboard(run, metric="dice")
    with pytest.raises(LanternError, match="no run #4242"):
        repo.leaderboard(4242)


def test_nan_and_empty_conditions_are_left_out() -> None:
    from datetime import datetime

    from engine.attribution.records import ReplicateRecord

    reps = [
        ReplicateRecord(
            i, 1, "watermark", 1.0, 0.5, i, "m", 0.99, None, 0.5, True, 2, 0, datetime(2026, 1, 1)
        )
        for i in (1, 2)
    ]
    scores = [
        (1, ScoreRow("saliency", "attr_pct", "absence", math.nan, 5, 0.1)),
        (2, ScoreRow("saliency", "attr_pct", "absence", 0.4, 5, 0.1)),
        (1, ScoreRow("lime", "attr_pct", "absence", 0.4, 0, 0.1)),
    ]
    rows = aggregate(reps, scores, "attr_pct", "absence")
    assert [(r.method, r.mean, r.n_runs) for r in rows] == [("saliency", 0.4, 1)]


def test_experiments_csv_and_gallery_path(any_store: Store, tmp_path: Path) -> None:
    repo = AttributionRepository(any_store)
    other = any_store.runs.create(name="not an experiment", kind="demo.classifier", config={}, device=CPU)
    run = _run(any_store, "fashion")
    _add(repo, run, "peripheral_blur", 0, True, scores=_scores(0.5, 0.2))
    _add(repo, run, "peripheral_blur", 1, False)
    [record] = repo.experiments()
    assert record.run_id == run and record.name == "fashion" and record.status == "running"
    assert record.pass_rate == 0.5 and (record.replicates, record.passed) == (2, 1)
    assert record.config == {"runs": 3} and record.gallery_path is None
    with pytest.raises(LanternError, match="not an attribution experiment"):
        repo.experiment(other)

    gallery = Gallery(
        modality="image",
        manipulation="peripheral_blur",
        replicate=0,
        labels=np.array([0, 1]),
        predictions=np.array([0, 1]),
        manipulated=np.array([False, True]),
        masks=np.zeros((2, 4, 4), bool),
        maps={"saliency": np.ones((2, 4, 4), np.float32)},
        inputs=np.zeros((2, 1, 4, 4), np.float32),
    )
    path = save_galleries([gallery], tmp_path / "galleries.npz")
    any_store.artifacts.add(path, kind=GALLERY_KIND, run_id=run)
    stored = repo.experiment(run).gallery_path
    assert stored is not None and stored.is_file()

    target = tmp_path / "board.csv"
    assert repo.export_csv(run, target) == 4  # saliency/lime all, saliency presence, pointing game
    with target.open() as handle:
        rows = list(csv.DictReader(handle))
    saliency = [
        r for r in rows if r["method"] == "saliency" and r["metric"] == "attr_pct" and r["condition"] == "all"
    ]
    assert (
        float(saliency[0]["mean"]) == 0.5 and saliency[0]["n_runs"] == "1" and saliency[0]["bound"] == "1.0"
    )
    assert repo.export_csv(run, target, metric="pointing_game") == 1
    with pytest.raises(LanternError, match="cannot write"):
        repo.export_csv(run, tmp_path / "missing" / "board.csv")
