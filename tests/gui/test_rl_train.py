"""The Train tab: the form refuses a level family the engine cannot generate with the engine's own message
(shown under the form, nothing emitted), builds RLTrainConfig dicts in the contract's shape otherwise (two for
"both"), parses withheld pairs, and draws fraction-solved curves of stored rl-train runs with relational and
baseline runs in different colour families."""

from __future__ import annotations

from typing import Any

import pytest
import shiboken6

from engine.core.device import DeviceChoice
from engine.core.errors import LanternError
from engine.rl.boxworld.config import BoxWorldConfig
from engine.rl.ppo_config import PPOConfig
from gui.widgets.rl_train import (
    AGENT_COLOURS,
    EVAL_METRIC,
    RUN_KIND,
    TRAIN_METRIC,
    TrainPanel,
    load_run_curves,
    parse_pairs,
)

CPU = DeviceChoice("cpu", "float32", "x86_64")


@pytest.fixture
def panel(qtbot):  # type: ignore[no-untyped-def]
    widget = TrainPanel()
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    if shiboken6.isValid(widget):  # the services fixture, torn down first, may have deleted it
        widget.close()
        widget.deleteLater()


def test_an_impossible_level_is_refused_with_the_engines_message(qtbot, panel: TrainPanel) -> None:  # type: ignore[no-untyped-def]
    panel.size_spin.setValue(4)
    panel.solution_min.setValue(1)
    panel.solution_max.setValue(5)
    with pytest.raises(LanternError) as expected:
        BoxWorldConfig(size=4, solution_length=[1, 5], distractors=[0, 1])
    emitted: list[Any] = []
    panel.start_requested.connect(emitted.append)
    assert panel.start() is None
    assert emitted == []
    assert not panel.error_label.isHidden()
    text = panel.error_label.text()
    assert expected.value.what in text and expected.value.where in text and expected.value.hint in text
    # A wrong pair is refused before the engine sees it; a colour out of range by the engine.
    panel.size_spin.setValue(6)
    panel.solution_max.setValue(2)
    panel.withheld_edit.setText("3:x")
    assert panel.start() is None and "'3:x' is not a key:lock colour pair" in panel.error_label.text()
    panel.withheld_edit.setText("3:25")
    assert panel.start() is None and "withheld pair [3, 25]" in panel.error_label.text()
    panel.withheld_edit.setText("3:5")
    assert panel.start() is not None and panel.error_label.isHidden()


def test_a_valid_form_builds_rl_train_configs(panel: TrainPanel) -> None:
    panel.name_edit.setText("small")
    panel.size_spin.setValue(7)
    panel.solution_min.setValue(1)
    panel.solution_max.setValue(3)
    panel.distractor_min.setValue(0)
    panel.distractor_max.setValue(2)
    panel.max_steps_spin.setValue(90)
    panel.withheld_edit.setText("3:5, 7-2")
    panel.total_steps_spin.setValue(300_000)
    panel.n_envs_spin.setValue(32)
    panel.lr_spin.setValue(0.0005)
    panel.eval_episodes_spin.setValue(100)
    panel.eval_every_spin.setValue(10)
    panel.seed_spin.setValue(4)
    panel.agent_box.setCurrentIndex(panel.agent_box.findData("both"))
    emitted: list[list[dict[str, Any]]] = []
    panel.start_requested.connect(emitted.append)
    configs = panel.start()
    assert configs is not None and emitted == [configs]
    level = {
        "size": 7,
        "solution_length": [1, 3],
        "distractors": [0, 2],
        "distractor_length": 1,
        "colours": 20,
        "max_steps": 90,
        "withheld_pairs": [[3, 5], [7, 2]],
        "rewards": {"gem": 10.0, "box": 1.0, "distractor": -1.0, "step": 0.0},
    }
    assert configs == [
        {
            "name": f"small · {agent}",
            "env": {"kind": "boxworld", "boxworld": level},
            "agent": agent,
            "agent_config": {},
            "ppo": {"total_steps": 300_000, "n_envs": 32, "lr": pytest.approx(0.0005)},
            "eval_episodes": 100,
            "eval_every": 10,
            "seed": 4,
            "device": "auto",
        }
        for agent in ("relational", "baseline")
    ]
    BoxWorldConfig.model_validate(configs[0]["env"]["boxworld"])
    PPOConfig(**configs[0]["ppo"])
    panel.agent_box.setCurrentIndex(panel.agent_box.findData("baseline"))
    (single,) = panel.train_configs()
    assert (single["name"], single["agent"]) == ("small", "baseline")


