"""Route Qt's own messages (qDebug, qWarning, ...) into Python logging, so they land in lantern.log."""

from __future__ import annotations

import logging

from PySide6.QtCore import QMessageLogContext, QtMsgType, qInstallMessageHandler

_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def _handle(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
    # Qt categories ("qt.qpa.fonts") become child loggers of "qt", so they can be filtered by name.
    category = context.category or "default"
    name = "qt" if category == "default" else f"qt.{category.removeprefix('qt.')}"
    logging.getLogger(name).log(_LEVELS.get(kind, logging.WARNING), message)


def install_qt_message_handler() -> None:
    """Install the handler once per process; Qt messages no longer go to stderr but to the log."""
    qInstallMessageHandler(_handle)
