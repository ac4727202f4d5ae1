"""Disconnecting slots at shutdown."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, Signal

from gui.signals import disconnect_all


class _Source(QObject):
    fired = Signal(int)
    other = Signal(int)


# PySide6 warns (it does not raise) when a slot was not connected.
@pytest.mark.filterwarnings("ignore:libpyside. Failed to disconnect:RuntimeWarning")
def test_disconnect_all_passes_over_slots_not_connected() -> None:
    source = _Source()
    seen: list[int] = []

    def slot(value: int) -> None:
        seen.append(value)

    source.fired.connect(slot)
    source.fired.emit(1)
    disconnect_all(((source.fired, slot), (source.other, slot), (source.fired, slot)))
    source.fired.emit(2)
    assert seen == [1]
