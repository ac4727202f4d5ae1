"""The Experiments tab: every attribution experiment in the store, and the chosen one's replicates with their
validation accuracy against the bar, pass or fail, and the pass rate (live while its job runs)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.attribution.manipulations import IMAGE_MANIPULATIONS, TEXT_MANIPULATIONS
from engine.attribution.repository import unproven
from gui.style import MUTED, STATUS_COLORS
from gui.widgets.run_table import local_time

RUN_ROLE = Qt.ItemDataRole.UserRole + 1
PASS_COLOUR = "#2e9d5b"
FAIL_COLOUR = "#cf3a3a"
EXPERIMENT_COLUMNS = ("Experiment", "Status", "Pass rate", "Started")
REPLICATE_COLUMNS = (
    "Replicate",
    "Manipulation",
    "Strength",
    "r",
    "Model",
    "Val. accuracy",
    "Bar",
    "p*",
    "Passed",
    "Epochs",
)


def manipulation_title(name: str) -> str:
    info = IMAGE_MANIPULATIONS.get(name) or TEXT_MANIPULATIONS.get(name)
    return str(getattr(info, "title", name))


def threshold_of(config: dict[str, Any]) -> float | None:
    value = (config.get("train") or {}).get("min_accuracy")
    return float(value) if value is not None else None


def _item(text: str, value: Any = None, align: Qt.AlignmentFlag | None = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    if value is not None:
        item.setData(Qt.ItemDataRole.UserRole, value)
    if align is not None:
        item.setTextAlignment(align | Qt.AlignmentFlag.AlignVCenter)
    return item


def _table(columns: tuple[str, ...], parent: QWidget) -> QTableWidget:
    table = QTableWidget(0, len(columns), parent)
    table.setHorizontalHeaderLabels(list(columns))
    table.verticalHeader().hide()
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.horizontalHeader().setHighlightSections(False)
    table.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    table.verticalHeader().setDefaultSectionSize(26)
    return table


def pass_summary(replicates: list[Any]) -> tuple[int, int]:
    """(passed, trained) over the replicates that finished training."""
    trained = [r for r in replicates if r.val_accuracy is not None]
    return sum(1 for r in trained if r.passed), len(trained)


def config_summary(config: dict[str, Any]) -> str:
    """One line of what an experiment is: manipulations, model, r, bar, runs, methods."""
    parts = []
    names = [m.get("name", "") if isinstance(m, dict) else str(m) for m in config.get("manipulations") or []]
    if names:
        parts.append(", ".join(manipulation_title(n) for n in names))
    model = config.get("model") or {}
    if isinstance(model, dict) and model.get("name"):
        parts.append(str(model["name"]))
    if config.get("r") is not None:
        parts.append(f"r {float(config['r']):.2f}")
    sweep = config.get("sweep")
    if isinstance(sweep, dict):
        for key, values in sweep.items():
            parts.append(f"sweep {key} {', '.join(f'{float(v):g}' for v in values)}")
    threshold = threshold_of(config)
    if threshold is not None:
        parts.append(f"bar {threshold:.2f}")
    if config.get("runs"):
        parts.append(f"{int(config['runs'])} runs each")
    methods = config.get("methods") or []
    if methods:
        parts.append(f"{len(methods)} methods")
    return " · ".join(parts)


class ExperimentsPanel(QWidget):
    """Experiments on the left; the selected one's replicates on the right. `selected(run_id)` on choice."""

    selected = Signal(object)  # run id, or None
    cancel_requested = Signal(int)  # run id whose job should stop
    new_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.records: list[Any] = []
        self.current: Any = None
        self.replicates: list[Any] = []
        self.expected_replicates: int | None = None

        self.experiments = _table(EXPERIMENT_COLUMNS, self)
        header = self.experiments.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(EXPERIMENT_COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.experiments.itemSelectionChanged.connect(self._on_selection)
        self.new_button = QPushButton("New experiment…", self)
        self.new_button.clicked.connect(self.new_requested)
        self.empty = QLabel(
            "No experiment yet. Design a modified dataset on the Designer tab, then Start experiment "
            "(Ctrl+Enter).",
            self,
        )
        self.empty.setWordWrap(True)
        self.empty.setProperty("role", "muted")
        left_card = QFrame(self)
        left_card.setProperty("role", "card")
        left = QVBoxLayout(left_card)
        left.setContentsMargins(12, 10, 12, 10)
        caption = QLabel("Experiments", left_card)
        caption.setStyleSheet("font-weight: 600;")
        top = QHBoxLayout()
        top.addWidget(caption)
        top.addStretch(1)
        top.addWidget(self.new_button)
        left.addLayout(top)
        left.addWidget(self.experiments, 1)
        left.addWidget(self.empty)

        self.title = QLabel(self)
        self.title.setStyleSheet("font-size: 13pt; font-weight: 600;")
        self.summary = QLabel(self)
        self.summary.setProperty("role", "muted")
        self.summary.setWordWrap(True)
        self.pass_label = QLabel(self)
        self.pass_label.setStyleSheet("font-size: 12pt; font-weight: 600;")
        self.pass_bar = QProgressBar(self)
        self.pass_bar.setRange(0, 100)
        self.pass_bar.setTextVisible(False)
        self.pass_bar.setMaximumWidth(220)
        self.job_label = QLabel(self)
        self.job_label.setProperty("role", "muted")
        self.cancel_button = QPushButton("Stop", self)
        self.cancel_button.setToolTip("Cancel the experiment's job; finished replicates are kept")
        self.cancel_button.clicked.connect(self._cancel)
        self.cancel_button.hide()
        status_row = QHBoxLayout()
        status_row.setSpacing(10)
        status_row.addWidget(self.pass_label)
        status_row.addWidget(self.pass_bar)
        status_row.addWidget(self.job_label, 1)
        status_row.addWidget(self.cancel_button)
        self.table = _table(REPLICATE_COLUMNS, self)
        rheader = self.table.horizontalHeader()
        for column in range(len(REPLICATE_COLUMNS)):
            rheader.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        rheader.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.note = QLabel(self)
        self.note.setProperty("role", "muted")
        self.note.setWordWrap(True)
        right_card = QFrame(self)
        right_card.setProperty("role", "card")
        right = QVBoxLayout(right_card)
        right.setContentsMargins(14, 10, 14, 10)
        right.setSpacing(8)
        right.addWidget(self.title)
        right.addWidget(self.summary)
        right.addLayout(status_row)
        right.addWidget(self.table, 1)
        right.addWidget(self.note)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(left_card)
        self.splitter.addWidget(right_card)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([420, 700])
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        self.show_replicates(None, [])

    # experiments
    def set_experiments(self, records: list[Any]) -> None:
        """Show the experiments, newest first, keeping the selection."""
        keep = self.current_run_id()
        self.records = list(records)
        table = self.experiments
        table.blockSignals(True)
        table.setRowCount(len(self.records))
        for row, record in enumerate(self.records):
            name = _item(record.name, record.run_id)
            name.setData(RUN_ROLE, record.run_id)
            name.setToolTip(config_summary(record.config or {}))
            status = _item(record.status)
            status.setForeground(QColor(STATUS_COLORS.get(record.status, MUTED)))
            rate = record.pass_rate
            pass_rate = _item(
                f"{100 * rate:.0f} %" if rate is not None else "—", rate, Qt.AlignmentFlag.AlignRight
            )
            moment = local_time(record.created_at)
            created = _item(moment.strftime("%d %b %H:%M") if moment is not None else "")
            for column, item in enumerate((name, status, pass_rate, created)):
                table.setItem(row, column, item)
        table.blockSignals(False)
        self.empty.setVisible(not self.records)
        if keep is not None and self.select(keep):
            return
        if keep is not None:
            self.selected.emit(None)

    def select(self, run_id: int) -> bool:
        for row, record in enumerate(self.records):
            if record.run_id == run_id:
                if self.experiments.currentRow() != row:
                    self.experiments.selectRow(row)
                return True
        return False

    def current_run_id(self) -> int | None:
        rows = self.experiments.selectionModel().selectedRows() if self.experiments.selectionModel() else []
        if not rows:
            return None
        item = self.experiments.item(rows[0].row(), 0)
        return int(item.data(RUN_ROLE)) if item is not None else None

    def record(self, run_id: int | None) -> Any:
        return next((r for r in self.records if r.run_id == run_id), None)

    def _on_selection(self) -> None:
        self.selected.emit(self.current_run_id())

    # replicates
    def show_replicates(self, record: Any, replicates: list[Any], *, running: bool = False) -> None:
        """The replicates of `record` (an ExperimentRecord, or None for no selection)."""
        self.current = record
        self.replicates = list(replicates)
        if record is None:
            self.title.setText("No experiment selected")
            self.summary.setText("Select an experiment to see its runs pass or fail the accuracy bar.")
            self.pass_label.setText("")
            self.pass_bar.hide()
            self.table.setRowCount(0)
            self.note.setText("")
            self.cancel_button.hide()
            return
        config = record.config or {}
        self.title.setText(record.name)
        self.summary.setText(config_summary(config))
        threshold = threshold_of(config)
        table = self.table
        table.setRowCount(len(self.replicates))
        bold = QFont()
        bold.setBold(True)
        for row, rep in enumerate(self.replicates):
            accuracy = rep.val_accuracy
            bar = threshold if threshold is not None else None
            cells = [
                _item(f"#{rep.replicate + 1}", rep.replicate, Qt.AlignmentFlag.AlignRight),
                _item(manipulation_title(rep.manipulation), rep.manipulation),
                _item(f"{rep.strength:g}" if rep.strength is not None else "—", rep.strength),
                _item(f"{rep.r:.2f}", rep.r, Qt.AlignmentFlag.AlignRight),
                _item(str(rep.model), rep.model),
                _item(
                    f"{100 * accuracy:.1f} %" if accuracy is not None else "training…",
                    accuracy,
                    Qt.AlignmentFlag.AlignRight,
                ),
                _item(f"{100 * bar:.1f} %" if bar is not None else "—", bar, Qt.AlignmentFlag.AlignRight),
                _item(f"{100 * rep.p_star:.1f} %", rep.p_star, Qt.AlignmentFlag.AlignRight),
                _item(
                    ("✓ passed" if rep.passed else "✗ failed") if accuracy is not None else "…",
                    bool(rep.passed),
                ),
                _item(
                    str(rep.epochs) if rep.epochs is not None else "", rep.epochs, Qt.AlignmentFlag.AlignRight
                ),
            ]
            if accuracy is not None:
                colour = QColor(PASS_COLOUR if rep.passed else FAIL_COLOUR)
                cells[8].setForeground(colour)
                cells[8].setFont(bold)
                cells[5].setForeground(colour)
            for column, item in enumerate(cells):
                table.setItem(row, column, item)
        passed, trained = pass_summary(self.replicates)
        if trained:
            share = passed / trained
            self.pass_label.setText(f"Pass rate {passed} of {trained} ({100 * share:.0f} %)")
            self.pass_bar.setValue(round(100 * share))
            self.pass_bar.setStyleSheet(
                f"QProgressBar::chunk {{ background: {PASS_COLOUR if share >= 0.5 else FAIL_COLOUR}; }}"
            )
            self.pass_bar.show()
        else:
            self.pass_label.setText("No run trained yet" if running else "No replicates stored")
            self.pass_bar.hide()
        self.cancel_button.setVisible(running)
        dropped = sum(int(getattr(r, "dropped", 0) or 0) for r in self.replicates)
        notes = [
            "Runs below the bar are dropped from the leaderboard (their model need not use the manipulation)."
        ]
        if dropped:
            notes.append(f"{dropped:,} samples could not carry their manipulation and were left out.")
        warnings = [] if running or threshold is None else unproven(self.replicates, threshold)
        self.note.setProperty("role", "error" if warnings else "muted")
        self.note.style().unpolish(self.note)
        self.note.style().polish(self.note)
        self.note.setText("\n".join(warnings) if warnings else " ".join(notes))

    def set_job_text(self, text: str) -> None:
        self.job_label.setText(text)

    def _cancel(self) -> None:
        if self.current is not None:
            self.cancel_requested.emit(int(self.current.run_id))
