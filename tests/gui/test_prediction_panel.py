"""'Try it' on the Runs page: a stored checkpoint classifies demo images through the interactive engine."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from engine.core.device import choose_device
from engine.demo.jobs import JOB_NAME, TrainClassifierSpec, train_classifier
from engine.jobs.context import JobContext


@pytest.fixture
def trained_run(services, lantern_home: Path) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """One short demo training run in this test's store: (run id, checkpoint artifact id)."""
    store = services.store
    spec = TrainClassifierSpec(epochs=1, train_limit=600, name="try-it")
    job_id = store.jobs.create(JOB_NAME, spec.model_dump(mode="json"))
    ctx = JobContext(job_id, store, lambda event: None, choose_device("cpu"), lantern_home / "work")
    result = train_classifier(ctx, spec)
    return result["run_id"], result["checkpoint_artifact"]


def test_try_it_shows_predictions_then_a_cached_answer(qtbot, window, trained_run) -> None:  # type: ignore[no-untyped-def]
    run_id, artifact_id = trained_run
    page = window.page("runs")
    page.refresh()
    page.table.select_runs([run_id])
    panel = page.try_panel
    assert panel.artifact_id is None  # browsing alone starts no engine process

    page.details.tabs.setCurrentIndex(page._try_tab)
    assert panel.artifact_id == artifact_id
    with qtbot.waitSignal(panel.answered, timeout=60_000) as first:
        pass
    answer = first.args[0]
    assert len(answer["predicted"]) == len(panel.cards) == 8
    assert all(abs(sum(row) - 1.0) < 1e-4 for row in answer["probabilities"])
    assert answer["cached"] is False
    correct = sum(p == t for p, t in zip(answer["predicted"], answer["labels"], strict=True))
    assert "correct" in panel.status.text() and str(correct) in panel.status.text()

    started = time.perf_counter()
    panel.shuffle()
    with qtbot.waitSignal(panel.answered, timeout=10_000) as second:
        pass
    assert second.args[0]["cached"] is True
    assert time.perf_counter() - started < 1.0  # the model stayed loaded in the engine process


def test_a_killed_engine_is_restarted_and_the_user_told(qtbot, window, trained_run, services) -> None:  # type: ignore[no-untyped-def]
    run_id, _ = trained_run
    page = window.page("runs")
    page.refresh()
    page.table.select_runs([run_id])
    page.details.tabs.setCurrentIndex(page._try_tab)
    with qtbot.waitSignal(page.try_panel.answered, timeout=60_000):
        pass
    pid = services.interactive.engine_pid
    assert pid
    os.kill(pid, signal.SIGKILL)
    with qtbot.waitSignal(page.try_panel.answered, timeout=60_000):
        page.try_panel.shuffle()
    assert services.interactive.restarts == 1
    titles = [notice.title for notice in services.notifications.notices()]
    assert "Engine restarted" in titles
