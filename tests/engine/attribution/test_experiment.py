"""run_experiment in memory: scores per metric and condition, galleries, hooks, failing runs, text models."""

from __future__ import annotations

import numpy as np
import pytest

from engine.attribution.experiment import (
    ExperimentHooks,
    ExperimentResult,
    gallery_indices,
    run_experiment,
    split_indices,
)
from engine.attribution.experiment_config import ExperimentConfig
from engine.core.errors import LanternError

IMAGE = {
    "base": {"limit": 200},
    "manipulations": [{"name": "centre_brightness", "strength": 0.5}],
    "runs": 1,
    "model": {"width": 8, "depth": 1},
    "train": {"max_epochs": 5, "min_accuracy": 0.85, "lr": 0.01},
    "methods": ["saliency", "gradcam"],
    "n_explain": 10,
    "n_gallery": 4,
}


class Recorder:
    def __init__(self) -> None:
        self.progress: list[tuple[float, float]] = []
        self.metrics: dict[str, list[float]] = {}
        self.logs: list[str] = []
        self.stored: list[object] = []

    def hooks(self, skip=None) -> ExperimentHooks:  # type: ignore[no-untyped-def]
        return ExperimentHooks(
            progress=lambda done, total, message: self.progress.append((done, total)),
            metrics=lambda step, values: [
                self.metrics.setdefault(k, []).append(v) for k, v in values.items()
            ],
            log=self.logs.append,
            skip=skip,
            on_replicate=self.stored.append,
        )


@pytest.fixture(scope="module")
def image_run() -> tuple[ExperimentResult, Recorder]:
    recorder = Recorder()
    result = run_experiment(ExperimentConfig.model_validate(IMAGE), recorder.hooks())
    return result, recorder


def test_a_passing_image_run_is_scored_per_metric_and_condition(image_run) -> None:  # type: ignore[no-untyped-def]
    result, recorder = image_run
    [outcome] = result.replicates
    assert outcome.passed and outcome.val_accuracy >= 0.85 and outcome.epochs <= 5
    assert outcome.key == ("centre_brightness", outcome.strength, 0.5, 0) and outcome.p_star == 0.5
    keys = {(row.method, row.metric, row.condition) for row in outcome.scores}
    for method in ("saliency", "gradcam"):
        for metric in ("attr_pct", "pointing_game", "top_k_overlap", "auroc"):
            assert (method, metric, "all") in keys
    by_key = {(row.method, row.metric, row.condition): row for row in outcome.scores}
    everything = by_key[("saliency", "attr_pct", "all")]
    present = by_key.get(("saliency", "attr_pct", "presence"))
    absent = by_key.get(("saliency", "attr_pct", "absence"))
    assert everything.n == 10 and (present.n if present else 0) + (absent.n if absent else 0) == 10
    # The brightness shift's region is the centre box: the same share for every sample.
    assert 0.1 < everything.region_share < 0.5 and everything.aggregation == "abs-sum-channels"
    for row in outcome.scores:
        assert 0.0 <= row.mean <= 1.0
    assert recorder.stored == [outcome] and result.pass_rate == 1.0
    # Every metric passes through the hooks: training curves per epoch, then the scores and the pass rate.
    assert len(recorder.metrics["val_accuracy/centre_brightness/run0"]) == outcome.epochs
    assert recorder.metrics["attr_pct/centre_brightness/saliency"] == [pytest.approx(everything.mean)]
    assert recorder.metrics["pass_rate"] == [1.0]
    assert recorder.progress[-1] == (1, 1) and all(d <= t for d, t in recorder.progress)
    assert any("passed" in line for line in recorder.logs)
    [row] = [r for r in result.leaderboard() if r.method == "saliency"]
    assert row.mean == pytest.approx(everything.mean) and row.n_runs == 1 and row.bound == 1.0


def test_the_gallery_keeps_samples_with_and_without_the_manipulation(image_run) -> None:  # type: ignore[no-untyped-def]
    result, _ = image_run
    [gallery] = result.galleries
    assert (
        gallery.modality == "image" and gallery.manipulation == "centre_brightness" and gallery.replicate == 0
    )
    assert gallery.inputs.shape == (4, 1, 28, 28) and gallery.masks.shape == (4, 28, 28)
    assert set(gallery.maps) == {"saliency", "gradcam"} and gallery.maps["saliency"].shape == (4, 28, 28)
    assert gallery.manipulated.sum() == 2
    assert gallery.meta["p_star"] == 0.5 and gallery.meta["class_names"] == ["T-shirt/top", "Shirt"]
    assert gallery.model == "small_cnn"


def test_skipped_replicates_are_not_trained() -> None:
    recorder = Recorder()
    result = run_experiment(ExperimentConfig.model_validate(IMAGE), recorder.hooks(skip=lambda key: True))
    assert result.replicates == [] and result.skipped == 1 and recorder.stored == []
    assert "val_accuracy/centre_brightness/run0" not in recorder.metrics


def test_a_run_below_the_threshold_is_dropped_unscored() -> None:
    cfg = ExperimentConfig.model_validate(
        {**IMAGE, "train": {"max_epochs": 1, "min_accuracy": 0.9999, "patience": 1, "lr": 1e-6}}
    )
    result = run_experiment(cfg)
    [outcome] = result.replicates
    assert not outcome.passed and outcome.scores == [] and outcome.gallery is None
    assert result.pass_rate == 0.0 and result.leaderboard() == []


def test_a_text_model_is_scored_by_its_attention_too() -> None:
    cfg = ExperimentConfig.model_validate(
        {
            "modality": "text",
            "base": {"limit": 400},
            "runs": 1,
            "model": {"options": {"embedding_dim": 16, "hidden": 16}},
            "train": {"max_epochs": 6, "min_accuracy": 0.8, "lr": 0.01},
            "methods": ["saliency", "attention", "rationale"],
            "n_explain": 12,
            "n_gallery": 4,
        }
    )
    recorder = Recorder()
    result = run_experiment(cfg, recorder.hooks())
    [outcome] = result.replicates
    assert outcome.dropped > 0  # reviews without an article cannot carry the manipulation
    assert any("'rationale' needs a model with rationale" in line for line in recorder.logs)
    if not outcome.passed:
        pytest.skip(f"the tiny BiLSTM reached only {outcome.val_accuracy:.3f}")
    methods = {row.method for row in outcome.scores}
    assert methods == {"saliency", "attention"}
    mass = [row for row in outcome.scores if row.metric == "attention_mass" and row.condition == "all"]
    assert len(mass) == 1 and 0.0 < mass[0].region_share < 0.5  # articles are a small share of the words
    [gallery] = result.galleries
    assert gallery.modality == "text" and len(gallery.tokens) == len(gallery.masks) == 4
    assert all(
        len(t) == len(m) == len(gallery.maps["attention"][i])
        for i, (t, m) in enumerate(zip(gallery.tokens, gallery.masks, strict=True))
    )


def test_split_and_gallery_indices() -> None:
    cfg = ExperimentConfig.model_validate(IMAGE)
    train, val, test = split_indices(100, cfg, 0)
    assert (len(train), len(val), len(test)) == (70, 15, 15)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(100))
    assert not np.array_equal(test, split_indices(100, cfg, 1)[2])  # each replicate its own split
    with pytest.raises(LanternError, match="too few"):
        split_indices(3, cfg, 0)
    flags = np.array([True, True, True, False, True, False])
    assert gallery_indices(flags, 4).tolist() == [0, 1, 3, 5]
    assert gallery_indices(np.array([True] * 5), 3).tolist() == [0, 1, 2]
    assert gallery_indices(flags, 0).tolist() == []
