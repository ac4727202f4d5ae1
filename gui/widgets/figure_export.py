"""Save any widget as a figure (PNG at print resolution, or SVG) and any table as CSV; an Export button."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QMetaMethod, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QAction, QImage, QPainter, QPalette
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu, QMessageBox, QToolButton, QWidget

from engine.core.errors import LanternError

PNG_SCALE = 2.0  # device pixels per widget pixel: sharp enough for a slide or a paper figure
WHERE = "figure export"
MENU_INDICATOR_STYLE = (
    "QToolButton { padding-right: 18px; }"
    "QToolButton::menu-indicator { subcontrol-origin: padding; subcontrol-position: right center; }"
)


@contextmanager
def _laid_out(widget: QWidget) -> Iterator[None]:
    """A widget never shown (a script, a test) is laid out off screen for the render, then hidden again."""
    window = widget.window()
    offscreen = not window.isVisible()
    if offscreen:
        if window is widget and not widget.testAttribute(Qt.WidgetAttribute.WA_Resized):
            widget.resize(widget.sizeHint().expandedTo(QSize(640, 480)))
        window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        window.show()
        QApplication.processEvents()
    try:
        yield
    finally:
        if offscreen:
            window.hide()
            window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, False)


def _target(path: Path | str, suffix: str) -> Path:
    path = Path(path)
    if path.suffix.lower() != suffix:
        raise LanternError(
            f"a {suffix[1:].upper()} figure needs a file name ending in {suffix}",
            str(path),
            f"choose a name like figure{suffix}",
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LanternError(
            f"the folder cannot be created ({exc.strerror})",
            str(path.parent),
            "choose a folder you can write to",
        ) from exc
    return path


def _check_size(widget: QWidget, path: Path) -> QSize:
    size = widget.size()
    if size.width() < 1 or size.height() < 1:
        raise LanternError(
            "the figure has no area to draw", str(path), "show the view (give it some room) before exporting"
        )
    return size


def export_widget_png(widget: QWidget, path: Path | str, *, scale: float = PNG_SCALE) -> Path:
    """Render `widget` (and its children) to a PNG at `scale` device pixels per widget pixel."""
    path = _target(path, ".png")
    with _laid_out(widget):
        size = _check_size(widget, path)
        image = QImage(
            round(size.width() * scale),
            round(size.height() * scale),
            QImage.Format.Format_ARGB32_Premultiplied,
        )
        image.setDevicePixelRatio(scale)
        image.fill(widget.palette().color(QPalette.ColorRole.Window))
        # render() draws from the widget's own paint code, so the PNG is sharp at any scale (a grab()
        # would be limited to the screen's pixels).
        widget.render(image)
    if image.isNull() or not image.save(str(path), "PNG"):
        raise LanternError(
            "the image could not be written", str(path), "choose a folder you can write to and a .png name"
        )
    return path


def export_widget_svg(widget: QWidget, path: Path | str, *, title: str = "Lantern figure") -> Path:
    """Render `widget` to an SVG file: lines and text stay vectors, images are embedded."""
    path = _target(path, ".svg")
    with _laid_out(widget):
        size = _check_size(widget, path)
        generator = QSvgGenerator()
        generator.setFileName(str(path))
        generator.setSize(size)
        generator.setViewBox(QRect(0, 0, size.width(), size.height()))
        generator.setTitle(title)
        generator.setDescription("Exported from Lantern")
        painter = QPainter()
        if not painter.begin(generator):
            raise LanternError(
                "the SVG file could not be opened for writing", str(path), "choose a folder you can write to"
            )
        try:
            painter.fillRect(
                QRect(0, 0, size.width(), size.height()), widget.palette().color(QPalette.ColorRole.Window)
            )
            widget.render(painter, QPoint(0, 0))
        finally:
            painter.end()
    if not path.is_file() or path.stat().st_size == 0:
        raise LanternError("the SVG file could not be written", str(path), "choose a folder you can write to")
    return path


def _model_rows(model: QAbstractItemModel) -> tuple[list[str], list[list[Any]]]:
    """A model's header and display texts; a value under Qt.UserRole (the number behind a cell) wins."""
    columns, count = model.columnCount(), model.rowCount()
    headers = [
        str(model.headerData(c, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole) or "")
        for c in range(columns)
    ]
    rows = []
    for r in range(count):
        row = []
        for c in range(columns):
            index = model.index(r, c)
            value = model.data(index, Qt.ItemDataRole.UserRole)
            if value is None or isinstance(value, (list, tuple, dict)):
                value = model.data(index, Qt.ItemDataRole.DisplayRole)
            row.append("" if value is None else value)
        rows.append(row)
    return headers, rows


