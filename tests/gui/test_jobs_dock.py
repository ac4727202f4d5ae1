"""The Jobs dock: rows follow the bridge's progress/status/error signals with done/total and an ETA from the
observed rate; Cancel and Resume call the bridge; recent jobs come from the store at start."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt

from gui.jobs_dock import BAR_SCALE, JobsPanel, RateEstimator, format_duration


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def panel(qtbot, services, clock: Clock) -> JobsPanel:  # type: ignore[no-untyped-def]
    widget = JobsPanel(services, clock=clock)
    qtbot.addWidget(widget)
    widget.resize(360, 500)
    widget.show()
    return widget


def test_format_duration_and_rate_estimator() -> None:
    assert [format_duration(s) for s in (0, 35, 61.4, 754, 3729)] == [
        "0:00",
        "0:35",
        "1:01",
        "12:34",
        "1:02:09",
    ]
    rate = RateEstimator(window_s=30)
    assert rate.eta(0, 100) is None
    rate.add(0.0, 0)
    rate.add(10.0, 20)
    assert rate.rate() == pytest.approx(2.0)
    assert rate.eta(20, 100) == pytest.approx(40.0)
    rate.add(50.0, 60)  # the first sample left the 30 s window: the rate is (60-20)/(50-10)
    assert rate.rate() == pytest.approx(1.0)
    rate.add(51.0, 5)  # the count restarted: no rate until two new samples
    assert rate.rate() is None


def test_progress_signals_drive_bar_and_eta(qtbot, services, panel: JobsPanel, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    job_id = services.store.jobs.create("demo.train_classifier", {"epochs": 3})
    services.jobs.submitted.emit(job_id, "demo.train_classifier")
    row = panel.row(job_id)
    assert row is not None and panel.rows()[0] is row
    assert row.status == "queued" and not row.cancel_button.isHidden()

    services.jobs.status.emit(job_id, "running", "")
    services.jobs.progress.emit(job_id, 10.0, 100.0, "epoch 1")
    assert (row.bar.value(), row.bar.maximum()) == (100, BAR_SCALE)
    assert row.bar.text() == "10 / 100"
    assert row.eta_label.text() == "ETA —"  # one report gives no rate yet
    clock.now += 10
    services.jobs.progress.emit(job_id, 30.0, 100.0, "epoch 3")
    assert row.bar.value() == 300
    assert row.bar.text() == "30 / 100"
    assert row.eta_label.text() == "ETA 0:35"  # 2 per second, 70 left
    assert row.message_label.text() == "epoch 3"
    clock.now += 5
    services.jobs.progress.emit(job_id, 32.5, 100.0, "")
    assert row.bar.text() == "32.5 / 100"
    assert row.eta_label.text() == "ETA 0:45"  # (32.5 - 10) / 15 s = 1.5 per second, 67.5 left

    services.jobs.progress.emit(job_id, 100.0, 100.0, "")
    services.jobs.status.emit(job_id, "done", "finished in 3 epochs")
    assert row.bar.value() == BAR_SCALE
    assert row.eta_label.text() == ""
    assert row.cancel_button.isHidden() and row.resume_button.isHidden()
    assert row.message_label.text() == "finished in 3 epochs"
    assert panel.summary.text() == "0 running · 1 shown"


def test_unknown_total_shows_a_busy_bar(services, panel: JobsPanel) -> None:  # type: ignore[no-untyped-def]
    job_id = services.store.jobs.create("demo.train_classifier", {})
    services.jobs.progress.emit(job_id, 3.0, 0.0, "loading data")  # a job the panel never saw submitted
    row = panel.row(job_id)
    assert row is not None and row.status == "running"
    assert (row.bar.minimum(), row.bar.maximum()) == (0, 0)
    services.jobs.status.emit(job_id, "failed", "")
    assert row.bar.maximum() == BAR_SCALE


def test_cancel_button_calls_the_bridge(qtbot, services, panel: JobsPanel, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    asked: list[int] = []
    monkeypatch.setattr(services.jobs, "cancel", lambda job_id: asked.append(job_id) or True)
    job_id = services.store.jobs.create("demo.train_classifier", {})
    services.jobs.submitted.emit(job_id, "demo.train_classifier")
    services.jobs.status.emit(job_id, "running", "")
    row = panel.row(job_id)
    assert panel.active_session_jobs() == [job_id]
    qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
    assert asked == [job_id]
    assert row.status == "cancelling"
    assert not row.cancel_button.isEnabled() and row.cancel_button.text() == "Cancelling…"
    services.jobs.status.emit(job_id, "cancelled", "stopped by the user")
    assert row.cancel_button.isHidden()
    assert panel.active_session_jobs() == []


def test_cancel_of_a_finished_job_says_so(qtbot, services, panel: JobsPanel, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(services.jobs, "cancel", lambda job_id: False)
    job_id = services.store.jobs.create("demo.train_classifier", {})
    services.jobs.status.emit(job_id, "running", "")
    qtbot.mouseClick(panel.row(job_id).cancel_button, Qt.MouseButton.LeftButton)
    notice = services.notifications.notices()[-1]
    assert (notice.level, notice.title) == ("info", f"Job #{job_id} already finished")


def test_error_event_is_shown_on_the_row(services, panel: JobsPanel) -> None:  # type: ignore[no-untyped-def]
    job_id = services.store.jobs.create("demo.train_classifier", {})
    services.jobs.status.emit(job_id, "running", "")
    services.jobs.error.emit(
        job_id, {"what": "out of memory", "where": "epoch 2", "hint": "use a smaller batch"}
    )
    row = panel.row(job_id)
    assert "out of memory" in row.message_label.text()
    assert row.message_label.toolTip() == "out of memory\nWhere: epoch 2\nWhat to do: use a smaller batch"


def test_recent_jobs_load_from_the_store_and_interrupted_ones_resume(qtbot, services, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    jobs = services.store.jobs
    done = jobs.create("demo.train_classifier", {"epochs": 1})
    jobs.set_status(done, "running")
    jobs.set_progress(done, 5, 5)
    jobs.set_status(done, "done", message="test accuracy 0.81")
    interrupted = jobs.create("demo.train_classifier", {"epochs": 4})
    jobs.set_status(interrupted, "running")
    jobs.set_progress(interrupted, 2, 4, "epoch 2")
    jobs.mark_interrupted(interrupted, "the engine process ended without finishing the job")

    panel = JobsPanel(services)
    qtbot.addWidget(panel)
    panel.show()
    assert [row.job_id for row in panel.rows()] == [interrupted, done]
    old, new = panel.row(done), panel.row(interrupted)
    assert old.status == "done" and old.bar.value() == BAR_SCALE and old.resume_button.isHidden()
    assert new.status == "interrupted" and new.bar.value() == 500 and new.bar.text() == "2 / 4"
    assert new.resumable and new.resume_button.isVisible()  # the demo job keeps checkpoints
    assert new.message_label.text() == "the engine process ended without finishing the job"

    panel.clear_finished()  # the done job goes; the interrupted one waits for a decision
    assert [row.job_id for row in panel.rows()] == [interrupted]

    submitted: list[tuple[dict, int | None]] = []

    def fake_submit(document: dict, resume_of: int | None = None) -> SimpleNamespace:
        submitted.append((document, resume_of))
        return SimpleNamespace(job_id=99)

    monkeypatch.setattr(services.jobs, "submit", fake_submit)
    qtbot.mouseClick(new.resume_button, Qt.MouseButton.LeftButton)
    assert submitted == [({"job": "demo.train_classifier", "params": {"epochs": 4}}, interrupted)]
    assert new.resume_button.isHidden()
    assert new.message_label.text() == "resumed as job #99"