def test_pairs_parse_in_the_forms_people_write() -> None:
    assert parse_pairs("") == []
    assert parse_pairs("3:5, 7-2;1 : 0 4->6") == [[3, 5], [7, 2], [1, 0], [4, 6]]
    with pytest.raises(LanternError, match="'7' is not a key:lock colour pair"):
        parse_pairs("3:5, 7")


def store_run(services: Any, agent: str, points: int, status: str = "running") -> int:
    store = services.store
    config = {"name": f"{agent} run", "agent": agent}
    run_id = store.runs.create(name=f"{agent} run", kind=RUN_KIND, config=config, device=CPU)
    store.runs.add_metrics(
        run_id,
        [(TRAIN_METRIC, 1000.0 * (i + 1), 0.1 * i) for i in range(points)]
        + [(EVAL_METRIC, 2000.0 * (i + 1), 0.2 * i) for i in range(points // 2)],
    )
    if status != "running":
        store.runs.finish(run_id, status, {})
    return run_id


def test_curves_of_stored_runs_relational_and_baseline_in_their_colours(
    panel: TrainPanel, services: Any
) -> None:
    relational = store_run(services, "relational", 4, status="done")
    baseline = store_run(services, "baseline", 6)
    services.store.runs.create(name="other", kind="train", config={}, device=CPU)  # not an rl run
    runs = load_run_curves(services.store)
    assert [r.run_id for r in runs] == [baseline, relational]
    assert runs[1].train == ([1000.0, 2000.0, 3000.0, 4000.0], pytest.approx([0.0, 0.1, 0.2, 0.3]))
    assert runs[0].evaluation[0] == [2000.0, 4000.0, 6000.0]
    panel.set_runs(runs)
    assert panel.ticked() == [baseline, relational]
    assert panel.curves.points(relational, TRAIN_METRIC)[0] == [1000.0, 2000.0, 3000.0, 4000.0]
    assert panel.curves.points(baseline, EVAL_METRIC)[1] == pytest.approx([0.0, 0.2, 0.4])
    colours = panel.curves.colours
    assert colours[relational].name() == AGENT_COLOURS["relational"][0]
    assert colours[baseline].name() == AGENT_COLOURS["baseline"][0]
    assert "#" + str(relational) in panel.run_list.item(1).text() and "done" in panel.run_list.item(1).text()
    # Unticking a run removes its curves and keeps it unticked when the runs are read again.
    from PySide6.QtCore import Qt

    panel.run_list.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert panel.curves.points(baseline, TRAIN_METRIC) == ([], [])
    panel.set_runs(load_run_curves(services.store))
    assert panel.ticked() == [relational]


def test_the_legend_sits_top_left_on_a_light_box_and_the_pairs_hint_fits(panel: TrainPanel) -> None:
    legend = panel.curves.legend
    assert legend.opts["offset"] == (8, 8) and legend.opts["labelTextSize"] == "9pt"
    assert legend.opts["brush"].color().getRgb() == (255, 255, 255, 210)
    assert legend.opts["pen"].color().name() == "#d1d5db"
    edit = panel.withheld_edit
    assert edit.placeholderText() == "e.g. 3:5, 7:2" and "key colour : lock colour" in edit.toolTip()
    assert edit.fontMetrics().horizontalAdvance(edit.placeholderText()) < edit.width() - 8
