"""The Augment workspace (Ayromlou et al., "Can Generative Models Improve Self-Supervised Representation
Learning?"): generated views of one image beside classic augmentations with their faithfulness (Views), banks
of K views per training image built as jobs (Bank), and the SSL experiment with and without generated views,
its linear-probe table and plots updated live (Experiment). Never imports torch: the interactive engine and
jobs do the compute."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QWidget

from engine.core.errors import LanternError
from engine.store.jobs import FINAL_JOB_STATES
from gui.services import AppServices
from gui.signals import disconnect_all
from gui.widgets.augment_bank import JOB_NAME as BANK_JOB
from gui.widgets.augment_bank import BankPanel
from gui.widgets.augment_experiment import JOB_NAME as EXPERIMENT_JOB
from gui.widgets.augment_experiment import ExperimentPanel, list_experiments, load_experiment_runs
from gui.widgets.augment_views import ViewsPanel
from gui.widgets.figure_export import notify_exports
from gui.widgets.job_progress import JobEtas, poll_while
from gui.widgets.page_header import remembered_tab, tabbed_page

TAB_KEY = "augment/tab"
TABS = ("Views", "Bank", "Experiment")
POLL_MS = 1500  # while an experiment runs, its runs are read from the store again this often
BANK_POLL_MS = 4000  # while a bank is being built, the banks are listed again this often (an op call)
SUBTITLE = (
    "Views made by a generator conditioned on the source image, how faithful they are, and whether they "
    "make better self-supervised representations (Ayromlou et al., AAAI 2025)."
)


class AugmentPage(QWidget):
    """Views | Bank | Experiment. Building the page starts no engine process: datasets and generators are
    listed (one op call each) the first time the page shows."""

    def __init__(self, services: AppServices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page-augment")
        self.services = services
        self._bank_jobs: set[int] = set()
        self._experiment_jobs: set[int] = set()
        self._etas = JobEtas()
        self._shut_down = False
        self._poll = QTimer(self, interval=POLL_MS)
        self._poll.timeout.connect(self.refresh_experiments)
        self._bank_poll = QTimer(self, interval=BANK_POLL_MS)
        self._bank_poll.timeout.connect(self._poll_banks)
        self._build()
        self._register_shortcuts()
        self._connect()
        self.tabs.setCurrentIndex(remembered_tab(TAB_KEY, len(TABS)))

    def _build(self) -> None:
        self.views = ViewsPanel(self.services.interactive, self)
        self.bank = BankPanel(self.services.interactive, self)
        self.experiment = ExperimentPanel(self)
        self.tabs = tabbed_page(
            self,
            "augment",
            "Augment",
            SUBTITLE,
            (
                (
                    self.views,
                    "Views",
                    "Generated views of one image beside classic augmentations, with scores",
                ),
                (self.bank, "Bank", "Build and browse banks of K generated views per training image"),
                (
                    self.experiment,
                    "Experiment",
                    "SSL with generated views at probability p against controls: linear-probe top-1 per arm",
                ),
            ),
        )

    def _register_shortcuts(self) -> None:
        shortcuts = self.services.shortcuts
        scope = Qt.ShortcutContext.WidgetWithChildrenShortcut
        self.actions_by_id: dict[str, Any] = {}

        def add(action_id: str, text: str, key: str, callback: Callable[[], object]) -> None:
            self.actions_by_id[action_id] = shortcuts.register(action_id, text, key, callback, self, scope)

        add("augment.run", "Generate, build the bank or run the experiment", "Ctrl+Return", self.run_current)
        add("augment.cancel", "Stop generating views", "Escape", self.views.cancel)
        for index, name in enumerate(TABS, start=1):
            add(
                f"augment.tab_{name.lower()}",
                f"Show the {name} tab",
                f"Alt+{index}",
                lambda _checked=False, index=index: self.tabs.setCurrentIndex(index - 1),
            )

    def _connect(self) -> None:
        self.tabs.currentChanged.connect(self._tab_changed)
        self.views.failed.connect(lambda exc: self._error(exc, "Views"))
        self.views.datasets_listed.connect(self._datasets_listed)
        self.views.generators_listed.connect(self._generators_listed)
        self.bank.failed.connect(lambda exc: self._error(exc, "Bank"))
        self.bank.build_requested.connect(self.start_bank)
        self.bank.resume_requested.connect(self.start_bank)
        self.experiment.form.run_requested.connect(self.start_experiment)
        self.experiment.experiment_chosen.connect(lambda _job: self.refresh_experiments())
        self.experiment.cancel_requested.connect(self.cancel_experiment)
        notify_exports(
            (
                self.views.export_button,
                self.bank.export_button,
                self.experiment.export_button,
                self.experiment.loss_export,
            ),
            self.services.notifications,
        )
        jobs = self.services.jobs
        jobs.status.connect(self._on_status)
        jobs.progress.connect(self._on_progress)
        jobs.error.connect(self._on_job_error)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        # On the next turn of the event loop, and only if still shown: the main window's stack shows a
        # page for a moment while it swaps a built page in, which must not start the engine.
        QTimer.singleShot(0, self, lambda: self._tab_changed(self.tabs.currentIndex()))

    # tabs
    def show_tab(self, name: str) -> None:
        self.tabs.setCurrentIndex(TABS.index(name))

    def current_tab(self) -> str:
        return TABS[self.tabs.currentIndex()]

    def _tab_changed(self, index: int) -> None:
        if self._shut_down or not shiboken6.isValid(self):
            return
        QSettings().setValue(TAB_KEY, index)
        if not self.isVisible():
            return
        self.views.load_catalogue()  # every tab's form needs the datasets and generators
        if TABS[index] == "Bank" and not self.bank.banks:
            self.bank.load_banks()
        elif TABS[index] == "Experiment":
            self.refresh_experiments()

    def run_current(self) -> None:
        """Ctrl+Return: the current tab's main action."""
        tab = self.current_tab()
        if tab == "Views":
            self.views.generate()
        elif tab == "Bank":
            self.bank.build()
        else:
            self.experiment.form.run()

    def _datasets_listed(self, datasets: list[Any]) -> None:
        self.bank.set_datasets(datasets)
        self.experiment.form.set_datasets(datasets)

    def _generators_listed(self, generators: list[Any]) -> None:
        self.bank.set_generators(generators)
        self.experiment.form.set_generators(generators)

    # jobs
    def _submit(self, job: str, params: dict[str, Any]) -> int | None:
        try:
            handle = self.services.jobs.submit({"job": job, "params": params}, follow=False)
        except LanternError as exc:
            (self.bank if job == BANK_JOB else self.experiment.form).show_error(exc)
            self._error(exc, "Bank not started" if job == BANK_JOB else "Experiment not started")
            return None
        self._etas.start(handle.job_id)
        return int(handle.job_id)

    def start_bank(self, spec: dict[str, Any]) -> int | None:
        """Submit an "augment.bank" job (a new bank, or with bank_id the rest of an incomplete one)."""
        job_id = self._submit(BANK_JOB, spec)
        if job_id is None:
            return None
        self._bank_jobs.add(job_id)
        self.bank.set_building(True)
        what = "Resuming" if spec.get("bank_id") is not None else "Building"
        self.bank.job_label.setText(f"{what} {spec.get('name', 'the bank')}: job #{job_id} starting…")
        self._bank_poll.start()
        return job_id

    def _poll_banks(self) -> None:
        if self._shut_down or not shiboken6.isValid(self):
            return
        if not self.bank.waiting():  # one read at a time
            self.bank.load_banks()
        if not self._bank_jobs:
            self._bank_poll.stop()

    def start_experiment(self, params: dict[str, Any]) -> int | None:
        """Submit the "ssl.experiment" job and show its results as its runs finish."""
        job_id = self._submit(EXPERIMENT_JOB, params)
        if job_id is None:
            return None
        self._experiment_jobs.add(job_id)
        self.experiment.set_job_text(f"Job #{job_id}: starting…")
        self.refresh_experiments(select=job_id)
        self._poll.start()
        return job_id

    def cancel_experiment(self, job_id: int) -> None:
        self.services.jobs.cancel(job_id)
        self.experiment.set_job_text(f"Job #{job_id}: stopping…")

    def refresh_experiments(self, select: int | None = None) -> None:
        """Read the experiments and the chosen one's runs again; poll while one runs."""
        if self._shut_down or not shiboken6.isValid(self):
            return
        try:
            entries = list_experiments(self.services.store)
            self.experiment.blockSignals(True)  # one read per refresh, not one more per choice
            self.experiment.set_experiments(entries, select=select)
            self.experiment.blockSignals(False)
            chosen = self.experiment.current()
            runs = load_experiment_runs(self.services.store, chosen) if chosen is not None else []
        except LanternError as exc:
            self.experiment.blockSignals(False)
            self._poll.stop()
            self._error(exc, "Experiments could not be read")
            return
        self.experiment.set_runs(runs)
        poll_while(self._poll, any(e.running for e in entries) or bool(self._experiment_jobs))

    def _on_progress(self, job_id: int, done: float, total: float, message: str) -> None:
        if job_id in self._bank_jobs:
            self.bank.job_label.setText(self._etas.text(job_id, done, total, message))
        elif job_id in self._experiment_jobs:
            self.experiment.set_job_text(self._etas.text(job_id, done, total, message))

    def _on_status(self, job_id: int, status: str, _message: str) -> None:
        final = status in FINAL_JOB_STATES
        if final:
            self._etas.forget(job_id)
        if job_id in self._bank_jobs:
            if final:
                self._bank_jobs.discard(job_id)
                self.bank.set_building(bool(self._bank_jobs))
                self.bank.job_label.setText(f"Job #{job_id}: {status}")
                QTimer.singleShot(0, self, self.bank.load_banks)
        elif job_id in self._experiment_jobs:
            if final:
                self._experiment_jobs.discard(job_id)
                self.experiment.set_job_text(f"Job #{job_id}: {status}")
            QTimer.singleShot(0, self, self.refresh_experiments)
        elif self.isVisible():
            # A job started elsewhere (the CLI, or Resume in the Jobs dock): follow it if it is ours.
            record = self.services.store.jobs.get(job_id)
            name = record.name if record is not None else ""
            if name == BANK_JOB and final:
                QTimer.singleShot(0, self, self.bank.load_banks)
            elif name == EXPERIMENT_JOB:
                QTimer.singleShot(0, self, self.refresh_experiments)

    def _on_job_error(self, job_id: int, error: dict[str, Any]) -> None:
        if job_id in self._bank_jobs:
            self._error(error, "The bank failed")
        elif job_id in self._experiment_jobs:
            self._error(error, "The experiment failed")

    # messages
    def _error(self, error: BaseException | dict[str, Any], title: str) -> None:
        self.services.notifications.post_error(error, title=title)

    def shutdown(self) -> None:
        """Before the app exits: stop polling, streaming and listening."""
        if self._shut_down or not shiboken6.isValid(self):
            return
        self._shut_down = True
        self._poll.stop()
        self._bank_poll.stop()
        self.views.shutdown()
        self.bank.shutdown()
        jobs = self.services.jobs
        disconnect_all(
            (
                (jobs.status, self._on_status),
                (jobs.progress, self._on_progress),
                (jobs.error, self._on_job_error),
            )
        )


if __name__ == "__main__":
    from gui.pages._standalone import run_page

    raise SystemExit(run_page(AugmentPage, "Augment", sys.argv[1:]))
