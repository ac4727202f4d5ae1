"""Turns engine job events (delivered on a reader thread) into Qt signals on the GUI thread."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.jobs.events import Event
from engine.jobs.runner import JobHandle, JobRunner
from engine.store.database import Store


class JobBridge(QObject):
    """Starts and cancels jobs through the engine's JobRunner and re-emits their events as signals.

    Signals are emitted from the runner's reader thread; Qt queues them to receivers living on the GUI
    thread, so slots never block the reader and the GUI thread never blocks on a pipe.
    """

    event = Signal(object)  # every engine Event
    progress = Signal(int, float, float, str)  # job id, done, total, message
    metric = Signal(int, object, str, float, float)  # job id, run id, name, step, value
    log = Signal(int, str, str)  # job id, level, message
    status = Signal(int, str, str)  # job id, status, message
    error = Signal(int, object)  # job id, dict(what, where, hint, error_type, traceback)
    result = Signal(int, object)  # job id, result dict
    submitted = Signal(int, str)  # job id, job name
    follow = Signal(int)  # job id whose curves the user wants to watch (the Runs page shows them live)

    def __init__(self, store: Store, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = JobRunner(store)

    def submit(
        self, document: dict[str, Any], resume_of: int | None = None, follow: bool = False
    ) -> JobHandle:
        """Start a job; raises SpecError (before anything is stored) when the spec is invalid."""
        if resume_of is not None:
            handle = self.runner.resume(resume_of, on_event=self._deliver)
        else:
            handle = self.runner.submit(document, on_event=self._deliver)
        self.submitted.emit(handle.job_id, str(document.get("job", "")))
        if follow:
            self.follow.emit(handle.job_id)
        return handle

    def cancel(self, job_id: int) -> bool:
        return self.runner.cancel(job_id)

    def shutdown(self, timeout: float = 10.0) -> None:
        self.runner.shutdown(timeout)

    def _deliver(self, event: Event) -> None:
        self.event.emit(event)
        data = event.data
        if event.type == "progress":
            self.progress.emit(
                event.job, float(data["done"]), float(data["total"]), str(data.get("message", ""))
            )
        elif event.type == "metric":
            self.metric.emit(
                event.job, data.get("run"), str(data["name"]), float(data["step"]), float(data["value"])
            )
        elif event.type == "log":
            self.log.emit(event.job, str(data.get("level", "info")), str(data.get("message", "")))
        elif event.type == "status":
            self.status.emit(event.job, str(data["status"]), str(data.get("message", "")))
        elif event.type == "error":
            self.error.emit(event.job, dict(data))
        elif event.type == "result":
            self.result.emit(event.job, data.get("value"))
