"""The header every workspace page starts with: its icon in the accent colour, its title, a muted subtitle."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from gui.style import accent_pixmap


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
