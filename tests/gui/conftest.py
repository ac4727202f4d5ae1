"""GUI test fixtures: offscreen Qt, window state kept in the test's Lantern home, and app services."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_configure(config: pytest.Config) -> None:
    """Before any GUI test: shield CPython 3.11 from PySide6 6.12's None/True refcount bug."""
    from gui.pyside_guard import protect_singletons

    protect_singletons()


@pytest.fixture(autouse=True)
def qsettings_in_home(lantern_home: Path) -> None:
    """QSettings (geometry, shortcuts) go to this test's config folder, never the user's."""
    from gui.app import configure_qsettings

    configure_qsettings()


@pytest.fixture(autouse=True)
def delete_closed_widgets() -> Iterator[None]:
    """After each test, really delete the widgets pytest-qt closed, and collect garbage, while Qt runs.

    pytest-qt calls deleteLater() and processEvents(), which does not run deferred deletions; widgets (and
    pyqtgraph's parentless helper menus) then pile up until a later test spins an event loop or the
    interpreter exits, where PySide6 6.12 + pyqtgraph crash (bool_dealloc, or a segfault when a later
    apply_style() repolishes them). Deleting them test by test keeps the suite's exit clean.
    """
    yield
    from PySide6.QtCore import QCoreApplication, QEvent

    if QCoreApplication.instance() is not None:
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        gc.collect()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def services(qapp, lantern_home: Path) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """Services built as the app builds them, on this test's store; shut down in the app's order."""
    from gui.app import build_services, shutdown

    built = build_services()
    yield built
    shutdown(built)


@pytest.fixture
def window(qtbot, services):  # type: ignore[no-untyped-def]
    """The main window at 1400x900, shown and exposed (deleted by the services fixture's shutdown)."""
    from gui.app import create_main_window

    main_window = create_main_window(services)
    main_window.resize(1400, 900)
    main_window.show()
    qtbot.waitExposed(main_window)
    return main_window
