"""Logging to a rotating file in the user's log folder, shared by the GUI and engine processes."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from engine.core import paths

LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
_configured: set[str] = set()


def configure_logging(filename: str = "lantern.log", level: int = logging.INFO) -> Path:
    """Attach one rotating file handler (5 MB x 3) to the root logger; calling twice is harmless."""
    path = paths.log_dir() / filename
    if str(path) in _configured:
        return path
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    _configured.add(str(path))
    return path
