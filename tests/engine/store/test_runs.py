"""Runs and metric series on both backends: create, finish, list, filter, curves, concurrent writers."""

from __future__ import annotations

import math
import multiprocessing
from typing import Any

import pytest

from engine.core.device import DeviceChoice
from engine.store import Store, open_store

CPU = DeviceChoice("cpu", "float32", "test CPU")
GPU = DeviceChoice("cuda", "bfloat16", "NVIDIA H200")


def _run(store: Store, name: str, kind: str = "demo.classifier", **kwargs: Any) -> int:
    return store.runs.create(name=name, kind=kind, config=kwargs.pop("config", {}), device=CPU, **kwargs)


def test_create_records_config_device_seed_and_running_state(any_store: Store) -> None:
    job_id = any_store.jobs.create("demo.train", {"epochs": 2})
    run_id = any_store.runs.create(
        name="mnist cnn",
        kind="demo.classifier",
        config={"lr": 0.001, "layers": [32, 64]},
        device=GPU,
        seed=7,
        job_id=job_id,
    )
    run = any_store.runs.get(run_id)
    assert (run.name, run.kind, run.status) == ("mnist cnn", "demo.classifier", "running")
    assert run.config == {"lr": 0.001, "layers": [32, 64]}
    assert (run.device, run.dtype, run.device_name) == ("cuda", "bfloat16", "NVIDIA H200")
    assert (run.seed, run.job_id) == (7, job_id)
    assert run.started_at is not None and run.finished_at is None and run.duration_s is None
    assert run.summary == {}
    assert any_store.runs.get(run_id + 1000) is None


def test_finish_sets_status_summary_and_duration(any_store: Store) -> None:
    run_id = _run(any_store, "r")
    any_store.runs.finish(run_id, "done", {"accuracy": 0.91})
    any_store.runs.finish(run_id, "done", {"loss": 0.25})  # summaries merge
    run = any_store.runs.get(run_id)
    assert run.status == "done"
    assert run.summary == {"accuracy": 0.91, "loss": 0.25}
    assert run.finished_at >= run.started_at
    assert run.duration_s == pytest.approx((run.finished_at - run.started_at).total_seconds())
    any_store.runs.finish(run_id + 1000, "done")  # an unknown run is ignored, not an error


def test_reopen_makes_an_interrupted_run_running_again(any_store: Store) -> None:
    run_id = _run(any_store, "r")
    any_store.runs.finish(run_id, "interrupted")
    any_store.runs.reopen(run_id)
    run = any_store.runs.get(run_id)
    assert (run.status, run.finished_at) == ("running", None)


def test_list_is_newest_first_and_filters_by_name_kind_and_status(any_store: Store) -> None:
    first = _run(any_store, "Fashion baseline", kind="demo.classifier")
    second = _run(any_store, "attribution sweep", kind="captum.ig")
    third = _run(any_store, "ssl pretrain", kind="ssl.simclr")
    any_store.runs.finish(second, "failed")
    any_store.runs.finish(third, "done")

    assert [r.id for r in any_store.runs.list()] == [third, second, first]
    assert [r.id for r in any_store.runs.list("fashion")] == [first]  # name, any case
    assert [r.id for r in any_store.runs.list("CAPTUM")] == [second]  # kind
    assert [r.id for r in any_store.runs.list("fail")] == [second]  # status
    assert [r.id for r in any_store.runs.list("  sweep  ")] == [second]  # surrounding blanks ignored
    assert [r.id for r in any_store.runs.list(status="done")] == [third]
    assert [r.id for r in any_store.runs.list("s", status="running")] == [first]
    assert [r.id for r in any_store.runs.list(limit=2)] == [third, second]
    assert any_store.runs.list("no such run") == []


def test_percent_and_underscore_in_the_filter_are_plain_characters(any_store: Store) -> None:
    literal = _run(any_store, "top_5% accuracy")
    _run(any_store, "topX5 accuracy")
    _run(any_store, "top 50 accuracy")
    assert [r.id for r in any_store.runs.list("p_5%")] == [literal]
    assert [r.id for r in any_store.runs.list("_")] == [literal]


def test_for_job_lists_a_jobs_runs_in_creation_order(any_store: Store) -> None:
    job_id = any_store.jobs.create("demo.train", {})
    first = _run(any_store, "a", job_id=job_id)
    _run(any_store, "other")
    second = _run(any_store, "b", job_id=job_id)
    assert [r.id for r in any_store.runs.for_job(job_id)] == [first, second]


