"""The progress line of a followed job, its ETA, and the store poll that runs while jobs run."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QTimer

from gui.widgets import job_progress
from gui.widgets.job_progress import JobEtas, poll_while, progress_text


def test_progress_text_with_and_without_job_share_and_eta() -> None:
    assert progress_text(250, 1000, "250 of 1000 images") == "25 % · 250 of 1000 images"
    assert progress_text(250, 1000, "epoch 1", job_id=7) == "Job #7: 25 % · epoch 1"
    assert progress_text(3, 0, "warming up", job_id=7) == "Job #7: warming up"
    assert progress_text(0, 0, "", job_id=7) == "Job #7:"
    assert progress_text(1, 4, "", job_id=2, eta=75) == "Job #2: 25 % · ETA 1:15"


def test_job_etas_estimate_from_the_pace_of_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 110.0])
    monkeypatch.setattr(job_progress.time, "monotonic", lambda: next(clock))
    etas = JobEtas()
    etas.start(3)
    assert etas.text(3, 10, 100, "step 10") == "Job #3: 10 % · step 10"  # one point: no pace yet
    # 10 more steps in 10 s: 80 steps left take 80 s.
    assert etas.text(3, 20, 100, "step 20") == "Job #3: 20 % · step 20 · ETA 1:20"
    etas.forget(3)
    etas.forget(3)  # forgetting twice is harmless


def test_poll_while_starts_once_and_stops(qapp) -> None:  # type: ignore[no-untyped-def]
    timer = QTimer(interval=60_000)
    poll_while(timer, True)
    assert timer.isActive()
    poll_while(timer, True)
    assert timer.isActive()
    poll_while(timer, False)
    assert not timer.isActive()
