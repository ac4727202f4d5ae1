"""JobRunner with real spawned workers: events in order, cooperative and forced cancellation,
a worker killed with SIGKILL, resuming from the last checkpoint, and recovery of dead jobs."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable

import pytest
import sample_jobs

from engine.core.errors import LanternError, SpecError
from engine.jobs.events import Event
from engine.jobs.runner import JobRunner, describe_exit

WAIT_S = 60.0


@pytest.fixture(autouse=True)
def _sample_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    sample_jobs.enable(monkeypatch)


class Recorder:
    """Collects events (on the reader thread) and lets the test wait for one that matches."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.threads: set[str] = set()
        self._changed = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._changed:
            self.events.append(event)
            self.threads.add(threading.current_thread().name)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float = WAIT_S) -> Event:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no matching event; got {[(e.type, e.data) for e in self.events]}"
                self._changed.wait(remaining)

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.type == kind]

    def statuses(self) -> list[str]:
        return [e.get("status") for e in self.of("status")]


def metric_at_least(step: int) -> Callable[[Event], bool]:
    return lambda e: e.type == "metric" and e.get("step") >= step


def test_job_runs_to_done_with_events_in_order(store):
    recorder = Recorder()
    runner = JobRunner(store)
    handle = runner.submit({"job": "test.count", "params": {"n": 12, "checkpoint_every": 4}}, recorder)
    assert handle.is_running() and [h.job_id for h in runner.active()] == [handle.job_id]
    # Starting up takes seconds; meanwhile another Lantern process's recovery must not judge it dead.
    assert store.jobs.get(handle.job_id).pid == handle.pid
    assert store.jobs.recover_dead() == []
    record = handle.wait(WAIT_S)
    assert record is not None and record.status == "done"
    assert not handle.is_running() and runner.active() == []

    assert recorder.statuses() == ["queued", "running", "done"]
    kinds = [e.type for e in recorder.events]
    assert kinds[-2:] == ["result", "status"]
    assert kinds.index("result") > max(i for i, kind in enumerate(kinds) if kind in ("metric", "progress"))
    assert [e.get("step") for e in recorder.of("metric")] == list(range(1, 13))
    progress = [e.get("done") for e in recorder.of("progress")]
    assert progress == sorted(progress) and progress[-1] == 12
    assert recorder.of("progress")[-1].get("total") == 12
    assert [e.get("name") for e in recorder.of("artifact")] == ["count-4", "count-8", "count-12"]
    assert recorder.of("result")[0].get("value") == record.result
    assert record.result["count"] == 12 and record.result["resumed_from"] == 0
    assert recorder.threads == {f"lantern-job-{handle.job_id}-events"}  # never the caller's thread

    run = store.runs.get(record.result["run_id"])
    assert run.status == "done" and run.job_id == handle.job_id
    series = store.runs.metrics(run.id)["value"]
    assert series.steps == [float(s) for s in range(1, 13)]
    assert series.values == [2.0 * s for s in range(1, 13)]


def test_bad_spec_is_refused_before_anything_is_stored(store):
    runner = JobRunner(store)
    with pytest.raises(SpecError, match="unknown field 'speed'"):
        runner.submit({"job": "test.count", "params": {"speed": 3}})
    with pytest.raises(SpecError, match="unknown job"):
        runner.submit({"job": "nope"})
    assert store.jobs.list() == []


def test_callback_errors_never_kill_the_reader(store):
    seen: list[str] = []

    def clumsy(event: Event) -> None:
        seen.append(event.type)
        raise RuntimeError("a buggy listener")

    record = JobRunner(store).submit({"job": "test.once", "params": {"word": "x"}}, clumsy).wait(WAIT_S)
    assert record.status == "done" and record.result == {"word": "x", "device": "cpu"}
    assert seen[-2:] == ["result", "status"]


def test_cancel_stops_the_job_cooperatively_within_the_grace_period(store):
    """Through the runner (cancel event) and through the store alone (as `lantern jobs cancel` does)."""
    runner = JobRunner(store, grace_s=10.0)
    by_runner, by_store = Recorder(), Recorder()
    spec = {"job": "test.count", "params": {"n": 100000, "step_s": 0.01}}
    first = runner.submit(spec, by_runner)
    second = runner.submit(spec, by_store)
    by_runner.wait_for(metric_at_least(3))
    by_store.wait_for(metric_at_least(3))
    asked = time.monotonic()
    assert runner.cancel(first.job_id) is True
    assert store.jobs.request_cancel(second.job_id) is True
    first_record, second_record = first.wait(WAIT_S), second.wait(WAIT_S)
    assert time.monotonic() - asked < runner.grace_s  # the job stopped itself: no terminate needed

    for record, recorder in ((first_record, by_runner), (second_record, by_store)):
        assert record.status == "cancelled" and record.message == "cancelled by the user"
        assert recorder.statuses()[-1] == "cancelled" and not recorder.of("error")
        (run,) = store.runs.for_job(record.id)
        assert run.status == "cancelled"
        assert len(store.runs.metrics(run.id)["value"].steps) >= 3
    assert by_runner.statuses() == ["queued", "running", "cancelling", "cancelled"]


