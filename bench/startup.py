"""Start-up and responsiveness bench: GUI cold start to first paint, and GUI-thread stalls while a job trains.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/startup.py [--runs 5] [--epochs 2] [--json PATH]

Each figure is measured in the same run as a named peer:
  (a) `lantern` (the console script) started as a subprocess, from just before Popen to the wall time of its
      first paint (written by the app to LANTERN_FIRST_PAINT_FILE); peer: a bare PySide6 QMainWindow script
      timed the same way (the floor any PySide6 app pays). Runs alternate between the two.
  (b) the longest and the 99th-percentile stall of a 5 ms QTimer heartbeat in the real main window while
      demo.train_classifier runs and its metrics stream into the Runs page's plot; peer: the same heartbeat in
      the same window with no job running.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # so `python bench/startup.py` imports the checkout's packages

STARTUP_TARGET_S = 1.5
STALL_P99_TARGET_MS = 50.0
HEARTBEAT_MS = 5
QUIT_AFTER_MS = 400  # the app closes itself this long after it starts its event loop
STARTUP_TIMEOUT_S = 60
JOB_TIMEOUT_S = 900

PEER_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    class FirstPaint(QObject):
        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Paint:
                watched.removeEventFilter(self)
                with open(sys.argv[1], "w") as handle:
                    json.dump({"time": time.time()}, handle)
            return False

    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.setCentralWidget(QLabel("peer"))
    window.resize(1400, 900)
    recorder = FirstPaint(window)
    window.installEventFilter(recorder)
    QTimer.singleShot(int(sys.argv[2]), window.close)
    window.show()
    sys.exit(app.exec())
    """
)


@dataclass
class Row:
    figure: str
    lantern: float
    peer_name: str
    peer: float
    target: str
    ok: bool | None

    @property
    def ratio(self) -> float:
        return self.lantern / self.peer if self.peer else float("inf")


def lantern_executable() -> list[str]:
    script = Path(sys.executable).parent / ("lantern.exe" if os.name == "nt" else "lantern")
    if script.exists():
        return [str(script)]
    raise SystemExit(
        f"the `lantern` console script is not installed beside {sys.executable}; run `make bench` "
        "(it installs the project into .venv first)"
    )


