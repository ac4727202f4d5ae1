"""Disconnecting slots at shutdown, when the other side may already be gone or never was connected."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any


def disconnect_all(connections: Iterable[tuple[Any, Callable[..., Any]]]) -> None:
    """Disconnect each (signal, slot); one already disconnected or deleted is passed over."""
    for signal, slot in connections:
        with contextlib.suppress(RuntimeError, TypeError):
            signal.disconnect(slot)
