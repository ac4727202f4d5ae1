"""Shortcuts: registered actions fire on their keys, conflicts within overlapping contexts are found and
announced, user keys persist across registries, and the dialog edits keys and shows conflicts in red."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMainWindow, QWidget

from gui.notifications import NotificationCenter
from gui.shortcuts import ShortcutRegistry, ShortcutsDialog

WINDOW = Qt.ShortcutContext.WindowShortcut
SCOPED = Qt.ShortcutContext.WidgetWithChildrenShortcut


@pytest.fixture
def main(qtbot) -> QMainWindow:  # type: ignore[no-untyped-def]
    window = QMainWindow()
    window.setCentralWidget(QWidget())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_registered_action_fires_on_its_key(qtbot, main: QMainWindow) -> None:  # type: ignore[no-untyped-def]
    registry = ShortcutRegistry()
    fired: list[str] = []
    action = registry.register("app.go", "Go", "Ctrl+G", lambda: fired.append("go"), main)
    assert action in main.actions()
    assert action.shortcut() == QKeySequence("Ctrl+G")
    assert registry.actions() == {"app.go": action}
    main.activateWindow()
    qtbot.waitUntil(main.isActiveWindow)
    qtbot.keyClick(main.centralWidget(), Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert fired == ["go"]


def test_two_actions_on_one_key_are_a_conflict_and_announced(qtbot, main: QMainWindow) -> None:  # type: ignore[no-untyped-def]
    center = NotificationCenter()
    registry = ShortcutRegistry(center)
    registry.register("runs.export", "Export", "Ctrl+E", lambda: None, main)
    assert registry.conflicts() == {}
    with qtbot.waitSignal(registry.conflict) as signal:
        registry.register("runs.edit", "Edit run", "Ctrl+E", lambda: None, main)
    assert signal.args == ["Ctrl+E", ["runs.export", "runs.edit"]]
    assert registry.conflicts() == {"Ctrl+E": ["runs.export", "runs.edit"]}
    warning = center.notices()[-1]
    assert (warning.level, warning.title) == ("warning", "Shortcut conflict")
    assert "Ctrl+E is used by “Export”, “Edit run”" in warning.message
    assert warning.hint.startswith("Give one of them another key")


def test_contexts_decide_whether_keys_overlap(qtbot, main: QMainWindow) -> None:  # type: ignore[no-untyped-def]
    registry = ShortcutRegistry()
    page_a, page_b = QWidget(main.centralWidget()), QWidget(main.centralWidget())
    registry.register("a.find", "Find in A", "Ctrl+F", lambda: None, page_a, SCOPED)
    registry.register("b.find", "Find in B", "Ctrl+F", lambda: None, page_b, SCOPED)
    assert registry.conflicts() == {}  # sibling pages: never live at the same time
    other = QMainWindow()
    qtbot.addWidget(other)
    registry.register("other.find", "Find elsewhere", "Ctrl+F", lambda: None, other)
    assert registry.conflicts() == {}  # another window
    registry.register("app.find", "Find everywhere", "Ctrl+F", lambda: None, main)
    assert registry.conflicts() == {"Ctrl+F": ["a.find", "b.find", "app.find"]}
    registry.register(
        "app.quit", "Quit", "Ctrl+Q", lambda: None, other, Qt.ShortcutContext.ApplicationShortcut
    )
    registry.register("page.quit", "Close page", "Ctrl+Q", lambda: None, page_a, SCOPED)
    assert registry.conflicts()["Ctrl+Q"] == ["app.quit", "page.quit"]


def test_changing_a_key_persists_and_can_create_or_clear_a_conflict(qtbot, main: QMainWindow) -> None:  # type: ignore[no-untyped-def]
    registry = ShortcutRegistry()
    registry.register("app.save", "Save", "Ctrl+S", lambda: None, main)
    registry.register("app.sync", "Sync", "Ctrl+Y", lambda: None, main)
    with qtbot.waitSignal(registry.conflict) as signal:
        registry.set_shortcut("app.sync", "Ctrl+S")
    assert signal.args == ["Ctrl+S", ["app.save", "app.sync"]]
    assert QSettings().value("shortcuts/app.sync") == "Ctrl+S"
    registry.set_shortcut("app.sync", QKeySequence("Ctrl+Shift+Y"))
    assert registry.conflicts() == {}
    assert QSettings().value("shortcuts/app.sync") == "Ctrl+Shift+Y"

    # A later start (a new registry, a new window) uses the user's key, not the default.
    again = QMainWindow()
    qtbot.addWidget(again)
    fresh = ShortcutRegistry()
    action = fresh.register("app.sync", "Sync", "Ctrl+Y", lambda: None, again)
    assert action.shortcut() == QKeySequence("Ctrl+Shift+Y")
    assert fresh.default("app.sync") == "Ctrl+Y"
    fresh.reset("app.sync")
    assert fresh.shortcut("app.sync") == "Ctrl+Y"
    assert QSettings().value("shortcuts/app.sync") is None


def test_duplicate_id_is_refused_but_a_deleted_page_frees_its_ids(qtbot, main: QMainWindow) -> None:  # type: ignore[no-untyped-def]
    from shiboken6 import delete

    registry = ShortcutRegistry()
    page = QWidget(main)
    registry.register("page.run", "Run", "F9", lambda: None, page, SCOPED)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("page.run", "Run", "F9", lambda: None, main)
    delete(page)
    registry.register("page.run", "Run", "F9", lambda: None, main)
    assert list(registry.actions()) == ["page.run"]
    with pytest.raises(KeyError, match="no shortcut registered as 'nope'"):
        registry.set_shortcut("nope", "F1")


def test_dialog_lists_actions_shows_conflicts_in_red_and_edits_keys(qtbot, main: QMainWindow) -> None:  # type: ignore[no-untyped-def]
    registry = ShortcutRegistry()
    registry.register("app.open", "&Open", "Ctrl+O", lambda: None, main)
    registry.register("app.other", "Other", "Ctrl+O", lambda: None, main)
    registry.register("app.close", "Close", "Ctrl+W", lambda: None, main)
    dialog = ShortcutsDialog(registry)
    qtbot.addWidget(dialog)
    names = [dialog.table.item(row, 0).text() for row in range(dialog.table.rowCount())]
    assert names == ["Close", "Open", "Other"]
    assert sorted(dialog.conflict_rows()) == ["app.open", "app.other"]
    assert dialog.status.text().startswith("Conflicts — Ctrl+O: Open, Other")
    assert dialog.editors["app.open"].toolTip() == "Also used by: Other"

    dialog.editors["app.other"].setKeySequence(QKeySequence("Ctrl+Alt+O"))
    assert registry.shortcut("app.other") == "Ctrl+Alt+O"
    assert dialog.conflict_rows() == []
    assert dialog.status.text().startswith("No conflicts")

    dialog.restore_defaults()
    assert registry.shortcut("app.other") == "Ctrl+O"
    assert dialog.editors["app.other"].keySequence() == QKeySequence("Ctrl+O")
    assert sorted(dialog.conflict_rows()) == ["app.open", "app.other"]

    dialog.filter.setText("clo")
    hidden = [dialog.table.isRowHidden(row) for row in range(dialog.table.rowCount())]
    assert hidden == [False, True, True]
