"""The main window: workspace navigation, the pages, the Jobs and Notifications docks, menus, status bar."""

from __future__ import annotations

import platform
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

import shiboken6
from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QPaintEvent, QPixmap
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from engine.core import paths
from engine.core.settings import Settings
from gui.jobs_dock import JobsPanel
from gui.notifications import ErrorToast, Notice, NotificationPanel
from gui.services import AppServices
from gui.settings_dialog import SettingsDialog
from gui.shortcuts import ShortcutsDialog
from gui.style import icon

STATE_VERSION = 1  # bump when the docks change so that an old saved layout is not applied
GEOMETRY_KEY = "main_window/geometry"
STATE_KEY = "main_window/state"
PAGE_KEY = "main_window/page"
DEFAULT_SIZE = QSize(1400, 900)


def app_version() -> str:
    try:
        return version("lantern-workbench")
    except PackageNotFoundError:
        return "dev"


PageFactory = Callable[[], QWidget]


def runs_page(services: AppServices) -> QWidget:
    # Imported here: the Runs page brings pyqtgraph (and numpy), which the first paint need not wait for.
    from gui.pages.runs import RunsPage

    return RunsPage(services)


def augment_page(services: AppServices) -> QWidget:
    # Imported here: the page brings pyqtgraph and numpy, which the first paint need not wait for.
    from gui.pages.augment import AugmentPage

    return AugmentPage(services)


def annotate_page(services: AppServices) -> QWidget:
    # Imported here for the same reason: the learning curve brings pyqtgraph, and the page reads the store.
    from gui.pages.annotate import AnnotatePage

    return AnnotatePage(services)


def relational_page(services: AppServices) -> QWidget:
    from gui.pages.relational import RelationalPage

    return RelationalPage(services)


def attribution_page(services: AppServices) -> QWidget:
    # Imported here: the page brings pyqtgraph and the numpy engine modules, and starts a preview.
    from gui.pages.attribution import AttributionPage

    return AttributionPage(services)


class LoadingPage(QLabel):
    """Stands in for a page that is built right after the window's first paint."""

    def __init__(self, title: str) -> None:
        super().__init__(f"Loading {title}…")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setProperty("role", "muted")


def device_text(settings: Settings) -> str:
    """The device preference as set (the GUI never asks torch what is present)."""
    return f"Device: {settings.device}" + (" · half precision" if settings.half_precision else " · float32")


