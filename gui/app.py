"""Start and stop the desktop app: checks, logging, settings, store, services, main window, orderly exit."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QSettings, QTimer, Slot
from PySide6.QtGui import QIcon, QUndoStack
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from engine.core import paths
from engine.core.errors import LanternError, SettingsError, StoreError
from engine.core.logging_setup import configure_logging
from engine.core.settings import Settings, load_settings, settings_path
from engine.store.database import Store, open_store
from gui.interactive_bridge import InteractiveBridge
from gui.job_bridge import JobBridge
from gui.main_window import MainWindow
from gui.notifications import NotificationCenter
from gui.qt_logging import install_qt_message_handler
from gui.services import AppServices
from gui.settings_dialog import SettingsDialog
from gui.shortcuts import ShortcutRegistry
from gui.style import apply_style

log = logging.getLogger(__name__)

APP_NAME = "Lantern"
QUIT_AFTER_ENV = "LANTERN_QUIT_AFTER_MS"  # close the app by itself after this many ms (tests, start-up bench)
FIRST_PAINT_ENV = "LANTERN_FIRST_PAINT_FILE"  # write the moment of the first paint here as JSON
NONINTERACTIVE_ENV = "LANTERN_NONINTERACTIVE"  # report start-up errors on stderr instead of in dialogs
EXIT_STARTUP_ERROR = 2
EXIT_USER_QUIT = 1

NO_DISPLAY_MESSAGE = (
    "lantern: no display found (DISPLAY and WAYLAND_DISPLAY are unset), so the desktop window cannot open.\n"
    "  For a headless window:        QT_QPA_PLATFORM=offscreen lantern\n"
    "  For the headless engine CLI:  lantern --help"
)


def display_problem(argv: list[str]) -> str | None:
    """Why no window can open here (Linux without a display and no Qt platform chosen), or None."""
    if not sys.platform.startswith("linux"):
        return None
    if any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        return None
    if "-platform" in argv:
        return None
    return NO_DISPLAY_MESSAGE


def configure_qsettings() -> None:
    """Keep the window's own state (geometry, shortcuts) as an INI file in Lantern's config folder."""
    QCoreApplication.setOrganizationName(APP_NAME)
    QCoreApplication.setApplicationName(APP_NAME)
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(paths.config_dir()))


class _JobErrorRouter(QObject):
    """Lives on the GUI thread, so engine `error` events (sent from a reader thread) are posted there."""

    def __init__(self, notifications: NotificationCenter, store: Store) -> None:
        super().__init__(notifications)
        self._notifications = notifications
        self._store = store

    @Slot(int, object)
    def job_failed(self, job_id: int, payload: dict[str, Any]) -> None:
        record = self._store.jobs.get(job_id)
        name = f" ({record.name})" if record is not None else ""
        self._notifications.post_error(payload, title=f"Job #{job_id}{name} failed")


def build_services(settings: Settings | None = None, store: Store | None = None) -> AppServices:
    """The services every page receives; opens the configured store unless one is given."""
    configure_qsettings()
    settings = settings or load_settings()
    store = store or open_store(settings)
    notifications = NotificationCenter()
    jobs = JobBridge(store)
    jobs.error.connect(_JobErrorRouter(notifications, store).job_failed)
    interactive = InteractiveBridge(store.url)
    interactive.restarted.connect(
        lambda reason: notifications.post(
            "warning",
            "Engine restarted",
            f"The engine process that answers interactive requests stopped ({reason}); "
            "a new one was started and the request was retried.",
            hint="if this repeats, look at engine.log in the log folder",
        )
    )
    return AppServices(
        settings=settings,
        store=store,
        jobs=jobs,
        notifications=notifications,
        shortcuts=ShortcutRegistry(notifications),
        undo_stack=QUndoStack(),
        interactive=interactive,
    )


def create_main_window(services: AppServices) -> MainWindow:
    return MainWindow(services)


def shutdown(services: AppServices | None, widgets: Iterable[QWidget] = ()) -> None:
    """Stop the jobs bridge, close every window, delete our windows and pages, and let Qt run the deletions.

    Pages (pyqtgraph plots among them) are deleted while the QApplication still exists, never by the
    interpreter's teardown. Only widgets Lantern owns are deleted (every MainWindow and its pages, plus
    `widgets`): pyqtgraph keeps parentless helper widgets of its own, and deleting those from here makes
    PySide6 6.12 segfault at exit.
    """
    if services is not None:
        try:
            services.jobs.shutdown()
        except Exception:  # shutting down must go on: the store and the windows still need closing
            log.exception("the jobs bridge did not shut down cleanly")
        try:
            services.interactive.shutdown()
        except Exception:
            log.exception("the interactive engine did not shut down cleanly")
    app = QApplication.instance()
    if app is not None:
        owned = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)] + list(widgets)
        for widget in app.topLevelWidgets():
            if widget.isVisible():
                widget.close()
        for widget in owned:
            if isinstance(widget, MainWindow):
                widget.release_pages()
            elif callable(stop := getattr(widget, "shutdown", None)):
                stop()
            widget.close()
            widget.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        app.processEvents()
    if services is not None:
        services.store.close()


def quit_after_ms() -> int | None:
    value = os.environ.get(QUIT_AFTER_ENV, "").strip()
    if not value:
        return None
    try:
        return max(0, int(value))
    except ValueError:
        log.warning("%s=%r is not a whole number of milliseconds; ignored", QUIT_AFTER_ENV, value)
        return None


def process_start_time() -> float | None:
    """When this process started (seconds since the epoch), from /proc on Linux; None elsewhere."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    started_after_boot = int(fields[19]) / ticks  # field 22 of stat, counted after the ")"
    return time.time() - uptime + started_after_boot


