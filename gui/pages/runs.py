"""The Runs page: every run in the store, their curves overlaid (live while they train), details, exports."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import ArtifactMissing, LanternError
from engine.jobs.events import Event
from engine.store.jobs import FINAL_JOB_STATES
from engine.store.records import ArtifactRecord, RunRecord
from gui.dialogs.train_classifier import TrainClassifierDialog
from gui.services import AppServices
from gui.style import ACCENT, MUTED, STATUS_COLORS
from gui.widgets.metric_plot import MetricPlot
from gui.widgets.page_header import page_header
from gui.widgets.prediction_panel import PredictionPanel
from gui.widgets.run_table import RUN_ID_ROLE, RunTable, format_duration, local_time, run_duration

FILTER_DEBOUNCE_MS = 250
REFRESH_DEBOUNCE_MS = 300  # bursts of job events (a run starting, several jobs ending) cost one query
OK_COLOUR = STATUS_COLORS["done"]
MISSING_COLOUR = STATUS_COLORS["failed"]


def run_label(run: RunRecord) -> str:
    """How a run is named in plots, legends and CSV exports: unique (its id) and readable (its name)."""
    return f"#{run.id} {run.name}"


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(_format_value(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)


class RunDetails(QFrame):
    """The selected run: overview, summary, configuration, and its artifacts with file checks."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "card")
        self.run: RunRecord | None = None
        self._duration_item: QTreeWidgetItem | None = None
        self.artifact_states: dict[int, bool] = {}  # artifact id -> file present
        self.title = QLabel("No run selected", self)
        self.title.setObjectName("runDetailsTitle")
        self.title.setStyleSheet("font-weight: 600; font-size: 11pt;")
        self.title.setWordWrap(True)
        self.status = QLabel(self)
        self.status.setVisible(False)

        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(2)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(10)
        self.tree.setAlternatingRowColors(False)
        self.tree.setFrameShape(QFrame.Shape.NoFrame)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(True)

        self.artifacts = QTableWidget(0, 3, self)
        self.artifacts.setHorizontalHeaderLabels(["Name", "Size", "File"])
        self.artifacts.setWordWrap(False)
        self.artifacts.setTextElideMode(Qt.TextElideMode.ElideLeft)  # "…epoch3.safetensors": ends differ
        self.artifacts.verticalHeader().setVisible(False)
        self.artifacts.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.artifacts.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.artifacts.setShowGrid(False)
        self.artifacts.setFrameShape(QFrame.Shape.NoFrame)
        header = self.artifacts.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.tree, "Details")
        self.tabs.addTab(self.artifacts, "Artifacts")

        heading = QHBoxLayout()
        heading.addWidget(self.title, 1)
        heading.addWidget(self.status, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 8)
        layout.addLayout(heading)
        layout.addWidget(self.tabs, 1)
        self.show_run(None, [], {})

    def show_run(
        self,
        run: RunRecord | None,
        artifacts: list[ArtifactRecord],
        present: dict[int, bool],
        selected: int = 0,
    ) -> None:
        self.run = run
        self.artifact_states = dict(present)
        self._duration_item = None
        self.tree.clear()
        self.artifacts.setRowCount(0)
        if run is None:
            self.title.setText("No run selected" if selected == 0 else f"{selected} runs selected")
            self.status.setVisible(False)
            self.tabs.setTabText(1, "Artifacts")
            self.tabs.setEnabled(False)
            return
        self.tabs.setEnabled(True)
        self.title.setText(run_label(run))
        colour = STATUS_COLORS.get(run.status, MUTED)
        self.status.setText(run.status)
        self.status.setStyleSheet(
            f"color: white; background: {colour}; border-radius: 9px; padding: 1px 9px; font-weight: 600;"
        )
        self.status.setVisible(True)

        started = local_time(run.started_at or run.created_at)
        finished = local_time(run.finished_at)
        overview = [
            ("kind", run.kind),
            ("device", f"{run.device} ({run.device_name})" if run.device_name else run.device),
            ("dtype", run.dtype),
            ("seed", "" if run.seed is None else str(run.seed)),
            ("job", f"#{run.job_id}" if run.job_id else "none"),
            ("started", started.strftime("%Y-%m-%d %H:%M:%S") if started else ""),
            ("finished", finished.strftime("%Y-%m-%d %H:%M:%S") if finished else ""),
            ("duration", format_duration(run_duration(run))),
        ]
        self._duration_item = self._section("Overview", overview).child(len(overview) - 1)
        self._section(
            "Summary", [(k, _format_value(v)) for k, v in sorted(run.summary.items())], "no summary yet"
        )
        self._section("Configuration", [(k, _format_value(v)) for k, v in sorted(run.config.items())])

        missing = 0
        for artifact in artifacts:
            row = self.artifacts.rowCount()
            self.artifacts.insertRow(row)
            ok = present.get(artifact.id, False)
            missing += not ok
            cells = [artifact.name, format_size(artifact.size), "ok" if ok else "missing"]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if column == 2:
                    item.setForeground(QColor(OK_COLOUR if ok else MISSING_COLOUR))
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                item.setToolTip(
                    f"{artifact.name}\n{artifact.kind} · {artifact.size:,} bytes"
                    f" · sha256 {artifact.sha256[:16]}…"
                )
                self.artifacts.setItem(row, column, item)
        label = f"Artifacts ({len(artifacts)})"
        if missing:
            label = f"Artifacts ({missing} missing)"
        self.tabs.setTabText(1, label)

    def tick(self) -> None:
        """Move a running run's elapsed time on (the rest of the record changes only on refresh)."""
        if self.run is not None and self.run.status == "running" and self._duration_item is not None:
            self._duration_item.setText(1, format_duration(run_duration(self.run)))

    def _section(self, title: str, rows: list[tuple[str, str]], empty: str = "") -> QTreeWidgetItem:
        section = QTreeWidgetItem(self.tree, [title])
        font = section.font(0)
        font.setBold(True)
        section.setFont(0, font)
        section.setFirstColumnSpanned(True)
        if not rows and empty:
            item = QTreeWidgetItem(section, [empty])
            item.setForeground(0, QColor(MUTED))
            item.setFirstColumnSpanned(True)
        for key, value in rows:
            item = QTreeWidgetItem(section, [key, value])
            item.setForeground(0, QColor(MUTED))
            item.setToolTip(1, value)
        section.setExpanded(True)
        return section

    def details_text(self) -> str:
        """Everything the details tree shows, one `key: value` a line (for copying and tests)."""
        lines = []
        for i in range(self.tree.topLevelItemCount()):
            section = self.tree.topLevelItem(i)
            lines.append(section.text(0))
            lines.extend(
                f"  {section.child(j).text(0)}: {section.child(j).text(1)}"
                for j in range(section.childCount())
            )
        return "\n".join(lines)