def _first_paint(command: list[str], env: dict[str, str], paint_file: Path) -> float:
    """Seconds from just before Popen to the first paint the process reports."""
    paint_file.unlink(missing_ok=True)
    started = time.time()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, stderr = process.communicate(timeout=STARTUP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        raise SystemExit(f"{command[0]} did not exit within {STARTUP_TIMEOUT_S} s") from None
    if not paint_file.is_file():
        tail = stderr.decode(errors="replace").strip()[-2000:]
        raise SystemExit(f"{command[0]} exited ({process.returncode}) without painting a window:\n{tail}")
    return float(json.loads(paint_file.read_text())["time"]) - started


def measure_startup(runs: int) -> dict[str, Any]:
    """Alternate `lantern` and the peer script, `runs` times each, after one untimed launch of each."""
    with tempfile.TemporaryDirectory(prefix="lantern-bench-") as folder:
        root = Path(folder)
        env = {**os.environ, "LANTERN_HOME": str(root / "home"), "LANTERN_NONINTERACTIVE": "1"}
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        lantern_env = {
            **env,
            "LANTERN_FIRST_PAINT_FILE": str(root / "lantern-paint.json"),
            "LANTERN_QUIT_AFTER_MS": str(QUIT_AFTER_MS),
        }
        peer_script = root / "bare_qmainwindow.py"
        peer_script.write_text(PEER_SCRIPT)
        lantern = lantern_executable()
        peer = [sys.executable, str(peer_script), str(root / "peer-paint.json"), str(QUIT_AFTER_MS)]
        # The first launch creates and migrates the database and warms the file cache: not a figure.
        _first_paint(lantern, lantern_env, root / "lantern-paint.json")
        _first_paint(peer, env, root / "peer-paint.json")
        lantern_s, peer_s = [], []
        for _ in range(runs):
            lantern_s.append(_first_paint(lantern, lantern_env, root / "lantern-paint.json"))
            peer_s.append(_first_paint(peer, env, root / "peer-paint.json"))
    return {"lantern_s": lantern_s, "peer_s": peer_s}


class Heartbeat:
    """A 5 ms timer on the GUI thread; a late tick means the thread was busy (a stall) for that long.

    A watchdog thread notes where the GUI thread is whenever a tick is overdue, so the longest stall can
    be put down to the code that caused it (or to none: Qt's own painting, or the CPU being elsewhere).
    """

    def __init__(self, interval_ms: int = HEARTBEAT_MS) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.interval_s = interval_ms / 1000
        self.ticks: list[float] = []
        self.samples: list[tuple[float, str]] = []  # (when, innermost Python frames of the GUI thread)
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))
        self._gui_thread = threading.get_ident()
        self._stop = threading.Event()

    def start(self) -> None:
        self.ticks = [time.perf_counter()]
        self.samples = []
        self._stop.clear()
        threading.Thread(target=self._watch, name="heartbeat-watchdog", daemon=True).start()
        self.timer.start()

    def stop(self) -> list[float]:
        """Stalls in ms: each gap between ticks minus the interval (never below zero)."""
        self.timer.stop()
        self._stop.set()
        gaps = [b - a for a, b in zip(self.ticks, self.ticks[1:], strict=False)]
        return [max(0.0, (gap - self.interval_s) * 1000) for gap in gaps]

    def longest_stall_where(self) -> str:
        """The GUI thread's Python frames most often seen during the longest stall."""
        if len(self.ticks) < 2:
            return ""
        start, end = max(zip(self.ticks, self.ticks[1:], strict=False), key=lambda pair: pair[1] - pair[0])
        seen = Counter(where for when, where in self.samples if start <= when <= end)
        return seen.most_common(1)[0][0] if seen else "nowhere sampled (the CPU was elsewhere)"

    def _watch(self) -> None:
        while not self._stop.wait(0.01):
            if time.perf_counter() - self.ticks[-1] < 0.05:
                continue
            frame = sys._current_frames().get(self._gui_thread)
            if frame is None:
                continue
            frames = traceback.extract_stack(frame)[-6:]
            if frames and frames[-1].name == "run_loop":
                where = "Qt itself (painting or layout; no Python code on the stack)"
            else:
                where = " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames))
            self.samples.append((time.perf_counter(), where))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def measure_stalls(epochs: int) -> dict[str, Any]:
    """Heartbeat stalls in the main window: idle (the peer), then while a training job streams metrics."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    home = tempfile.TemporaryDirectory(prefix="lantern-bench-stall-")
    os.environ["LANTERN_HOME"] = home.name
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from gui.app import build_services, create_main_window, shutdown
    from gui.pages.runs import RunsPage, run_label
    from gui.style import apply_style

    app = QApplication.instance() or QApplication([sys.argv[0]])
    apply_style(app)
    services = build_services()
    loop = QEventLoop()

    def run_loop(seconds: float) -> None:
        """The real event loop (as app.exec() runs it) for at most `seconds`."""
        QTimer.singleShot(round(seconds * 1000), loop.quit)
        loop.exec()

    try:
        window = create_main_window(services)
        window.resize(1400, 900)
        window.show()
        window.show_page("runs")
        page = window.page("runs")
        assert isinstance(page, RunsPage)
        run_loop(1.0)

        heartbeat = Heartbeat()
        heartbeat.start()
        run_loop(5.0)
        idle = heartbeat.stop()

        final: dict[int, str] = {}
        metrics = {"count": 0}

        def on_status(job: int, status: str, _message: str) -> None:
            if status in ("done", "failed", "cancelled", "interrupted"):
                final[job] = status
                loop.quit()

        services.jobs.status.connect(on_status)
        services.jobs.metric.connect(lambda *_args: metrics.__setitem__("count", metrics["count"] + 1))
        spec = {"job": "demo.train_classifier", "params": {"epochs": epochs, "name": "bench: stall"}}
        started = time.perf_counter()
        heartbeat.start()
        submit_started = time.perf_counter()
        job_id = page.submit(spec)
        submit_ms = (time.perf_counter() - submit_started) * 1000  # validation, job record, process start
        if job_id is None:
            raise SystemExit("the training job did not start; the log file says why")
        while job_id not in final:
            if time.perf_counter() - started > JOB_TIMEOUT_S:
                services.jobs.cancel(job_id)
                raise SystemExit(f"the training job did not finish within {JOB_TIMEOUT_S} s")
            run_loop(JOB_TIMEOUT_S)
        elapsed = time.perf_counter() - started
        run_loop(0.3)  # the last coalesced redraw
        busy = heartbeat.stop()
        where = heartbeat.longest_stall_where()
        runs = services.store.runs.for_job(job_id)
        plotted = page.plot.point_count(run_label(runs[0]), "train_loss") if runs else 0
        return {
            "idle_ms": idle,
            "busy_ms": busy,
            "submit_ms": submit_ms,
            "longest_stall_where": where,
            "job_status": final[job_id],
            "job_seconds": elapsed,
            "metric_events": metrics["count"],
            "train_loss_points_plotted": plotted,
            "epochs": epochs,
        }
    finally:
        shutdown(services)
        home.cleanup()


def build_rows(startup: dict[str, Any] | None, stalls: dict[str, Any] | None) -> list[Row]:
    rows = []
    if startup is not None:
        lantern, peer = startup["lantern_s"], startup["peer_s"]
        median = statistics.median(lantern)
        peer_name = "bare PySide6 QMainWindow"
        rows += [
            Row(
                "cold start to first paint, median (s)",
                median,
                peer_name,
                statistics.median(peer),
                f"< {STARTUP_TARGET_S:g} s",
                median < STARTUP_TARGET_S,
            ),
            Row("cold start to first paint, min (s)", min(lantern), peer_name, min(peer), "", None),
            Row("cold start to first paint, max (s)", max(lantern), peer_name, max(peer), "", None),
        ]
    if stalls is not None:
        busy, idle = stalls["busy_ms"], stalls["idle_ms"]
        p99 = _percentile(busy, 99)
        peer_name = "same heartbeat, no job"
        rows += [
            Row(
                "GUI stall while training, p99 (ms)",
                p99,
                peer_name,
                _percentile(idle, 99),
                f"< {STALL_P99_TARGET_MS:g} ms",
                p99 < STALL_P99_TARGET_MS,
            ),
            Row(
                "GUI stall while training, max (ms)",
                max(busy, default=0.0),
                peer_name,
                max(idle, default=0.0),
                "",
                None,
            ),
        ]
    return rows


def render(rows: list[Row], startup: dict[str, Any] | None, stalls: dict[str, Any] | None) -> str:
    header = ("figure", "Lantern", "peer", "peer value", "ratio", "target", "")
    cells = [
        (
            r.figure,
            f"{r.lantern:.3f}" if "(s)" in r.figure else f"{r.lantern:.1f}",
            r.peer_name,
            f"{r.peer:.3f}" if "(s)" in r.figure else f"{r.peer:.1f}",
            f"{r.ratio:.2f}x",
            r.target,
            "" if r.ok is None else ("ok" if r.ok else "MISSED"),
        )
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in [header, *cells]) for i in range(len(header))]
    right = {1, 3, 4}

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    out = [
        f"Lantern bench: {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, QT_QPA_PLATFORM={os.environ.get('QT_QPA_PLATFORM', '(default)')}",
        line(header),
        line(tuple("-" * w for w in widths)),
        *(line(c) for c in cells),
    ]
    if startup is not None:
        out.append(
            f"startup: {len(startup['lantern_s'])} alternating launches each, after one untimed launch"
        )
    if stalls is not None:
        out.append(
            f"stalls: {len(stalls['busy_ms'])} heartbeats of {HEARTBEAT_MS} ms while demo.train_classifier "
            f"({stalls['epochs']} epochs) ran {stalls['job_seconds']:.1f} s -> {stalls['job_status']}, "
            f"{stalls['metric_events']} metric events, "
            f"{stalls['train_loss_points_plotted']} train_loss points plotted; "
            f"peer: {len(stalls['idle_ms'])} heartbeats idle; the submit call itself (spec check, "
            f"job record, process start) held the GUI thread {stalls['submit_ms']:.0f} ms"
        )
        out.append(f"longest stall spent in: {stalls['longest_stall_where']}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed launches of each program (default 5)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the training job (default 2)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    parser.add_argument("--only", choices=("startup", "stalls"), help="measure one of the two")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.epochs < 1:
        parser.error("--runs and --epochs must be at least 1")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    startup = measure_startup(args.runs) if args.only in (None, "startup") else None
    stalls = measure_stalls(args.epochs) if args.only in (None, "stalls") else None
    rows = build_rows(startup, stalls)
    print(render(rows, startup, stalls))
    if args.json:
        document = {
            "rows": [{**asdict(r), "ratio": r.ratio} for r in rows],
            "startup": startup,
            "stalls": None
            if stalls is None
            else {
                **{k: v for k, v in stalls.items() if not k.endswith("_ms")},
                "busy_p99_ms": _percentile(stalls["busy_ms"], 99),
                "busy_max_ms": max(stalls["busy_ms"], default=0.0),
                "idle_p99_ms": _percentile(stalls["idle_ms"], 99),
                "idle_max_ms": max(stalls["idle_ms"], default=0.0),
                "heartbeats_busy": len(stalls["busy_ms"]),
                "heartbeats_idle": len(stalls["idle_ms"]),
            },
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2))
        print(f"written to {args.json}")
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