def test_metrics_come_back_per_series_in_step_order(any_store: Store) -> None:
    run_id = _run(any_store, "r")
    other = _run(any_store, "other")
    any_store.runs.add_metrics(run_id, [("loss", 3, 0.3), ("loss", 1, 0.9), ("accuracy", 2, 0.5)])
    any_store.runs.add_metrics(run_id, [("loss", 2, 0.6), ("loss", 0.5, 1.2), ("accuracy", 1, 0.25)])
    any_store.runs.add_metrics(other, [("loss", 1, 99.0)])
    any_store.runs.add_metrics(run_id, [])  # nothing to add is fine

    series = any_store.runs.metrics(run_id)
    assert sorted(series) == ["accuracy", "loss"]
    assert series["loss"].steps == [0.5, 1.0, 2.0, 3.0]
    assert series["loss"].values == [1.2, 0.9, 0.6, 0.3]
    assert series["accuracy"].steps == [1.0, 2.0]
    assert series["accuracy"].values == [0.25, 0.5]
    assert series["loss"].run_id == run_id
    assert list(any_store.runs.metrics(run_id, names=["accuracy"])) == ["accuracy"]
    assert any_store.runs.metrics(run_id, names=[]) == {}
    assert any_store.runs.metrics(other)["loss"].values == [99.0]


def test_a_repeated_step_keeps_both_points_in_insertion_order(any_store: Store) -> None:
    run_id = _run(any_store, "r")
    any_store.runs.add_metrics(run_id, [("loss", 1, 0.5)])
    any_store.runs.add_metrics(run_id, [("loss", 1, 0.4)])
    assert any_store.runs.metrics(run_id)["loss"].values == [0.5, 0.4]


def test_non_finite_metric_values_survive_on_both_backends(any_store: Store) -> None:
    """A diverged loss is NaN: it must be stored and shown, not crash the run (SQLite has no NaN)."""
    run_id = _run(any_store, "diverged")
    any_store.runs.add_metrics(run_id, [("loss", 1, 2.5), ("loss", 2, math.nan), ("loss", 3, math.inf)])
    values = any_store.runs.metrics(run_id)["loss"].values
    assert values[0] == 2.5 and math.isnan(values[1]) and values[2] == math.inf


def test_non_finite_numbers_in_config_and_summary_round_trip(any_store: Store) -> None:
    """PostgreSQL's JSON has no NaN or Infinity; the store must still keep them (SQLite does natively)."""
    run_id = _run(any_store, "r", config={"clip": math.inf, "nested": {"values": [1.0, -math.inf]}})
    any_store.runs.finish(run_id, "failed", {"loss": math.nan, "best": 0.5, "note": "diverged"})
    run = any_store.runs.get(run_id)
    assert run.config == {"clip": math.inf, "nested": {"values": [1.0, -math.inf]}}
    assert math.isnan(run.summary["loss"])
    assert (run.summary["best"], run.summary["note"]) == (0.5, "diverged")


def test_mark_interrupted_only_touches_the_jobs_running_runs(any_store: Store) -> None:
    job_id = any_store.jobs.create("demo.train", {})
    running = _run(any_store, "running", job_id=job_id)
    finished = _run(any_store, "finished", job_id=job_id)
    unrelated = _run(any_store, "unrelated")
    any_store.runs.finish(finished, "done")
    any_store.runs.mark_interrupted(job_id)
    assert any_store.runs.get(running).status == "interrupted"
    assert any_store.runs.get(running).finished_at is not None
    assert any_store.runs.get(finished).status == "done"
    assert any_store.runs.get(unrelated).status == "running"


def _write_points(url: str, run_id: int, writer: int, count: int, barrier: Any) -> None:
    """One OS process: open the store itself, then add points one transaction at a time."""
    store = open_store(url=url)
    barrier.wait(timeout=60)
    for step in range(count):
        store.runs.add_metrics(run_id, [(f"writer{writer}", step, writer * 10_000 + step)])
    store.close()


def test_two_processes_writing_metrics_at_once_lose_nothing(store_url: str) -> None:
    store = open_store(url=store_url)
    run_id = _run(store, "shared")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    writers = [
        context.Process(target=_write_points, args=(store_url, run_id, writer, 500, barrier))
        for writer in (1, 2)
    ]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=180)
    assert [process.exitcode for process in writers] == [0, 0]

    series = store.runs.metrics(run_id)
    assert sum(len(s.values) for s in series.values()) == 1000
    for writer in (1, 2):
        assert series[f"writer{writer}"].steps == [float(step) for step in range(500)]
        assert series[f"writer{writer}"].values == [float(writer * 10_000 + step) for step in range(500)]
    store.close()
