"""PySide6 6.12 under-counts None/True on CPython 3.11; importing gui must keep the interpreter alive."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
import gui  # applies the guard
from PySide6.QtCore import QObject, Signal, QCoreApplication
app = QCoreApplication([])
class Emitter(QObject):
    ping = Signal(int)
emitter = Emitter()
received = []
emitter.ping.connect(received.append)
for i in range(20_000):
    emitter.ping.emit(i)
    emitter.setObjectName(str(i))  # a void method: the None path
app.processEvents()
print(len(received))
"""


def test_twenty_thousand_signal_emissions_do_not_abort_the_interpreter() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "20000"
    assert "Fatal Python error" not in done.stderr
