"""Job augment.train_generator in-process: a SimCLR encoder then the generator, loss per epoch, grids and
checkpoints in the store, the finished generator loadable by the lantern generator; a cancelled job resumed
by a new job continues the same run from its latest checkpoint with the same encoder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import engine.augment.generator_jobs  # noqa: F401 - registers the job before the lead lists it in JOB_MODULES
from engine.augment.generator_jobs import (
    CHECKPOINT_KIND,
    GRID_KIND,
    RUN_KIND,
    TRAIN_GENERATOR_JOB,
    TrainGeneratorSpec,
    train_generator_job,
)
from engine.augment.generators.lantern import LanternGenerator
from engine.core.device import choose_device
from engine.core.errors import JobCancelled, LanternError, SpecError
from engine.jobs.context import JobContext
from engine.jobs.events import Event
from engine.jobs.registry import get_job_type, validate_spec
from engine.store import Store

TINY = {
    "name": "tiny",
    "limit": 24,
    "encoder": "train",
    "encoder_epochs": 1,
    "encoder_width": 4,
    "block_out_channels": [8, 16],
    "epochs": 2,
    "batch_size": 8,
    "ema": 0.5,
}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def context(store: Store, spec: TrainGeneratorSpec, workdir: Path, events: list[Event], resume_of=None,
            cancel_flag=lambda: False) -> JobContext:  # fmt: skip
    job_id = store.jobs.create(TRAIN_GENERATOR_JOB, spec.model_dump(mode="json"), resume_of=resume_of)
    workdir.mkdir(parents=True, exist_ok=True)
    return JobContext(job_id, store, events.append, choose_device("cpu"), workdir, cancel_flag=cancel_flag,
                      resume_of=resume_of)  # fmt: skip


def test_the_job_is_registered_resumable_and_validates_its_spec() -> None:
    job_type = get_job_type(TRAIN_GENERATOR_JOB)
    assert job_type.spec is TrainGeneratorSpec and job_type.resumable
    _, spec = validate_spec({"job": TRAIN_GENERATOR_JOB, "params": TINY})
    assert spec.generator_config(1, 28).block_out_channels == (8, 16)
    with pytest.raises(SpecError, match="unknown field 'epochz'"):
        validate_spec({"job": TRAIN_GENERATOR_JOB, "params": {**TINY, "epochz": 3}})
    with pytest.raises(SpecError, match="'precision'"):
        validate_spec({"job": TRAIN_GENERATOR_JOB, "params": {**TINY, "precision": "fp8"}})


def test_a_job_trains_an_encoder_and_a_generator_and_stores_everything(store: Store, tmp_path: Path) -> None:
    spec = TrainGeneratorSpec.model_validate({**TINY, "output": str(tmp_path / "gen")})
    events: list[Event] = []
    result = train_generator_job(context(store, spec, tmp_path / "w", events), spec)
    run = store.runs.get(result["run_id"])
    assert run.kind == RUN_KIND and run.status == "done" and run.summary["images"] == 24
    series = store.runs.metrics(run.id)
    assert series["loss"].steps == [1.0, 2.0] and all(0 < v < 2 for v in series["loss"].values)
    assert series["encoder_ssl_loss"].steps == [1.0]
    grids = store.artifacts.for_run(run.id, kind=GRID_KIND)
    assert [a.meta["epoch"] for a in grids] == [1, 2]
    assert store.artifacts.path(grids[-1]).read_bytes()[:4] == b"\x89PNG"
    assert [a.meta["step"] for a in store.artifacts.for_run(run.id, kind=CHECKPOINT_KIND)] == [1, 2]
    generator = LanternGenerator(checkpoint=result["folder"])
    assert generator.model.meta["data"]["images"] == 24
    assert "SimCLR" in generator.model.meta["encoder_origin"]
    source = torch.rand(1, 28, 28)
    views = generator.views(source, 3, seed=0, steps=4)
    assert views.shape == (3, 1, 28, 28) and views.min() >= 0 and views.max() <= 1
    assert any(e.type == "artifact" for e in events) and any(e.type == "metric" for e in events)


def test_a_cancelled_job_resumes_from_its_latest_checkpoint(store: Store, tmp_path: Path) -> None:
    spec = TrainGeneratorSpec.model_validate({**TINY, "epochs": 3})
    events: list[Event] = []
    holder: dict[str, JobContext] = {}

    def after_first_epoch() -> bool:
        run_id = holder["first"].run_id
        return bool(run_id) and bool(store.artifacts.for_run(run_id, kind=CHECKPOINT_KIND))

    first = holder["first"] = context(store, spec, tmp_path / "w1", events, cancel_flag=after_first_epoch)
    with pytest.raises(JobCancelled):
        train_generator_job(first, spec)
    run_id = first.run_id
    assert store.runs.get(run_id).status == "cancelled"
    assert store.runs.metrics(run_id)["loss"].steps == [1.0]
    second = context(store, spec, tmp_path / "w2", events, resume_of=first.job_id)
    result = train_generator_job(second, spec)
    assert result["run_id"] == run_id and store.runs.get(run_id).status == "done"
    assert store.runs.metrics(run_id)["loss"].steps == [1.0, 2.0, 3.0]  # one curve, not restarted
    assert store.runs.metrics(run_id)["encoder_ssl_loss"].steps == [1.0]  # the encoder was not retrained
    assert Path(result["folder"]).name == f"run-{run_id}"


def test_a_bad_encoder_folder_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    spec = TrainGeneratorSpec.model_validate({**TINY, "encoder": str(tmp_path)})
    with pytest.raises(LanternError, match="no Lantern encoder"):
        train_generator_job(context(store, spec, tmp_path / "w", []), spec)


def test_the_job_module_and_the_generator_module_import_without_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, engine.augment.generator_jobs, engine.augment.generators.lantern; "
        "print('torch' in sys.modules, 'diffusers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]  # the GUI lists and validates jobs without torch
