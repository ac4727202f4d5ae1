"""Render every page, the Runs page with data, and the dialogs to PNG files, and check that none is blank.

The folder is LANTERN_SCREENSHOT_DIR, else <repo>/screenshots/; the test prints it. The runs shown are
synthetic curves written through the store's API: they show the page's layout, not a result.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QSize
from PySide6.QtGui import QFont, QImage, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from engine.core.device import DeviceChoice
from engine.store.database import Store
from engine.store.models import Run
from gui.app import create_main_window
from gui.dialogs.train_classifier import TrainClassifierDialog
from gui.pages.runs import RunsPage
from gui.services import AppServices
from gui.settings_dialog import SettingsDialog
from gui.shortcuts import ShortcutRegistry
from gui.style import apply_style

REPO = Path(__file__).resolve().parents[2]
WINDOW_SIZE = QSize(1400, 900)
PAGE_SIZE = QSize(1200, 800)
PAGES = ("runs", "augment", "annotate", "relational", "attribution")
CPU = DeviceChoice("cpu", "float32", "x86_64")


def screenshot_dir() -> Path:
    folder = Path(os.environ.get("LANTERN_SCREENSHOT_DIR") or REPO / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def settle(widget: QWidget, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Let layouts, the plot's coalesced redraw and deferred deletions run before a grab."""
    qtbot.waitExposed(widget)
    qtbot.wait(150)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
    QApplication.processEvents()


def save(widget: QWidget, name: str, qtbot) -> Path:  # type: ignore[no-untyped-def]
    settle(widget, qtbot)
    path = screenshot_dir() / f"{name}.png"
    assert widget.grab().save(str(path)), f"could not write {path}"
    return path


