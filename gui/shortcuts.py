"""Keyboard shortcuts: one registry of named actions, user-editable and persisted, with conflict detection.

Global actions use Qt.WindowShortcut on the main window; a page's own shortcuts should use
Qt.WidgetWithChildrenShortcut on the page, so that two pages may reuse a key without clashing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.notifications import NotificationCenter

SETTINGS_GROUP = "shortcuts"
CONFLICT_COLOR = "#cf3a3a"

_WIDGET_CONTEXTS = (Qt.ShortcutContext.WidgetShortcut, Qt.ShortcutContext.WidgetWithChildrenShortcut)


@dataclass(frozen=True)
class _Entry:
    action: QAction
    default: str
    widget: QWidget
    context: Qt.ShortcutContext


def _portable(key: str | QKeySequence) -> str:
    return QKeySequence(key).toString(QKeySequence.SequenceFormat.PortableText)


def display_text(key: str | QKeySequence) -> str:
    """A key sequence as the platform writes it (Ctrl+Shift+Z, ⌘⇧Z)."""
    return QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText)


def _covers(outer: _Entry, inner: _Entry) -> bool:
    """Whether `outer`'s shortcut is live wherever `inner`'s is (so the two would fight over a key)."""
    if outer.context == Qt.ShortcutContext.ApplicationShortcut:
        return True
    if outer.widget.window() is not inner.widget.window():
        return False
    if outer.context == Qt.ShortcutContext.WindowShortcut:
        return True
    if outer.context == Qt.ShortcutContext.WidgetWithChildrenShortcut:
        return outer.widget is inner.widget or outer.widget.isAncestorOf(inner.widget)
    return outer.widget is inner.widget and inner.context in _WIDGET_CONTEXTS


class ShortcutRegistry(QObject):
    """Every keyboard shortcut of the app by id ("nav.runs", "edit.undo"); user keys live in QSettings."""

    conflict = Signal(str, list)  # key (portable text), ids of the actions sharing it
    changed = Signal(str, str)  # action id, new key (portable text, "" for none)

    def __init__(
        self, notifications: NotificationCenter | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._notifications = notifications
        self._entries: dict[str, _Entry] = {}

    def register(
        self,
        action_id: str,
        text: str,
        default: str,
        callback: Callable[..., object],
        widget: QWidget,
        context: Qt.ShortcutContext = Qt.ShortcutContext.WindowShortcut,
    ) -> QAction:
        """Build an action with the user's key for `action_id` (else `default`) and add it to `widget`."""
        action = QAction(text, widget)
        action.triggered.connect(callback)
        return self.adopt(action_id, action, default, widget, context)

    def adopt(
        self,
        action_id: str,
        action: QAction,
        default: str,
        widget: QWidget,
        context: Qt.ShortcutContext = Qt.ShortcutContext.WindowShortcut,
    ) -> QAction:
        """Register an action built elsewhere (e.g. by QUndoStack) so its shortcut is managed here too."""
        self._prune()
        if action_id in self._entries:
            raise ValueError(f"shortcut id {action_id!r} is registered twice")
        stored = QSettings().value(f"{SETTINGS_GROUP}/{action_id}")
        key = str(stored) if stored is not None else default
        action.setShortcut(QKeySequence(key))
        action.setShortcutContext(context)
        if action not in widget.actions():
            widget.addAction(action)
        self._entries[action_id] = _Entry(action, _portable(default), widget, context)
        self._announce_conflict(action_id)
        return action

    def set_shortcut(self, action_id: str, key: str | QKeySequence) -> None:
        """Give an action a new key ("" for none) and remember it for the next start."""
        entry = self._entry(action_id)
        portable = _portable(key)
        entry.action.setShortcut(QKeySequence(portable))
        settings = QSettings()
        if portable == entry.default:
            settings.remove(f"{SETTINGS_GROUP}/{action_id}")
        else:
            settings.setValue(f"{SETTINGS_GROUP}/{action_id}", portable)
        self.changed.emit(action_id, portable)
        self._announce_conflict(action_id)

    def reset(self, action_id: str) -> None:
        self.set_shortcut(action_id, self._entry(action_id).default)

    def shortcut(self, action_id: str) -> str:
        return _portable(self._entry(action_id).action.shortcut())

    def default(self, action_id: str) -> str:
        return self._entry(action_id).default

    def actions(self) -> dict[str, QAction]:
        self._prune()
        return {action_id: entry.action for action_id, entry in self._entries.items()}

    def conflicts(self) -> dict[str, list[str]]:
        """Key -> ids of the actions that share it where their contexts overlap (registration order)."""
        self._prune()
        by_key: dict[str, list[str]] = {}
        for action_id, entry in self._entries.items():
            key = _portable(entry.action.shortcut())
            if key:
                by_key.setdefault(key, []).append(action_id)
        result: dict[str, list[str]] = {}
        for key, ids in by_key.items():
            clashing = [
                a
                for a in ids
                if any(
                    _covers(self._entries[a], self._entries[b]) or _covers(self._entries[b], self._entries[a])
                    for b in ids
                    if b != a
                )
            ]
            if clashing:
                result[key] = clashing
        return result

    def _entry(self, action_id: str) -> _Entry:
        self._prune()
        try:
            return self._entries[action_id]
        except KeyError:
            raise KeyError(f"no shortcut registered as {action_id!r}") from None

    def _prune(self) -> None:
        # A page that was closed takes its actions with it; forget them rather than touch dead objects.
        dead = [
            i
            for i, e in self._entries.items()
            if not (shiboken6.isValid(e.action) and shiboken6.isValid(e.widget))
        ]
        for action_id in dead:
            del self._entries[action_id]

    def _announce_conflict(self, action_id: str) -> None:
        key = _portable(self._entries[action_id].action.shortcut())
        ids = self.conflicts().get(key, [])
        if action_id not in ids:
            return
        self.conflict.emit(key, ids)
        if self._notifications is not None:
            names = ", ".join(f"“{self._entries[i].action.text().replace('&', '')}”" for i in ids)
            self._notifications.post(
                "warning",
                "Shortcut conflict",
                f"{display_text(key)} is used by {names}; it will trigger none of them reliably.",
                where=f"shortcuts: {', '.join(ids)}",
                hint="Give one of them another key in Help ▸ Keyboard shortcuts…",
            )


