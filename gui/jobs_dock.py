"""The Jobs dock: one row per engine job with live progress, ETA, status, and Cancel / Resume."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import LanternError
from engine.jobs.registry import get_job_type
from engine.jobs.runner import RESUMABLE_STATES
from engine.store.jobs import FINAL_JOB_STATES
from engine.store.records import JobRecord
from gui.services import AppServices
from gui.style import MUTED, STATUS_COLORS

log = logging.getLogger(__name__)

RECENT_JOBS = 30  # rows loaded from the store at start
BAR_SCALE = 1000  # progress bars count in thousandths so fractional totals show smoothly


def format_duration(seconds: float) -> str:
    """0:35, 12:04, 1:02:09."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_amount(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


class RateEstimator:
    """Work per second over a sliding window of recent progress reports, and the time left at that rate."""

    def __init__(self, window_s: float = 30.0, max_samples: int = 64) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, float]] = deque(maxlen=max_samples)

    def add(self, t: float, done: float) -> None:
        if self._samples and done < self._samples[-1][1]:
            self._samples.clear()  # the job restarted its count (e.g. a new phase): old rates do not apply
        self._samples.append((t, done))
        while len(self._samples) > 2 and t - self._samples[0][0] > self.window_s:
            self._samples.popleft()

    def rate(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        if t1 <= t0 or d1 <= d0:
            return None
        return (d1 - d0) / (t1 - t0)

    def eta(self, done: float, total: float) -> float | None:
        rate = self.rate()
        if rate is None or total <= 0:
            return None
        return max(0.0, total - done) / rate


class JobRow(QFrame):
    """One job: name and id, status, a progress bar (done / total), ETA, and its buttons."""

    cancel_requested = Signal(int)
    resume_requested = Signal(int)

    def __init__(
        self, job_id: int, name: str, clock: Callable[[], float], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.job_id = job_id
        self.name = name
        self.status = "queued"
        self.resumable = False
        self._clock = clock
        self._rate = RateEstimator()
        self.setProperty("role", "row")

        self.title_label = QLabel(f"<b>{name}</b> <span style='color:{MUTED}'>#{job_id}</span>")
        # A long job name is clipped rather than widening the dock.
        self.title_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title_label.setToolTip(f"{name} (job #{job_id})")
        self.status_label = QLabel()
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.bar = QProgressBar()
        self.bar.setRange(0, BAR_SCALE)
        self.bar.setValue(0)
        self.bar.setTextVisible(True)
        self.eta_label = QLabel()
        self.eta_label.setProperty("role", "muted")
        self.eta_label.setMinimumWidth(72)
        self.message_label = QLabel()
        self.message_label.setProperty("role", "muted")
        self.message_label.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Ask the job to stop at its next step")
        self.cancel_button.clicked.connect(lambda: self.cancel_requested.emit(self.job_id))
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Start a new job that continues from this one's last checkpoint")
        self.resume_button.clicked.connect(lambda: self.resume_requested.emit(self.job_id))

        grid = QGridLayout(self)
        grid.setContentsMargins(10, 8, 10, 8)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        grid.addWidget(self.title_label, 0, 0, 1, 2)
        grid.addWidget(self.status_label, 0, 2)
        grid.addWidget(self.bar, 1, 0)
        grid.addWidget(self.eta_label, 1, 1)
        # A fixed right column (wide enough for any status and either button) keeps the bars of all rows
        # the same width, with or without buttons.
        bold = QFont(self.font())
        bold.setBold(True)
        column = max(
            QFontMetrics(bold).horizontalAdvance(f"● {longest}") + 6
            for longest in ("interrupted", "cancelling", "cancelled")
        )
        column = max(column, self.cancel_button.sizeHint().width(), self.resume_button.sizeHint().width())
        self.status_label.setFixedWidth(column)
        button_box = QWidget()
        button_box.setFixedWidth(column)
        buttons = QHBoxLayout(button_box)
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.resume_button)
        grid.addWidget(button_box, 1, 2)
        grid.addWidget(self.message_label, 2, 0, 1, 3)
        grid.setColumnStretch(0, 1)
        self.set_status("queued")

    @property
    def is_active(self) -> bool:
        return self.status not in FINAL_JOB_STATES

    def set_progress(self, done: float, total: float, message: str = "") -> None:
        if total > 0:
            self.bar.setRange(0, BAR_SCALE)
            self.bar.setValue(round(min(done, total) / total * BAR_SCALE))
            self.bar.setFormat(f"{format_amount(done)} / {format_amount(total)}")
        elif self.is_active:
            self.bar.setRange(0, 0)  # busy indicator: the job reports work but not how much is left
        if message:
            self.message_label.setText(message)
        if not self.is_active:
            return
        self._rate.add(self._clock(), done)
        eta = self._rate.eta(done, total)
        self.eta_label.setText(f"ETA {format_duration(eta)}" if eta is not None else "ETA —")
        rate = self._rate.rate()
        self.eta_label.setToolTip(
            f"{rate:.3g} per second over the last {self._rate.window_s:.0f} s" if rate else ""
        )

    def set_status(self, status: str, message: str = "") -> None:
        self.status = status
        color = STATUS_COLORS.get(status, MUTED)
        self.status_label.setText(f"<span style='color:{color}; font-weight:600'>● {status}</span>")
        if message:
            self.message_label.setText(message)
        active = self.is_active
        self.cancel_button.setVisible(active)
        self.cancel_button.setEnabled(status != "cancelling")
        self.cancel_button.setText("Cancelling…" if status == "cancelling" else "Cancel")
        self.resume_button.setVisible(self.resumable and status in RESUMABLE_STATES)
        if not active:
            self.eta_label.setText("")
            if self.bar.maximum() == 0:
                self.bar.setRange(0, BAR_SCALE)
            if status == "done" and self.bar.format() == "%p%":
                self.bar.setValue(BAR_SCALE)  # a job that never said how much work it had
                self.bar.setFormat("done")

    def set_error(self, payload: dict[str, Any]) -> None:
        what = str(payload.get("what") or "the job failed")
        self.message_label.setText(f"<span style='color:{STATUS_COLORS['failed']}'>{what}</span>")
        tip = [what]
        if payload.get("where"):
            tip.append(f"Where: {payload['where']}")
        if payload.get("hint"):
            tip.append(f"What to do: {payload['hint']}")
        self.message_label.setToolTip("\n".join(tip))

    def set_resumable(self, resumable: bool) -> None:
        self.resumable = resumable
        self.resume_button.setVisible(resumable and self.status in RESUMABLE_STATES)


def job_is_resumable(name: str) -> bool:
    """Whether the registry says jobs of this name can continue from a checkpoint."""
    try:
        return get_job_type(name).resumable
    except LanternError:
        return False
    except ImportError:
        log.warning("job modules could not be imported to check whether %r can resume", name, exc_info=True)
        return False


class JobsPanel(QWidget):
    """Dock content listing recent jobs (newest first); live rows follow the JobBridge's signals."""

    def __init__(
        self,
        services: AppServices,
        clock: Callable[[], float] = time.monotonic,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.services = services
        self._clock = clock
        self._rows: dict[int, JobRow] = {}
        self.session_jobs: set[int] = set()  # jobs started from this window (asked about when closing)

        self.summary = QLabel()
        self.summary.setProperty("role", "muted")
        self.clear_button = QPushButton("Clear finished")
        self.clear_button.clicked.connect(self.clear_finished)
        header = QHBoxLayout()
        header.addWidget(self.summary, 1)
        header.addWidget(self.clear_button)

        self._container = QWidget()
        self._list = QVBoxLayout(self._container)
        self._list.setContentsMargins(0, 0, 0, 0)
        self._list.setSpacing(6)
        self.empty_label = QLabel("No jobs yet. Jobs you start appear here with their progress.")
        self.empty_label.setProperty("role", "muted")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._list.addWidget(self.empty_label)
        self._list.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self._container)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(header)
        layout.addWidget(scroll, 1)

        for record in services.store.jobs.list(limit=RECENT_JOBS):
            self._add_record(record, at_top=False)
        jobs = services.jobs
        jobs.submitted.connect(self._on_submitted)
        jobs.progress.connect(self._on_progress)
        jobs.status.connect(self._on_status)
        jobs.error.connect(self._on_error)
        self._update_summary()

    def row(self, job_id: int) -> JobRow | None:
        return self._rows.get(job_id)

    def rows(self) -> list[JobRow]:
        """Rows top to bottom (newest first)."""
        found = (self._list.itemAt(i).widget() for i in range(self._list.count()))
        return [w for w in found if isinstance(w, JobRow)]

    def active_session_jobs(self) -> list[int]:
        return [
            job_id
            for job_id in self.session_jobs
            if (r := self._rows.get(job_id)) is not None and r.is_active
        ]

    def clear_finished(self) -> None:
        for job_id, row in list(self._rows.items()):
            if not row.is_active and not row.resume_button.isVisible():
                self._list.removeWidget(row)
                row.deleteLater()
                del self._rows[job_id]
        self._update_summary()

    def _add_row(self, job_id: int, name: str, at_top: bool = True) -> JobRow:
        row = JobRow(job_id, name, self._clock)
        row.cancel_requested.connect(self._cancel)
        row.resume_requested.connect(self._resume)
        # Index 0 is the "no jobs" label; the stretch stays last.
        self._list.insertWidget(1 if at_top else self._list.count() - 1, row)
        self._rows[job_id] = row
        self._update_summary()
        return row

    def _add_record(self, record: JobRecord, at_top: bool) -> JobRow:
        row = self._add_row(record.id, record.name, at_top)
        if record.progress_total > 0 or record.progress_done > 0:
            row.set_progress(record.progress_done, record.progress_total)
        row.message_label.setText(record.error or record.message or "")
        if record.status in RESUMABLE_STATES:
            row.resumable = job_is_resumable(record.name)
        row.set_status(record.status)
        return row

    def _row_for(self, job_id: int) -> JobRow | None:
        """The job's row, created from the store when an event names a job this panel has not seen."""
        row = self._rows.get(job_id)
        if row is None:
            record = self.services.store.jobs.get(job_id)
            if record is not None:
                row = self._add_record(record, at_top=True)
        return row

    def _on_submitted(self, job_id: int, name: str) -> None:
        self.session_jobs.add(job_id)
        if job_id not in self._rows:
            self._add_row(job_id, name)

    def _on_progress(self, job_id: int, done: float, total: float, message: str) -> None:
        row = self._row_for(job_id)
        if row is not None:
            if row.status == "queued":
                row.set_status("running")
            row.set_progress(done, total, message)

    def _on_status(self, job_id: int, status: str, message: str) -> None:
        row = self._row_for(job_id)
        if row is None:
            return
        if status in RESUMABLE_STATES and not row.resumable:
            row.resumable = job_is_resumable(row.name)
        row.set_status(status, message)
        self._update_summary()

    def _on_error(self, job_id: int, payload: dict[str, Any]) -> None:
        row = self._row_for(job_id)
        if row is not None:
            row.set_error(payload)

    def _cancel(self, job_id: int) -> None:
        row = self._rows[job_id]
        try:
            accepted = self.services.jobs.cancel(job_id)
        except LanternError as exc:
            self.services.notifications.post_error(exc, title=f"Could not cancel job #{job_id}")
            return
        if accepted:
            row.set_status("cancelling", "stopping at the next step…")
        else:
            self.services.notifications.post(
                "info", f"Job #{job_id} already finished", "There was nothing to cancel."
            )
        self._update_summary()

    def _resume(self, job_id: int) -> None:
        record = self.services.store.jobs.get(job_id)
        if record is None:
            return
        try:
            handle = self.services.jobs.submit({"job": record.name, "params": record.spec}, resume_of=job_id)
        except LanternError as exc:
            self.services.notifications.post_error(exc, title=f"Could not resume job #{job_id}")
            return
        row = self._rows[job_id]
        row.set_resumable(False)
        row.message_label.setText(f"resumed as job #{handle.job_id}")

    def _update_summary(self) -> None:
        active = sum(1 for r in self._rows.values() if r.is_active)
        total = len(self._rows)
        self.empty_label.setVisible(total == 0)
        self.summary.setText(f"{active} running · {total} shown" if total else "")
        self.clear_button.setEnabled(any(not r.is_active for r in self._rows.values()))
