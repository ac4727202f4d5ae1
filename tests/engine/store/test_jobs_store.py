"""The persisted job state machine on both backends: verdicts stick, cancels travel, dead workers recover."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, text

from engine.core.device import DeviceChoice
from engine.store import Store
from engine.store.jobs import FINAL_JOB_STATES, pid_alive

CPU = DeviceChoice("cpu", "float32", "test CPU")


def _dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert not pid_alive(process.pid)
    return process.pid


def test_a_new_job_is_queued_with_its_spec(any_store: Store) -> None:
    job_id = any_store.jobs.create("demo.train", {"epochs": 3, "lr": 0.01})
    job = any_store.jobs.get(job_id)
    assert (job.name, job.status, job.message) == ("demo.train", "queued", "queued")
    assert job.spec == {"epochs": 3, "lr": 0.01}
    assert job.is_active and job.pid is None and job.started_at is None
    assert any_store.jobs.get(job_id + 1000) is None


def test_running_records_pid_host_and_start_once(any_store: Store) -> None:
    job_id = any_store.jobs.create("demo.train", {})
    any_store.jobs.set_status(job_id, "running", pid=4242, message="running on cpu")
    job = any_store.jobs.get(job_id)
    assert (job.status, job.pid, job.message) == ("running", 4242, "running on cpu")
    started = job.started_at
    assert started is not None
    any_store.jobs.set_status(job_id, "running", message="still running")
    assert any_store.jobs.get(job_id).started_at == started
    with any_store.engine.connect() as connection:
        host = connection.execute(text("SELECT host FROM jobs WHERE id = :id"), {"id": job_id}).scalar()
    assert host == socket.gethostname()


def test_progress_is_stored_and_a_blank_message_keeps_the_last(any_store: Store) -> None:
    job_id = any_store.jobs.create("demo.train", {})
    any_store.jobs.set_progress(job_id, 3, 10, "epoch 3")
    any_store.jobs.set_progress(job_id, 4, 10)
    job = any_store.jobs.get(job_id)
    assert (job.progress_done, job.progress_total, job.message) == (4, 10, "epoch 3")
    any_store.jobs.set_progress(job_id + 1000, 1, 1)  # an unknown job is ignored


@pytest.mark.parametrize("verdict", FINAL_JOB_STATES)
def test_a_final_state_is_sticky(any_store: Store, verdict: str) -> None:
    job_id = any_store.jobs.create("demo.train", {})
    any_store.jobs.set_status(job_id, "running", pid=1)
    any_store.jobs.set_status(job_id, verdict, message=f"verdict {verdict}")
    finished = any_store.jobs.get(job_id).finished_at
    assert finished is not None
    for later in ("running", "done", "failed", "queued", "cancelling"):
        any_store.jobs.set_status(job_id, later, message="too late", error="too late")
    job = any_store.jobs.get(job_id)
    assert (job.status, job.message, job.error) == (verdict, f"verdict {verdict}", None)
    assert job.finished_at == finished
    assert not job.is_active
    assert any_store.jobs.request_cancel(job_id) is False
    assert any_store.jobs.mark_interrupted(job_id, "late") is False
    assert any_store.jobs.get(job_id).status == verdict


def test_done_keeps_its_result(any_store: Store) -> None:
    job_id = any_store.jobs.create("demo.train", {})
    any_store.jobs.set_status(job_id, "done", result={"accuracy": 0.9, "run_id": 3})
    assert any_store.jobs.get(job_id).result == {"accuracy": 0.9, "run_id": 3}


def test_bad_states_and_fields_are_refused(any_store: Store) -> None:
    job_id = any_store.jobs.create("demo.train", {})
    with pytest.raises(ValueError, match="unknown job state 'finished'"):
        any_store.jobs.set_status(job_id, "finished")
    with pytest.raises(ValueError, match="no field"):
        any_store.jobs.set_status(job_id, "running", colour="blue")
    assert any_store.jobs.get(job_id).status == "queued"


def test_cancel_is_requested_and_seen(any_store: Store) -> None:
    job_id = any_store.jobs.create("demo.train", {})
    any_store.jobs.set_status(job_id, "running", pid=1)
    assert any_store.jobs.cancel_requested(job_id) is False
    assert any_store.jobs.request_cancel(job_id) is True
    assert any_store.jobs.cancel_requested(job_id) is True
    assert any_store.jobs.get(job_id).status == "cancelling"
    any_store.jobs.set_status(job_id, "cancelled", message="cancelled by the user")
    assert any_store.jobs.get(job_id).status == "cancelled"
    assert any_store.jobs.cancel_requested(job_id) is False
    assert any_store.jobs.request_cancel(job_id + 1000) is False
    assert any_store.jobs.cancel_requested(job_id + 1000) is False


def test_a_cancel_before_the_worker_starts_survives_its_running(any_store: Store) -> None:
    job_id = any_store.jobs.create("demo.train", {})
    assert any_store.jobs.request_cancel(job_id) is True
    any_store.jobs.set_status(job_id, "running", pid=123, message="running on cpu")
    job = any_store.jobs.get(job_id)
    assert (job.status, job.pid, job.message) == ("cancelling", 123, "running on cpu")
    assert job.started_at is not None


@contextmanager
def _commit_before_next_update(store: Store, job_id: int, status: str) -> Iterator[None]:
    """Just before the store's next UPDATE of jobs runs, another connection commits `status`.

    This is the window between reading a job and writing it, where the worker's verdict and the GUI's
    cancel (or a second verdict) cross.
    """
    fired: list[bool] = []

    def interleave(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if fired or not statement.lstrip().upper().startswith("UPDATE JOBS"):
            return
        fired.append(True)
        with store.engine.connect() as other:
            other.execute(text("UPDATE jobs SET status = :s WHERE id = :id"), {"s": status, "id": job_id})
            other.commit()

    event.listen(store.engine, "before_cursor_execute", interleave)
    try:
        yield
    finally:
        event.remove(store.engine, "before_cursor_execute", interleave)
    assert fired, "the interleaving never happened"


def test_a_verdict_committed_meanwhile_is_not_overwritten_by_a_cancel(any_store: Store) -> None:
    job_id = any_store.jobs.create("demo.train", {})
    any_store.jobs.set_status(job_id, "running", pid=1)
    with _commit_before_next_update(any_store, job_id, "done"):
        assert any_store.jobs.request_cancel(job_id) is False
    assert any_store.jobs.get(job_id).status == "done"


def test_a_verdict_committed_meanwhile_is_not_overwritten_by_another(any_store: Store) -> None:
    job_id = any_store.jobs.create("demo.train", {})
    any_store.jobs.set_status(job_id, "running", pid=1)
    with _commit_before_next_update(any_store, job_id, "cancelled"):
        any_store.jobs.set_status(job_id, "failed", error="boom")
    job = any_store.jobs.get(job_id)
    assert (job.status, job.error) == ("cancelled", None)


def test_list_is_newest_first_and_can_show_only_active_jobs(any_store: Store) -> None:
    done = any_store.jobs.create("a", {})
    running = any_store.jobs.create("b", {})
    queued = any_store.jobs.create("c", {})
    any_store.jobs.set_status(done, "done")
    any_store.jobs.set_status(running, "running", pid=1)
    assert [j.id for j in any_store.jobs.list()] == [queued, running, done]
    assert [j.id for j in any_store.jobs.list(active_only=True)] == [queued, running]
    assert [j.id for j in any_store.jobs.list(limit=1)] == [queued]


def test_mark_interrupted_takes_the_jobs_running_runs_along(any_store: Store) -> None:
    job_id = any_store.jobs.create("demo.train", {})
    any_store.jobs.set_status(job_id, "running", pid=1)
    running = any_store.runs.create(name="r", kind="k", config={}, device=CPU, job_id=job_id)
    done = any_store.runs.create(name="d", kind="k", config={}, device=CPU, job_id=job_id)
    any_store.runs.finish(done, "done")
    assert any_store.jobs.mark_interrupted(job_id, "the engine process died") is True
    job = any_store.jobs.get(job_id)
    assert (job.status, job.error) == ("interrupted", "the engine process died")
    assert job.finished_at is not None
    assert any_store.runs.get(running).status == "interrupted"
    assert any_store.runs.get(done).status == "done"
    assert any_store.jobs.mark_interrupted(job_id + 1000, "x") is False


def test_recover_dead_interrupts_jobs_of_dead_processes_and_their_runs(any_store: Store) -> None:
    dead_pid = _dead_pid()
    dead = any_store.jobs.create("demo.train", {})
    any_store.jobs.set_status(dead, "running", pid=dead_pid)
    dead_run = any_store.runs.create(name="r", kind="k", config={}, device=CPU, job_id=dead)
    cancelling = any_store.jobs.create("demo.train", {})
    any_store.jobs.set_status(cancelling, "running", pid=dead_pid)
    any_store.jobs.request_cancel(cancelling)
    alive = any_store.jobs.create("demo.train", {})
    any_store.jobs.set_status(alive, "running", pid=os.getpid())
    alive_run = any_store.runs.create(name="a", kind="k", config={}, device=CPU, job_id=alive)
    never_started = any_store.jobs.create("demo.train", {})
    finished = any_store.jobs.create("demo.train", {})
    any_store.jobs.set_status(finished, "done")
    elsewhere = any_store.jobs.create("demo.train", {})
    any_store.jobs.set_status(elsewhere, "running", pid=dead_pid)
    with any_store.engine.begin() as connection:
        connection.execute(text("UPDATE jobs SET host = 'another-machine' WHERE id = :id"), {"id": elsewhere})

    assert sorted(any_store.jobs.recover_dead()) == sorted([dead, cancelling, never_started])

    job = any_store.jobs.get(dead)
    assert job.status == "interrupted"
    assert job.error == f"the engine process (pid {dead_pid}) ended without finishing the job"
    assert any_store.runs.get(dead_run).status == "interrupted"
    assert any_store.jobs.get(cancelling).status == "interrupted"
    assert any_store.jobs.get(never_started).error == "the app closed before this job started"
    assert any_store.jobs.get(alive).status == "running"
    assert any_store.runs.get(alive_run).status == "running"
    assert any_store.jobs.get(finished).status == "done"
    assert any_store.jobs.get(elsewhere).status == "running"  # another machine's worker: not ours to judge
    assert any_store.jobs.recover_dead() == []


def test_pid_alive_knows_the_living_the_dead_and_none() -> None:
    assert pid_alive(os.getpid()) is True
    assert pid_alive(_dead_pid()) is False
    assert pid_alive(None) is False
    assert pid_alive(0) is False


def test_pid_alive_treats_a_zombie_as_dead() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
        assert pid_alive(process.pid) is False
    finally:
        process.wait()
