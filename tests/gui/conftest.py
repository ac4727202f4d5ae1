"""GUI test fixtures: offscreen Qt, window state kept in the test's Lantern home, and app services."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def qsettings_in_home(lantern_home: Path) -> None:
    """QSettings (geometry, shortcuts) go to this test's config folder, never the user's."""
    from gui.app import configure_qsettings

    configure_qsettings()


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
