"""The frame every workspace page starts with: its icon in the accent colour, its title, a muted subtitle;
for a page of tabs, the tabs below it with the last one shown remembered."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from gui.style import PRIMARY_ACTION_STYLE, accent_pixmap


def page_header(parent: QWidget, key: str, title: str, subtitle: str = "") -> tuple[QHBoxLayout, QLabel]:
    """(the header row, its subtitle label); callers add their own widgets to the right of the row."""
    icon = QLabel(parent)
    icon.setPixmap(accent_pixmap(key, 28))
    heading = QLabel(title, parent)
    heading.setProperty("role", "title")
    note = QLabel(subtitle, parent)
    note.setProperty("role", "muted")
    note.setWordWrap(bool(subtitle))
    row = QHBoxLayout()
    row.setSpacing(10)
    row.addWidget(icon)
    row.addWidget(heading)
    row.addWidget(note, 1, Qt.AlignmentFlag.AlignBottom)
    return row, note


def tabbed_page(
    page: QWidget, key: str, title: str, subtitle: str, tabs: Sequence[tuple[QWidget, str, str]]
) -> QTabWidget:
    """Lay `page` out as its header above a tab widget of `tabs` ((widget, name, tooltip) each); returns the
    tab widget. The page's main buttons (objectName "primaryAction") get the accent colour."""
    header, _ = page_header(page, key, title, subtitle)
    tab_widget = QTabWidget(page)
    tab_widget.setDocumentMode(True)
    for widget, name, tip in tabs:
        tab_widget.addTab(widget, name)
        tab_widget.setTabToolTip(tab_widget.count() - 1, tip)
    layout = QVBoxLayout(page)
    layout.setContentsMargins(20, 16, 20, 16)
    layout.setSpacing(10)
    layout.addLayout(header)
    layout.addWidget(tab_widget, 1)
    page.setStyleSheet(PRIMARY_ACTION_STYLE)
    return tab_widget


def remembered_tab(settings_key: str, count: int) -> int:
    """The tab shown last (saved under `settings_key` in QSettings), within 0..count-1; 0 the first time."""
    return min(max(int(QSettings().value(settings_key, 0) or 0), 0), count - 1)
