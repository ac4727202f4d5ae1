"""The augment.bank job in-process: spec checks, a run that points at its bank, cancel then resume (a resumed
job adopts the run and finishes the same bank), and resuming by bank id with the bank's own parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import engine.augment.jobs  # noqa: F401 - registers augment.bank before the lead lists it in JOB_MODULES
from engine.augment import bank as bank_module
from engine.augment.bank import load_bank
from engine.augment.jobs import BANK_JOB, RUN_KIND, BankSpec, bank_job
from engine.augment.repository import BankRepository
from engine.core.device import choose_device
from engine.core.errors import JobCancelled, LanternError, SpecError
from engine.jobs.context import JobContext
from engine.jobs.events import Event
from engine.jobs.registry import get_job_type, validate_spec
from engine.store import Store

PARAMS = {"dataset": "fashion-mnist-demo", "limit": 12, "generator": "identity", "k": 2}


@pytest.fixture(autouse=True)
def small(monkeypatch: pytest.MonkeyPatch, fast_judge: Any) -> None:
    torch.set_num_threads(1)
    # 12 images -> shards of 5, 5 and 2 (the job takes the default shard size)
    monkeypatch.setitem(bank_module.build_bank.__kwdefaults__, "shard_size", 5)


def context(store: Store, params: dict[str, Any], events: list[Event], tmp: Path, **kw: Any) -> JobContext:
    job_id = store.jobs.create(BANK_JOB, params, resume_of=kw.get("resume_of"))
    (tmp / str(job_id)).mkdir(parents=True)
    return JobContext(job_id, store, events.append, choose_device("cpu"), tmp / str(job_id), **kw)


def test_the_job_is_registered_resumable_and_checks_its_spec() -> None:
    job_type = get_job_type(BANK_JOB)
    assert job_type.spec is BankSpec and job_type.resumable
    _, spec = validate_spec({"job": BANK_JOB, "params": {}})
    assert (spec.dataset, spec.generator, spec.checkpoint, spec.k, spec.seed) == (
        "fashion-mnist-demo",
        "lantern",
        "bundled",
        4,
        0,
    )
    for bad, field in (
        ({"k": 65}, "'k'"),
        ({"k": 0}, "'k'"),
        ({"limit": 0}, "'limit'"),
        ({"views": 3}, "'views'"),
    ):
        with pytest.raises(SpecError, match=field):
            validate_spec({"job": BANK_JOB, "params": bad})


def test_a_job_builds_a_bank_recorded_against_its_run(store: Store, tmp_path: Path) -> None:
    events: list[Event] = []
    _, spec = validate_spec({"job": BANK_JOB, "params": PARAMS})
    result = bank_job(context(store, PARAMS, events, tmp_path), spec)
    assert result["views"] == 24 and result["images"] == 12 and result["k"] == 2
    assert result["summary"]["similarity_mean"] == pytest.approx(1.0, abs=1e-4)
    bank = BankRepository(store).require(result["bank_id"])
    run = store.runs.get(result["run_id"])
    assert bank.run_id == run.id and run.kind == RUN_KIND and run.status == "done"
    assert run.summary["bank_id"] == bank.id
    progress = [e for e in events if e.type == "progress"]
    assert progress and progress[-1].data["done"] == progress[-1].data["total"] == 12


def test_a_cancelled_job_resumed_finishes_the_same_bank(store: Store, tmp_path: Path) -> None:
    events: list[Event] = []
    _, spec = validate_spec({"job": BANK_JOB, "params": PARAMS})
    repo = BankRepository(store)

    def flag() -> bool:  # the user cancels once the first shard is written
        return sum(repo.shard_counts([b.id for b in repo.list()]).values()) >= 1

    first = context(store, PARAMS, events, tmp_path, cancel_flag=flag)
    with pytest.raises(JobCancelled):
        bank_job(first, spec)
    [bank] = repo.list()
    assert bank.status == "building" and len(repo.shards(bank.id)) == 1
    assert store.runs.get(first.run_id).status == "cancelled"
    resumed = context(store, PARAMS, [], tmp_path, resume_of=first.job_id)
    result = bank_job(resumed, spec)
    assert result["bank_id"] == bank.id and result["run_id"] == first.run_id
    assert load_bank(store, bank.id).views.shape == (12, 2, 1, 28, 28)


def test_resuming_by_bank_id_takes_the_banks_own_parameters(store: Store, tmp_path: Path) -> None:
    _, spec = validate_spec({"job": BANK_JOB, "params": {**PARAMS, "seed": 4}})
    bank_id = bank_job(context(store, PARAMS, [], tmp_path), spec)["bank_id"]
    _, by_id = validate_spec({"job": BANK_JOB, "params": {"bank_id": bank_id}})
    again = bank_job(context(store, {"bank_id": bank_id}, [], tmp_path), by_id)
    assert again["bank_id"] == bank_id and BankRepository(store).require(bank_id).seed == 4
    _, clash = validate_spec({"job": BANK_JOB, "params": {"bank_id": bank_id, "k": 3}})
    with pytest.raises(LanternError, match=r"other parameters: k 3 \(the bank has 2\)"):
        bank_job(context(store, {"bank_id": bank_id, "k": 3}, [], tmp_path), clash)
