"""The SSL experiment end to end on a tiny config: runs, rows, identity arms equal p = 0, resume, summary."""

from __future__ import annotations

import math
import statistics
import threading
from dataclasses import replace
from typing import Any

import pytest
import torch

from engine.ssl.experiment import (
    ExperimentRow,
    RunPlan,
    format_table,
    run_experiment,
    summarise,
)
from engine.ssl.experiment_config import ExperimentConfig, parse_experiment_config

torch.set_num_threads(1)


pytestmark = pytest.mark.usefixtures("fast_judge")  # banks score with the small judge (conftest)


IDENTITY = {"name": "identity", "checkpoint": None, "settings": {}}
TINY_SSL = {"epochs": 2, "batch_size": 32, "width": 4, "blocks": [1, 1], "warmup_epochs": 0}


def _config(**changes: Any) -> ExperimentConfig:
    """64 images, a 4-wide backbone, the identity generator for every bank (no checkpoint needed)."""
    document = {
        "name": "tiny",
        "limit": 64,
        "arms": [0.0, 0.5, 1.0],
        "controls": ["identity"],
        "seeds": [0, 1],
        "generator": IDENTITY,
        "k": 2,
        "ssl": TINY_SSL,
        "probe_epochs": 5,
        **changes,
    }
    return parse_experiment_config(document)


def test_identity_views_reproduce_the_baseline_exactly(store: Any) -> None:
    """With an identity bank every arm's view 2 starts from the source, and BankSecondView never touches
    the training generator: each seed's loss curve and probe scores are those of p = 0, bit for bit."""
    started: list[RunPlan] = []
    epochs: list[tuple[str, int, float]] = []
    finished: list[str] = []
    progress: list[tuple[float, float]] = []
    result = run_experiment(
        store,
        _config(),
        progress=lambda done, total, _: progress.append((done, total)),
        on_run_started=started.append,
        on_epoch=lambda plan, epoch, loss: epochs.append((plan.name, epoch, loss)),
        on_run_finished=lambda plan, row: finished.append(plan.name),
    )
    names = [
        f"simclr {arm} seed {seed}" for seed in (0, 1) for arm in ("p=0", "p=0.5", "p=1", "control: identity")
    ]
    assert [plan.name for plan in started] == names == finished
    assert [(row.arm, row.seed) for row in result.rows] == [
        (arm, seed) for seed in (0, 1) for arm in ("p=0", "p=0.5", "p=1", "control: identity")
    ]
    assert [(name, epoch) for name, epoch, _ in epochs] == [(name, e) for name in names for e in (1, 2)]
    assert (result.trained, result.skipped) == (8, 0)
    assert progress[-1][0] == progress[-1][1]

    # One identity bank serves p=0.5, p=1 and the identity control; p = 0 draws on none.
    banks = {row.arm: row.bank_id for row in result.rows}
    assert banks["p=0"] is None
    assert banks["p=0.5"] == banks["p=1"] == banks["control: identity"] == result.banks["p=1"]

    for seed in (0, 1):
        rows = [row for row in result.rows if row.seed == seed]
        baseline = rows[0]
        assert len(baseline.epoch_losses) == 2 and all(math.isfinite(v) for v in baseline.epoch_losses)
        assert baseline.final_loss == baseline.epoch_losses[-1]
        assert baseline.images_per_second > 0
        assert 0.0 <= baseline.linear_top1 <= 1.0 and 0.0 <= baseline.knn_top1 <= 1.0
        for row in rows[1:]:
            assert row.epoch_losses == baseline.epoch_losses
            assert (row.linear_top1, row.knn_top1) == (baseline.linear_top1, baseline.knn_top1)
    assert result.rows[0].epoch_losses != result.rows[4].epoch_losses  # seeds differ

    summary = result.summary
    assert [(s.arm, s.seeds) for s in summary] == [
        ("p=0", 2),
        ("p=0.5", 2),
        ("p=1", 2),
        ("control: identity", 2),
    ]
    assert all(s.linear_top1_delta == 0.0 for s in summary)
    assert "control: identity" in format_table(summary)