@pytest.mark.parametrize(
    ("params", "how"),
    [({"ignore_cancel": True}, "terminated"), ({"ignore_cancel": True, "ignore_sigterm": True}, "killed")],
    ids=["terminated", "killed"],
)
def test_a_job_that_ignores_cancel_is_stopped_forcibly(store, params, how):
    runner = JobRunner(store, grace_s=0.5, kill_after_s=0.5)
    recorder = Recorder()
    handle = runner.submit({"job": "test.count", "params": {"n": 100000, "step_s": 0.01, **params}}, recorder)
    recorder.wait_for(metric_at_least(3))
    asked = time.monotonic()
    assert runner.cancel(handle.job_id)
    record = handle.wait(WAIT_S)
    assert time.monotonic() - asked < 10.0
    assert record.status == "cancelled"
    assert record.message.startswith(f"stopped forcibly: the job did not stop by itself and was {how}")
    assert recorder.statuses()[-1] == "cancelled"
    assert recorder.of("status")[-1].get("message") == record.message
    (run,) = store.runs.for_job(handle.job_id)
    assert run.status == "cancelled"


def test_killed_worker_is_interrupted_and_resumes_from_its_last_checkpoint(store):
    runner = JobRunner(store)
    recorder = Recorder()
    spec = {"job": "test.count", "params": {"n": 40, "step_s": 0.02, "checkpoint_every": 5}}
    handle = runner.submit(spec, recorder)
    recorder.wait_for(metric_at_least(12))
    os.kill(store.jobs.get(handle.job_id).pid, signal.SIGKILL)
    record = handle.wait(WAIT_S)

    assert record.status == "interrupted"
    assert "SIGKILL" in record.error and "ended without finishing" in record.error
    assert recorder.statuses()[-1] == "interrupted"
    (error,) = recorder.of("error")
    assert error.get("what") == record.error and error.get("error_type") == "JobInterrupted"
    with sqlite3.connect(store.engine.url.database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    (run,) = store.runs.for_job(handle.job_id)
    assert run.status == "interrupted"
    steps_before = store.runs.metrics(run.id)["value"].steps
    reached = int(steps_before[-1])
    assert reached >= 12 and steps_before == [float(s) for s in range(1, reached + 1)]
    checkpoint = max(a.meta["step"] for a in store.artifacts.for_run(run.id, kind="checkpoint"))
    assert checkpoint == reached - reached % 5

    resumed_events = Recorder()
    resumed = runner.resume(handle.job_id, resumed_events)
    final = resumed.wait(WAIT_S)
    assert final.status == "done" and final.resume_of == handle.job_id
    assert final.result["resumed_from"] == checkpoint  # continued, not restarted
    assert final.result["run_id"] == run.id  # in the same run
    assert [e.get("step") for e in resumed_events.of("metric")] == list(range(checkpoint + 1, 41))
    run_after = store.runs.get(run.id)
    assert run_after.status == "done" and run_after.job_id == resumed.job_id
    steps = store.runs.metrics(run.id)["value"].steps
    assert sorted(set(steps)) == [float(s) for s in range(1, 41)]


def test_resume_refuses_what_cannot_be_resumed(store):
    runner = JobRunner(store)
    with pytest.raises(LanternError, match="there is no job #99"):
        runner.resume(99)
    done = runner.submit({"job": "test.once"}).wait(WAIT_S)
    with pytest.raises(LanternError, match=f"job #{done.id} is done; only interrupted"):
        runner.resume(done.id)
    job_id = store.jobs.create("test.once", {"word": "w"})
    store.jobs.mark_interrupted(job_id, "test")
    with pytest.raises(LanternError, match=r"'test\.once' cannot be resumed"):
        runner.resume(job_id)
    assert len(store.jobs.list()) == 2  # refusals store nothing


def test_recover_dead_marks_a_job_whose_process_is_gone(store):
    finished = subprocess.Popen(["true"])
    finished.wait()  # reaped: its pid no longer names a live process
    job_id = store.jobs.create("test.count", {"n": 3})
    store.jobs.set_status(job_id, "running", pid=finished.pid)
    live_id = store.jobs.create("test.count", {"n": 3})
    store.jobs.set_status(live_id, "running", pid=os.getpid())
    assert store.jobs.recover_dead() == [job_id]
    record = store.jobs.get(job_id)
    assert record.status == "interrupted" and str(finished.pid) in record.error
    assert store.jobs.get(live_id).status == "running"


def test_shutdown_cancels_every_active_job(store):
    runner = JobRunner(store, grace_s=5.0)
    recorder = Recorder()
    handle = runner.submit({"job": "test.count", "params": {"n": 100000, "step_s": 0.01}}, recorder)
    recorder.wait_for(metric_at_least(1))
    runner.shutdown(timeout=10.0)
    assert not handle.is_running() and runner.active() == []
    assert store.jobs.get(handle.job_id).status == "cancelled"


def test_describe_exit():
    assert describe_exit(0) == "exit code 0"
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(-15) == "killed by signal SIGTERM (exit code -15)"
    assert describe_exit(-9).startswith("killed by signal SIGKILL (exit code -9); the system may have")
    assert describe_exit(None) == "exit code unknown"
