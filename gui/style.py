"""Lantern's look: Fusion with a light palette, an amber accent taken from the app icon, and line icons."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

ACCENT = "#e8900c"
ACCENT_LIGHT = "#fff3df"
INK = "#1f2430"
MUTED = "#6b7280"
SIDEBAR = "#1f252e"
# The orange button of a page's main action (objectName "primaryAction"), shared by the workspace pages.
PRIMARY_ACTION_STYLE = (
    f"QPushButton#primaryAction {{ background: {ACCENT}; color: white; border: 1px solid #d07f08;"
    " border-radius: 5px; font-weight: 600; padding: 5px 14px; }"
    "QPushButton#primaryAction:hover { background: #d07f08; }"
    "QPushButton#primaryAction:disabled { background: #f3c98d; border-color: #f3c98d; }"
)

LEVEL_COLORS = {"info": "#2f6fde", "warning": "#c27c0e", "error": "#cf3a3a"}
STATUS_COLORS = {
    "queued": "#6b7280",
    "running": "#2f6fde",
    "cancelling": "#c27c0e",
    "cancelled": "#6b7280",
    "interrupted": "#c27c0e",
    "failed": "#cf3a3a",
    "done": "#2e9d5b",
}

_STYLESHEET = f"""
QWidget#sidebar {{ background: {SIDEBAR}; }}
QLabel#brand {{ color: #f4f5f7; font-size: 13pt; font-weight: 600; }}
QListWidget#navigation {{ background: {SIDEBAR}; border: none; color: #c3cad5; outline: 0; }}
QListWidget#navigation::item {{ padding: 8px 10px; border-left: 3px solid transparent; }}
QListWidget#navigation::item:hover {{ background: #29303b; }}
QListWidget#navigation::item:selected {{ background: #2e3643; color: #ffffff;
    border-left: 3px solid {ACCENT}; }}
QLabel[role="title"] {{ font-size: 17pt; font-weight: 600; color: {INK}; }}
QLabel[role="muted"] {{ color: {MUTED}; }}
QLabel[role="error"] {{ color: #cf3a3a; }}
QLabel[role="pill"] {{ background: {ACCENT_LIGHT}; color: #8a5200; border: 1px solid #f5cf8f;
    border-radius: 10px; padding: 2px 10px; font-weight: 600; }}
QFrame[role="card"] {{ background: #ffffff; border: 1px solid #e2e5ea; border-radius: 10px; }}
QFrame[role="row"] {{ background: #ffffff; border: 1px solid #e2e5ea; border-radius: 8px; }}
QProgressBar {{ border: 1px solid #d5d9e0; border-radius: 4px; background: #eef0f3; text-align: center;
    max-height: 16px; }}
QProgressBar::chunk {{ background: #f2a63a; border-radius: 3px; }}
QStatusBar {{ background: #eceef2; border-top: 1px solid #d9dde3; }}
QStatusBar QLabel {{ color: #4b5361; padding: 0 6px; }}
QDockWidget {{ font-weight: 600; }}
QDockWidget > QWidget {{ font-weight: normal; }}
QPushButton {{ padding: 4px 12px; }}
"""


def palette() -> QPalette:
    pal = QPalette()
    colors = {
        QPalette.ColorRole.Window: "#f4f5f7",
        QPalette.ColorRole.WindowText: INK,
        QPalette.ColorRole.Base: "#ffffff",
        QPalette.ColorRole.AlternateBase: "#f2f4f7",
        QPalette.ColorRole.ToolTipBase: "#fffdf6",
        QPalette.ColorRole.ToolTipText: INK,
        QPalette.ColorRole.PlaceholderText: "#9aa1ad",
        QPalette.ColorRole.Text: INK,
        QPalette.ColorRole.Button: "#f7f8fa",
        QPalette.ColorRole.ButtonText: INK,
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#b86a00",
        QPalette.ColorRole.Light: "#ffffff",
        QPalette.ColorRole.Midlight: "#e9ebef",
        QPalette.ColorRole.Mid: "#c9ced6",
        QPalette.ColorRole.Dark: "#a9b0bb",
        QPalette.ColorRole.Shadow: "#7d8590",
    }
    for role, value in colors.items():
        pal.setColor(role, QColor(value))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#a3a9b3"))
    return pal


def apply_style(app: QApplication) -> None:
    """Fusion + palette + a short stylesheet; fonts stay the platform's, one step larger where tiny."""
    app.setStyle("Fusion")
    app.setPalette(palette())
    font = QFont(app.font())
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
    app.setFont(font)
    app.setStyleSheet(_STYLESHEET)


# Line icons on a 24x24 grid, drawn for Lantern; {c} is the stroke colour.
_ICON_PATHS = {
    "runs": '<path d="M3 3v18h18"/><path d="M7 15l4-5 3 3 6-7"/>',
    "augment": '<rect x="3" y="8" width="12" height="12" rx="2"/><path d="M8 4h10a2 2 0 0 1 2 2v10"/>'
    '<path d="M7 17l3-4 2 2 1-1 2 3"/>',
    "annotate": '<path d="M3 12V4h8l10 10-7 7z"/><circle cx="7.5" cy="7.5" r="1.5"/>',
    "relational": '<circle cx="5" cy="6" r="2.5"/><circle cx="19" cy="6" r="2.5"/>'
    '<circle cx="12" cy="18" r="2.5"/>'
    '<path d="M7.5 6h9M6.3 8.2l4.4 7.6M17.7 8.2l-4.4 7.6"/>',
    "attribution": '<rect x="3" y="3" width="18" height="18" rx="2"/>'
    '<path d="M3 9h18M3 15h18M9 3v18M15 3v18"/>'
    '<rect x="9" y="9" width="6" height="6" fill="{c}" fill-opacity="0.45"/>',
}


def _render(name: str, color: str, size: int) -> QPixmap:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="{c}" '
        'stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">' + _ICON_PATHS[name] + "</svg>"
    ).replace("{c}", color)
    ratio = QGuiApplication.instance().devicePixelRatio() if QGuiApplication.instance() else 1.0
    pixmap = QPixmap(int(size * ratio), int(size * ratio))
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    QSvgRenderer(QByteArray(svg.encode())).render(painter, QRectF(0, 0, pixmap.width(), pixmap.height()))
    painter.end()
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


def icon(name: str, size: int = 24) -> QIcon:
    """A workspace icon: muted grey normally, amber when selected."""
    result = QIcon()
    result.addPixmap(_render(name, "#aab3c0", size), QIcon.Mode.Normal)
    result.addPixmap(_render(name, "#ffb547", size), QIcon.Mode.Selected)
    return result


def accent_pixmap(name: str, size: int = 64) -> QPixmap:
    """The same icon drawn large in the accent colour, for page headers."""
    return _render(name, ACCENT, size)
