"""The attribution.experiment job in-process: replicates, scores, galleries stored; resume skips done runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.attribution import experiment as experiment_module
from engine.attribution.experiment_config import ExperimentConfig
from engine.attribution.gallery import load_galleries
from engine.attribution.jobs import EXPERIMENT_JOB, GALLERY_PART_KIND, experiment_job
from engine.attribution.repository import GALLERY_KIND, AttributionRepository
from engine.core.device import choose_device
from engine.core.errors import JobCancelled, SpecError
from engine.jobs.context import JobContext
from engine.jobs.events import Event
from engine.jobs.registry import get_job_type, validate_spec
from engine.store import Store

TINY = {
    "name": "tiny",
    "base": {"limit": 240},
    "manipulations": [{"name": "centre_brightness", "strength": 0.5}],
    "runs": 2,
    "model": {"width": 8, "depth": 1},
    "train": {"max_epochs": 6, "min_accuracy": 0.9, "lr": 0.01},
    "methods": ["saliency", "gradcam"],
    "n_explain": 12,
    "n_gallery": 4,
}


def context(
    store: Store, spec: ExperimentConfig, workdir: Path, events: list[Event], resume_of=None
) -> JobContext:
    job_id = store.jobs.create(EXPERIMENT_JOB, spec.model_dump(mode="json"), resume_of=resume_of)
    workdir.mkdir(parents=True, exist_ok=True)
    return JobContext(job_id, store, events.append, choose_device("cpu"), workdir, resume_of=resume_of)


def test_the_job_is_registered_resumable_and_validates_its_spec() -> None:
    job_type = get_job_type(EXPERIMENT_JOB)
    assert job_type.spec is ExperimentConfig and job_type.resumable
    _, spec = validate_spec({"job": EXPERIMENT_JOB, "params": TINY})
    assert spec.methods == ["saliency", "gradcam"]
    with pytest.raises(SpecError, match="unknown field 'epochs'"):
        validate_spec({"job": EXPERIMENT_JOB, "params": {**TINY, "epochs": 3}})
    with pytest.raises(SpecError, match="r must lie in"):
        validate_spec({"job": EXPERIMENT_JOB, "params": {**TINY, "r": 1.5}})


def test_an_interrupted_experiment_resumes_where_it_stopped(
    store: Store, tmp_path: Path, monkeypatch
) -> None:
    spec = ExperimentConfig.model_validate(TINY)
    trained: list[tuple[str, int]] = []
    real = experiment_module._Runner.replicate
    events: list[Event] = []
    first = context(store, spec, tmp_path / "w1", events)
    repo = AttributionRepository(store)

    def stop_after_first(self, base, manipulation, strength, point, replicate):  # type: ignore[no-untyped-def]
        if replicate == 1 and not getattr(stop_after_first, "resumed", False):
            raise JobCancelled()  # the user stops the job as the second replicate starts
        outcome = real(self, base, manipulation, strength, point, replicate)
        if outcome is not None:
            trained.append((manipulation, replicate))
        return outcome

    monkeypatch.setattr(experiment_module._Runner, "replicate", stop_after_first)
    with pytest.raises(JobCancelled):
        experiment_job(first, spec)
    run_id = first.run_id
    assert run_id is not None and store.runs.get(run_id).status == "cancelled"
    assert [r.replicate for r in repo.replicates(run_id)] == [0]
    assert len(store.artifacts.for_run(run_id, kind=GALLERY_PART_KIND)) == 1

    stop_after_first.resumed = True  # type: ignore[attr-defined]
    trained.clear()
    second = context(store, spec, tmp_path / "w2", events, resume_of=first.job_id)
    result = experiment_job(second, spec)
    assert trained == [("centre_brightness", 1)]  # replicate 0 was not trained again
    assert result["run_id"] == run_id and result["skipped"] == 1 and result["replicates"] == 2
    assert store.runs.get(run_id).status == "done" and store.runs.get(run_id).job_id == second.job_id
    replicates = repo.replicates(run_id)
    assert [r.replicate for r in replicates] == [0, 1]
    assert all(r.val_accuracy >= 0.9 for r in replicates if r.passed)
    assert result["pass_rate"] == pytest.approx(sum(r.passed for r in replicates) / 2)

    # The leaderboard of the job's result is the repository's; both methods are scored on each passing run.
    board = {row["method"]: row for row in result["leaderboard"]["all"]}
    assert set(board) == {"saliency", "gradcam"}
    assert board["saliency"]["n_runs"] == sum(r.passed for r in replicates)
    assert 0.0 <= board["saliency"]["mean"] <= 1.0 and board["saliency"]["bound"] == 1.0
    assert board["saliency"]["region_share"] == pytest.approx(0.25, abs=0.05)  # the centre box of 28x28

    # One galleries file for the whole experiment, with both replicates (the first saved before the stop).
    [artifact] = store.artifacts.for_run(run_id, kind=GALLERY_KIND)
    assert result["gallery_artifact"] == artifact.id
    record = repo.experiment(run_id)
    assert record.gallery_path is not None and str(record.gallery_path) == result["gallery_path"]
    galleries = load_galleries(record.gallery_path)
    assert [g.replicate for g in galleries] == [r.replicate for r in replicates if r.passed]
    for gallery in galleries:
        assert gallery.inputs.shape == (4, 1, 28, 28) and set(gallery.maps) == {"saliency", "gradcam"}
        assert gallery.manipulated.sum() == 2  # half with the manipulation, half without
        assert gallery.masks.shape == (4, 28, 28) and gallery.maps["gradcam"].dtype == np.float32
    # Training curves and scores went through ctx.metrics, for the Runs page.
    series = store.runs.metrics(run_id)
    assert "val_accuracy/centre_brightness/run0" in series and "pass_rate" in series
    assert record.pass_rate == result["pass_rate"] and record.replicates == 2