class FirstPaintRecorder(QObject):
    """Writes the moment the main window first paints, for bench/startup.py's cold-start figure."""

    def __init__(self, window: QWidget, path: Path, main_started: tuple[float, float]) -> None:
        super().__init__(window)
        self._path = path
        self._main_started = main_started
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            launcher = sys.modules.get("gui.launcher")
            record = {
                "perf_counter": time.perf_counter(),
                "time": time.time(),
                "main_perf_counter": self._main_started[0],
                "main_time": self._main_started[1],
                "process_start_time": process_start_time(),
                "launcher_start_time": getattr(launcher, "STARTED_AT", None),
            }
            try:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                self._path.write_text(json.dumps(record), encoding="utf-8")
            except OSError:
                log.exception("could not write the first-paint time to %s", self._path)
        return False


def _interactive() -> bool:
    return os.environ.get(NONINTERACTIVE_ENV, "").strip() in ("", "0")


def _report(error: LanternError, context: str) -> None:
    print(f"lantern: {context}: {error.message}", file=sys.stderr)


def _load_settings_or_ask() -> Settings | None:
    """The user's settings; a broken file is offered a reset (kept aside, never deleted), else None."""
    try:
        return load_settings()
    except SettingsError as exc:
        log.error("settings: %s", exc.message)
        if not _interactive():
            _report(exc, "the settings cannot be used")
            return None
        aside = settings_path().with_name(f"settings.json.broken-{datetime.now():%Y%m%d-%H%M%S}")
        box = QMessageBox(
            QMessageBox.Icon.Warning, "Lantern — settings", "Lantern cannot use its settings file."
        )
        box.setInformativeText(
            f"{exc.what}\n\nWhere: {exc.where}\nWhat to do: {exc.hint}\n\n"
            f"“Reset to defaults” keeps the old file as {aside.name}."
        )
        reset = box.addButton("Reset to defaults", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        if box.clickedButton() is not reset:
            return None
        settings_path().rename(aside)
        return Settings()


def _open_store_or_ask(settings: Settings) -> tuple[Settings, Store, str] | None:
    """Open the store; on failure let the user fall back to SQLite, fix the settings, or quit.

    Returns the settings in force, the store and a note for the user (why a fallback is in use), or None.
    """
    embedded = f"sqlite:///{settings.resolved_data_dir() / 'lantern.db'}"
    url = settings.resolved_database_url()
    note = ""
    while True:
        try:
            return settings, open_store(settings, url=url), note
        except StoreError as exc:
            log.error("store: %s", exc.message)
            if not _interactive():
                _report(exc, "the database cannot be opened")
                return None
            box = QMessageBox(
                QMessageBox.Icon.Critical, "Lantern — database", "Lantern cannot open its database."
            )
            box.setInformativeText(
                f"{exc.what}\n\nWhere: {exc.where}\nWhat to do: {exc.hint}\n\nThe database was not changed."
            )
            use_embedded = None
            if url != embedded:
                use_embedded = box.addButton(
                    "Use the embedded SQLite store", QMessageBox.ButtonRole.AcceptRole
                )
            open_settings = box.addButton("Open settings", QMessageBox.ButtonRole.ActionRole)
            box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
            box.exec()
            clicked = box.clickedButton()
            if use_embedded is not None and clicked is use_embedded:
                note = f"{exc.what}; using the embedded SQLite store for this session."
                url = embedded
            elif clicked is open_settings:
                dialog = SettingsDialog(settings)
                if dialog.exec() and dialog.saved_settings is not None:
                    settings = dialog.saved_settings
                    embedded = f"sqlite:///{settings.resolved_data_dir() / 'lantern.db'}"
                    url = settings.resolved_database_url()
            else:
                return None


def app_icon() -> QIcon:
    icon = QIcon()
    for size in (48, 128, 256):
        path = paths.assets_dir() / "icons" / f"lantern-{size}.png"
        if path.is_file():
            icon.addFile(str(path))
    return icon


def _excepthook(notifications: NotificationCenter) -> Any:
    def report(kind: type[BaseException], error: BaseException, tb: Any) -> None:
        # An exception escaping a slot must reach the user and the log, not vanish on stderr.
        log.error("uncaught exception", exc_info=(kind, error, tb))
        notifications.post_error(error.with_traceback(tb), title="Unexpected error")

    return report


def main(argv: list[str] | None = None) -> int:
    """Open the desktop app; returns the exit status (0 after a normal close)."""
    main_started = (time.perf_counter(), time.time())
    argv = list(sys.argv[1:] if argv is None else argv)
    problem = display_problem(argv)
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_STARTUP_ERROR
    configure_logging("lantern.log")
    install_qt_message_handler()
    configure_qsettings()
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "lantern", *argv])
    app.setApplicationDisplayName(APP_NAME)
    app.setDesktopFileName("lantern")
    app.setWindowIcon(app_icon())
    apply_style(app)

    settings = _load_settings_or_ask()
    if settings is None:
        return EXIT_STARTUP_ERROR if not _interactive() else EXIT_USER_QUIT
    opened = _open_store_or_ask(settings)
    if opened is None:
        return EXIT_STARTUP_ERROR if not _interactive() else EXIT_USER_QUIT
    settings, store, note = opened

    services = build_services(settings, store)
    previous_hook = sys.excepthook
    sys.excepthook = _excepthook(services.notifications)
    try:
        if note:
            services.notifications.post("warning", "Database", note, where=store.display_url)
        _recover_interrupted_jobs(services)
        window = create_main_window(services)
        if (path := os.environ.get(FIRST_PAINT_ENV, "").strip()) != "":
            FirstPaintRecorder(window, Path(path), main_started)
        if (delay := quit_after_ms()) is not None:
            QTimer.singleShot(delay, window.close)
        window.show()
        status = app.exec()
    finally:
        shutdown(services)
        sys.excepthook = previous_hook
    log.info("Lantern closed with status %s", status)
    return status


def _recover_interrupted_jobs(services: AppServices) -> None:
    """Jobs whose process died with the last session are marked interrupted; tell the user once."""
    try:
        recovered = services.store.jobs.recover_dead()
    except Exception as exc:  # a damaged jobs table must not keep the app from opening
        services.notifications.post_error(exc, title="Checking unfinished jobs failed")
        return
    if not recovered:
        return
    names = []
    for job_id in recovered:
        record = services.store.jobs.get(job_id)
        names.append(f"#{job_id} {record.name}" if record is not None else f"#{job_id}")
    services.notifications.post(
        "info",
        "Interrupted jobs",
        f"{len(recovered)} job{'s' if len(recovered) != 1 else ''} did not finish when Lantern last ran: "
        + ", ".join(names)
        + ".",
        hint="Jobs that can continue from a checkpoint have a Resume button in the Jobs panel.",
    )


if __name__ == "__main__":
    raise SystemExit(main())
