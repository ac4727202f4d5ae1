"""The table of runs: a Qt model over RunRecords (sortable, status coloured) and the view that shows it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from engine.store.records import RunRecord
from gui.style import ACCENT_LIGHT, INK, MUTED, STATUS_COLORS

COLUMNS = ("ID", "Name", "Kind", "Status", "Device", "Started", "Duration", "Test acc.")
ID, NAME, KIND, STATUS, DEVICE, STARTED, DURATION, TEST_ACC = range(len(COLUMNS))

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
RUN_ID_ROLE = Qt.ItemDataRole.UserRole + 2

# Summary keys a job may use for its held-out accuracy, most specific first.
ACCURACY_KEYS = ("test_accuracy", "accuracy", "val_accuracy")


def status_colour(status: str) -> QColor:
    return QColor(STATUS_COLORS.get(status, MUTED))


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def summary_accuracy(run: RunRecord) -> float | None:
    for key in ACCURACY_KEYS:
        value = run.summary.get(key)
        if isinstance(value, int | float):
            return float(value)
    return None


def local_time(moment: datetime | None) -> datetime | None:
    """The store keeps naive UTC; people read local time."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC).astimezone()


def run_duration(run: RunRecord, now: datetime | None = None) -> float | None:
    """Stored duration of a finished run; elapsed time so far for a running one."""
    if run.duration_s is not None:
        return run.duration_s
    if run.status == "running" and run.started_at is not None:
        now = now or datetime.now(UTC).replace(tzinfo=None)
        return (now - run.started_at).total_seconds()
    return None


def _status_icon(colour: QColor) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawEllipse(2, 2, 8, 8)
    painter.end()
    return QIcon(pixmap)


