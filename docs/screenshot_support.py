"""What the docs/*_screenshots.py scripts share: opening a page as the app does, letting it settle, grabbing
it to a PNG, waiting for the engine, and closing the page."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QCoreApplication, QEvent, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from gui.app import build_services
from gui.style import apply_style

P = TypeVar("P", bound=QWidget)


def open_page(page_class: Callable[[Any], P]) -> tuple[QApplication, Any, P]:
    """(the application in Lantern's style, its services on LANTERN_HOME's store, the page built on them)."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_style(app)
    services = build_services()
    return app, services, page_class(services)


def settle(app: QApplication, ms: int = 400) -> None:
    """Let layouts, timers and repaints finish before a grab."""
    done: list[bool] = []
    QTimer.singleShot(ms, lambda: done.append(True))
    while not done:
        app.processEvents()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
    app.processEvents()


def grab(app: QApplication, widget: QWidget, path: Path, *, clear_focus: bool = True) -> None:
    """Write `widget` as it shows to `path` (a PNG), once it has settled; a failed write ends the script."""
    if clear_focus:
        focused = QApplication.focusWidget()
        if focused is not None:  # no blinking caret or focus ring in a figure
            focused.clearFocus()
    settle(app)
    if not widget.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print("wrote", path)


def wait_for(
    app: QApplication,
    ready: Callable[[], bool],
    what: str,
    problem: Callable[[], str] = lambda: "",
    *,
    timeout_s: float,
) -> None:
    """Run the event loop until `ready()`; a message from `problem()` or `timeout_s` ends the script."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        message = problem()
        if message:
            raise SystemExit(f"{what} failed: {message}")
        if time.monotonic() > deadline:
            raise SystemExit(
                f"{what}: the engine did not answer within {timeout_s:.0f} s "
                "(is another process holding the CPU? look at engine.log in LANTERN_HOME's log folder)"
            )
        app.processEvents()
        time.sleep(0.01)
    app.processEvents()


def close_page(app: QApplication, page: QWidget) -> None:
    """Shut the page down (it stops polling and listening) and delete it while Qt still runs."""
    page.shutdown()  # type: ignore[attr-defined]
    page.close()
    page.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()
