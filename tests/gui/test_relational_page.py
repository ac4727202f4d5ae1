"""The Relational page: Train | Player | Compare; building it starts no engine process and imports no torch (a
fresh interpreter); checkpoints are listed once the Player shows (bundled first); Start submits one rl.train
job per agent and the curves follow the store live; a refused spec, an op error and a failed job are messages,
not crashes; Compare plays two checkpoints on one level with one slider (B asked with A's Box-World config, a
warning when the levels differ); the grid exports to PNG."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shiboken6
from gui_fakes import FakeInteractive, run_gui_script
from PySide6.QtCore import Qt
from test_rl_player import fake_answer, fake_attention, fake_frames

from engine.core.device import DeviceChoice
from engine.core.errors import LanternError, SpecError
from gui.pages.relational import RelationalPage
from gui.services import AppServices
from gui.widgets.rl_train import RUN_KIND, TRAIN_METRIC

CPU = DeviceChoice("cpu", "float32", "x86_64")


@pytest.fixture
def page(qtbot, services: AppServices):  # type: ignore[no-untyped-def]
    built = RelationalPage(replace(services, interactive=FakeInteractive()))
    qtbot.addWidget(built)
    built.resize(1300, 820)
    built.show()
    qtbot.waitExposed(built)
    yield built
    if shiboken6.isValid(built):
        built.shutdown()


def shorter_answer(steps: int) -> dict[str, Any]:
    """The fake episode cut to `steps` steps (frames and attention 0..steps)."""
    answer = fake_answer()
    frames, attention = fake_frames()[: steps + 1], fake_attention()[: steps + 1]
    answer["frames"] = {
        "data": base64.b64encode(frames.tobytes()).decode(),
        "shape": list(frames.shape),
        "dtype": "uint8",
    }
    answer["attention"] = {
        "data": base64.b64encode(attention.tobytes()).decode(),
        "shape": list(attention.shape),
        "dtype": "<f2",
    }
    for key in ("actions", "rewards", "policies"):
        answer[key] = answer[key][:steps]
    answer["values"] = answer["values"][:steps]
    answer["roles"] = answer["roles"][: steps + 1]
    answer["agent"] = "baseline-ish"
    return answer


def test_tabs_and_checkpoints_listed_once_the_player_shows(page: RelationalPage) -> None:
    assert [page.tabs.tabText(i) for i in range(page.tabs.count())] == ["Train", "Player", "Compare"]
    bridge = page.services.interactive
    page.show_tab("Train")
    assert all(op != "rl.checkpoints" for op, _ in bridge.requests)
    page.show_tab("Player")
    assert [op for op, _ in bridge.requests] == ["rl.checkpoints"]
    page.show_tab("Compare")
    assert len(bridge.requests) == 1  # asked once
    bridge.answered.emit(
        page._checkpoints_request,
        {"checkpoints": [{"path": "/r/best.safetensors", "agent": "relational", "env_steps": 1200}]},
    )
    for box in (page.player.checkpoint_box, *page.compare.checkpoint_boxes):
        assert [box.itemData(i) for i in range(box.count())] == [
            "bundled",
            "bundled:baseline",
            "/r/best.safetensors",
        ]
    page.list_checkpoints(again=True)
    bridge.failed.emit(page._checkpoints_request, LanternError("no store", "rl.checkpoints", "reopen"))
    notice = page.services.notifications.notices()[-1]
    assert (notice.level, notice.message) == ("error", "no store")
    assert page.player.checkpoint_box.count() == 3  # what was listed stays


def test_start_submits_a_job_per_agent_and_curves_follow_the_store(
    qtbot, page: RelationalPage, services: AppServices, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    submitted: list[dict[str, Any]] = []

    class Handle:
        def __init__(self, job_id: int) -> None:
            self.job_id = job_id

    def submit(doc: dict[str, Any], resume_of: int | None = None, follow: bool = False) -> Handle:
        submitted.append(doc)
        return Handle(services.store.jobs.create("rl.train", doc))

    monkeypatch.setattr(services.jobs, "submit", submit)
    page.train.agent_box.setCurrentIndex(page.train.agent_box.findData("both"))
    configs = page.train.start()
    assert [doc["job"] for doc in submitted] == ["rl.train", "rl.train"]
    assert [doc["params"] for doc in submitted] == configs
    assert [doc["params"]["agent"] for doc in submitted] == ["relational", "baseline"]
    first, second = sorted(page._own_jobs)
    assert page._poll.isActive() and len(page._own_jobs) == 2
    assert page.train.curves.placeholder.isVisible()
    # The job stores its run and metric points as it trains: the poll draws them.
    run_id = services.store.runs.create(
        name="small · relational", kind=RUN_KIND, config=configs[0], device=CPU, job_id=first
    )
    services.store.runs.add_metrics(run_id, [(TRAIN_METRIC, 512.0, 0.25), (TRAIN_METRIC, 1024.0, 0.5)])
    qtbot.waitUntil(
        lambda: page.train.curves.points(run_id, TRAIN_METRIC)[0] == [512.0, 1024.0], timeout=5000
    )
    page._on_progress(first, 1024, 4096, "update 2")
    assert page.train.job_label.text() == f"Job #{first}: 25 % · update 2"
    page._on_job_error(first, {"what": "the agent diverged", "where": "rl.train", "hint": "lower lr"})
    assert services.notifications.notices()[-1].message == "the agent diverged"
    services.store.runs.finish(run_id, "failed", {})
    page._on_status(first, "failed", "")
    page._on_status(second, "done", "")
    qtbot.waitUntil(lambda: not page._poll.isActive(), timeout=5000)

    def refuse(doc: dict[str, Any], resume_of: int | None = None, follow: bool = False) -> Handle:
        raise SpecError("unknown job 'rl.train'", "spec: job", "update Lantern")

    monkeypatch.setattr(services.jobs, "submit", refuse)
    page.train.start()
    assert "unknown job 'rl.train'" in page.train.error_label.text()
    assert services.notifications.notices()[-1].message == "unknown job 'rl.train'"


def test_player_errors_are_notices_and_the_grid_exports(qtbot, page: RelationalPage, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page.show_tab("Player")
    bridge = page.services.interactive
    request = page.player.load()
    bridge.failed.emit(request, LanternError("checkpoint not found", "/x.safetensors", "pick another"))
    notice = page.services.notifications.notices()[-1]
    assert (notice.level, notice.message, notice.hint) == ("error", "checkpoint not found", "pick another")
    assert "checkpoint not found" in page.player.status.text()
    request = page.player.load()
    bridge.answered.emit(request, fake_answer())
    assert page.player.episode is not None and page.player.episode.steps == 3
    page.player.select_cell(25)
    path = page.player.export_button.export("PNG", tmp_path / "grid.png")
    assert path.stat().st_size > 2000
    # The button's drop-down arrow has its own room at the right, clear of the text.
    button = page.player.export_button
    assert "menu-indicator" in button.styleSheet() and "padding-right: 18px" in button.styleSheet()
    assert button.sizeHint().width() >= button.fontMetrics().horizontalAdvance("Export") + 18


def test_compare_plays_two_checkpoints_with_one_slider(qtbot, page: RelationalPage) -> None:  # type: ignore[no-untyped-def]
    page.show_tab("Compare")
    compare = page.compare
    assert compare.checkpoint_boxes[1].currentData() == "bundled:baseline"
    compare.seed_spin.setValue(9)
    bridge = page.services.interactive
    (first,) = compare.load()
    assert "config" not in bridge.requests[-1][1]  # A plays its own checkpoint's level family
    compare.seed_spin.setValue(4)  # changed while A plays: B still plays the seed asked for
    bridge.answered.emit(first, fake_answer())
    compare.seed_spin.setValue(9)
    assert not compare.load_button.isEnabled()  # B is asked only now, on A's level
    second = len(bridge.requests)
    assert compare.pending == [second]
    requests = bridge.requests[-2:]
    assert [args["checkpoint"] for _, args in requests] == ["bundled", "bundled:baseline"]
    assert {args["level_seed"] for _, args in requests} == {9}
    assert requests[1][1]["config"] == fake_answer()["config"]
    bridge.answered.emit(second, shorter_answer(2))
    assert compare.transport.slider.maximum() == 3 and compare.load_button.isEnabled()
    assert "Warning" not in compare.status.text()
    compare.transport.set_step(2)
    assert (compare.side_step(0), compare.side_step(1)) == (2, 2)
    assert np.array_equal(compare.grids[0]._frame, fake_frames()[2])
    compare.transport.set_step(3)  # B finished after 2 steps: it holds its last frame
    assert (compare.side_step(0), compare.side_step(1)) == (3, 2)
    assert "finished after 2 steps" in compare.infos[1].text()
    compare.grids[1].cell_clicked.emit(25)
    assert compare.grids[0].overlay is not None and compare.grids[1].overlay.source == 25
    compare.activateWindow()
    compare.setFocus()
    qtbot.waitUntil(compare.hasFocus, timeout=2000)
    qtbot.keyClick(compare, Qt.Key.Key_Home)
    assert compare.step == 0
    qtbot.keyClick(compare, Qt.Key.Key_Right)
    assert compare.step == 1
    (first,) = compare.load()
    bridge.answered.emit(first, fake_answer())
    bridge.failed.emit(len(bridge.requests), LanternError("not a Lantern checkpoint", "b.bin"))
    assert "could not be loaded: not a Lantern checkpoint" in compare.infos[1].text()
    assert page.services.notifications.notices()[-1].message == "not a Lantern checkpoint"


def test_compare_warns_when_a_is_not_box_world_and_the_levels_differ(page: RelationalPage) -> None:
    page.show_tab("Compare")
    compare, bridge = page.compare, page.services.interactive
    (first,) = compare.load()
    gym = {**fake_answer(), "config": None, "env": {"kind": "gym", "id": "MiniGrid-DoorKey-5x5-v0"}}
    bridge.answered.emit(first, gym)
    assert "config" not in bridge.requests[-1][1]  # nothing to pass on: B plays its own family
    bridge.answered.emit(len(bridge.requests), fake_answer())
    assert "Warning: A and B play different level families (A is not a Box-World agent)" in (
        compare.status.text()
    )
    # A failing still lets B play (its own level).
    (first,) = compare.load()
    bridge.failed.emit(first, LanternError("checkpoint not found", "a.bin"))
    assert (
        bridge.requests[-1][1]["checkpoint"] == "bundled:baseline" and "config" not in bridge.requests[-1][1]
    )
    bridge.answered.emit(len(bridge.requests), fake_answer())
    assert compare.episodes[0] is None and compare.episodes[1] is not None and compare.load_button.isEnabled()


SCRIPT = """
import json, sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
import gui.app
from gui.pages.relational import RelationalPage
services = gui.app.build_services()
page = RelationalPage(services)
page.resize(1200, 800)
page.show()
app.processEvents()
configs = page.train.train_configs()
page.tabs.setCurrentIndex(2)
app.processEvents()
page.tabs.setCurrentIndex(0)
app.processEvents()
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"torch", "transformers", "captum", "diffusers"})
page.shutdown()
gui.app.shutdown(services, [page])
print(json.dumps({"loaded": loaded, "configs": len(configs)}))
"""


def test_building_the_page_imports_no_model_library(lantern_home: Path) -> None:
    report = run_gui_script(SCRIPT, lantern_home)
    assert report == {"loaded": [], "configs": 1}, f"the Relational page imported {report['loaded']}"
