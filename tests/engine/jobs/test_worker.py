"""The worker process on its own: it records the verdict in the store itself, reports errors with
what/where/hint (or a traceback), and finishes its job even when the process that started it is gone."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
import sample_jobs

from engine.core import paths
from engine.jobs.events import Event
from engine.jobs.worker import TORCH_THREADS_ENV, run_job_process


@pytest.fixture(autouse=True)
def _sample_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    sample_jobs.enable(monkeypatch)


def _start(store, job_id: int, *, listen: bool = True):
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    if not listen:
        receiver.close()  # the parent is gone before the worker says a word
    cancel_event = context.Event()
    process = context.Process(
        target=run_job_process,
        args=(job_id, store.url, str(store.artifacts_dir), os.environ["LANTERN_HOME"], sender, cancel_event),
    )
    process.start()
    sender.close()
    # Keep the event alive with the process: its semaphore is unlinked when the parent drops it,
    # and the spawned child may not have unpickled it yet.
    process.cancel_event = cancel_event
    return process, (receiver if listen else None)


def _events(receiver) -> list[Event]:
    received = []
    while True:
        try:
            received.append(Event.from_json(receiver.recv_bytes()))
        except EOFError:
            return received


def _run(store, name: str, spec: dict) -> tuple[list[Event], int | None]:
    job_id = store.jobs.create(name, spec)
    process, receiver = _start(store, job_id)
    received = _events(receiver)
    process.join(60)
    return received, process.exitcode


def test_failures_are_recorded_with_what_where_hint_or_traceback(store):
    """A LanternError keeps what/where/hint; a bug keeps its traceback; a bad stored spec is refused."""
    lantern_id = store.jobs.create("test.count", {"n": 5, "fail_at": 3, "fail_with": "lantern"})
    bug_id = store.jobs.create("test.count", {"n": 5, "fail_at": 2, "fail_with": "bug"})
    bad_id = store.jobs.create("test.count", {"n": "many"})
    started = {job_id: _start(store, job_id) for job_id in (lantern_id, bug_id, bad_id)}
    received = {job_id: _events(receiver) for job_id, (_, receiver) in started.items()}
    for process, _ in started.values():
        process.join(60)
        assert process.exitcode == 0  # a failed job is a verdict, not a crash

    lantern = store.jobs.get(lantern_id)
    assert lantern.status == "failed"
    assert lantern.error == "step 3 is cursed\n  where: test.count step 3\n  what to do: pick another fail_at"
    assert lantern.traceback is None
    error = next(e for e in received[lantern_id] if e.type == "error")
    assert (error.get("what"), error.get("where"), error.get("hint"), error.get("error_type")) == (
        "step 3 is cursed",
        "test.count step 3",
        "pick another fail_at",
        "LanternError",
    )
    statuses = [e.get("status") for e in received[lantern_id] if e.type == "status"]
    assert statuses == ["running", "failed"]
    (run,) = store.runs.for_job(lantern_id)
    assert run.status == "failed"
    assert store.runs.metrics(run.id)["value"].steps == [1.0, 2.0]  # what it did before failing is kept

    bug = store.jobs.get(bug_id)
    assert bug.status == "failed" and bug.error == "ValueError: boom at step 2"
    assert "Traceback" in bug.traceback and "raise ValueError" in bug.traceback
    error = next(e for e in received[bug_id] if e.type == "error")
    assert error.get("error_type") == "ValueError" and "boom at step 2" in error.get("traceback")

    bad = store.jobs.get(bad_id)
    assert bad.status == "failed" and "'n'" in bad.error and bad.started_at is None
    error = next(e for e in received[bad_id] if e.type == "error")
    assert error.get("error_type") == "SpecError" and error.get("where") == f"job #{bad_id}: params"


def test_done_job_records_pid_result_and_respects_torch_threads(store, monkeypatch):
    monkeypatch.setenv(TORCH_THREADS_ENV, "1")
    received, exitcode = _run(store, "test.count", {"n": 4, "checkpoint_every": 2})
    assert exitcode == 0
    job_id = received[0].job
    record = store.jobs.get(job_id)
    assert record.status == "done" and record.message == "done"
    assert record.result["count"] == 4 and record.result["torch_threads"] == 1
    assert record.pid == record.result["pid"] and record.started_at <= record.finished_at
    assert [e.type for e in received][-2:] == ["result", "status"]
    assert received[-1].get("status") == "done"
    checkpoints = store.artifacts.for_run(record.result["run_id"], kind="checkpoint")
    assert [a.meta["step"] for a in checkpoints] == [2, 4]


def test_worker_finishes_and_persists_when_its_parent_is_gone(store):
    job_id = store.jobs.create("test.count", {"n": 15, "checkpoint_every": 5})
    process, _ = _start(store, job_id, listen=False)
    process.join(60)
    assert process.exitcode == 0
    record = store.jobs.get(job_id)
    assert record.status == "done" and record.result["count"] == 15
    (run,) = store.runs.for_job(job_id)
    assert run.status == "done"
    assert store.runs.metrics(run.id)["value"].steps == [float(step) for step in range(1, 16)]
    log = (paths.log_dir() / "engine.log").read_text()
    assert "the process that started it is gone; continuing without it" in log


def test_worker_uses_the_home_it_is_given(store, tmp_path: Path):
    """The log goes to the given LANTERN_HOME, so a worker and its parent agree on every folder."""
    received, exitcode = _run(store, "test.once", {"word": "hi"})
    assert exitcode == 0
    assert [e.get("value") for e in received if e.type == "result"] == [{"word": "hi", "device": "cpu"}]
    assert f"job {received[0].job} done" in (paths.log_dir() / "engine.log").read_text()