def test_bank_views_reach_view_two(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bank of inverted images at p = 1 changes training; at p = 0 the same bank is never read."""
    from engine.augment import bank as bank_module

    real_load = bank_module.load_bank

    def inverted(store_: Any, bank_id: int) -> Any:
        data = real_load(store_, bank_id)
        return replace(data, views=255 - data.views)

    monkeypatch.setattr(bank_module, "load_bank", inverted)
    ssl = {**TINY_SSL, "epochs": 1}
    result = run_experiment(store, _config(arms=[0.0, 1.0], controls=[], seeds=[0], ssl=ssl))
    baseline, generated = result.rows
    assert generated.epoch_losses != baseline.epoch_losses


def test_finished_runs_are_reported_not_trained(store: Any) -> None:
    config = _config(arms=[0.0, 1.0], controls=[], seeds=[0], ssl={**TINY_SSL, "epochs": 1})
    earlier = ExperimentRow("simclr", "p=0", 0.0, 0, 0.5, 0.25, 3.0, 100.0, epoch_losses=[3.0])
    started: list[str] = []
    result = run_experiment(
        store, config, finished={earlier.key: earlier}, on_run_started=lambda p: started.append(p.name)
    )
    assert started == ["simclr p=1 seed 0"]
    assert result.rows[0] is earlier
    assert (result.trained, result.skipped) == (1, 1)
    assert result.rows[1].arm == "p=1" and result.rows[1].bank_id is not None


def _run_job(store: Any, spec: dict[str, Any], resume_of: int | None = None, stop_after: int = 0) -> Any:
    """Run an ssl.experiment job in this process; stop_after > 0 cancels it once that many runs finished."""
    import engine.ssl.jobs  # noqa: F401  (registers the job)
    from engine.jobs.worker import _run_stored_job

    job_id = store.jobs.create("ssl.experiment", spec, resume_of=resume_of)
    cancel = threading.Event()
    finished = [0]

    def emit(event: Any) -> None:
        if event.type == "log" and "linear top-1" in str(event.data.get("message", "")):
            finished[0] += 1
            if stop_after and finished[0] >= stop_after:
                cancel.set()

    _run_stored_job(job_id, store, emit, cancel)
    return store.jobs.get(job_id)


def test_job_stores_one_run_per_arm_and_seed_and_resumes(store: Any) -> None:
    config = _config(arms=[0.0, 1.0], controls=["identity"], seeds=[0], ssl={**TINY_SSL, "epochs": 1})
    spec = {"config": config.model_dump(mode="json"), "experiment_name": "resume test"}
    first = _run_job(store, spec, stop_after=1)
    assert first.status == "cancelled"
    runs = store.runs.for_job(first.id)
    assert [(r.name, r.status) for r in runs] == [("simclr p=0 seed 0", "done")]
    done = runs[0]
    assert done.kind == "ssl"
    assert done.config["experiment"] == first.id and done.config["experiment_name"] == "resume test"
    assert (done.config["arm"], done.config["p"], done.config["seed"], done.config["draw"]) == (
        "p=0",
        0.0,
        0,
        "per_image",
    )
    assert done.config["bank_id"] is None and done.config["ssl"]["method"] == "simclr"
    assert set(done.summary) >= {"linear_top1", "knn_top1", "final_loss", "images_per_second"}
    metrics = store.runs.metrics(done.id)
    assert metrics["ssl_loss"].steps == [1.0]
    assert metrics["linear_top1"].values == [done.summary["linear_top1"]]

    second = _run_job(store, spec, resume_of=first.id)
    assert second.status == "done", second.error
    result = second.result
    assert (result["experiment"], result["trained"], result["skipped"], result["runs"]) == (first.id, 2, 1, 3)
    new_runs = store.runs.for_job(second.id)
    assert [r.name for r in new_runs] == ["simclr p=1 seed 0", "simclr control: identity seed 0"]
    assert all(r.status == "done" and r.config["experiment"] == first.id for r in new_runs)
    assert new_runs[0].config["bank_id"] == new_runs[1].config["bank_id"] is not None
    generators = [done.config["generator"], *(r.config["generator"] for r in new_runs)]
    assert generators == [None, "identity", "identity"]
    assert [row["run_id"] for row in result["rows"]] == [done.id, new_runs[0].id, new_runs[1].id]
    # The resumed p = 0 row comes back from the store with its curve and scores.
    assert result["rows"][0]["epoch_losses"] == metrics["ssl_loss"].values
    assert result["rows"][0]["linear_top1"] == done.summary["linear_top1"]
    # Identity views at p = 1 reproduce the baseline trained by the interrupted job.
    assert result["rows"][2]["epoch_losses"] == result["rows"][0]["epoch_losses"]
    assert [row["arm"] for row in result["summary"]] == ["p=0", "p=1", "control: identity"]
    assert "LINEAR TOP-1" in result["table"]


def test_the_job_spec_checks_and_completes_the_config() -> None:
    import engine.ssl.jobs  # noqa: F401
    from engine.core.errors import SpecError
    from engine.jobs.registry import validate_spec

    with pytest.raises(SpecError, match=r"arm p = 2\.0 is outside"):
        validate_spec({"job": "ssl.experiment", "params": {"config": {"arms": [2.0]}}})
    _, spec = validate_spec({"job": "ssl.experiment", "params": {}})
    assert spec.config["arms"] == [0.0, 0.5, 1.0] and spec.config["draw"] == "per_image"  # defaults filled


def _row(arm: str, seed: int, linear: float, knn: float, p: float = 0.0, control: str | None = None) -> Any:
    return ExperimentRow("simclr", arm, p, seed, linear, knn, 2.0 + seed, 50.0, control=control)


def test_summary_means_sample_std_and_delta_to_baseline() -> None:
    rows = [
        _row("p=0", 0, 0.70, 0.60),
        _row("p=0", 1, 0.80, 0.62),
        _row("p=0", 2, 0.90, 0.64),
        _row("p=1", 0, 0.75, 0.70, p=1.0),
        _row("p=1", 1, 0.95, 0.72, p=1.0),
        _row("control: other_image", 0, 0.50, 0.40, p=1.0, control="other_image"),
    ]
    p0, p1, other = summarise(rows)
    assert (p0.arm, p0.seeds) == ("p=0", 3)
    assert p0.linear_top1_mean == pytest.approx(0.80)
    assert p0.linear_top1_std == pytest.approx(0.10)  # sample std (n - 1)
    assert p0.knn_top1_mean == pytest.approx(0.62) and p0.knn_top1_std == pytest.approx(0.02)
    assert p0.final_loss_mean == pytest.approx(3.0)
    assert p0.linear_top1_delta == pytest.approx(0.0)
    assert p1.linear_top1_mean == pytest.approx(0.85)
    assert p1.linear_top1_std == pytest.approx(statistics.stdev([0.75, 0.95]))
    assert p1.linear_top1_delta == pytest.approx(0.05)
    assert other.seeds == 1 and other.linear_top1_std is None and other.control == "other_image"
    assert other.linear_top1_delta == pytest.approx(-0.30)
    table = format_table([p0, p1, other]).splitlines()
    assert table[0].split() == [
        "METHOD",
        "ARM",
        "SEEDS",
        "LINEAR",
        "TOP-1",
        "VS",
        "P=0",
        "KNN",
        "TOP-1",
        "FINAL",
        "LOSS",
    ]
    assert "80.0% +/- 10.0%" in table[1] and "+0.0 pt" in table[1]
    assert "85.0% +/- 14.1%" in table[2] and "+5.0 pt" in table[2]
    assert "50.0%" in table[3] and "-30.0 pt" in table[3] and "+/-" not in table[3].split("pt")[0]


def test_summary_without_a_baseline_has_no_delta() -> None:
    (only,) = summarise([_row("p=1", 0, 0.6, 0.5, p=1.0)])
    assert only.linear_top1_delta is None
    assert "  -  " in format_table([only])