def assert_real_image(path: Path, size: QSize) -> None:
    image = QImage(str(path))
    assert not image.isNull(), f"{path} is not a readable PNG"
    ratio = image.devicePixelRatio() or 1.0
    assert (round(image.width() / ratio), round(image.height() / ratio)) == (size.width(), size.height()), (
        path
    )
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(rgb.constBits(), dtype=np.uint8).reshape(rgb.height(), rgb.bytesPerLine())
    pixels = pixels[:, : rgb.width() * 3].reshape(-1, 3)
    assert pixels.std() > 8, f"{path} looks blank (pixel std {pixels.std():.1f})"
    colours = np.unique(pixels[:: max(1, len(pixels) // 200_000)], axis=0)
    assert len(colours) > 30, f"{path} has only {len(colours)} colours"


def _curve(epochs: int, per_epoch: int, speed: float, floor: float, rng: np.random.RandomState) -> list:
    steps = [round(e + k / per_epoch, 3) for e in range(epochs) for k in range(1, per_epoch + 1)]
    loss = [floor + (2.3 - floor) * np.exp(-speed * s) + rng.normal(0, 0.03) for s in steps]
    return list(zip(steps, loss, strict=True))


def populate(store: Store, tmp_path: Path) -> list[int]:
    """Three runs that look like demo.train_classifier runs: two finished, one cancelled part way."""
    rng = np.random.RandomState(7)
    plans = [
        ("Fashion-MNIST CNN 16-32/64, 5 epochs, 6000 images", 5, 5, 1.3, 0.32, 64, 2e-3, "done", 184.0),
        ("wider head (hidden 128)", 5, 5, 1.6, 0.27, 128, 2e-3, "done", 201.5),
        ("lr 1e-2", 5, 3, 2.4, 0.45, 64, 1e-2, "cancelled", 97.2),
    ]
    run_ids = []
    for name, epochs, done_epochs, speed, floor, hidden, lr, status, seconds in plans:
        config = {"epochs": epochs, "batch_size": 128, "learning_rate": lr, "channels": [16, 32]}
        config |= {"hidden": hidden, "dropout": 0.1, "seed": 0, "train_limit": 6000}
        run_id = store.runs.create(name=name, kind="demo.classifier", config=config, device=CPU, seed=0)
        points = []
        for step, loss in _curve(done_epochs, 10, speed, floor, rng):
            accuracy = (
                0.93 - 0.83 * (loss - floor) / (2.3 - floor) - 2.2 * (floor - 0.27) + rng.normal(0, 0.01)
            )
            points += [("train_loss", step, loss), ("train_accuracy", step, float(np.clip(accuracy, 0, 1)))]
        for epoch in range(1, done_epochs + 1):
            test_loss = floor + 0.08 + (1.0 - floor) * np.exp(-speed * epoch)
            test_accuracy = 0.9 - 0.5 * np.exp(-speed * epoch) - 1.8 * (floor - 0.27)
            points += [("test_loss", float(epoch), test_loss), ("test_accuracy", float(epoch), test_accuracy)]
        store.runs.add_metrics(run_id, points)
        final = {name: value for name, step, value in points if step == float(done_epochs) and "test" in name}
        summary = {**final, "epochs": done_epochs} if status == "done" else {"epochs": done_epochs}
        for epoch in range(1, done_epochs + 1):
            checkpoint = tmp_path / f"run{run_id}-epoch{epoch}.safetensors"
            checkpoint.write_bytes(rng.bytes(200_000 + run_id))
            store.artifacts.add(
                checkpoint, kind="checkpoint", name=f"classifier-epoch{epoch}.safetensors", run_id=run_id
            )
        store.runs.finish(run_id, status, summary)
        # Give the runs the start times and durations of runs made over an afternoon.
        with store.session() as session:
            row = session.get(Run, run_id)
            assert row is not None and row.finished_at is not None
            row.started_at = row.finished_at - timedelta(
                minutes=40 * (len(plans) - len(run_ids)), seconds=seconds
            )
            row.created_at = row.started_at
            row.finished_at = row.started_at + timedelta(seconds=seconds)
            row.duration_s = seconds
        run_ids.append(run_id)
    return run_ids


@pytest.fixture
def lantern_look(qapp) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The app's style for the screenshots, and the test application's look restored afterwards."""
    before = (qapp.style().name(), QPalette(qapp.palette()), QFont(qapp.font()), qapp.styleSheet())
    apply_style(qapp)
    yield
    style, palette, font, sheet = before
    qapp.setStyleSheet(sheet)
    qapp.setFont(font)
    qapp.setPalette(palette)
    qapp.setStyle(style)


def test_screenshots_of_every_page_and_dialog(
    qtbot, services: AppServices, tmp_path: Path, lantern_look: None
) -> None:  # type: ignore[no-untyped-def]
    run_ids = populate(services.store, tmp_path)
    written: list[tuple[Path, QSize]] = []

    window = create_main_window(services)
    qtbot.addWidget(window)
    window.resize(WINDOW_SIZE)
    window.show()
    window.page("runs").table.select_runs(run_ids[:2])
    for key in PAGES:
        window.show_page(key)
        written.append((save(window, f"main-window-{key}", qtbot), WINDOW_SIZE))
    window.close()

    # The page alone, beside the window's own Runs page: its shortcuts go to a registry of its own.
    page = RunsPage(replace(services, shortcuts=ShortcutRegistry(services.notifications)))
    qtbot.addWidget(page)
    page.resize(PAGE_SIZE)
    page.show()
    page.table.select_runs(run_ids)
    written.append((save(page, "runs-page-with-data", qtbot), PAGE_SIZE))
    page.details.tabs.setCurrentIndex(1)
    page.table.select_runs([run_ids[0]])
    written.append((save(page, "runs-page-artifacts", qtbot), PAGE_SIZE))
    page.shutdown()
    page.close()

    dialog = TrainClassifierDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    settle(dialog, qtbot)
    written.append((save(dialog, "train-classifier-dialog", qtbot), dialog.size()))
    dialog.close()

    settings = SettingsDialog(services.settings)
    qtbot.addWidget(settings)
    settings.show()
    settle(settings, qtbot)
    written.append((save(settings, "settings-dialog", qtbot), settings.size()))
    settings.close()

    print(f"\nscreenshots in {screenshot_dir()}:")
    for path, size in written:
        print(f"  {path.name} ({size.width()}x{size.height()})")
        assert path.is_file()
        assert_real_image(path, size)
    assert len(written) == len(PAGES) + 4
