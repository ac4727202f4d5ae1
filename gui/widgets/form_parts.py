"""Small parts the workspace panels share: read-only table cells, spin boxes, refilled combo boxes, muted
labels, the error line under a form, sending a form, and a panel's form laid out beside its results."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from PySide6.QtCore import Qt, SignalInstance
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QLabel,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import LanternError


def error_text(error: LanternError) -> str:
    """A LanternError as the page shows it under a form: what, then what to do."""
    return error.what + (f" ({error.hint})" if error.hint else "")


def table_item(text: str, value: Any = None, right: bool = False) -> QTableWidgetItem:
    """A cell that cannot be edited, holding `value` (UserRole) beside its text; `right` aligns numbers."""
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    if value is not None:
        item.setData(Qt.ItemDataRole.UserRole, value)
    if right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def spin_box(low: int, high: int, value: int, tip: str) -> QSpinBox:
    """An integer field; large ranges show thousands separators."""
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setToolTip(tip)
    spin.setGroupSeparatorShown(high >= 10_000)
    return spin


def fill_choices(box: QComboBox, choices: Sequence[tuple[str, Any, str, bool]]) -> None:
    """List (text, data, tooltip, enabled) choices in a combo without a change signal, keeping the chosen one
    when it is still there, else the first enabled one; a disabled choice is shown greyed out."""
    chosen = box.currentData()
    box.blockSignals(True)
    box.clear()
    for text, data, tip, enabled in choices:
        box.addItem(text, data)
        index = box.count() - 1
        if tip:
            box.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)
        if not enabled:
            box.model().item(index).setEnabled(False)
    found = box.findData(chosen)
    if found < 0:
        found = next((i for i, choice in enumerate(choices) if choice[3]), 0)
    box.setCurrentIndex(found)
    box.blockSignals(False)


def muted_label(text: str, parent: QWidget) -> QLabel:
    """A grey, wrapping caption."""
    label = QLabel(text, parent)
    label.setProperty("role", "muted")
    label.setWordWrap(True)
    return label


class ErrorLabel(QLabel):
    """The red line under a form: hidden until `show_error(error)`, hidden again by `show_error(None)`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "error")
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hide()

    def show_error(self, error: LanternError | None) -> None:
        if error is None:
            self.clear()
            self.hide()
            return
        self.setText(error_text(error))
        self.show()


T = TypeVar("T")


def send_form(
    read: Callable[[], T], show_error: Callable[[LanternError | None], None], signal: SignalInstance
) -> T | None:
    """What a form's main button does: `read()` the form (a LanternError says why it cannot be sent) and
    show why not, or clear the error, emit what was read on `signal` and return it."""
    try:
        value = read()
    except LanternError as exc:
        show_error(exc)
        return None
    show_error(None)
    signal.emit(value)
    return value


def form_beside(panel: QWidget, form: QWidget, right: QWidget, min_width: int, max_width: int) -> QSplitter:
    """Lay `panel` out as `form` (scrolling down, min_width to max_width wide) on the left of `right`, which
    takes the room left over; returns the splitter between them."""
    scroll = QScrollArea(panel)
    scroll.setWidget(form)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setMinimumWidth(min_width)
    scroll.setMaximumWidth(max_width)
    splitter = QSplitter(Qt.Orientation.Horizontal, panel)
    splitter.addWidget(scroll)
    splitter.addWidget(right)
    splitter.setStretchFactor(1, 1)
    splitter.setChildrenCollapsible(False)
    layout = QVBoxLayout(panel)
    layout.setContentsMargins(0, 8, 0, 0)
    layout.addWidget(splitter)
    return splitter
