"""The Attribution workspace: design a modified dataset whose ground truth is known, train models on it as a
job, and score attribution methods against the manipulation's region (Zhou, Booth, Ribeiro, Shah, AAAI 2022):
Designer | Experiments | Leaderboard | Gallery | Explore."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import shiboken6
from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.attribution.gallery import load_galleries
from engine.attribution.repository import AttributionRepository
from engine.attribution.scores import METRICS, rank_agreement
from engine.core.errors import LanternError
from engine.store.jobs import FINAL_JOB_STATES
from gui.services import AppServices
from gui.signals import disconnect_all
from gui.widgets.attribution_designer import DesignerPanel
from gui.widgets.attribution_experiments import ExperimentsPanel, config_summary
from gui.widgets.attribution_explore import ExplorePanel
from gui.widgets.attribution_gallery import GalleryView
from gui.widgets.attribution_leaderboard import LeaderboardView, RankAgreementView, ScatterView, SweepView
from gui.widgets.figure_export import notify_exports
from gui.widgets.job_progress import poll_while, progress_text
from gui.widgets.page_header import remembered_tab, tabbed_page

TAB_KEY = "attribution/tab"
METRIC_KEY = "attribution/metric"
CONDITION_KEY = "attribution/condition"
POLL_MS = 1500  # while an experiment runs, its replicates are read again this often
TABS = ("Designer", "Experiments", "Leaderboard", "Gallery", "Explore")
SWEEP_TAB_TITLES = {"r": "Score against r", "strength": "Score against strength"}
SUBTITLE = (
    "Score attribution methods against ground truth made by modifying the data (Zhou et al., AAAI 2022)."
)


class FitScrollArea(QScrollArea):
    """Holds a tab's content at the viewport's size, never below the content's minimum: the tab fits when
    there is room and scrolls when the window is narrow, rather than widening the page (and squeezing the
    docks). QScrollArea's own resizing would use the preferred height of word-wrapped labels instead."""

    def __init__(self, widget: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidget(widget)
        self.setWidgetResizable(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.viewport().setAutoFillBackground(False)
        widget.setAutoFillBackground(False)
        widget.installEventFilter(self)
        self.viewport().installEventFilter(self)

    def fit(self) -> None:
        widget = self.widget()
        minimum = widget.minimumSizeHint().expandedTo(widget.minimumSize())
        room = self.viewport().size()
        widget.resize(max(room.width(), minimum.width()), max(room.height(), minimum.height()))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (watched is self.viewport() and event.type() == QEvent.Type.Resize) or (
            watched is self.widget() and event.type() == QEvent.Type.LayoutRequest
        ):
            self.fit()
        return super().eventFilter(watched, event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit()


def _card() -> QFrame:
    frame = QFrame()
    frame.setProperty("role", "card")
    return frame


class AttributionPage(QWidget):
    """The five tabs, one experiment chosen for the Leaderboard and Gallery tabs, jobs followed live."""

    def __init__(self, services: AppServices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page-attribution")
        self.services = services
        self.repository = AttributionRepository(services.store)
        self.run_id: int | None = None  # the chosen experiment
        self.records: list[Any] = []
        self._own_jobs: set[int] = set()  # jobs started here: selected once their experiment is stored
        self._select_job: int | None = None
        self._job_text: dict[int, str] = {}
        self._dialog: Any = None
        self._shut_down = False
        self._loaded_gallery: tuple[int, str, int | None] | None = None
        self._poll = QTimer(self, interval=POLL_MS)
        self._poll.timeout.connect(self.refresh)
        self._build()
        self._register_shortcuts()
        self._connect()
        settings = QSettings()
        for box, value in (
            (self.leaderboard.metric_box, settings.value(METRIC_KEY, "attr_pct")),
            (self.leaderboard.condition_box, settings.value(CONDITION_KEY, "all")),
        ):
            box.blockSignals(True)  # the last metric and condition looked at, without a reload per box
            box.setCurrentIndex(max(0, box.findData(value)))
            box.blockSignals(False)
        self.tabs.setCurrentIndex(remembered_tab(TAB_KEY, len(TABS)))
        self.refresh()

    # layout
    def _build(self) -> None:
        self.designer = DesignerPanel(self)
        self.experiments = ExperimentsPanel(self)
        self.leaderboard_tab = self._build_leaderboard()
        self.gallery_tab = self._build_gallery()
        self.explore = ExplorePanel(self.services.interactive, self)
        widgets = (
            FitScrollArea(self.designer),
            self.experiments,
            FitScrollArea(self.leaderboard_tab),
            FitScrollArea(self.gallery_tab),
            FitScrollArea(self.explore),
        )
        tips = (
            "Pick base data, a manipulation, its strength and r; preview original and modified samples",
            "Experiments in the store; each run's accuracy against the bar, live while it trains",
            "Methods × manipulations: mean ± sd over passing runs; Attr% against the region's share",
            "Heat maps of every method over the inputs, the region's contour drawn in",
            "Attribute a pretrained classifier's predictions on your own images (no ground truth)",
        )
        self.tabs = tabbed_page(
            self, "attribution", "Attribution", SUBTITLE, tuple(zip(widgets, TABS, tips, strict=True))
        )

    def _experiment_box(self) -> QComboBox:
        box = QComboBox(self)
        box.setMinimumWidth(260)
        box.setToolTip("The experiment shown")
        box.setPlaceholderText("no experiment yet")
        box.activated.connect(lambda index: self.select_experiment(box.itemData(index)))
        return box

    def _build_leaderboard(self) -> QWidget:
        tab = QWidget(self)
        self.leaderboard_experiment = self._experiment_box()
        self.leaderboard = LeaderboardView(tab)
        self.leaderboard.set_metric_choices([(name, metric.title) for name, metric in METRICS.items()])
        self.scatter = ScatterView(tab)
        self.agreement = RankAgreementView(tab)
        self.sweep = SweepView(tab)
        self.scores_export = QPushButton("Export all scores…", tab)
        self.scores_export.setToolTip(
            "Every metric and condition of the experiment as one CSV (mean, sd, runs, region share, bound)"
        )
        self.leaderboard_summary = QLabel(tab)
        self.leaderboard_summary.setProperty("role", "muted")
        self.leaderboard_summary.setWordWrap(True)
        self.leaderboard_card = _card()
        card_layout = QVBoxLayout(self.leaderboard_card)
        card_layout.setContentsMargins(14, 10, 14, 10)
        card_layout.addWidget(self.leaderboard)
        self.figure_tabs = QTabWidget(tab)
        self.figure_tabs.setDocumentMode(True)
        self.figure_tabs.addTab(self.scatter, "Score against the region's share")
        self.figure_tabs.addTab(self.agreement, "Do the metrics agree? (Kendall τ)")
        self.figure_tabs.setTabToolTip(
            0, "Each method on each manipulation: its score against the share of the input the region covers"
        )
        self.figure_tabs.setTabToolTip(1, "Kendall τ between the method rankings of every pair of metrics")
        # Shown only for an experiment with a sweep (over r or the strength), titled after what it sweeps.
        self.sweep_tab = self.figure_tabs.addTab(self.sweep, SWEEP_TAB_TITLES["r"])
        self.figure_tabs.setTabToolTip(
            self.sweep_tab, "Each method's score at every sweep point, as the paper's sweep plots"
        )
        self._show_sweep_tab(None)
        self.figures_card = _card()
        figures_layout = QVBoxLayout(self.figures_card)
        figures_layout.setContentsMargins(12, 6, 12, 8)
        figures_layout.addWidget(self.figure_tabs)
        splitter = QSplitter(Qt.Orientation.Vertical, tab)
        splitter.addWidget(self.leaderboard_card)
        splitter.addWidget(self.figures_card)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([470, 370])
        self.leaderboard_splitter = splitter

        bar = QHBoxLayout()
        bar.setSpacing(8)
        bar.addWidget(QLabel("Experiment", tab))
        bar.addWidget(self.leaderboard_experiment)
        bar.addWidget(self.leaderboard_summary, 1)
        bar.addWidget(self.scores_export)
        layout = QVBoxLayout(tab)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)
        return tab

    def _build_gallery(self) -> QWidget:
        tab = QWidget(self)
        self.gallery_experiment = self._experiment_box()
        self.gallery = GalleryView(tab)
        self.gallery_summary = QLabel(tab)
        self.gallery_summary.setProperty("role", "muted")
        self.gallery_message = QLabel(tab)
        self.gallery_message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.gallery_message.setWordWrap(True)
        self.gallery_message.setProperty("role", "muted")
        self.gallery_stack = QStackedWidget(tab)
        self.gallery_stack.addWidget(self.gallery)
        self.gallery_stack.addWidget(self.gallery_message)
        bar = QHBoxLayout()
        bar.setSpacing(8)
        # A second experiment's galleries join the list, so "Compare two" can put two models (or two
        # settings) side by side on the same samples (same base data and seed give the same test split).
        self.gallery_compare = QComboBox(tab)
        self.gallery_compare.setMinimumWidth(200)
        self.gallery_compare.setToolTip(
            "Add another experiment's galleries (e.g. the same data with another model) to compare with"
        )
        self.gallery_compare.activated.connect(lambda _index: self.load_gallery())
        bar.addWidget(QLabel("Experiment", tab))
        bar.addWidget(self.gallery_experiment)
        bar.addWidget(QLabel("with", tab))
        bar.addWidget(self.gallery_compare)
        bar.addWidget(self.gallery_summary, 1)
        layout = QVBoxLayout(tab)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(bar)
        layout.addWidget(self.gallery_stack, 1)
        return tab

    def _register_shortcuts(self) -> None:
        shortcuts = self.services.shortcuts
        scope = Qt.ShortcutContext.WidgetWithChildrenShortcut

        def add(action_id: str, text: str, key: str, callback: Callable[[], object]) -> None:
            self.actions_by_id[action_id] = shortcuts.register(action_id, text, key, callback, self, scope)

        self.actions_by_id: dict[str, Any] = {}
        add(
            "attribution.start_experiment",
            "Start an attribution experiment…",
            "Ctrl+Return",
            self.open_dialog,
        )
        add("attribution.refresh", "Read the experiments again", "F5", self.refresh)
        for index, name in enumerate(TABS, start=1):
            add(
                f"attribution.tab_{name.lower()}",
                f"Show the {name} tab",
                f"Alt+{index}",
                lambda _checked=False, index=index: self.tabs.setCurrentIndex(index - 1),
            )
        key = (
            self.actions_by_id["attribution.start_experiment"]
            .shortcut()
            .toString(self.actions_by_id["attribution.start_experiment"].shortcut().SequenceFormat.NativeText)
        )
        self.designer.start_button.setText(f"Start experiment…  {key}" if key else "Start experiment…")

    def _connect(self) -> None:
        self.designer.start_requested.connect(self.open_dialog)
        self.experiments.selected.connect(self._experiment_selected)
        self.experiments.new_requested.connect(self._new_experiment)
        self.experiments.cancel_requested.connect(self.cancel_experiment)
        self.leaderboard.queryChanged.connect(self._query_changed)
        self.leaderboard.cellActivated.connect(self.show_in_gallery)
        self.scatter.pointActivated.connect(self.show_in_gallery)
        self.sweep.pointActivated.connect(self.show_in_gallery)
        self.scores_export.clicked.connect(self.ask_export_scores)
        self.tabs.currentChanged.connect(self._tab_changed)
        notify_exports(
            (
                self.leaderboard.export_button,
                self.scatter.export_button,
                self.sweep.export_button,
                self.gallery.export_button,
            ),
            self.services.notifications,
        )
        self.explore.failed.connect(lambda exc: self._error(exc, "Explore failed"))
        jobs = self.services.jobs
        jobs.status.connect(self._on_status)
        jobs.progress.connect(self._on_progress)
        jobs.error.connect(self._on_job_error)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()

    # the experiments
    def refresh(self) -> None:
        """Read the experiments (and the chosen one's replicates) again; poll while one is running."""
        if self._shut_down or not shiboken6.isValid(self):
            return
        try:
            self.records = self.repository.experiments()
        except LanternError as exc:
            self._error(exc, "Experiments could not be read")
            self._poll.stop()
            return
        self.experiments.set_experiments(self.records)
        for box in (self.leaderboard_experiment, self.gallery_experiment):
            box.blockSignals(True)
            box.clear()
            for record in self.records:
                box.addItem(f"#{record.run_id} {record.name}", record.run_id)
                box.setItemData(
                    box.count() - 1, config_summary(record.config or {}), Qt.ItemDataRole.ToolTipRole
                )
            box.blockSignals(False)
        if self._select_job is not None:
            started = next((r for r in self.records if r.job_id == self._select_job), None)
            if started is not None:
                self._select_job = None
                self.select_experiment(started.run_id)
        if self.run_id is None and self.records:
            self.select_experiment(self.records[0].run_id)
        elif self.run_id is not None:
            self._sync_boxes()
            self._show_replicates()
        running = any(r.status in ("running", "queued") for r in self.records) or self._active_own_jobs()
        poll_while(self._poll, running)

    def _active_own_jobs(self) -> bool:
        return bool(self._own_jobs)

    def select_experiment(self, run_id: int | None) -> None:
        """Show an experiment on every tab (replicates, leaderboard, gallery)."""
        if run_id is None:
            return
        run_id = int(run_id)
        changed = run_id != self.run_id
        self.run_id = run_id
        self.experiments.select(run_id)
        self._sync_boxes()
        self._show_replicates()
        if changed:
            self.load_leaderboard()
            self.load_gallery()

    def _sync_boxes(self) -> None:
        for box in (self.leaderboard_experiment, self.gallery_experiment):
            index = box.findData(self.run_id)
            if index >= 0 and box.currentIndex() != index:
                box.blockSignals(True)
                box.setCurrentIndex(index)
                box.blockSignals(False)
        self._fill_compare_box()

    def _fill_compare_box(self) -> None:
        """Experiments of the same modality with a gallery, other than the one shown."""
        box = self.gallery_compare
        chosen = box.currentData()
        current = self.record()
        modality = (current.config or {}).get("modality", "image") if current is not None else None
        box.blockSignals(True)
        box.clear()
        box.addItem("no second experiment", None)
        for record in self.records:
            same_kind = (record.config or {}).get("modality", "image") == modality
            if record.run_id != self.run_id and record.gallery_path is not None and same_kind:
                box.addItem(f"#{record.run_id} {record.name}", record.run_id)
        box.setCurrentIndex(max(0, box.findData(chosen)))
        box.blockSignals(False)

    def _experiment_selected(self, run_id: int | None) -> None:
        if run_id is not None:
            self.select_experiment(run_id)

    def record(self) -> Any:
        return next((r for r in self.records if r.run_id == self.run_id), None)

    def _show_replicates(self) -> None:
        record = self.record()
        if record is None:
            self.experiments.show_replicates(None, [])
            return
        try:
            replicates = self.repository.replicates(record.run_id)
        except LanternError as exc:
            self._error(exc, "Replicates could not be read")
            return
        running = record.status in ("running", "queued")
        self.experiments.show_replicates(record, replicates, running=running)
        job_text = self._job_text.get(record.job_id) if record.job_id is not None else None
        if running:
            self.experiments.set_job_text(job_text or "running…")
        else:
            self.experiments.set_job_text(
                f"{record.status}" + (f" · {record.replicates} replicates" if record.replicates else "")
            )
        if running and self.current_tab() == "Leaderboard":
            self.load_leaderboard()

    def _new_experiment(self) -> None:
        self.show_tab("Designer")
        self.open_dialog()

    # starting and following jobs
    def open_dialog(self) -> Any:
        """The Start experiment dialog, prefilled from the design; accepting it submits the job."""
        from gui.dialogs.attribution_experiment import ExperimentDialog

        if self._dialog is not None and shiboken6.isValid(self._dialog) and self._dialog.isVisible():
            self._dialog.raise_()
            return self._dialog
        dialog = ExperimentDialog(self.designer.design(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.start_experiment(dialog.spec()))
        self._dialog = dialog
        dialog.open()
        return dialog

    def start_experiment(self, spec: dict[str, Any]) -> int | None:
        """Submit the job and show it on the Experiments tab; None when it could not start."""
        try:
            handle = self.services.jobs.submit(spec, follow=False)
        except LanternError as exc:
            self._error(exc, "Experiment not started")
            return None
        self._own_jobs.add(handle.job_id)
        self._select_job = handle.job_id
        self._job_text[handle.job_id] = "starting…"
        self.show_tab("Experiments")
        self.experiments.set_job_text("starting…")
        self.refresh()
        self._poll.start()
        return handle.job_id

    def cancel_experiment(self, run_id: int) -> None:
        record = next((r for r in self.records if r.run_id == run_id), None)
        if record is not None and record.job_id is not None:
            self.services.jobs.cancel(record.job_id)
            self.experiments.set_job_text("stopping…")

    def _on_progress(self, job_id: int, done: float, total: float, message: str) -> None:
        known = job_id in self._own_jobs or any(r.job_id == job_id for r in self.records)
        if not known:
            return
        self._job_text[job_id] = progress_text(done, total, message)
        record = self.record()
        if record is not None and record.job_id == job_id:
            self.experiments.set_job_text(self._job_text[job_id])

    def _on_status(self, job_id: int, status: str, _message: str) -> None:
        if status in FINAL_JOB_STATES:
            self._own_jobs.discard(job_id)
            self._job_text.pop(job_id, None)
        if (
            job_id in self._own_jobs
            or any(r.job_id == job_id for r in self.records)
            or status in FINAL_JOB_STATES
        ):
            QTimer.singleShot(0, self, self.refresh)

    def _on_job_error(self, job_id: int, error: dict[str, Any]) -> None:
        if job_id in self._own_jobs or any(r.job_id == job_id for r in self.records):
            self.services.notifications.post_error(error, title="The attribution experiment failed")

    # leaderboard and gallery
    def current_metric(self) -> str:
        return str(self.leaderboard.metric_box.currentData() or "attr_pct")

    def current_condition(self) -> str:
        return str(self.leaderboard.condition_box.currentData() or "all")

    def _query_changed(self, metric: str, condition: str) -> None:
        QSettings().setValue(METRIC_KEY, metric)
        QSettings().setValue(CONDITION_KEY, condition)
        self.load_leaderboard(metric, condition)

    def load_leaderboard(self, metric: str | None = None, condition: str | None = None) -> None:
        """The chosen experiment's leaderboard for a metric and condition, its scatter and rank agreement."""
        metric = metric or self.current_metric()
        condition = condition or self.current_condition()
        if metric not in METRICS:
            metric = "attr_pct"
        title = METRICS[metric].title
        if self.run_id is None:
            self.leaderboard.set_rows([], metric_title=title, condition=condition)
            self.scatter.set_rows([], metric_title=title, condition=condition)
            self.sweep.set_rows([], over="r", metric_title=title, condition=condition)
            self._show_sweep_tab(None)
            self.agreement.set_matrix([], np.zeros((0, 0)))
            return
        try:
            by_metric = {name: self.repository.leaderboard(self.run_id, name, condition) for name in METRICS}
        except LanternError as exc:
            self._error(exc, "The leaderboard could not be read")
            return
        rows = by_metric[metric]
        options = {
            "baseline": 0.5 if metric == "auroc" else None,
            "show_bound": metric == "attr_pct",
        }
        self.leaderboard.set_rows(rows, metric_title=title, condition=condition, **options)
        self.scatter.set_rows(rows, metric_title=title, condition=condition, show_bound=metric == "attr_pct")
        over = self.sweep_over()
        self._show_sweep_tab(over)
        if over is not None:
            self.sweep.set_rows(rows, over=over, metric_title=title, condition=condition)
        # Rank agreement over every (manipulation, method) cell the metrics share.
        table = {
            name: {f"{row.manipulation}/{row.method}/{row.r:g}/{row.strength:g}": row.mean for row in scored}
            for name, scored in by_metric.items()
            if scored
        }
        metrics, tau = rank_agreement(table) if table else ([], np.zeros((0, 0)))
        self.agreement.set_matrix(metrics, tau, titles={n: m.title for n, m in METRICS.items()})
        record = self.record()
        if record is not None:
            self.leaderboard_summary.setText(
                f"{config_summary(record.config or {})} · {record.passed} of {record.replicates} runs passed"
            )

    def sweep_over(self) -> str | None:
        """What the chosen experiment sweeps ("r" or "strength"), None without a sweep."""
        record = self.record()
        sweep = (record.config or {}).get("sweep") if record is not None else None
        over = next(iter(sweep), None) if isinstance(sweep, dict) else None
        return over if over in SWEEP_TAB_TITLES else None

    def _show_sweep_tab(self, over: str | None) -> None:
        shown = over is not None
        if not shown and self.figure_tabs.currentIndex() == self.sweep_tab:
            self.figure_tabs.setCurrentIndex(0)
        self.figure_tabs.setTabText(self.sweep_tab, SWEEP_TAB_TITLES[over or "r"])
        self.figure_tabs.setTabVisible(self.sweep_tab, shown)
        self.figure_tabs.setTabEnabled(self.sweep_tab, shown)

    def load_gallery(self) -> None:
        record = self.record()
        if record is None:
            self.gallery_message.setText("Select an experiment to see its heat maps.")
            self.gallery_stack.setCurrentWidget(self.gallery_message)
            return
        if record.gallery_path is None:
            self.gallery_message.setText(
                "This experiment has no gallery yet: it is written once its runs are explained."
                if record.status in ("running", "queued")
                else "This experiment kept no gallery (its runs did not pass, or Gallery samples was 0)."
            )
            self.gallery_stack.setCurrentWidget(self.gallery_message)
            return
        other = next((r for r in self.records if r.run_id == self.gallery_compare.currentData()), None)
        key = (record.run_id, str(record.gallery_path), other.run_id if other is not None else None)
        if key == self._loaded_gallery:
            return
        try:
            galleries = load_galleries(record.gallery_path)
            if other is not None and other.gallery_path is not None:
                # Each side names its experiment, so the gallery selectors tell the two apart.
                second = load_galleries(other.gallery_path)
                galleries = [replace(g, model=f"{g.model} · #{record.run_id}") for g in galleries] + [
                    replace(g, model=f"{g.model} · #{other.run_id}") for g in second
                ]
        except LanternError as exc:
            self._error(exc, "The gallery could not be read")
            self.gallery_message.setText(f"The gallery could not be read: {exc.what}")
            self.gallery_stack.setCurrentWidget(self.gallery_message)
            return
        try:
            self.gallery.set_galleries(galleries)
        except LanternError as exc:  # a gallery whose arrays disagree: keep what was shown
            self._error(exc, "The gallery could not be shown")
            self.gallery_message.setText(f"The gallery could not be shown: {exc.what}")
            self.gallery_stack.setCurrentWidget(self.gallery_message)
            return
        self._loaded_gallery = key
        methods = sorted({m for g in galleries for m in g.maps})
        self.gallery_summary.setText(
            f"{len(galleries)} replicate galleries · {len(methods)} methods · click a map to enlarge it"
        )
        self.gallery_stack.setCurrentWidget(self.gallery)

    def export_scores(self, path: Path | str) -> int:
        """Every metric and condition of the chosen experiment's leaderboard as CSV; returns the rows."""
        if self.run_id is None:
            raise LanternError("no experiment selected", "leaderboard export", "select an experiment first")
        return self.repository.export_csv(self.run_id, path)

    def ask_export_scores(self) -> None:
        record = self.record()
        name = f"attribution-{record.run_id}-scores.csv" if record is not None else "attribution-scores.csv"
        chosen, _ = QFileDialog.getSaveFileName(self, "Export all scores", name, "CSV table (*.csv)")
        if not chosen:
            return
        path = chosen if chosen.lower().endswith(".csv") else chosen + ".csv"
        try:
            rows = self.export_scores(path)
        except LanternError as exc:
            self._error(exc, "Export failed")
            return
        self.services.notifications.post("info", "Exported CSV", f"{rows} rows written to {path}", where=path)

    def _tab_changed(self, index: int) -> None:
        QSettings().setValue(TAB_KEY, index)
        if self.current_tab() == "Leaderboard":
            self.load_leaderboard()
        elif self.current_tab() == "Gallery":
            self.load_gallery()

    def show_in_gallery(self, method: str, manipulation: str) -> None:
        """Open the Gallery on a leaderboard cell's manipulation, with the method's column highlighted."""
        self.show_tab("Gallery")
        self.load_gallery()
        if manipulation:
            self.gallery.focus(manipulation, method)

    def show_tab(self, name: str) -> None:
        """Show a tab by its title: Designer, Experiments, Leaderboard, Gallery or Explore."""
        self.tabs.setCurrentIndex(TABS.index(name))

    def current_tab(self) -> str:
        return TABS[self.tabs.currentIndex()]

    def _error(self, error: BaseException | dict[str, Any], title: str) -> None:
        self.services.notifications.post_error(error, title=title)

    def shutdown(self) -> None:
        """Before the app exits: stop polling and listening; let a preview being computed finish."""
        if self._shut_down or not shiboken6.isValid(self):
            return
        self._shut_down = True
        self._poll.stop()
        jobs = self.services.jobs
        disconnect_all(
            (
                (jobs.status, self._on_status),
                (jobs.progress, self._on_progress),
                (jobs.error, self._on_job_error),
            )
        )
        self.designer.shutdown()
        self.explore.shutdown()


if __name__ == "__main__":
    from gui.pages._standalone import run_page

    raise SystemExit(run_page(AttributionPage, "Attribution", sys.argv[1:]))
