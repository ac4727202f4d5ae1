"""The Experiment tab: the form's "ssl.experiment" params (defaults, arms parsed, refusals); the experiment's
runs read from the store; the table's mean ± sd over seeds equal to a hand computation; the bar plot's bars
and the loss curves drawn from the same runs; the results table exported as CSV."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from test_augment_views import DATASETS_ANSWER, GENERATORS_ANSWER

from engine.core.device import DeviceChoice
from engine.core.errors import LanternError
from engine.store.database import Store
from gui.widgets.augment_experiment import (
    JOB_NAME,
    KNN_METRIC,
    LINEAR_METRIC,
    LOSS_METRIC,
    RUN_KIND,
    ExperimentPanel,
    arm_key,
    list_experiments,
    load_experiment_runs,
    parse_arms,
    summarise,
)
from gui.widgets.augment_views import parse_datasets, parse_generators

CPU = DeviceChoice("cpu", "float32", "x86_64")
# (method, arm, p, seed) -> (linear, knn); p=1 seed 2 is still training.
SCORES = {
    ("simclr", 0.0, 0): (0.70, 0.66),
    ("simclr", 0.0, 1): (0.72, 0.67),
    ("simclr", 0.0, 2): (0.71, 0.65),
    ("simclr", 1.0, 0): (0.75, 0.70),
    ("simclr", 1.0, 1): (0.78, 0.71),
    ("simclr", "other_image", 0): (0.60, 0.55),
}


def store_experiment(store: Store, *, running: tuple[Any, ...] = ("simclr", 1.0, 2)) -> tuple[int, dict]:
    """An ssl.experiment job and its runs as the engine stores them: config, ssl_loss per epoch, finals."""
    job = store.jobs.create(
        JOB_NAME, {"config": {"dataset": "fashion-mnist-demo", "k": 4}, "experiment_name": "e1"}
    )
    ids = {}
    for (method, arm, seed), (linear, knn) in [*SCORES.items(), (running, (None, None))]:
        p = 1.0 if arm == "other_image" else arm
        label = arm if isinstance(arm, str) else f"p={arm:g}"
        config = {"experiment": job, "method": method, "arm": arm, "p": p, "seed": seed}
        run = store.runs.create(
            name=f"{method} {label} seed {seed}", kind=RUN_KIND, config=config, device=CPU, job_id=job
        )
        store.runs.add_metrics(run, [(LOSS_METRIC, float(e), 5.0 - e - 0.1 * seed) for e in range(1, 4)])
        if linear is not None:
            store.runs.add_metrics(run, [(LINEAR_METRIC, 3.0, linear), (KNN_METRIC, 3.0, knn)])
            store.runs.finish(run, "done", {LINEAR_METRIC: linear, KNN_METRIC: knn})
        ids[(method, arm, seed)] = run
    # A run of another experiment is not mixed in.
    other = store.runs.create(
        name="simclr p=0 seed 0",
        kind=RUN_KIND,
        config={"experiment": job + 100, "method": "simclr", "arm": 0.0},
        device=CPU,
    )
    store.runs.finish(other, "done", {LINEAR_METRIC: 0.1})
    return job, ids


@pytest.fixture
def panel(qtbot):  # type: ignore[no-untyped-def]
    widget = ExperimentPanel()
    qtbot.addWidget(widget)
    widget.resize(1400, 850)
    widget.form.set_datasets(parse_datasets(DATASETS_ANSWER))
    widget.form.set_generators(parse_generators(GENERATORS_ANSWER))
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    if shiboken6.isValid(widget):
        widget.close()


def test_the_form_gives_experiment_params_with_sensible_defaults(panel: ExperimentPanel) -> None:
    form = panel.form
    emitted: list[dict[str, Any]] = []
    form.run_requested.connect(emitted.append)
    params = form.run()
    assert emitted == [params]
    assert params == {
        "config": {
            "dataset": "fashion-mnist-demo",
            "limit": 2000,
            "methods": ["simclr"],
            "arms": [0.0, 0.5, 1.0],
            "controls": ["identity", "other_image"],
            "seeds": [0, 1, 2],
            "draw": "per_image",
            "generator": {
                "name": "lantern",
                "checkpoint": "bundled",
                "settings": {"steps": 10, "guidance": 1.0},
            },
            "k": 4,
            "ssl": {"epochs": 10, "batch_size": 256, "width": 32},
            "probe_epochs": 100,
        },
        "experiment_name": "generative views",
    }
    form.method_checks["byol"].setChecked(True)
    form.arms_edit.setText("0; 0.25 1 1")
    form.lr_spin.setValue(0.002)
    form.draw_box.setCurrentIndex(form.draw_box.findData("per_sample"))
    config = form.run()["config"]
    assert config["methods"] == ["simclr", "byol"] and config["arms"] == [0.0, 0.25, 1.0]
    assert config["ssl"]["lr"] == 0.002 and config["draw"] == "per_sample"
    form.arms_edit.setText("0, 2")
    assert form.run() is None and "p=2 is outside [0, 1]" in form.error_label.text()
    form.arms_edit.setText("0, half")
    assert form.run() is None and "'half' is not a probability" in form.error_label.text()
    form.arms_edit.setText("0")
    for check in form.method_checks.values():
        check.setChecked(False)
    assert form.run() is None and "no SSL method is ticked" in form.error_label.text()
    with pytest.raises(LanternError):
        parse_arms("-1")
    assert arm_key({"arm": "identity", "p": 1.0}) == "identity"
    assert arm_key({"arm": 0.5}) == "p=0.5" and arm_key({"arm": "1"}) == "p=1" and arm_key({"p": 0}) == "p=0"


def test_table_mean_and_spread_match_a_hand_computation(
    qtbot, panel: ExperimentPanel, services, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    store = services.store
    job, ids = store_experiment(store)
    (entry,) = list_experiments(store)
    assert (entry.job_id, entry.name) == (job, "e1")
    runs = load_experiment_runs(store, job)
    assert len(runs) == 7 and {r.arm for r in runs} == {"p=0", "p=1", "other_image"}
    rows = {(r.arm, r.method): r for r in summarise(runs)}
    p0 = [0.70, 0.72, 0.71]
    p1 = [0.75, 0.78]
    assert rows[("p=0", "simclr")].linear_mean_std == pytest.approx(
        (statistics.mean(p0), statistics.stdev(p0))
    )
    assert rows[("p=1", "simclr")].linear_mean_std == pytest.approx(
        (statistics.mean(p1), statistics.stdev(p1))
    )
    assert rows[("p=1", "simclr")].knn_mean_std == pytest.approx((0.705, statistics.stdev([0.70, 0.71])))
    assert rows[("other_image", "simclr")].linear_mean_std == (pytest.approx(0.60), 0.0)
    assert (rows[("p=1", "simclr")].done, rows[("p=1", "simclr")].runs) == (2, 3)

    panel.set_experiments([entry])
    panel.set_runs(runs)
    table = panel.table
    assert [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())] == [
        "Arm",
        "SimCLR linear top-1",
        "SimCLR kNN top-1",
        "seeds",
    ]
    cells = [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]
    assert cells == [
        [
            "p=0",
            f"{100 * statistics.mean(p0):.1f} ± {100 * statistics.stdev(p0):.1f} %",
            "66.0 ± 1.0 %",
            "3/3",
        ],
        [
            "p=1",
            f"{100 * statistics.mean(p1):.1f} ± {100 * statistics.stdev(p1):.1f} %",
            "70.5 ± 0.7 %",
            "2/3",
        ],
        ["other image", "60.0 ± 0.0 %", "55.0 ± 0.0 %", "1/1"],
    ]
    assert cells[1][1] == "76.5 ± 2.1 %"
    x, mean, std = panel.bars.bars[("p=1", "simclr")]
    assert (x, mean, std) == (
        pytest.approx(1.0),
        pytest.approx(76.5),
        pytest.approx(100 * statistics.stdev(p1)),
    )
    assert "The axis starts at" in panel.bars.caption.text()
    steps, losses = panel.losses.points(ids[("simclr", 1.0, 2)])
    assert steps == [1.0, 2.0, 3.0] and losses == pytest.approx([3.8, 2.8, 1.8])
    assert len(panel.losses.curves) == 7
    assert "6 of 7 run(s) finished" in panel.summary_label.text()
    path = panel.export_button.export("CSV", tmp_path / "results.csv")
    with path.open() as handle:
        written = list(csv.DictReader(handle))
    assert [(r["arm"], r["seeds_done"]) for r in written] == [
        ("p=0", "3"),
        ("p=1", "2"),
        ("other_image", "1"),
    ]
    assert float(written[0]["linear_std"]) == pytest.approx(statistics.stdev(p0))
    assert panel.export_button.export("PNG", tmp_path / "results.png").stat().st_size > 5000


def test_a_resumed_experiment_is_one_entry_with_its_newest_jobs_status(services) -> None:  # type: ignore[no-untyped-def]
    store = services.store
    first, _ids = store_experiment(store)
    store.jobs.set_status(first, "interrupted")
    resumed = store.jobs.create(JOB_NAME, {"config": {"name": "from the config"}}, resume_of=first)
    store.jobs.set_status(resumed, "running")
    other = store.jobs.create(JOB_NAME, {"config": {"name": "from the config"}, "experiment_name": None})
    entries = list_experiments(store)
    assert [(e.job_id, e.latest_job, e.status, e.name) for e in entries] == [
        (other, other, "queued", "from the config"),
        (first, resumed, "running", "e1"),
    ]
    assert entries[1].running and len(load_experiment_runs(store, first)) == 7
