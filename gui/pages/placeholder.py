"""A workspace that is not built yet says so plainly: what it will do, the paper behind it, and when."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from gui.style import ACCENT_LIGHT, MUTED, accent_pixmap


class PlaceholderPage(QWidget):
    """An honest "not yet available" page for a workspace of a later release."""

    def __init__(
        self,
        key: str,
        title: str,
        summary: str,
        plans: list[str],
        paper: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.key = key
        self.setObjectName(f"page-{key}")

        badge = QLabel()
        badge.setPixmap(accent_pixmap(key, 44))
        badge.setFixedSize(72, 72)
        badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        badge.setStyleSheet(f"background: {ACCENT_LIGHT}; border-radius: 16px;")
        self.title_label = QLabel(title)
        self.title_label.setProperty("role", "title")
        pill = QLabel("Coming in a later release")
        pill.setProperty("role", "pill")
        heading_text = QVBoxLayout()
        heading_text.setSpacing(6)
        heading_text.addWidget(self.title_label)
        heading_text.addWidget(pill, 0, Qt.AlignmentFlag.AlignLeft)
        heading = QHBoxLayout()
        heading.setSpacing(18)
        heading.addWidget(badge)
        heading.addLayout(heading_text, 1)

        self.summary_label = QLabel(summary)
        self.summary_label.setWordWrap(True)
        self.summary_label.setStyleSheet("font-size: 11pt; line-height: 140%;")
        plan_items = "".join(f"<li style='margin-bottom:4px'>{html.escape(p)}</li>" for p in plans)
        plans_label = QLabel(f"<b>What you will do here</b><ul style='margin-left:-18px'>{plan_items}</ul>")
        plans_label.setWordWrap(True)
        self.paper_label = QLabel(f"<b>Based on</b><br>{html.escape(paper)}")
        self.paper_label.setWordWrap(True)
        self.paper_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        note = QLabel(
            "This workspace is not available in this version of Lantern. "
            "Runs and jobs of every kind are listed on the Runs page."
        )
        note.setWordWrap(True)
        note.setStyleSheet(f"color: {MUTED};")

        card = QFrame()
        card.setProperty("role", "card")
        card.setMaximumWidth(760)
        inner = QVBoxLayout(card)
        inner.setContentsMargins(36, 32, 36, 32)
        inner.setSpacing(16)
        inner.addLayout(heading)
        inner.addWidget(self.summary_label)
        inner.addWidget(plans_label)
        inner.addWidget(self.paper_label)
        inner.addSpacing(4)
        inner.addWidget(note)

        body = QWidget()
        centre = QHBoxLayout(body)
        centre.setContentsMargins(32, 40, 32, 40)
        centre.addStretch(1)
        centre.addWidget(card, 10, Qt.AlignmentFlag.AlignTop)
        centre.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