class ShortcutsDialog(QDialog):
    """Lists every shortcut, lets the user change it, and shows conflicts in red."""

    COLUMNS = ("Action", "Shortcut", "Default")

    def __init__(self, registry: ShortcutRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(620, 480)
        self.filter = QLineEdit(placeholderText="Filter actions…", clearButtonEnabled=True)
        self.filter.textChanged.connect(self._apply_filter)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setColumnWidth(1, 200)
        self.status = QLabel()
        self.status.setWordWrap(True)
        restore = QPushButton("Restore defaults")
        restore.clicked.connect(self.restore_defaults)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(restore)
        bottom.addStretch(1)
        bottom.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        layout.addLayout(bottom)

        self.editors: dict[str, QKeySequenceEdit] = {}
        self._rows: dict[str, int] = {}
        actions = sorted(registry.actions().items(), key=lambda kv: kv[1].text().replace("&", "").lower())
        self.table.setRowCount(len(actions))
        for row, (action_id, action) in enumerate(actions):
            name = QTableWidgetItem(action.text().replace("&", ""))
            name.setToolTip(action_id)
            self.table.setItem(row, 0, name)
            editor = QKeySequenceEdit(action.shortcut())
            if hasattr(editor, "setMaximumSequenceLength"):
                editor.setMaximumSequenceLength(1)
            if hasattr(editor, "setClearButtonEnabled"):
                editor.setClearButtonEnabled(True)
            editor.keySequenceChanged.connect(lambda seq, i=action_id: self._edited(i, seq))
            self.table.setCellWidget(row, 1, editor)
            self.table.setItem(row, 2, QTableWidgetItem(display_text(registry.default(action_id))))
            self.editors[action_id] = editor
            self._rows[action_id] = row
        self.table.resizeRowsToContents()
        self.refresh()

    def _edited(self, action_id: str, sequence: QKeySequence) -> None:
        self.registry.set_shortcut(action_id, sequence)
        self.refresh()

    def restore_defaults(self) -> None:
        for action_id, editor in self.editors.items():
            self.registry.reset(action_id)
            editor.blockSignals(True)
            editor.setKeySequence(QKeySequence(self.registry.shortcut(action_id)))
            editor.blockSignals(False)
        self.refresh()

    def refresh(self) -> None:
        """Colour the rows in conflict and say which actions share which key."""
        conflicts = self.registry.conflicts()
        clashing = {action_id: ids for ids in conflicts.values() for action_id in ids}
        actions = self.registry.actions()
        for action_id, row in self._rows.items():
            others = [
                actions[i].text().replace("&", "") for i in clashing.get(action_id, []) if i != action_id
            ]
            color = QColor(CONFLICT_COLOR) if others else self.palette().text().color()
            self.table.item(row, 0).setForeground(color)
            editor = self.editors[action_id]
            editor.setStyleSheet(
                f"QLineEdit {{ color: {CONFLICT_COLOR}; border: 1px solid {CONFLICT_COLOR}; }}"
                if others
                else ""
            )
            editor.setToolTip(f"Also used by: {', '.join(others)}" if others else "")
        if conflicts:
            lines = [
                f"{display_text(key)}: " + ", ".join(actions[i].text().replace("&", "") for i in ids)
                for key, ids in conflicts.items()
            ]
            self.status.setStyleSheet(f"color: {CONFLICT_COLOR};")
            self.status.setText("Conflicts — " + "; ".join(lines))
        else:
            self.status.setStyleSheet("color: #6b7280;")
            self.status.setText("No conflicts. Click a shortcut and press the new keys; ⊗ removes it.")

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for row in range(self.table.rowCount()):
            self.table.setRowHidden(
                row, bool(needle) and needle not in self.table.item(row, 0).text().lower()
            )

    def conflict_rows(self) -> list[str]:
        """Ids of the rows shown in red (for tests and for the status line)."""
        return [
            i
            for i, row in self._rows.items()
            if self.table.item(row, 0).foreground().color() == QColor(CONFLICT_COLOR)
        ]
