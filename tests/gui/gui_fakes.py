"""What several GUI test files share: a stand-in for the interactive bridge, and running a GUI script in a
fresh offscreen Python (to see what it imports)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

ROOT = Path(__file__).resolve().parents[2]


class FakeInteractive(QObject):
    """Stands in for the interactive bridge: records requests; the test answers or fails them."""

    answered = Signal(int, object)
    failed = Signal(int, object)

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def request(self, op: str, **args: Any) -> int:
        self.requests.append((op, args))
        return len(self.requests)

    def last(self, op: str) -> tuple[int, dict[str, Any]]:
        """The id and arguments of the newest request of `op`."""
        for index in range(len(self.requests) - 1, -1, -1):
            if self.requests[index][0] == op:
                return index + 1, self.requests[index][1]
        raise AssertionError(f"no {op} request among {[o for o, _ in self.requests]}")

    def ops(self) -> list[str]:
        return [op for op, _ in self.requests]


def run_gui_script(script: str, lantern_home: Path) -> Any:
    """Run `script` in a new offscreen Python on `lantern_home` (no other LANTERN_ settings); it must exit
    cleanly, and its last line of output (JSON) is returned decoded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANTERN_")}
    env.update({"QT_QPA_PLATFORM": "offscreen", "LANTERN_HOME": str(lantern_home)})
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
