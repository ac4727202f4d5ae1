"""Open one page alone in a window (`python -m gui.pages.NAME [--demo-home]`) for a look or a screenshot."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

from engine.core.errors import LanternError
from engine.core.logging_setup import configure_logging
from engine.core.paths import HOME_ENV
from gui.app import EXIT_STARTUP_ERROR, app_icon, build_services, display_problem, quit_after_ms, shutdown
from gui.qt_logging import install_qt_message_handler
from gui.services import AppServices
from gui.style import apply_style


def run_page(factory: Callable[[AppServices], QWidget], title: str, argv: list[str] | None = None) -> int:
    """Build services (in a throw-away LANTERN_HOME with --demo-home), show the page, shut down in order."""
    parser = argparse.ArgumentParser(description=f"Open Lantern's {title} page on its own.")
    parser.add_argument(
        "--demo-home", action="store_true", help="use a temporary Lantern home folder, deleted on exit"
    )
    args, qt_args = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    problem = display_problem(qt_args)
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_STARTUP_ERROR
    previous_home = os.environ.get(HOME_ENV)
    demo_home = (
        tempfile.TemporaryDirectory(prefix="lantern-demo-", ignore_cleanup_errors=True)
        if args.demo_home
        else None
    )
    if demo_home is not None:
        os.environ[HOME_ENV] = demo_home.name
    try:
        configure_logging("lantern.log")
        install_qt_message_handler()
        app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else title, *qt_args])
        app.setWindowIcon(app_icon())
        apply_style(app)
        try:
            services = build_services()
        except LanternError as exc:
            print(f"{title}: {exc.message}", file=sys.stderr)
            return EXIT_STARTUP_ERROR
        widget: QWidget | None = None
        try:
            widget = factory(services)
            widget.setWindowTitle(f"{title} — Lantern")
            widget.resize(1200, 800)
            if (delay := quit_after_ms()) is not None:
                QTimer.singleShot(delay, widget.close)
            widget.show()
            return app.exec()
        finally:
            shutdown(services, [widget] if widget is not None else [])
    finally:
        if demo_home is not None:
            if previous_home is None:
                os.environ.pop(HOME_ENV, None)
            else:
                os.environ[HOME_ENV] = previous_home
            demo_home.cleanup()