def _object_rows(rows: Sequence[Any], headers: Sequence[str] | None) -> tuple[list[str], list[list[Any]]]:
    if not rows:
        return list(headers or []), []
    first = rows[0]
    if dataclasses.is_dataclass(first) and not isinstance(first, type):
        names = list(headers or [f.name for f in dataclasses.fields(first)])
        return names, [[getattr(row, name) for name in names] for row in rows]
    if isinstance(first, Mapping):
        names = list(headers or first.keys())
        return names, [[row.get(name, "") for name in names] for row in rows]
    if headers is not None:
        if isinstance(first, (str, bytes)) or not isinstance(first, Sequence):
            raise LanternError(
                f"a table row must be a sequence, a mapping or a dataclass, not {type(first).__name__}",
                WHERE,
                "pass rows as lists, dicts or dataclass instances",
            )
        return list(headers), [list(row) for row in rows]
    names = [name for name in dir(first) if not name.startswith("_") and not callable(getattr(first, name))]
    if not names:
        raise LanternError(
            f"cannot tell the columns of {type(first).__name__} rows", WHERE, "pass headers= with the rows"
        )
    return names, [[getattr(row, name) for name in names] for row in rows]


def _cell(value: Any) -> Any:
    # Floats in full precision (repr), so a CSV read back gives the very numbers shown rounded on screen.
    return repr(value) if isinstance(value, float) else value


def export_table_csv(
    model_or_rows: QAbstractItemModel | Sequence[Any],
    path: Path | str,
    *,
    headers: Sequence[str] | None = None,
) -> int:
    """Write a table model (headers and cells) or rows (dataclasses, dicts, objects, or sequences with
    `headers`) to CSV; returns the number of data rows written."""
    path = Path(path)
    if isinstance(model_or_rows, QAbstractItemModel):
        names, rows = _model_rows(model_or_rows)
    else:
        names, rows = _object_rows(list(model_or_rows), headers)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            for row in rows:
                writer.writerow([_cell(value) for value in row])
    except OSError as exc:
        raise LanternError(
            f"the CSV file could not be written ({exc.strerror})",
            str(path),
            "choose a folder you can write to",
        ) from exc
    return len(rows)


class ExportButton(QToolButton):
    """An "Export" button with a menu: the figure as PNG or SVG, and a table as CSV when there is one.

    `figure` returns the widget to draw at the moment of export; `table_csv(path)` writes the CSV.
    Connect `exported(kind, path)` and `failed(LanternError)` to tell the user; with nothing connected to
    `failed`, a message box says what went wrong.
    """

    exported = Signal(str, str)  # "PNG" | "SVG" | "CSV", path written
    failed = Signal(object)  # LanternError

    def __init__(
        self,
        figure: Callable[[], QWidget],
        *,
        name: str,
        table_csv: Callable[[Path], object] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._figure = figure
        self._table_csv = table_csv
        self.name = name
        self.setText("Export")
        self.setToolTip("Save this figure as PNG or SVG" + (", or its table as CSV" if table_csv else ""))
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        # The drop-down arrow in its own room at the right: by default it overlaps the last letter.
        self.setStyleSheet(MENU_INDICATOR_STYLE)
        menu = QMenu(self)
        self.png_action = QAction("Figure as PNG…", self)
        self.svg_action = QAction("Figure as SVG…", self)
        self.png_action.triggered.connect(lambda: self._ask("PNG"))
        self.svg_action.triggered.connect(lambda: self._ask("SVG"))
        menu.addAction(self.png_action)
        menu.addAction(self.svg_action)
        self.csv_action: QAction | None = None
        if table_csv is not None:
            self.csv_action = QAction("Table as CSV…", self)
            self.csv_action.triggered.connect(lambda: self._ask("CSV"))
            menu.addSeparator()
            menu.addAction(self.csv_action)
        self.setMenu(menu)

    def export(self, kind: str, path: Path | str) -> Path:
        """Write the figure ("PNG", "SVG") or the table ("CSV") to `path`; raises LanternError."""
        path = Path(path)
        if kind == "PNG":
            export_widget_png(self._figure(), path)
        elif kind == "SVG":
            export_widget_svg(self._figure(), path, title=self.name)
        elif kind == "CSV" and self._table_csv is not None:
            self._table_csv(path)
        else:
            raise LanternError(f"nothing to export as {kind}", WHERE, "choose PNG or SVG")
        return path

    def _ask(self, kind: str) -> None:
        suffix = "." + kind.lower()
        filters = {"PNG": "PNG image (*.png)", "SVG": "SVG drawing (*.svg)", "CSV": "CSV table (*.csv)"}
        chosen, _ = QFileDialog.getSaveFileName(
            self, f"Export {self.name}", self.name + suffix, filters[kind]
        )
        if not chosen:
            return
        path = Path(chosen if chosen.lower().endswith(suffix) else chosen + suffix)
        try:
            self.export(kind, path)
        except LanternError as exc:
            if self.isSignalConnected(QMetaMethod.fromSignal(self.failed)):
                self.failed.emit(exc)
            else:
                QMessageBox.warning(self, "Export failed", exc.message)
            return
        self.exported.emit(kind, str(path))


def notify_exports(buttons: Iterable[ExportButton], notifications: Any) -> None:
    """A page's Export buttons post a notice naming the file written (Open shows it), or an error notice."""
    for button in buttons:
        button.exported.connect(
            lambda kind, path: notifications.post(
                "info", f"Exported {kind}", f"written to {path}", where=path
            )
        )
        button.failed.connect(lambda exc: notifications.post_error(exc, title="Export failed"))
