"""What a running job sees: progress, metrics, logs, artifacts, checkpoints and the cancel flag."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.core.device import DeviceChoice
from engine.core.errors import JobCancelled
from engine.jobs import events
from engine.jobs.events import Event
from engine.store.database import Store
from engine.store.models import Run
from engine.store.records import ArtifactRecord

PROGRESS_EVENT_INTERVAL_S = 0.1  # at most ten progress events a second reach the GUI
STORE_POLL_INTERVAL_S = 1.0  # how often the store is asked whether someone else cancelled the job


@dataclass(frozen=True)
class ResumePoint:
    """Where an interrupted job left off: its run and the last checkpoint it stored."""

    run_id: int
    checkpoint: ArtifactRecord
    path: Path
    step: float


class JobContext:
    """Handed to every job function; the same object whether the job runs from the GUI, CLI or a test."""

    def __init__(
        self,
        job_id: int,
        store: Store,
        emit: Callable[[Event], None],
        device: DeviceChoice,
        workdir: Path,
        cancel_flag: Callable[[], bool] = lambda: False,
        resume_of: int | None = None,
    ) -> None:
        self.job_id = job_id
        self.store = store
        self.device = device
        self.workdir = workdir
        self.resume_of = resume_of
        self._emit = emit
        self._cancel_flag = cancel_flag
        self._last_progress_event = 0.0
        self._last_store_poll = 0.0
        self._cancelled = False
        self.run_id: int | None = None

    # progress and cancellation
    @property
    def cancelled(self) -> bool:
        if self._cancelled or self._cancel_flag():
            self._cancelled = True
        else:
            now = time.monotonic()
            if now - self._last_store_poll >= STORE_POLL_INTERVAL_S:
                self._last_store_poll = now
                self._cancelled = self.store.jobs.cancel_requested(self.job_id)
        return self._cancelled

    def check_cancelled(self) -> None:
        """Call between steps: raises JobCancelled when the user asked the job to stop."""
        if self.cancelled:
            raise JobCancelled()

    def progress(self, done: float, total: float, message: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if force or done >= total or now - self._last_progress_event >= PROGRESS_EVENT_INTERVAL_S:
            self._last_progress_event = now
            self._emit(events.progress(self.job_id, done, total, message))
            self.store.jobs.set_progress(self.job_id, done, total, message)

    def log(self, message: str, level: str = "info") -> None:
        self._emit(events.log(self.job_id, message, level))

    # runs and metrics
    def start_run(self, *, name: str, kind: str, config: dict[str, Any], seed: int | None = None) -> int:
        """Create the run this job records into, with the device and dtype it runs on."""
        self.run_id = self.store.runs.create(
            name=name, kind=kind, config=config, device=self.device, seed=seed, job_id=self.job_id
        )
        device = self.device
        self.log(f"run #{self.run_id} started on {device.device} ({device.name}, {device.dtype})")
        return self.run_id

    def metrics(self, step: float, values: dict[str, float], run_id: int | None = None) -> None:
        """Record several metrics at one step: stored at once (nothing lost if the app dies), then shown."""
        run = run_id if run_id is not None else self.run_id
        if run is None:
            raise RuntimeError("start_run() before recording metrics")
        self.store.runs.add_metrics(run, [(name, step, value) for name, value in values.items()])
        for name, value in values.items():
            self._emit(events.metric(self.job_id, run, name, step, float(value)))

    def finish_run(self, status: str = "done", summary: dict[str, Any] | None = None) -> None:
        if self.run_id is not None:
            self.store.runs.finish(self.run_id, status, summary)

    # artifacts and checkpoints
    def add_artifact(
        self, path: Path, *, kind: str, name: str | None = None, meta: dict[str, Any] | None = None
    ) -> ArtifactRecord:
        record = self.store.artifacts.add(path, kind=kind, name=name, run_id=self.run_id, meta=meta)
        stored = self.store.artifacts.path(record)
        self._emit(events.artifact(self.job_id, record.id, record.run_id, kind, record.name, str(stored)))
        return record

    def adopt_run(self, kind: str | None = None) -> int | None:
        """For a resumed job: take over the interrupted job's last run (of `kind`, when given), so that it
        goes on recording there; None for a fresh job or when the interrupted one stored no such run."""
        if self.resume_of is None:
            return None
        runs = [run for run in self.store.runs.for_job(self.resume_of) if kind is None or run.kind == kind]
        if not runs:
            return None
        run_id = runs[-1].id
        with self.store.session() as session:
            row = session.get(Run, run_id)
            assert row is not None
            row.job_id = self.job_id
            row.status = "running"
            row.finished_at = None
        self.run_id = run_id
        return run_id

    def resume_point(self) -> ResumePoint | None:
        """For a resumed job: adopt the interrupted job's run and return its latest checkpoint."""
        if self.resume_of is None:
            return None
        runs = self.store.runs.for_job(self.resume_of)
        if not runs:
            return None
        run = runs[-1]
        checkpoints = self.store.artifacts.for_run(run.id, kind="checkpoint")
        if not checkpoints:
            return None
        latest = max(checkpoints, key=lambda a: (float(a.meta.get("step", 0)), a.id))
        self.adopt_run()
        path = self.store.artifacts.path(latest, verify=True)
        step = float(latest.meta.get("step", 0))
        self.log(f"resuming run #{run.id} from checkpoint '{latest.name}' (step {step:g})")
        return ResumePoint(run.id, latest, path, step)