class MainWindow(QMainWindow):
    """Workspaces on the left, the current page in the middle, jobs and notices on the right."""

    def __init__(self, services: AppServices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self._pages: dict[str, QWidget] = {}
        self._titles: dict[str, str] = {}
        self._factories: dict[str, PageFactory] = {}  # pages not built yet, by key
        self._awaiting_first_paint = True
        self.setWindowTitle("Lantern")
        self.setMinimumSize(720, 480)
        self.resize(DEFAULT_SIZE)

        self.navigation = QListWidget()
        self.navigation.setObjectName("navigation")
        self.navigation.setIconSize(QSize(20, 20))
        self.navigation.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.navigation.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.stack = QStackedWidget()
        self.navigation.currentRowChanged.connect(self._on_navigation)
        self.setCentralWidget(self._central(self._sidebar()))

        self.jobs_panel = JobsPanel(services)
        self.jobs_dock = self._dock("Jobs", "jobs-dock", self.jobs_panel)
        self.notification_panel = NotificationPanel(services.notifications)
        self.notifications_dock = self._dock("Notifications", "notifications-dock", self.notification_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.jobs_dock)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.notifications_dock)
        # A job row (name, progress, status, Cancel) must never be clipped by a narrow dock.
        self.jobs_dock.setMinimumWidth(max(330, self.jobs_panel.minimumSizeHint().width()))
        self.resizeDocks([self.jobs_dock], [330], Qt.Orientation.Horizontal)
        self.resizeDocks([self.jobs_dock, self.notifications_dock], [480, 340], Qt.Orientation.Vertical)

        self.toast = ErrorToast(services.notifications)
        self.toast.clicked.connect(self.show_notice)
        self.store_label = QLabel()
        self.device_label = QLabel()
        self.statusBar().addWidget(self.toast)
        self.statusBar().addPermanentWidget(self.store_label)
        self.statusBar().addPermanentWidget(self.device_label)
        self.statusBar().setSizeGripEnabled(False)
        self._update_status_bar()

        self._build_menus()
        self.add_page("runs", "Runs", lambda: runs_page(services), icon("runs"))
        self.add_page("augment", "Augment", lambda: augment_page(services), icon("augment"))
        self.add_page("annotate", "Annotate", lambda: annotate_page(services), icon("annotate"))
        self.add_page("relational", "Relational", lambda: relational_page(services), icon("relational"))
        self.add_page("attribution", "Attribution", lambda: attribution_page(services), icon("attribution"))
        self._restore_state()
        services.jobs.follow.connect(self._follow_job)

    def _follow_job(self, job_id: int) -> None:
        """A page started a job whose curves the user wants to watch: show them live on the Runs page."""
        runs = self.page("runs")
        follow = getattr(runs, "follow_job", None)
        if follow is not None:
            follow(job_id)
        self.show_page("runs")

    # layout
    def _sidebar(self) -> QWidget:
        sidebar = QWidget()
        sidebar.setObjectName("sidebar")
        sidebar.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        sidebar.setFixedWidth(196)
        logo = QLabel()
        logo_file = paths.assets_dir() / "icons" / "lantern-48.png"
        if logo_file.is_file():
            logo.setPixmap(
                QPixmap(str(logo_file)).scaled(28, 28, mode=Qt.TransformationMode.SmoothTransformation)
            )
        brand = QLabel("Lantern")
        brand.setObjectName("brand")
        header = QHBoxLayout()
        header.setContentsMargins(14, 14, 14, 12)
        header.setSpacing(8)
        header.addWidget(logo)
        header.addWidget(brand, 1)
        footer = QLabel(f"v{app_version()}")
        footer.setStyleSheet("color: #6f7886; padding: 10px 16px;")
        layout = QVBoxLayout(sidebar)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.navigation, 1)
        layout.addWidget(footer)
        return sidebar

    def _central(self, sidebar: QWidget) -> QWidget:
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(sidebar)
        layout.addWidget(self.stack, 1)
        return central

    def _dock(self, title: str, name: str, content: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState/restoreState find docks by object name
        dock.setWidget(content)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        return dock

    def _build_menus(self) -> None:
        shortcuts = self.services.shortcuts
        menus = self.menuBar()

        file_menu = menus.addMenu("&File")
        settings = shortcuts.register("app.settings", "&Settings…", "Ctrl+,", self.open_settings, self)
        settings.setMenuRole(QAction.MenuRole.PreferencesRole)
        file_menu.addAction(settings)
        file_menu.addSeparator()
        quit_action = shortcuts.register("app.quit", "&Quit", "Ctrl+Q", self.close, self)
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        file_menu.addAction(quit_action)

        edit_menu = menus.addMenu("&Edit")
        undo_stack = self.services.undo_stack
        self.undo_action = shortcuts.adopt(
            "edit.undo", undo_stack.createUndoAction(self, "&Undo"), "Ctrl+Z", self
        )
        self.redo_action = shortcuts.adopt(
            "edit.redo", undo_stack.createRedoAction(self, "&Redo"), "Ctrl+Shift+Z", self
        )
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)

        view_menu = menus.addMenu("&View")
        view_menu.addAction(
            shortcuts.adopt("view.jobs", self.jobs_dock.toggleViewAction(), "Ctrl+Shift+J", self)
        )
        view_menu.addAction(
            shortcuts.adopt(
                "view.notifications", self.notifications_dock.toggleViewAction(), "Ctrl+Shift+L", self
            )
        )
        view_menu.addSeparator()
        self.go_menu = view_menu.addMenu("&Go to")

        help_menu = menus.addMenu("&Help")
        help_menu.addAction(
            shortcuts.register("help.shortcuts", "&Keyboard shortcuts…", "Ctrl+/", self.show_shortcuts, self)
        )
        about = shortcuts.register("help.about", "&About Lantern", "", self.show_about, self)
        about.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction(about)

    # pages
    def add_page(
        self, key: str, title: str, widget: QWidget | PageFactory, icon: QIcon | None = None
    ) -> None:
        """Append a workspace: a navigation entry, a page in the stack, and Ctrl+N for the first nine.

        `widget` may be a factory (no arguments): the page is then built just after the window's first
        paint, or at once when someone asks for it (page(), pages(), showing it after the first paint).
        """
        if key in self._pages:
            raise ValueError(f"a page named {key!r} is already in the window")
        item = QListWidgetItem(icon or QIcon(), title)
        item.setData(Qt.ItemDataRole.UserRole, key)
        item.setSizeHint(QSize(0, 40))
        self.navigation.addItem(item)
        if not isinstance(widget, QWidget):
            self._factories[key] = widget
            widget = LoadingPage(title)
        self.stack.addWidget(widget)
        self._pages[key] = widget
        self._titles[key] = title
        position = len(self._pages)
        if position <= 9:
            action = self.services.shortcuts.register(
                f"navigate.{key}", f"Go to {title}", f"Ctrl+{position}", lambda: self.show_page(key), self
            )
            self.go_menu.addAction(action)
        if self.navigation.currentRow() < 0:
            self.navigation.setCurrentRow(0)

    def show_page(self, key: str) -> None:
        keys = list(self._pages)
        if key not in self._pages:
            raise KeyError(f"no page named {key!r}; pages: {', '.join(keys)}")
        self.navigation.setCurrentRow(keys.index(key))

    def page(self, key: str) -> QWidget:
        return self._build(key)

    def current_page_key(self) -> str:
        return list(self._pages)[self.stack.currentIndex()]

    def pages(self) -> dict[str, QWidget]:
        """Every page, built."""
        self.build_pages()
        return dict(self._pages)

    def is_built(self, key: str) -> bool:
        return key not in self._factories

    def build_pages(self) -> None:
        for key in list(self._factories):
            self._build(key)

    def _build(self, key: str) -> QWidget:
        factory = self._factories.pop(key, None)
        if factory is None:
            return self._pages[key]
        stand_in = self._pages[key]
        index = self.stack.indexOf(stand_in)
        shown = self.stack.currentIndex()
        page = factory()
        self.stack.insertWidget(index, page)
        self.stack.removeWidget(stand_in)
        stand_in.deleteLater()
        self.stack.setCurrentIndex(shown)
        self._pages[key] = page
        return page

    def _on_navigation(self, row: int) -> None:
        if row < 0:
            return
        key = list(self._pages)[row]
        if not self._awaiting_first_paint:
            self._build(key)
        self.stack.setCurrentIndex(row)
        self.setWindowTitle(f"{self._titles[key]} — Lantern")

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self._awaiting_first_paint:
            # The window is on screen: build the remaining pages on the next turn of the event loop.
            self._awaiting_first_paint = False
            QTimer.singleShot(0, self, self.build_pages)  # dropped if the window is deleted first

    def release_pages(self) -> None:
        """Before exit: let each page stop its own work, then close it and schedule its deletion."""
        for page in self._pages.values():
            if not shiboken6.isValid(page):
                continue  # already deleted (released before, or deleted by its owner)
            stop = getattr(page, "shutdown", None)
            if callable(stop):
                stop()
            page.close()
            page.deleteLater()

    # actions
    def open_settings(self) -> None:
        dialog = SettingsDialog(self.services.settings, self)
        if not dialog.exec() or dialog.saved_settings is None:
            return
        restart = dialog.restart_required
        self.services.settings = dialog.saved_settings
        self._update_status_bar()
        if restart:
            self.services.notifications.post(
                "info",
                "Settings saved",
                "The new database or data folder will be used after Lantern restarts.",
                where=str(dialog.saved_settings.resolved_database_url()),
            )

    def show_shortcuts(self) -> None:
        ShortcutsDialog(self.services.shortcuts, self).exec()

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About Lantern",
            f"<h3>Lantern {app_version()}</h3>"
            "<p>A desktop workbench for interpretable model exploration.</p>"
            f"<p>Store: {self.services.store.display_url}<br>"
            f"Logs: {paths.log_dir()}<br>"
            f"Python {platform.python_version()} · PySide6 {pyside_version}</p>",
        )

    def show_notice(self, notice: Notice) -> None:
        self.notifications_dock.show()
        self.notifications_dock.raise_()
        self.notification_panel.select(notice)

    def _update_status_bar(self) -> None:
        url = self.services.store.display_url
        shown = url if len(url) <= 72 else url[:24] + "…" + url[-47:]
        self.store_label.setText(f"Store: {shown}")
        self.store_label.setToolTip(url)
        self.device_label.setText(device_text(self.services.settings))

    # state
    def _restore_state(self) -> None:
        settings = QSettings()
        geometry = settings.value(GEOMETRY_KEY)
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = settings.value(STATE_KEY)
        if state is not None:
            self.restoreState(state, STATE_VERSION)
        page = settings.value(PAGE_KEY)
        if isinstance(page, str) and page in self._pages:
            self.show_page(page)

    def save_state(self) -> None:
        settings = QSettings()
        settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        settings.setValue(STATE_KEY, self.saveState(STATE_VERSION))
        settings.setValue(PAGE_KEY, self.current_page_key())
        settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.isVisible():  # a second close during shutdown must not overwrite the layout the user left
            self.save_state()
        super().closeEvent(event)
