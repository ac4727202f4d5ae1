"""The one place where the app tells the user things: notices (info, warning, error), a panel, a toast."""

from __future__ import annotations

import html
import logging
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QMouseEvent, QPainter, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import LanternError
from gui.style import LEVEL_COLORS, MUTED

log = logging.getLogger(__name__)

LEVELS = ("info", "warning", "error")
MAX_NOTICES = 500  # older notices drop off; the log file keeps everything


@dataclass(frozen=True)
class Notice:
    level: str
    title: str
    message: str
    where: str = ""
    hint: str = ""
    details: str = ""
    time: datetime = field(default_factory=datetime.now)


class NotificationCenter(QObject):
    """Collects notices from every part of the app and announces each one with `posted`."""

    posted = Signal(object)  # Notice
    cleared = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._notices: list[Notice] = []

    def post(
        self, level: str, title: str, message: str, where: str = "", hint: str = "", details: str = ""
    ) -> Notice:
        if level not in LEVELS:
            raise ValueError(f"unknown notice level {level!r}; use one of {', '.join(LEVELS)}")
        notice = Notice(level, title, message, where, hint, details)
        self._notices.append(notice)
        del self._notices[:-MAX_NOTICES]
        log.log(
            {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}[level],
            "%s: %s%s%s",
            title,
            message,
            f" (where: {where})" if where else "",
            f" (what to do: {hint})" if hint else "",
        )
        self.posted.emit(notice)
        return notice

    def post_error(
        self, error: LanternError | dict[str, Any] | BaseException, title: str = "Error"
    ) -> Notice:
        """Show an error: a LanternError, an engine `error` event's payload, or any exception."""
        if isinstance(error, dict):
            what = str(error.get("what") or error.get("message") or "unknown error")
            return self.post(
                "error",
                title,
                what,
                str(error.get("where") or ""),
                str(error.get("hint") or ""),
                str(error.get("traceback") or ""),
            )
        details = "".join(traceback.format_exception(error)) if error.__traceback__ else ""
        if isinstance(error, LanternError):
            return self.post("error", title, error.what, error.where, error.hint, details)
        return self.post("error", title, f"{type(error).__name__}: {error}", details=details)

    def notices(self) -> list[Notice]:
        """Every notice kept, oldest first."""
        return list(self._notices)

    def clear(self) -> None:
        self._notices.clear()
        self.cleared.emit()


def level_icon(level: str, size: int = 12) -> QIcon:
    pixmap = QPixmap(size * 2, size * 2)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(LEVEL_COLORS[level]))
    painter.drawEllipse(4, 4, size * 2 - 8, size * 2 - 8)
    painter.end()
    pixmap.setDevicePixelRatio(2.0)
    return QIcon(pixmap)


def notice_html(notice: Notice) -> str:
    """The full story of a notice: message, where, what to do, and the traceback if there is one."""
    color = LEVEL_COLORS[notice.level]
    parts = [
        f'<p style="margin:0"><b style="color:{color}">{html.escape(notice.title)}</b>'
        f' <span style="color:{MUTED}">{notice.time:%H:%M:%S} · {notice.level}</span></p>',
        f"<p>{html.escape(notice.message).replace(chr(10), '<br>')}</p>",
    ]
    if notice.where:
        parts.append(f"<p><b>Where:</b> {html.escape(notice.where)}</p>")
    if notice.hint:
        parts.append(f"<p><b>What to do:</b> {html.escape(notice.hint)}</p>")
    if notice.details:
        parts.append(
            '<p><b>Details</b></p><pre style="font-size:9pt; background:#f4f5f7">'
            f"{html.escape(notice.details)}</pre>"
        )
    return "".join(parts)


class NotificationPanel(QWidget):
    """Dock content: notices newest first, coloured by level; selecting one shows its details."""

    def __init__(self, center: NotificationCenter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.center = center
        self._icons = {level: level_icon(level) for level in LEVELS}
        self.summary = QLabel()
        self.summary.setProperty("role", "muted")
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(center.clear)
        self.list = QListWidget()
        self.list.setIconSize(QSize(12, 12))
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.details = QTextBrowser()
        self.details.setOpenExternalLinks(False)
        self.details.setPlaceholderText("Select a notice to read the details.")
        self.list.currentItemChanged.connect(self._show_details)

        header = QHBoxLayout()
        header.addWidget(self.summary, 1)
        header.addWidget(self.clear_button)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.list)
        splitter.addWidget(self.details)
        splitter.setSizes([150, 190])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(header)
        layout.addWidget(splitter, 1)

        for notice in center.notices():
            self._add(notice)
        center.posted.connect(self._add)
        center.cleared.connect(self._clear)
        self._update_summary()

    def _add(self, notice: Notice) -> None:
        first_line = notice.message.splitlines()[0] if notice.message else ""
        item = QListWidgetItem(self._icons[notice.level], f"{notice.title}: {first_line}")
        item.setData(Qt.ItemDataRole.UserRole, notice)
        item.setToolTip(f"{notice.time:%Y-%m-%d %H:%M:%S} · {notice.level}")
        item.setForeground(
            QColor(LEVEL_COLORS[notice.level]) if notice.level == "error" else QColor("#1f2430")
        )
        self.list.insertItem(0, item)
        self._update_summary()

    def _clear(self) -> None:
        self.list.clear()
        self.details.clear()
        self._update_summary()

    def _show_details(self, item: QListWidgetItem | None) -> None:
        notice = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        self.details.setHtml(notice_html(notice) if notice is not None else "")

    def _update_summary(self) -> None:
        count = self.list.count()
        errors = sum(1 for n in self.center.notices() if n.level == "error")
        text = f"{count} notice{'s' if count != 1 else ''}"
        self.summary.setText(text + (f", {errors} error{'s' if errors != 1 else ''}" if errors else ""))
        self.clear_button.setEnabled(count > 0)

    def select(self, notice: Notice) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) is notice:
                self.list.setCurrentRow(row)
                return


class ErrorToast(QLabel):
    """An unobtrusive line in the status bar announcing the latest error; click it for the details."""

    clicked = Signal(object)  # the Notice shown
    SHOW_MS = 10_000

    def __init__(self, center: NotificationCenter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.notice: Notice | None = None
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setStyleSheet(
            "QLabel { background: #fdecec; color: #9b2222; border: 1px solid #f3c2c2; border-radius: 9px;"
            " padding: 1px 10px; }"
        )
        self.setToolTip("Show in Notifications")
        self._timer = QTimer(self, singleShot=True, interval=self.SHOW_MS)
        self._timer.timeout.connect(self.hide)
        center.posted.connect(self._on_posted)
        self.hide()

    def _on_posted(self, notice: Notice) -> None:
        if notice.level != "error":
            return
        self.notice = notice
        first_line = notice.message.splitlines()[0] if notice.message else ""
        text = f"⚠  {notice.title}: {first_line}"
        self.setText(text if len(text) <= 110 else text[:109] + "…")
        self.show()
        self._timer.start()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.notice is not None:
            self.clicked.emit(self.notice)
        self.hide()
        event.accept()
