"""A text progress bar with ETA for the CLI: redrawn in place on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

LINE_INTERVAL_S = 5.0  # not a terminal (a log file, CI): one line every few seconds at most


def format_duration(seconds: float) -> str:
    """'0:07', '12:03', '1:02:03'."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def render(
    done: float, total: float, elapsed: float, eta: float | None, width: int = 30, message: str = ""
) -> str:
    """One line: `[#######.......]  45%  45/100  0:12 < 0:15  message` (no ETA until the rate is known)."""
    fraction = min(1.0, max(0.0, done / total)) if total > 0 else 0.0
    filled = round(fraction * width)
    bar = "#" * filled + "." * (width - filled)
    counts = f"{done:g}/{total:g}" if total > 0 else f"{done:g}"
    timing = format_duration(elapsed) + (f" < {format_duration(eta)}" if eta is not None else " < ?")
    line = f"[{bar}] {fraction * 100:3.0f}%  {counts}  {timing}"
    return f"{line}  {message}" if message else line


class ProgressBar:
    """Shows a job's progress; `print_above` writes a log line without garbling the bar. Thread-safe."""

    def __init__(
        self,
        stream: TextIO | None = None,
        width: int = 30,
        clock: Callable[[], float] = time.monotonic,
        interactive: bool | None = None,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self._clock = clock
        self._interactive = self.stream.isatty() if interactive is None else interactive
        self._lock = threading.Lock()
        self._start = clock()
        self._first: tuple[float, float] | None = None  # (time, done) of the first report, for the rate
        self._line = ""
        self._shown = False
        self._last_line_at = float("-inf")

    def eta(self, done: float, total: float) -> float | None:
        """Seconds left at the rate seen since the first report (a resumed job starts part-way)."""
        now = self._clock()
        if self._first is None or total <= 0:
            return None
        t0, done0 = self._first
        if done <= done0 or now <= t0:
            return None
        rate = (done - done0) / (now - t0)
        return max(0.0, (total - done) / rate)

    def update(self, done: float, total: float, message: str = "") -> None:
        with self._lock:
            now = self._clock()
            if self._first is None:
                self._first = (now, done)
            line = render(done, total, now - self._start, self.eta(done, total), self.width, message)
            finished = total > 0 and done >= total
            if self._interactive:
                self._draw(line)
            elif finished or now - self._last_line_at >= LINE_INTERVAL_S:
                self.stream.write(line + "\n")
                self.stream.flush()
                self._last_line_at = now
            self._line = line

    def print_above(self, text: str) -> None:
        """A log or metric line: clear the bar, print the text, redraw the bar below it."""
        with self._lock:
            if self._interactive and self._shown:
                self.stream.write("\r\x1b[2K")
            self.stream.write(text + "\n")
            if self._interactive and self._shown:
                self.stream.write(self._line)
            self.stream.flush()

    def close(self) -> None:
        """End the bar's line so what follows starts on a fresh one."""
        with self._lock:
            if self._interactive and self._shown:
                self.stream.write("\n")
                self.stream.flush()
            self._shown = False

    def _draw(self, line: str) -> None:
        self.stream.write("\r\x1b[2K" + line)
        self.stream.flush()
        self._shown = True
