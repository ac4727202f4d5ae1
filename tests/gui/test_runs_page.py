"""The Runs page: runs from the store, filter, overlay, details with missing artifacts, and real training jobs
started from the page (live curves, done, cancel, persisted after a restart, CSV/PNG export)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QKeySequence
from PySide6.QtWidgets import QDialogButtonBox

from engine.core.device import DeviceChoice
from engine.store import open_store
from engine.store.database import Store
from gui.app import build_services
from gui.pages.runs import RunsPage, format_size, run_label
from gui.services import AppServices
from gui.widgets.run_table import NAME, STATUS, TEST_ACC, format_duration

JOB_TIMEOUT_MS = 120_000
CPU = DeviceChoice("cpu", "float32", "test CPU")
TINY = {"epochs": 1, "batch_size": 64, "train_limit": 512}


def make_page(qtbot, services: AppServices) -> RunsPage:  # type: ignore[no-untyped-def]
    page = RunsPage(services)
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    qtbot.waitExposed(page)
    return page


def add_run(
    store: Store, name: str, status: str = "done", accuracy: float | None = None, points: int = 5
) -> int:
    run_id = store.runs.create(name=name, kind="demo.classifier", config={"epochs": 1}, device=CPU, seed=0)
    store.runs.add_metrics(run_id, [("train_loss", (i + 1) / points, 2.0 / (i + 1)) for i in range(points)])
    if status != "running":
        store.runs.finish(run_id, status, {"test_accuracy": accuracy} if accuracy is not None else {})
    return run_id


def table_text(page: RunsPage, run_id: int, column: int) -> str:
    row = page.table.runs_model.row_of(run_id)
    assert row is not None, f"run #{run_id} is not listed"
    index = page.table.proxy.mapFromSource(page.table.runs_model.index(row, column))
    return str(index.data())


def store_series(store: Store, run_id: int, name: str) -> tuple[list[float], list[float]]:
    series = store.runs.metrics(run_id)[name]
    return list(series.steps), list(series.values)


def the_run(store: Store, job_id: int) -> int | None:
    runs = store.runs.for_job(job_id)
    return runs[0].id if runs else None


# the table, the filter and the overlay, on runs written straight to the store


def test_lists_runs_from_the_store_with_status_and_accuracy(qtbot, services: AppServices) -> None:  # type: ignore[no-untyped-def]
    first = add_run(services.store, "baseline", "done", 0.8512)
    second = add_run(services.store, "exploding lr", "failed")
    page = make_page(qtbot, services)
    assert page.table.runs_model.rowCount() == 2
    assert table_text(page, first, NAME) == "baseline"
    assert table_text(page, first, STATUS) == "done"
    assert table_text(page, first, TEST_ACC) == "85.1 %"
    assert table_text(page, second, STATUS) == "failed"
    assert table_text(page, second, TEST_ACC) == "–"
    assert page.count_label.text() == "2 runs"
    # Sorting by accuracy puts the run without one last.
    page.table.sortByColumn(TEST_ACC, Qt.SortOrder.DescendingOrder)
    assert page.table.proxy.index(0, NAME).data() == "baseline"


def test_filter_narrows_the_table_after_a_short_pause(qtbot, services: AppServices) -> None:  # type: ignore[no-untyped-def]
    add_run(services.store, "baseline", "done")
    wide = add_run(services.store, "wide head", "done")
    add_run(services.store, "broken", "failed")
    page = make_page(qtbot, services)
    qtbot.keyClicks(page.filter_edit, "wide")
    assert page.table.runs_model.rowCount() == 3  # debounced: not on every keystroke
    qtbot.waitUntil(lambda: page.table.runs_model.rowCount() == 1, timeout=2000)
    assert page.table.runs_model.runs()[0].id == wide
    page.filter_edit.setText("failed")  # status matches too
    qtbot.waitUntil(lambda: [r.name for r in page.table.runs_model.runs()] == ["broken"], timeout=2000)
    page.filter_edit.setText("nothing like this")
    qtbot.waitUntil(lambda: page.table_stack.currentWidget() is page.empty_state, timeout=2000)
    assert "No run matches" in page.empty_label.text()


def test_shortcuts_are_registered_and_focus_the_filter(qtbot, services: AppServices) -> None:  # type: ignore[no-untyped-def]
    page = make_page(qtbot, services)
    assert page.new_action.shortcut() == QKeySequence("Ctrl+N")
    assert page.filter_action.shortcut() == QKeySequence("Ctrl+F")
    assert page.refresh_action.shortcut() == QKeySequence("F5")
    assert {"runs.new_training", "runs.filter", "runs.refresh"} <= set(services.shortcuts.actions())
    page.activateWindow()
    qtbot.waitUntil(page.isActiveWindow, timeout=2000)
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(page.filter_edit.hasFocus, timeout=2000)
    add_run(services.store, "appeared later")
    qtbot.keyClick(page.table, Qt.Key.Key_F5)
    assert [r.name for r in page.table.runs_model.runs()] == ["appeared later"]


def test_selecting_runs_overlays_their_curves_from_the_store(qtbot, services: AppServices) -> None:  # type: ignore[no-untyped-def]
    a = add_run(services.store, "a", points=4)
    b = add_run(services.store, "b", points=6)
    page = make_page(qtbot, services)
    page.table.select_runs([a, b])
    record_a, record_b = services.store.runs.get(a), services.store.runs.get(b)
    assert sorted(page.plot.runs()) == sorted([run_label(record_a), run_label(record_b)])
    assert page.plot.series(run_label(record_a), "train_loss") == store_series(
        services.store, a, "train_loss"
    )
    assert page.plot.point_count(run_label(record_b), "train_loss") == 6
    assert page.plot.colour_of(run_label(record_a)) != page.plot.colour_of(run_label(record_b))
    page.table.select_runs([b])
    assert page.plot.runs() == [run_label(record_b)]
    assert page.details.run is not None and page.details.run.id == b


def test_a_deleted_checkpoint_shows_as_missing_with_one_notice(
    qtbot, services: AppServices, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    run_id = add_run(services.store, "lost checkpoint", "done", 0.7)
    source = tmp_path / "epoch1.safetensors"
    source.write_bytes(b"weights" * 100)
    record = services.store.artifacts.add(
        source, kind="checkpoint", name="classifier-epoch1.safetensors", run_id=run_id
    )
    services.store.artifacts.path(record).unlink()  # deleted behind the app's back
    page = make_page(qtbot, services)
    page.table.select_runs([run_id])

    assert page.details.artifact_states == {record.id: False}
    assert page.details.artifacts.item(0, 0).text() == "classifier-epoch1.safetensors"
    assert page.details.artifacts.item(0, 2).text() == "missing"
    assert page.details.tabs.tabText(1) == "Artifacts (1 missing)"
    errors = [n for n in services.notifications.notices() if n.level == "error"]
    assert len(errors) == 1
    assert errors[0].title == f"Checkpoint missing (run #{run_id})"
    assert "classifier-epoch1.safetensors" in errors[0].message and "is missing" in errors[0].message
    assert errors[0].hint  # says what to do
    page.table.select_runs([])
    page.table.select_runs([run_id])  # looking again does not repeat the notice
    assert len([n for n in services.notifications.notices() if n.level == "error"]) == 1
    assert services.store.artifacts.get(record.id) is not None  # the record is kept


def test_an_invalid_spec_is_reported_and_starts_nothing(qtbot, services: AppServices) -> None:  # type: ignore[no-untyped-def]
    page = make_page(qtbot, services)
    assert page.submit({"job": "demo.train_classifier", "params": {"epochs": 0}}) is None
    errors = [n for n in services.notifications.notices() if n.level == "error"]
    assert len(errors) == 1 and errors[0].title == "Training run not started"
    assert "epochs" in errors[0].message
    assert services.store.jobs.list() == []


# real training jobs


def test_training_run_from_the_dialog_streams_live_finishes_persists_and_exports(
    qtbot, services: AppServices, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    store = services.store
    earlier = add_run(store, "earlier run", "done", 0.5)
    page = make_page(qtbot, services)
    page.table.select_runs([earlier])
    live: list[tuple[str, str, float, float]] = []
    append = page.plot.append_point

    def recording_append(label: str, name: str, step: float, value: float) -> bool:
        accepted = append(label, name, step, value)
        if accepted:
            live.append((label, name, step, value))
        return accepted

    page.plot.append_point = recording_append  # type: ignore[method-assign]

    dialog = page.open_train_dialog()
    dialog.epochs_box.setValue(TINY["epochs"])
    dialog.batch_size_box.setValue(TINY["batch_size"])
    dialog.train_limit_box.setValue(TINY["train_limit"])
    dialog.name_edit.setText("e2e tiny")
    with qtbot.waitSignal(page.run_started, timeout=10_000) as started:
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    job_id = started.args[0]

    qtbot.waitUntil(lambda: the_run(store, job_id) is not None, timeout=JOB_TIMEOUT_MS)
    run_id = the_run(store, job_id)
    assert run_id is not None
    label = run_label(store.runs.get(run_id))
    # Selected automatically beside the run that was selected, and drawn while it trains.
    qtbot.waitUntil(lambda: page.plot.point_count(label, "train_loss") > 0, timeout=JOB_TIMEOUT_MS)
    assert set(page.selected_run_ids()) == {earlier, run_id}
    qtbot.waitUntil(
        lambda: (run := page.table.runs_model.run(run_id)) is not None and run.status == "done",
        timeout=JOB_TIMEOUT_MS,
    )
    page.plot.redraw()

    assert table_text(page, run_id, STATUS) == "done"
    assert table_text(page, run_id, NAME) == "e2e tiny"
    accuracy = store.runs.get(run_id).summary["test_accuracy"]
    assert 0.1 < accuracy <= 1.0
    assert table_text(page, run_id, TEST_ACC) == f"{accuracy * 100:.1f} %"
    # Every point the job recorded is on the plot exactly once, and some arrived live, not from the store.
    for metric in ("train_loss", "train_accuracy", "test_loss", "test_accuracy"):
        assert page.plot.series(label, metric) == store_series(store, run_id, metric), metric
    assert page.plot.point_count(label, "train_loss") >= 5
    # The test metrics come after the last training step: by then the run is on the plot.
    assert {name for run, name, _, _ in live if run == label} >= {"test_loss", "test_accuracy"}
    curve = page.plot.curve(label, "train_loss")
    assert curve is not None
    assert len(curve.getOriginalDataset()[0]) == page.plot.point_count(label, "train_loss")
    # The details list the checkpoint, present on disk.
    page.table.select_runs([run_id])
    checkpoints = store.artifacts.for_run(run_id, kind="checkpoint")
    assert checkpoints and all(page.details.artifact_states[a.id] for a in checkpoints)
    assert "test_accuracy" in page.details.details_text()

    rows = page.export_csv(tmp_path / "metrics.csv")
    total = sum(len(s.steps) for s in store.runs.metrics(run_id).values())
    assert rows == total
    with (tmp_path / "metrics.csv").open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == total
    losses = [(float(r["step"]), float(r["value"])) for r in table if r["metric"] == "train_loss"]
    assert losses == list(zip(*store_series(store, run_id, "train_loss"), strict=True))
    assert {r["run"] for r in table} == {label}

    png = page.export_png(tmp_path / "plots.png")
    image = QImage(str(png))
    assert not image.isNull() and image.width() > 300 and image.height() > 200
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(rgb.constBits(), dtype=np.uint8)
    assert pixels.std() > 10

    # A restart: a fresh store connection and a fresh page read the run back.
    page.shutdown()
    page.close()
    reopened = open_store()
    try:
        again = build_services(store=reopened)
        fresh = make_page(qtbot, again)
        assert table_text(fresh, run_id, STATUS) == "done"
        assert table_text(fresh, run_id, NAME) == "e2e tiny"
        fresh.table.select_runs([run_id])
        assert fresh.plot.series(label, "train_loss") == store_series(store, run_id, "train_loss")
        fresh.close()
    finally:
        reopened.close()


def test_cancelling_a_long_run_shows_it_cancelled(qtbot, services: AppServices) -> None:  # type: ignore[no-untyped-def]
    store = services.store
    page = make_page(qtbot, services)
    job_id = page.submit({"job": "demo.train_classifier", "params": {**TINY, "epochs": 50, "name": "long"}})
    assert job_id is not None
    qtbot.waitUntil(lambda: the_run(store, job_id) is not None, timeout=JOB_TIMEOUT_MS)
    run_id = the_run(store, job_id)
    label = run_label(store.runs.get(run_id))
    qtbot.waitUntil(lambda: page.plot.point_count(label, "train_loss") > 0, timeout=JOB_TIMEOUT_MS)
    qtbot.waitUntil(lambda: table_text(page, run_id, STATUS) == "running", timeout=10_000)
    page.table.select_runs([run_id])
    assert page.stop_action.isEnabled()
    # While it runs, each new checkpoint shows up in the details as it is stored.
    assert page.details.run is not None and page.details.run.status == "running"
    qtbot.waitUntil(lambda: len(page.details.artifact_states) >= 1, timeout=JOB_TIMEOUT_MS)
    assert all(page.details.artifact_states.values())

    assert services.jobs.cancel(job_id)
    qtbot.waitUntil(lambda: table_text(page, run_id, STATUS) == "cancelled", timeout=60_000)
    assert store.jobs.get(job_id).status == "cancelled"
    assert store.runs.get(run_id).status == "cancelled"
    epochs_done = max(store_series(store, run_id, "train_loss")[0])
    assert epochs_done < 50
    assert not page.stop_action.isEnabled()


def test_durations_and_sizes_read_like_a_person_wrote_them() -> None:
    assert [format_duration(s) for s in (None, 0.04, 9.96, 59.9, 184.0, 3599.4, 3725.0)] == [
        "",
        "0.0 s",
        "10.0 s",
        "59.9 s",
        "3 min 04 s",
        "59 min 59 s",
        "1 h 02 min",
    ]
    assert [format_size(n) for n in (512, 200_000, 1_278_728, 3 * 1024**3)] == [
        "512 B",
        "195.3 KB",
        "1.2 MB",
        "3.0 GB",
    ]
