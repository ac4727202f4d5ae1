"""The shared services every page is handed: settings, store, jobs, notices, shortcuts, undo."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QUndoStack

from engine.core.settings import Settings
from engine.store.database import Store
from gui.interactive_bridge import InteractiveBridge
from gui.job_bridge import JobBridge
from gui.notifications import NotificationCenter
from gui.shortcuts import ShortcutRegistry


@dataclass
class AppServices:
    settings: Settings
    store: Store
    jobs: JobBridge
    notifications: NotificationCenter
    shortcuts: ShortcutRegistry
    undo_stack: QUndoStack
    interactive: InteractiveBridge  # the long-lived engine process for one-off requests
