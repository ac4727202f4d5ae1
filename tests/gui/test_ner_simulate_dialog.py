"""'Simulate…' on the Annotate page: the paper's experiment as a job, curves live on the Runs page."""

from __future__ import annotations

from gui.dialogs.ner_simulate import SimulateDialog


def test_simulate_dialog_defaults_come_from_the_job_spec(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = SimulateDialog("wnut16")
    qtbot.addWidget(dialog)
    spec = dialog.spec()
    assert spec["job"] == "ner.simulate"
    assert spec["params"]["corpus"] == "wnut16"
    assert set(spec["params"]["strategies"]) == {"mnlp", "lc", "bald", "random"}
    assert spec["params"]["seeds"] == 3


def test_simulation_from_annotate_streams_curves_to_runs(qtbot, window, services) -> None:  # type: ignore[no-untyped-def]
    window.show_page("annotate")
    annotate = window.page("annotate")
    dialog = annotate.open_simulate_dialog()
    for name, box in dialog.strategy_boxes.items():
        box.setChecked(name in ("mnlp", "random"))
    dialog.seeds.setValue(1)
    dialog.rounds.setValue(2)
    dialog.epochs.setValue(1)
    dialog.limit.setValue(150)
    dialog.accept()

    assert window.current_page_key() == "runs"
    runs = window.page("runs")
    qtbot.waitUntil(lambda: any(name.startswith("f1") for name in runs.plot.metrics()), timeout=180_000)
    job = max(services.store.jobs.list(), key=lambda record: record.id)
    assert job.name == "ner.simulate"
    qtbot.waitUntil(lambda: services.store.jobs.get(job.id).status == "done", timeout=180_000)
    stored = services.store.runs.metrics(services.store.runs.for_job(job.id)[0].id)
    plotted = [name for name in runs.plot.metrics() if name.startswith("f1")]
    assert plotted and all(name in stored for name in plotted)