class RunsPage(QWidget):
    """Lists runs (filterable), overlays the selected runs' curves, and starts new training runs."""

    run_started = Signal(int)  # job id of a run this page started

    def __init__(self, services: AppServices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.store = services.store
        self._own_jobs: set[int] = set()  # jobs started here: their run is selected when it first reports
        self._auto_select: set[int] = set()  # runs to select once the table lists them
        self._shown: dict[int, str] = {}  # run id -> plot label of the runs on the plot
        self._warned_missing: set[int] = set()  # artifacts already reported missing this session
        self.train_dialog: TrainClassifierDialog | None = None
        self._shut_down = False
        self.setObjectName("page-runs")

        self._build()
        self._connect()
        self.refresh()

    # layout
    def _build(self) -> None:
        header, _ = page_header(
            self, "runs", "Runs", "Every training run in the store: compare curves, inspect checkpoints."
        )
        self.count_label = QLabel(self)
        self.count_label.setProperty("role", "muted")
        header.addWidget(self.count_label, 0, Qt.AlignmentFlag.AlignBottom)

        shortcuts = self.services.shortcuts
        scope = Qt.ShortcutContext.WidgetWithChildrenShortcut
        self.toolbar = QToolBar("Runs", self)
        self.toolbar.setIconSize(QSize(16, 16))
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.new_action = shortcuts.register(
            "runs.new_training", "New training run…", "Ctrl+N", self.open_train_dialog, self, scope
        )
        self.new_action.setToolTip("Train the demo classifier with settings you choose")
        self.toolbar.addAction(self.new_action)
        self.stop_action = self.toolbar.addAction("Stop", self.stop_selected)
        self.stop_action.setToolTip("Cancel the jobs of the selected running runs")
        self.stop_action.setEnabled(False)
        self.toolbar.addSeparator()
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter by name, kind or status")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMinimumWidth(260)
        self.filter_edit.setMaximumWidth(420)
        self.toolbar.addWidget(self.filter_edit)
        self.filter_action = shortcuts.register(
            "runs.filter", "Filter runs", "Ctrl+F", self.focus_filter, self, scope
        )
        self.filter_edit.setToolTip(f"Filter runs ({self.filter_action.shortcut().toString()})")
        spacer = QWidget(self)
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.toolbar.addWidget(spacer)
        self.refresh_action = shortcuts.register("runs.refresh", "Refresh", "F5", self.refresh, self, scope)
        self.refresh_action.setToolTip("Read the runs again from the store")
        self.toolbar.addAction(self.refresh_action)
        self.export_png_action = self.toolbar.addAction("Export PNG…", self.ask_export_png)
        self.export_png_action.setToolTip("Save the plots of the selected runs as an image")
        self.export_csv_action = self.toolbar.addAction("Export CSV…", self.ask_export_csv)
        self.export_csv_action.setToolTip(
            "Save every metric point of the selected runs as run,metric,step,value"
        )
        primary = self.toolbar.widgetForAction(self.new_action)
        primary.setObjectName("primaryAction")
        self.toolbar.setStyleSheet(
            "QToolBar { border: none; spacing: 6px; background: transparent; }"
            "QToolButton { padding: 4px 10px; border: 1px solid #d5d9e0; border-radius: 5px;"
            " background: #ffffff; }"
            "QToolButton:hover { background: #f2f4f7; }"
            "QToolButton:disabled { color: #a3a9b3; background: #f7f8fa; }"
            f"QToolButton#primaryAction {{ background: {ACCENT}; color: white; border-color: #d07f08;"
            " font-weight: 600; }"
            "QToolButton#primaryAction:hover { background: #d07f08; }"
        )

        self.table = RunTable(self)
        self.empty_state = QWidget(self)
        self.empty_label = QLabel(self.empty_state)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setProperty("role", "muted")
        self.empty_label.setWordWrap(True)
        self.empty_button = QPushButton("New training run…", self.empty_state)
        self.empty_button.clicked.connect(self.open_train_dialog)
        empty_layout = QVBoxLayout(self.empty_state)
        empty_layout.addStretch(1)
        empty_layout.addWidget(self.empty_label)
        empty_layout.addWidget(self.empty_button, 0, Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addStretch(1)
        self.table_stack = QStackedWidget(self)
        self.table_stack.addWidget(self.table)
        self.table_stack.addWidget(self.empty_state)

        self.details = RunDetails(self)
        self.try_panel = PredictionPanel(self.services.interactive)
        try_scroll = QScrollArea()
        try_scroll.setWidget(self.try_panel)
        try_scroll.setWidgetResizable(True)
        try_scroll.setFrameShape(QFrame.Shape.NoFrame)
        # The tab's content must not widen the page (and squeeze the docks): it scrolls instead.
        try_scroll.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._try_tab = self.details.tabs.addTab(try_scroll, "Try it")
        self.details.tabs.setTabToolTip(self._try_tab, "Classify demo test images with this run's checkpoint")
        self.details.tabs.currentChanged.connect(lambda _index: self._update_try_panel())
        self.plot = MetricPlot(self)
        plot_card = QFrame(self)
        plot_card.setProperty("role", "card")
        plot_layout = QVBoxLayout(plot_card)
        plot_layout.setContentsMargins(10, 8, 10, 8)
        plot_layout.addWidget(self.plot)

        self.lower = QSplitter(Qt.Orientation.Horizontal, self)
        self.lower.addWidget(self.details)
        self.lower.addWidget(plot_card)
        self.lower.setStretchFactor(0, 0)
        self.lower.setStretchFactor(1, 1)
        self.lower.setSizes([300, 700])
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(self.table_stack)
        self.splitter.addWidget(self.lower)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([210, 590])
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(header)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.splitter, 1)

        self._filter_timer = QTimer(self, singleShot=True, interval=FILTER_DEBOUNCE_MS)
        self._refresh_timer = QTimer(self, singleShot=True, interval=REFRESH_DEBOUNCE_MS)

    def _connect(self) -> None:
        self.filter_edit.textChanged.connect(lambda _text: self._filter_timer.start())
        self._filter_timer.timeout.connect(self.refresh)
        self._refresh_timer.timeout.connect(self.refresh)
        self.table.selection_changed.connect(self._on_selection)
        jobs = self.services.jobs
        jobs.metric.connect(self._on_metric)
        jobs.status.connect(self._on_status)
        jobs.event.connect(self._on_event)
        self.table.clock.timeout.connect(self.details.tick)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.focusWidget() is None:
            # Focus starts on the runs, not in the filter (Ctrl+F is one key away).
            self.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def shutdown(self) -> None:
        """Before the app exits: stop listening to jobs and stop the timers (the jobs themselves go on)."""
        if self._shut_down or not shiboken6.isValid(self):
            return
        self._shut_down = True
        jobs = self.services.jobs
        for signal, slot in (
            (jobs.metric, self._on_metric),
            (jobs.status, self._on_status),
            (jobs.event, self._on_event),
        ):
            with contextlib.suppress(RuntimeError, TypeError):  # already disconnected
                signal.disconnect(slot)
        self._filter_timer.stop()
        self._refresh_timer.stop()

    # actions
    def focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    def open_train_dialog(self) -> TrainClassifierDialog:
        """Open the dialog (window-modal, not blocking); accepting it submits the run."""
        if self.train_dialog is not None and self.train_dialog.isVisible():
            self.train_dialog.raise_()
            return self.train_dialog
        dialog = TrainClassifierDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.submit(dialog.spec()))
        dialog.destroyed.connect(lambda *_: setattr(self, "train_dialog", None))
        self.train_dialog = dialog
        dialog.open()
        return dialog

    def follow_job(self, job_id: int) -> None:
        """Select the job's run and draw its curves live as soon as it reports its first metric."""
        self._own_jobs.add(job_id)

    def submit(self, spec: dict[str, Any]) -> int | None:
        """Start a job; its run is selected when it reports its first metric. None if it did not start."""
        try:
            handle = self.services.jobs.submit(spec)
        except LanternError as exc:
            self.services.notifications.post_error(exc, "Training run not started")
            return None
        self._own_jobs.add(handle.job_id)
        self.run_started.emit(handle.job_id)
        return handle.job_id

    def stop_selected(self) -> list[int]:
        """Cancel the jobs of the selected running runs; returns the job ids asked to stop."""
        stopped = []
        for run_id in self.table.selected_run_ids():
            run = self.table.runs_model.run(run_id)
            if run is not None and run.status == "running" and run.job_id is not None:
                self.services.jobs.cancel(run.job_id)
                stopped.append(run.job_id)
        return stopped

    def refresh(self) -> None:
        """Read the runs again (keeping the selection); the plot keeps its live curves."""
        self._refresh_timer.stop()
        text = self.filter_edit.text().strip()
        try:
            runs = self.store.runs.list(text)
        except LanternError as exc:
            self.services.notifications.post_error(exc, "Runs could not be read")
            return
        self.table.set_runs(runs)
        if self._auto_select:
            listed = [
                run_id for run_id in self._auto_select if self.table.runs_model.row_of(run_id) is not None
            ]
            self._auto_select.difference_update(listed)
            if listed:
                self.table.select_runs(listed, add=True)
        self._update_counts(runs, text)
        self._update_actions()
        self._show_details()

    def export_png(self, path: str | Path) -> Path:
        return self.plot.export_png(path)

    def export_csv(self, path: str | Path) -> int:
        return self.plot.export_csv(path)

    def ask_export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export plots as PNG", "runs.png", "PNG image (*.png)")
        if path:
            self._export(self.export_png, path if path.lower().endswith(".png") else path + ".png", "PNG")

    def ask_export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export metrics as CSV", "metrics.csv", "CSV file (*.csv)"
        )
        if path:
            self._export(self.export_csv, path if path.lower().endswith(".csv") else path + ".csv", "CSV")

    def _export(self, exporter: Any, path: str, what: str) -> None:
        try:
            result = exporter(path)
        except LanternError as exc:
            self.services.notifications.post_error(exc, f"{what} export failed")
            return
        detail = f"{result} rows" if isinstance(result, int) else "image"
        self.services.notifications.post(
            "info", f"Exported {what}", f"{detail} written to {path}", where=path
        )

    # selection -> plot and details
    def selected_run_ids(self) -> list[int]:
        return self.table.selected_run_ids()

    def _on_selection(self, run_ids: list[int]) -> None:
        wanted = set(run_ids)
        for run_id in [r for r in self._shown if r not in wanted]:
            self.plot.remove_run(self._shown.pop(run_id))
        for run_id in run_ids:
            if run_id not in self._shown:
                self._load_curves(run_id)
        self._update_actions()
        self._show_details()

    def _update_actions(self) -> None:
        running = [
            run
            for run_id in self.table.selected_run_ids()
            if (run := self.table.runs_model.run(run_id)) is not None and run.status == "running"
        ]
        self.stop_action.setEnabled(bool(running))
        self.export_png_action.setEnabled(bool(self._shown))
        self.export_csv_action.setEnabled(bool(self._shown))

    def _load_curves(self, run_id: int) -> None:
        run = self.table.runs_model.run(run_id)
        if run is None:
            return
        label = run_label(run)
        self._shown[run_id] = label
        try:
            series = self.store.runs.metrics(run_id)
        except LanternError as exc:
            self.services.notifications.post_error(exc, f"Curves of run #{run_id} could not be read")
            return
        for name, points in series.items():
            self.plot.set_series(label, name, points.steps, points.values)

    def _show_details(self) -> None:
        selected = self.table.selected_run_ids()
        current = self.table.currentIndex()
        run_id = None
        if current.isValid():
            candidate = int(self.table.proxy.index(current.row(), 0).data(RUN_ID_ROLE))
            run_id = candidate if candidate in selected else None
        if run_id is None and len(selected) >= 1:
            run_id = selected[-1] if len(selected) == 1 else selected[0]
        run = self.table.runs_model.run(run_id) if run_id is not None else None
        if run is None:
            self.details.show_run(None, [], {}, selected=len(selected))
            return
        try:
            artifacts = self.store.artifacts.for_run(run.id)
        except LanternError as exc:
            self.services.notifications.post_error(exc, "Artifacts could not be read")
            artifacts = []
        present: dict[int, bool] = {}
        for artifact in artifacts:
            try:
                self.store.artifacts.path(artifact)
                present[artifact.id] = True
            except ArtifactMissing as exc:
                present[artifact.id] = False
                if artifact.id not in self._warned_missing:
                    self._warned_missing.add(artifact.id)
                    title = "Checkpoint missing" if artifact.kind == "checkpoint" else "Artifact missing"
                    self.services.notifications.post_error(exc, f"{title} (run #{run.id})")
        self.details.show_run(run, artifacts, present, selected=len(selected))
        self._update_try_panel()

    def _update_try_panel(self) -> None:
        """Point 'Try it' at the selected run's newest checkpoint, but only while the tab is open:
        the first request starts an engine process, which nobody should pay for by merely browsing."""
        if self.details.tabs.currentIndex() != self._try_tab:
            return
        run = self.details.run
        checkpoints = []
        if run is not None and run.kind == "demo.classifier":
            checkpoints = [
                artifact
                for artifact in self.store.artifacts.for_run(run.id, kind="checkpoint")
                if self.details.artifact_states.get(artifact.id, False)
            ]
        latest = checkpoints[-1] if checkpoints else None
        if latest is None:
            self.try_panel.set_checkpoint(None)
        elif latest.id != self.try_panel.artifact_id:
            self.try_panel.set_checkpoint(latest.id, latest.name)

    def _update_counts(self, runs: list[RunRecord], text: str) -> None:
        running = sum(1 for run in runs if run.status == "running")
        noun = "run" if len(runs) == 1 else "runs"
        summary = f"{len(runs)} {noun}" + (f" · {running} running" if running else "")
        self.count_label.setText(summary + (f" matching “{text}”" if text else ""))
        if runs:
            self.table_stack.setCurrentWidget(self.table)
        else:
            self.table_stack.setCurrentWidget(self.empty_state)
            key = self.new_action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            if text:
                self.empty_label.setText(f"No run matches “{text}”.")
                self.empty_button.setVisible(False)
            else:
                self.empty_label.setText(
                    "No runs yet. Train the demo classifier to see its curves here as it learns"
                    + (f" ({key})." if key else ".")
                )
                self.empty_button.setVisible(True)

    # live job events
    def _on_metric(self, job_id: int, run_id: object, name: str, step: float, value: float) -> None:
        if not isinstance(run_id, int):
            return
        label = self._shown.get(run_id)
        if label is not None:
            self.plot.append_point(label, name, step, value)
            return
        listed = self.table.runs_model.run(run_id) is not None
        if job_id in self._own_jobs:
            # The first point of a run this page started: list and select it now, so that the points
            # after this one are drawn as they come (this one and any before it are read from the store).
            self._own_jobs.discard(job_id)
            self._auto_select.add(run_id)
            if listed:
                self.table.select_runs([run_id], add=True)
                self._auto_select.discard(run_id)
            else:
                self.refresh()
            return
        if not listed and not self._refresh_timer.isActive():
            # A run we do not list yet (just started, here or elsewhere).
            self._refresh_timer.start()

    def _on_event(self, event: Event) -> None:
        # A running run's new checkpoint belongs in its details at once, not at the next refresh.
        shown = self.details.run
        if event.type == "artifact" and shown is not None and event.get("run") == shown.id:
            self._show_details()

    def _on_status(self, job_id: int, status: str, _message: str) -> None:
        if status in FINAL_JOB_STATES:
            self._own_jobs.discard(job_id)
            self._refresh_timer.start()


def main() -> int:
    from gui.pages._standalone import run_page

    return run_page(RunsPage, "Runs")


if __name__ == "__main__":
    raise SystemExit(main())