class RunTableModel(QAbstractTableModel):
    """Runs as rows; DisplayRole for people, SORT_ROLE for ordering, RUN_ID_ROLE to find the run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runs: list[RunRecord] = []
        self._row_of: dict[int, int] = {}
        self._icons: dict[str, QIcon] = {}
        self._bold = QFont()
        self._bold.setBold(True)

    # content
    def set_runs(self, runs: list[RunRecord]) -> None:
        self.beginResetModel()
        self._runs = list(runs)
        self._row_of = {run.id: row for row, run in enumerate(self._runs)}
        self.endResetModel()

    def runs(self) -> list[RunRecord]:
        return list(self._runs)

    def run(self, run_id: int) -> RunRecord | None:
        row = self._row_of.get(run_id)
        return self._runs[row] if row is not None else None

    def run_at(self, row: int) -> RunRecord:
        return self._runs[row]

    def row_of(self, run_id: int) -> int | None:
        return self._row_of.get(run_id)

    def has_running(self) -> bool:
        return any(run.status == "running" for run in self._runs)

    def touch_durations(self) -> None:
        """Running rows show elapsed time; tell the view it moved."""
        for row, run in enumerate(self._runs):
            if run.status == "running":
                index = self.index(row, DURATION)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DisplayRole])

    # QAbstractTableModel
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._runs)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.TextAlignmentRole and section in (ID, DURATION, TEST_ACC):
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid():
            return None
        run = self._runs[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(run, column)
        if role == SORT_ROLE:
            return self._sort_key(run, column)
        if role == RUN_ID_ROLE:
            return run.id
        if role == Qt.ItemDataRole.ForegroundRole and column == STATUS:
            return QBrush(status_colour(run.status))
        if role == Qt.ItemDataRole.FontRole and column == STATUS:
            return self._bold
        if role == Qt.ItemDataRole.DecorationRole and column == STATUS:
            if run.status not in self._icons:
                self._icons[run.status] = _status_icon(status_colour(run.status))
            return self._icons[run.status]
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (ID, DURATION, TEST_ACC):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(run, column)
        return None

    def _display(self, run: RunRecord, column: int) -> str:
        if column == ID:
            return str(run.id)
        if column == NAME:
            return run.name
        if column == KIND:
            return run.kind
        if column == STATUS:
            return run.status
        if column == DEVICE:
            return f"{run.device} · {run.dtype}"
        if column == STARTED:
            started = local_time(run.started_at or run.created_at)
            return started.strftime("%Y-%m-%d %H:%M") if started else ""
        if column == DURATION:
            return format_duration(run_duration(run))
        if column == TEST_ACC:
            accuracy = summary_accuracy(run)
            return f"{accuracy * 100:.1f} %" if accuracy is not None else "–"
        return ""

    def _sort_key(self, run: RunRecord, column: int) -> Any:
        if column == ID:
            return run.id
        if column == STARTED:
            return (run.started_at or run.created_at).timestamp()
        if column == DURATION:
            return run_duration(run) or 0.0
        if column == TEST_ACC:
            accuracy = summary_accuracy(run)
            return -1.0 if accuracy is None else accuracy
        return self._display(run, column).lower()

    def _tooltip(self, run: RunRecord, column: int) -> str | None:
        if column == DEVICE:
            return f"{run.device_name} ({run.device}, {run.dtype})"
        if column == NAME:
            return f"run #{run.id}: {run.name}" + (f" (job #{run.job_id})" if run.job_id else "")
        return None


class RunTable(QTableView):
    """A sortable, multi-select view of runs that reports the selected run ids."""

    selection_changed = Signal(list)  # run ids, in table order

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs_model = RunTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.runs_model)
        self.proxy.setSortRole(SORT_ROLE)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(ID, Qt.SortOrder.DescendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(26)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        for column, width in ((ID, 52), (KIND, 140), (STATUS, 96), (DEVICE, 110), (STARTED, 128)):
            self.setColumnWidth(column, width)
        self.setColumnWidth(DURATION, 84)
        self.setColumnWidth(TEST_ACC, 76)
        # A light accent tint keeps the coloured status text readable on selected rows.
        self.setStyleSheet(
            f"QTableView {{ selection-background-color: {ACCENT_LIGHT}; selection-color: {INK};"
            " border: 1px solid #dfe2e7; border-radius: 6px; outline: 0; }"
        )
        self.selectionModel().selectionChanged.connect(self._emit_selection)
        # Elapsed time of running rows ticks once a second (others may follow `clock`); it idles when
        # nothing runs.
        self.clock = QTimer(self)
        self.clock.setInterval(1000)
        self.clock.timeout.connect(self._tick)

    def set_runs(self, runs: list[RunRecord]) -> None:
        """Replace the rows, keeping the selection of runs that are still listed."""
        kept = self.selected_run_ids()
        blocker = self.selectionModel().blockSignals(True)
        try:
            self.runs_model.set_runs(runs)
            self._select(kept, clear=True)
        finally:
            self.selectionModel().blockSignals(blocker)
        if self.runs_model.has_running():
            self.clock.start()
        else:
            self.clock.stop()
        if kept != self.selected_run_ids():
            self._emit_selection()

    def selected_run_ids(self) -> list[int]:
        rows = sorted(index.row() for index in self.selectionModel().selectedRows())
        return [int(self.proxy.index(row, ID).data(RUN_ID_ROLE)) for row in rows]

    def select_runs(self, run_ids: list[int], add: bool = False) -> None:
        self._select(run_ids, clear=not add)

    def _select(self, run_ids: list[int], clear: bool) -> None:
        selection = QItemSelection()
        for run_id in run_ids:
            row = self.runs_model.row_of(run_id)
            if row is None:
                continue
            left = self.proxy.mapFromSource(self.runs_model.index(row, 0))
            right = self.proxy.mapFromSource(self.runs_model.index(row, len(COLUMNS) - 1))
            selection.select(left, right)
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        if clear:
            flags |= QItemSelectionModel.SelectionFlag.Clear
        if clear or not selection.isEmpty():
            self.selectionModel().select(selection, flags)

    def _emit_selection(self, *_args: object) -> None:
        self.selection_changed.emit(self.selected_run_ids())

    def _tick(self) -> None:
        if self.runs_model.has_running():
            self.runs_model.touch_durations()
        else:
            self.clock.stop()
