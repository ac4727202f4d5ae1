"""The app's start and end: the real `lantern` script opens, paints and exits 0; without a display, with a
damaged database or broken settings it says why and exits 2 without touching the files; interactive
fallbacks; jobs left running by a dead process are reported as interrupted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from engine.core.settings import Settings
from gui import app

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("lantern")


def lantern_command() -> list[str]:
    """The installed console script when there is one, else the launcher module it points at."""
    return [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "gui.launcher"]


def run_lantern(home: Path, timeout: float = 60, **env: str | None) -> subprocess.CompletedProcess[str]:
    """Run the app with a clean Lantern environment; a variable given as None is removed."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LANTERN_")}
    environment.update({"LANTERN_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"})
    for name, value in env.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return subprocess.run(
        lantern_command(),
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_lantern_opens_paints_and_exits_cleanly(lantern_home: Path, tmp_path: Path) -> None:
    paint_file = tmp_path / "first-paint.json"
    started = time.time()
    result = run_lantern(lantern_home, LANTERN_QUIT_AFTER_MS="1500", LANTERN_FIRST_PAINT_FILE=str(paint_file))
    elapsed = time.time() - started
    assert result.returncode == 0, result.stderr
    assert "Fatal Python error" not in result.stderr
    assert "Traceback" not in result.stderr
    painted = json.loads(paint_file.read_text())
    assert started < painted["time"] < started + elapsed
    assert painted["main_time"] <= painted["time"]
    assert painted["main_perf_counter"] <= painted["perf_counter"]
    if sys.platform.startswith("linux"):
        assert started - 1 < painted["process_start_time"] <= painted["main_time"]
    log = (lantern_home / "logs" / "lantern.log").read_text()
    assert "Lantern closed with status 0" in log
    assert (lantern_home / "data" / "lantern.db").exists()


def test_without_a_display_lantern_explains_and_exits_2(lantern_home: Path) -> None:
    result = run_lantern(lantern_home, QT_QPA_PLATFORM=None, DISPLAY=None, WAYLAND_DISPLAY=None)
    if not sys.platform.startswith("linux"):
        pytest.skip("the display check applies to Linux")
    assert result.returncode == 2
    assert "no display found" in result.stderr
    assert "QT_QPA_PLATFORM=offscreen lantern" in result.stderr
    assert "lantern --help" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_damaged_database_is_reported_and_left_untouched(lantern_home: Path, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(bytes(range(256)) * 64)
    before = garbage.read_bytes()
    result = run_lantern(
        lantern_home,
        LANTERN_DATABASE_URL=f"sqlite:///{garbage}",
        LANTERN_NONINTERACTIVE="1",
        LANTERN_QUIT_AFTER_MS="1",
    )
    assert result.returncode == 2
    assert "the database cannot be opened" in result.stderr
    assert "damaged or is not a SQLite database" in result.stderr
    assert f"where: {garbage}" in result.stderr
    assert "what to do:" in result.stderr
    assert garbage.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("garbage")) == ["garbage.db"]


def test_broken_settings_are_reported_and_left_untouched(lantern_home: Path) -> None:
    settings_file = lantern_home / "config" / "settings.json"
    settings_file.parent.mkdir(parents=True, exist_ok=True)
    settings_file.write_text('{"device": "tpu"}')
    result = run_lantern(lantern_home, LANTERN_NONINTERACTIVE="1", LANTERN_QUIT_AFTER_MS="1")
    assert result.returncode == 2
    assert "the settings cannot be used" in result.stderr and "device" in result.stderr
    assert settings_file.read_text() == '{"device": "tpu"}'


def click_when_asked(button_text: str, seen: list[str]) -> None:
    """Answer the next modal message box by clicking the button with this text."""

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer)
            return
        seen.append(box.informativeText())
        for button in box.buttons():
            if button.text() == button_text:
                button.click()
                return
        raise AssertionError(f"no button {button_text!r} in {[b.text() for b in box.buttons()]}")

    QTimer.singleShot(0, answer)


def test_store_error_dialog_can_fall_back_to_the_embedded_store(qapp, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"\x00garbage" * 500)
    before = garbage.read_bytes()
    monkeypatch.setenv("LANTERN_DATABASE_URL", f"sqlite:///{garbage}")
    seen: list[str] = []
    click_when_asked("Use the embedded SQLite store", seen)
    _, store, note = app._open_store_or_ask(Settings())
    try:
        assert "damaged or is not a SQLite database" in seen[0]
        assert f"Where: {garbage}" in seen[0] and "The database was not changed." in seen[0]
        assert store.url == f"sqlite:///{Settings().resolved_data_dir() / 'lantern.db'}"
        assert "using the embedded SQLite store for this session" in note
    finally:
        store.close()
    assert garbage.read_bytes() == before


def test_store_error_dialog_quit_returns_nothing(qapp, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"\x00garbage" * 500)
    monkeypatch.setenv("LANTERN_DATABASE_URL", f"sqlite:///{garbage}")
    seen: list[str] = []
    click_when_asked("Quit", seen)
    assert app._open_store_or_ask(Settings()) is None
    assert len(seen) == 1


def test_broken_settings_can_be_reset_keeping_the_old_file(qapp, lantern_home: Path) -> None:  # type: ignore[no-untyped-def]
    settings_file = lantern_home / "config" / "settings.json"
    settings_file.parent.mkdir(parents=True, exist_ok=True)
    settings_file.write_text("{not json")
    seen: list[str] = []
    click_when_asked("Reset to defaults", seen)
    assert app._load_settings_or_ask() == Settings()
    assert not settings_file.exists()
    kept = list(settings_file.parent.glob("settings.json.broken-*"))
    assert len(kept) == 1 and kept[0].read_text() == "{not json"
    assert kept[0].name in seen[0]


def test_jobs_of_a_dead_process_are_reported_as_interrupted(services) -> None:  # type: ignore[no-untyped-def]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    job_id = services.store.jobs.create("demo.train_classifier", {"epochs": 2})
    services.store.jobs.set_status(job_id, "running", pid=dead.pid)
    app._recover_interrupted_jobs(services)
    assert services.store.jobs.get(job_id).status == "interrupted"
    notice = services.notifications.notices()[-1]
    assert (notice.level, notice.title) == ("info", "Interrupted jobs")
    assert notice.message == f"1 job did not finish when Lantern last ran: #{job_id} demo.train_classifier."
    assert "Resume button in the Jobs panel" in notice.hint


def test_build_services_wires_the_shared_pieces(services) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QSettings

    assert services.store.url.endswith(str(Path("data") / "lantern.db"))
    assert QSettings().fileName().startswith(str(Path(os.environ["LANTERN_HOME"]) / "config"))
    services.jobs.error.emit(5, {"what": "boom", "where": "", "hint": ""})
    assert services.notifications.notices()[-1].title == "Job #5 failed"  # no such job in the store
