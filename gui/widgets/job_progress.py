"""Following jobs from a page: the progress line ("Job #7: 40 % · epoch 4 · ETA 1 min 10 s"), each job's ETA,
and keeping a store poll running while jobs run."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer

from gui.jobs_dock import RateEstimator, format_duration


def progress_text(
    done: float, total: float, message: str, *, job_id: int | None = None, eta: float | None = None
) -> str:
    """The share done and the message, after "Job #id:" when `job_id` is given; then the ETA if known."""
    share = f"{100 * done / total:.0f} % · " if total else ""
    prefix = f"Job #{job_id}: " if job_id is not None else ""
    left = f" · ETA {format_duration(eta)}" if eta is not None else ""
    return f"{prefix}{share}{message}".strip(" ·") + left


class JobEtas:
    """One rate estimate per followed job, turning its progress events into progress lines with an ETA."""

    def __init__(self) -> None:
        self._rates: dict[int, RateEstimator] = {}

    def start(self, job_id: int) -> None:
        self._rates[job_id] = RateEstimator()

    def text(self, job_id: int, done: float, total: float, message: str) -> str:
        rate = self._rates.setdefault(job_id, RateEstimator())
        rate.add(time.monotonic(), done)
        return progress_text(done, total, message, job_id=job_id, eta=rate.eta(done, total))

    def forget(self, job_id: int) -> None:
        self._rates.pop(job_id, None)


def poll_while(timer: QTimer, running: bool) -> None:
    """Keep `timer` (a page's store poll) going while something runs, and stop it once nothing does."""
    if running and not timer.isActive():
        timer.start()
    elif not running:
        timer.stop()
