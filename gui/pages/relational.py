"""The Relational workspace (Zambaldi et al., "Relational Deep Reinforcement Learning"): train relational and
baseline agents on Box-World as jobs and follow their curves (Train), replay an episode with its attention
(Player), and play two checkpoints on the same level side by side (Compare). Never imports torch: jobs and
the interactive engine do the compute."""

from __future__ import annotations

import sys
from typing import Any

import shiboken6
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QWidget

from engine.core.errors import LanternError
from engine.store.jobs import FINAL_JOB_STATES
from gui.services import AppServices
from gui.signals import disconnect_all
from gui.widgets.figure_export import notify_exports
from gui.widgets.job_progress import poll_while, progress_text
from gui.widgets.page_header import remembered_tab, tabbed_page
from gui.widgets.rl_compare import ComparePanel
from gui.widgets.rl_player import CHECKPOINTS_OP, PlayerPanel, parse_checkpoints
from gui.widgets.rl_train import JOB_NAME, TrainPanel, load_run_curves

TAB_KEY = "relational/tab"
TABS = ("Train", "Player", "Compare")
POLL_MS = 1500  # while a training run is going, its curves are read again this often
SUBTITLE = (
    "Pixels as entities that attend to one another: relational vs convolutional agents on Box-World, "
    "and what their attention looks at (Zambaldi et al., 2018)."
)


class RelationalPage(QWidget):
    """Train | Player | Compare. Checkpoints are listed (one op call) the first time Player or Compare
    shows, so building the page starts no engine process."""

    def __init__(self, services: AppServices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page-relational")
        self.services = services
        self._own_jobs: set[int] = set()
        self._checkpoints_request: int | None = None
        self._checkpoints_asked = False
        self._shut_down = False
        self._poll = QTimer(self, interval=POLL_MS)
        self._poll.timeout.connect(self.refresh_runs)
        self._build()
        self._connect()
        self.tabs.setCurrentIndex(remembered_tab(TAB_KEY, len(TABS)))

    def _build(self) -> None:
        self.train = TrainPanel(self)
        self.player = PlayerPanel(self.services.interactive, self)
        self.compare = ComparePanel(self.services.interactive, self)
        self.tabs = tabbed_page(
            self,
            "relational",
            "Relational",
            SUBTITLE,
            (
                (self.train, "Train", "Level family, agent and PPO settings; fraction solved against steps"),
                (
                    self.player,
                    "Player",
                    "Replay an episode step by step with the agent's attention over the grid",
                ),
                (self.compare, "Compare", "Two checkpoints on the same level, stepping together"),
            ),
        )

    def _connect(self) -> None:
        self.tabs.currentChanged.connect(self._tab_changed)
        self.train.start_requested.connect(self.start_training)
        notify_exports(
            (self.train.export_button, self.player.export_button, self.compare.export_button),
            self.services.notifications,
        )
        self.player.failed.connect(lambda exc: self._error(exc, "The episode could not be loaded"))
        self.compare.failed.connect(lambda exc: self._error(exc, "The episode could not be loaded"))
        interactive = self.services.interactive
        interactive.answered.connect(self._answered)
        interactive.failed.connect(self._failed)
        jobs = self.services.jobs
        jobs.status.connect(self._on_status)
        jobs.progress.connect(self._on_progress)
        jobs.error.connect(self._on_job_error)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh_runs()
        self._tab_changed(self.tabs.currentIndex())

    # tabs
    def show_tab(self, name: str) -> None:
        self.tabs.setCurrentIndex(TABS.index(name))

    def current_tab(self) -> str:
        return TABS[self.tabs.currentIndex()]

    def _tab_changed(self, index: int) -> None:
        QSettings().setValue(TAB_KEY, index)
        if TABS[index] in ("Player", "Compare") and self.isVisible():
            self.list_checkpoints()

    # checkpoints
    def list_checkpoints(self, *, again: bool = False) -> int | None:
        """Ask the engine for the checkpoints (once, unless `again`); the bundled ones are offered already."""
        if self._checkpoints_asked and not again:
            return None
        self._checkpoints_asked = True
        self._checkpoints_request = self.services.interactive.request(CHECKPOINTS_OP)
        return self._checkpoints_request

    def _answered(self, request_id: int, answer: Any) -> None:
        if request_id != self._checkpoints_request or self._shut_down:
            return
        self._checkpoints_request = None
        self.show_checkpoints(answer)

    def _failed(self, request_id: int, error: Any) -> None:
        if request_id != self._checkpoints_request or self._shut_down:
            return
        self._checkpoints_request = None
        self._checkpoints_asked = False  # ask again next time the tab shows
        self._error(error, "Checkpoints could not be listed (the bundled agents are still offered)")

    def show_checkpoints(self, answer: Any) -> None:
        entries = parse_checkpoints(answer)
        self.player.set_checkpoints(entries)
        self.compare.set_checkpoints(entries)

    # training
    def start_training(self, configs: list[dict[str, Any]]) -> list[int]:
        """Submit one rl.train job per config; a refused spec is shown under the form and as a notice."""
        started = []
        for config in configs:
            try:
                handle = self.services.jobs.submit({"job": JOB_NAME, "params": config}, follow=False)
            except LanternError as exc:
                self.train.show_error(exc)
                self._error(exc, "Training not started")
                break
            started.append(handle.job_id)
            self._own_jobs.add(handle.job_id)
        if started:
            self._checkpoints_asked = False  # new checkpoints will appear
            self.train.job_label.setText(f"Started {len(started)} training job(s): starting…")
            self.refresh_runs()
            self._poll.start()
        return started

    def refresh_runs(self) -> None:
        """Read the rl-train runs and their curves again; keep polling while one runs."""
        if self._shut_down or not shiboken6.isValid(self):
            return
        try:
            runs = load_run_curves(self.services.store)
        except LanternError as exc:
            self._poll.stop()
            self._error(exc, "Training runs could not be read")
            return
        self.train.set_runs(runs)
        poll_while(self._poll, any(r.status in ("running", "queued") for r in runs) or bool(self._own_jobs))

    def _on_progress(self, job_id: int, done: float, total: float, message: str) -> None:
        if job_id not in self._own_jobs:
            return
        self.train.job_label.setText(progress_text(done, total, message, job_id=job_id))

    def _on_status(self, job_id: int, status: str, _message: str) -> None:
        if job_id not in self._own_jobs:
            return
        if status in FINAL_JOB_STATES:
            self._own_jobs.discard(job_id)
            self.train.job_label.setText(f"Job #{job_id}: {status}")
        QTimer.singleShot(0, self, self.refresh_runs)

    def _on_job_error(self, job_id: int, error: dict[str, Any]) -> None:
        if job_id in self._own_jobs:
            self._error(error, "Training failed")

    # messages
    def _error(self, error: BaseException | dict[str, Any], title: str) -> None:
        self.services.notifications.post_error(error, title=title)

    def shutdown(self) -> None:
        """Before the app exits: stop polling, playing and listening."""
        if self._shut_down or not shiboken6.isValid(self):
            return
        self._shut_down = True
        self._poll.stop()
        self.player.shutdown()
        self.compare.shutdown()
        disconnect_all(
            (
                (self.services.interactive.answered, self._answered),
                (self.services.interactive.failed, self._failed),
                (self.services.jobs.status, self._on_status),
                (self.services.jobs.progress, self._on_progress),
                (self.services.jobs.error, self._on_job_error),
            )
        )


if __name__ == "__main__":
    from gui.pages._standalone import run_page

    raise SystemExit(run_page(RelationalPage, "Relational", sys.argv[1:]))
