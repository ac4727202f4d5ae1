"""The rl.train job in-process: run, curves and checkpoints in the store; a cancelled job resumed by a new
job continues the same run from its latest checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import engine.rl.jobs  # noqa: F401 - registers rl.train before the lead lists it in JOB_MODULES
from engine.core.device import choose_device
from engine.core.errors import JobCancelled, SpecError
from engine.jobs.context import JobContext
from engine.jobs.events import Event
from engine.jobs.registry import get_job_type, validate_spec
from engine.rl.checkpoints import load_agent_checkpoint
from engine.rl.jobs import CHECKPOINT_KIND, RL_TRAIN_JOB, RUN_KIND, latest_checkpoint, train_job
from engine.rl.train_config import RLTrainConfig
from engine.store import Store


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def context(
    store: Store,
    spec: RLTrainConfig,
    workdir: Path,
    events: list[Event],
    resume_of=None,
    cancel_flag=lambda: False,
) -> JobContext:
    job_id = store.jobs.create(RL_TRAIN_JOB, spec.model_dump(mode="json"), resume_of=resume_of)
    workdir.mkdir(parents=True, exist_ok=True)
    return JobContext(
        job_id,
        store,
        events.append,
        choose_device("cpu"),
        workdir,
        cancel_flag=cancel_flag,
        resume_of=resume_of,
    )


def test_the_job_is_registered_resumable_and_validates_its_spec(tiny_train) -> None:
    job_type = get_job_type(RL_TRAIN_JOB)
    assert job_type.spec is RLTrainConfig and job_type.resumable
    _, spec = validate_spec({"job": RL_TRAIN_JOB, "params": tiny_train})
    assert spec.ppo_config().total_steps == 2048
    with pytest.raises(SpecError, match="unknown field 'epochs'"):
        validate_spec({"job": RL_TRAIN_JOB, "params": {**tiny_train, "epochs": 3}})
    with pytest.raises(SpecError, match="'ppo'"):
        validate_spec({"job": RL_TRAIN_JOB, "params": {**tiny_train, "ppo": {"n_envs": -1}}})


def test_a_job_stores_curves_checkpoints_and_a_summary(tiny_train, store: Store, tmp_path: Path) -> None:
    spec = RLTrainConfig.model_validate(tiny_train)
    events: list[Event] = []
    ctx = context(store, spec, tmp_path / "w", events)
    result = train_job(ctx, spec)
    run = store.runs.get(result["run_id"])
    assert run.kind == RUN_KIND and run.status == "done" and run.name == "tiny"
    assert run.summary["env_steps"] == 2048 and run.summary["agent"] == "relational"
    series = store.runs.metrics(run.id)
    assert series["loss"].steps == [256.0 * k for k in range(1, 9)]  # MetricPoint step = env steps
    assert series["eval_fraction_solved"].steps == [512.0, 1024.0, 1536.0, 2048.0]
    assert {"entropy", "policy_loss", "value_loss", "fraction_solved", "mean_return"} <= set(series)
    assert result["eval_fraction_solved"] == series["eval_fraction_solved"].values[-1]

    artifacts = store.artifacts.for_run(run.id, kind=CHECKPOINT_KIND)
    latest = [a for a in artifacts if a.meta["role"] == "latest"]
    assert [a.meta["env_steps"] for a in latest] == [512, 1024, 1536, 2048]
    assert any(a.meta["role"] == "best" for a in artifacts)
    assert result["checkpoint_artifact"] == latest[-1].id
    assert Path(result["checkpoint"]) == store.artifacts.path(latest[-1])
    _, meta = load_agent_checkpoint(result["checkpoint"])
    assert meta["env_steps"] == 2048 and meta["train_config"]["name"] == "tiny"
    assert any(e.type == "artifact" for e in events) and any(e.type == "metric" for e in events)


def test_a_cancelled_job_resumes_from_its_latest_checkpoint(tiny_train, store: Store, tmp_path: Path) -> None:
    spec = RLTrainConfig.model_validate(tiny_train)
    events: list[Event] = []
    holder: dict[str, JobContext] = {}

    def stop_after_second_checkpoint() -> bool:
        run_id = holder["first"].run_id
        latest = latest_checkpoint(store, run_id) if run_id else None
        return latest is not None and latest.meta["env_steps"] >= 1024

    first = holder["first"] = context(
        store, spec, tmp_path / "w1", events, cancel_flag=stop_after_second_checkpoint
    )
    with pytest.raises(JobCancelled):
        train_job(first, spec)
    run_id = first.run_id
    assert store.runs.get(run_id).status == "cancelled"
    assert store.runs.metrics(run_id)["loss"].steps == [256.0, 512.0, 768.0, 1024.0]

    second = context(store, spec, tmp_path / "w2", events, resume_of=first.job_id)
    result = train_job(second, spec)
    assert result["run_id"] == run_id and result["resumed_from_steps"] == 1024 and result["env_steps"] == 2048
    run = store.runs.get(run_id)
    assert run.status == "done" and run.job_id == second.job_id
    # One curve, not restarted: every env step count appears once, in order, across both jobs.
    assert store.runs.metrics(run_id)["loss"].steps == [256.0 * k for k in range(1, 9)]
    latest = latest_checkpoint(store, run_id)
    assert latest.meta["env_steps"] == 2048 and latest.meta["updates"] == 8
    assert any("resuming run" in e.data.get("message", "") for e in events if e.type == "log")
