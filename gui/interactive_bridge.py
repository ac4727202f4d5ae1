"""Sends interactive requests (a forward pass, an attribution map) to the long-lived engine process
without blocking the GUI thread, and says so when that process had to be restarted."""

from __future__ import annotations

import itertools
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from engine.core.errors import LanternError
from engine.jobs.interactive import InteractiveEngine


class _Signals(QObject):
    answered = Signal(int, object)  # request id, result dict
    failed = Signal(int, object)  # request id, LanternError or exception
    restarted = Signal(str)  # why the engine process was restarted


class _Request(QRunnable):
    def __init__(
        self, engine: InteractiveEngine, signals: _Signals, request_id: int, op: str, args: dict
    ) -> None:
        super().__init__()
        self._engine, self._signals, self._id, self._op, self._args = engine, signals, request_id, op, args

    def run(self) -> None:
        try:
            answer = self._engine.call(self._op, **self._args)
        except LanternError as exc:
            self._signals.failed.emit(self._id, exc)
        except Exception as exc:  # a bug in an op must reach the user, not kill the pool thread
            self._signals.failed.emit(self._id, LanternError(f"{type(exc).__name__}: {exc}", self._op))
        else:
            self._signals.answered.emit(self._id, answer)


class InteractiveBridge(QObject):
    """`request(op, **args)` returns an id at once; the answer arrives later through `answered`."""

    answered = Signal(int, object)
    failed = Signal(int, object)
    restarted = Signal(str)

    def __init__(self, store_url: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._signals = _Signals()
        self._signals.answered.connect(self.answered)
        self._signals.failed.connect(self.failed)
        self._signals.restarted.connect(self.restarted)
        self._engine = InteractiveEngine(store_url=store_url, on_restart=self._signals.restarted.emit)
        # One thread: the engine process answers one request at a time anyway, and order is kept.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._ids = itertools.count(1)

    def request(self, op: str, **args: Any) -> int:
        request_id = next(self._ids)
        self._pool.start(_Request(self._engine, self._signals, request_id, op, args))
        return request_id

    @property
    def engine_pid(self) -> int | None:
        """The engine process's pid, None before the first request."""
        return self._engine.pid

    @property
    def restarts(self) -> int:
        return self._engine.restarts

    def shutdown(self) -> None:
        self._pool.clear()
        self._pool.waitForDone(5000)
        self._engine.close()
