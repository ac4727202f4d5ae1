"""The Attribution page: builds on its own, lists the experiments AttributionRepository stored with their
replicates (pass/fail against the bar, pass rate) live while a job runs, loads the chosen experiment's
leaderboard and gallery, starts experiments as jobs, explores through the interactive op, reports errors
as notices, and never imports torch (every tab shown, the dialog opened and its spec validated)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gui_fakes import FakeInteractive, run_gui_script
from PIL import Image

from engine.attribution.gallery import save_galleries
from engine.attribution.ops import encode_map
from engine.attribution.records import ScoreRow
from engine.attribution.repository import EXPERIMENT_KIND, GALLERY_KIND, AttributionRepository
from engine.attribution.types import Gallery
from engine.core.device import DeviceChoice
from engine.core.errors import LanternError
from engine.store.database import Store
from gui.pages.attribution import AttributionPage
from gui.services import AppServices
from gui.widgets.attribution_explore import DEMO_PHOTOS, ExplorePanel

CPU = DeviceChoice("cpu", "float32", "x86_64")
CONFIG = {
    "name": "blur and brightness",
    "modality": "image",
    "base": {"kind": "fashion_pair", "classes": [0, 6], "colour": False},
    "manipulations": [{"name": "peripheral_blur", "strength": 2.0}, {"name": "centre_brightness"}],
    "r": 0.5,
    "model": {"name": "small_cnn"},
    "runs": 2,
    "train": {"max_epochs": 5, "min_accuracy": 0.9},
    "methods": ["saliency", "gradcam"],
}


def store_experiment(store: Store, tmp_path: Path, *, job_id: int | None = None, finish: bool = True) -> int:
    """An experiment as the job stores it: 2 manipulations x 2 replicates (one fails the bar), scores for
    2 methods on every metric and condition, and a gallery artifact."""
    repository = AttributionRepository(store)
    run_id = store.runs.create(
        name="blur and brightness", kind=EXPERIMENT_KIND, config=CONFIG, device=CPU, job_id=job_id
    )
    for manipulation, strength, share in (("peripheral_blur", 2.0, 0.49), ("centre_brightness", 0.5, 0.25)):
        for replicate in range(2):
            passed = not (manipulation == "centre_brightness" and replicate == 1)
            scores = [
                ScoreRow(method, metric, condition, mean, 32, share, "abs-sum-channels")
                for method, mean in (
                    ("saliency", 0.55 + 0.05 * replicate),
                    ("gradcam", 0.7 + 0.02 * replicate),
                )
                for metric in ("attr_pct", "pointing_game", "top_k_overlap", "auroc")
                for condition in ("presence", "absence", "all")
            ]
            repository.add_replicate(
                run_id,
                manipulation=manipulation,
                strength=strength,
                r=0.5,
                replicate=replicate,
                model="small_cnn",
                val_accuracy=0.97 if passed else 0.81,
                p_star=0.5,
                passed=passed,
                epochs=4,
                scores=scores if passed else (),
            )
    rng = np.random.default_rng(0)
    masks = np.zeros((3, 28, 28), dtype=bool)
    masks[:, 7:21, 7:21] = True
    gallery = Gallery(
        modality="image",
        manipulation="centre_brightness",
        replicate=0,
        labels=np.array([0, 1, 1]),
        predictions=np.array([0, 1, 0]),
        manipulated=np.array([False, True, True]),
        masks=masks,
        maps={m: rng.random((3, 28, 28)).astype(np.float32) for m in ("saliency", "gradcam")},
        inputs=rng.random((3, 1, 28, 28)).astype(np.float32),
        model="small_cnn",
    )
    path = save_galleries([gallery], tmp_path / f"galleries-{run_id}.npz")
    store.artifacts.add(path, kind=GALLERY_KIND, name="galleries.npz", run_id=run_id)
    if finish:
        store.runs.finish(run_id, "done", {"pass_rate": 0.75})
    return run_id


def make_page(qtbot, services: AppServices) -> AttributionPage:  # type: ignore[no-untyped-def]
    page = AttributionPage(services)
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    qtbot.waitExposed(page)
    return page


def test_page_lists_a_stored_experiment_with_replicates_leaderboard_and_gallery(
    qtbot, services: AppServices, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    run_id = store_experiment(services.store, tmp_path)
    page = make_page(qtbot, services)
    assert [page.tabs.tabText(i) for i in range(page.tabs.count())] == [
        "Designer",
        "Experiments",
        "Leaderboard",
        "Gallery",
        "Explore",
    ]
    assert page.run_id == run_id
    panel = page.experiments
    assert panel.experiments.rowCount() == 1
    assert panel.experiments.item(0, 0).text() == "blur and brightness"
    assert panel.experiments.item(0, 2).text() == "75 %"
    assert panel.table.rowCount() == 4
    passed = [panel.table.item(row, 8).text() for row in range(4)]
    assert passed == ["✓ passed", "✓ passed", "✓ passed", "✗ failed"]
    assert panel.table.item(3, 5).text() == "81.0 %" and panel.table.item(3, 6).text() == "90.0 %"
    assert panel.pass_label.text() == "Pass rate 3 of 4 (75 %)"

    page.show_tab("Leaderboard")
    rows = page.leaderboard.rows()
    assert {(row.manipulation, row.method) for row in rows} == {
        (m, k) for m in ("peripheral_blur", "centre_brightness") for k in ("saliency", "gradcam")
    }
    blur_gradcam = next(r for r in rows if r.manipulation == "peripheral_blur" and r.method == "gradcam")
    assert blur_gradcam.mean == pytest.approx(0.71) and blur_gradcam.n_runs == 2
    page.leaderboard.metric_box.setCurrentIndex(page.leaderboard.metric_box.findData("auroc"))
    assert page.current_metric() == "auroc"
    assert page.agreement.metrics == ["attr_pct", "pointing_game", "top_k_overlap", "auroc"]
    csv_path = tmp_path / "scores.csv"
    assert page.export_scores(csv_path) == 4 * 3 * 4  # metrics x conditions x (manipulation, method)

    page.show_tab("Gallery")
    assert page.gallery_stack.currentWidget() is page.gallery
    assert [g.manipulation for g in page.gallery.galleries] == ["centre_brightness"]


def test_replicates_appear_live_while_the_job_runs_and_errors_become_notices(
    qtbot, services: AppServices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    page = make_page(qtbot, services)
    assert page.experiments.experiments.rowCount() == 0
    assert not page.experiments.empty.isHidden()

    class Handle:
        job_id = 41

    submitted: list[dict[str, Any]] = []

    def submit(doc: dict[str, Any], resume_of: int | None = None, follow: bool = False) -> Handle:
        submitted.append(doc)
        assert follow is False
        return Handle()

    monkeypatch.setattr(services.jobs, "submit", submit)
    job_id = services.store.jobs.create(EXPERIMENT_KIND, {"job": EXPERIMENT_KIND, "params": CONFIG})
    Handle.job_id = job_id
    page.start_experiment({"job": EXPERIMENT_KIND, "params": CONFIG})
    assert submitted and page.current_tab() == "Experiments"
    assert page._poll.isActive()
    # The job stores its run and replicates as it goes: the poll picks them up and selects the run.
    run_id = store_experiment(services.store, tmp_path, job_id=job_id, finish=False)
    qtbot.waitUntil(lambda: page.run_id == run_id, timeout=5000)
    qtbot.waitUntil(lambda: page.experiments.table.rowCount() == 4, timeout=5000)
    assert not page.experiments.cancel_button.isHidden()
    page._on_progress(job_id, 2, 4, "centre_brightness replicate 2")
    assert page.experiments.job_label.text() == "50 % · centre_brightness replicate 2"
    services.store.runs.finish(run_id, "done", {})
    page._on_status(job_id, "done", "")
    qtbot.waitUntil(lambda: not page._poll.isActive(), timeout=5000)
    assert page.experiments.cancel_button.isHidden()

    page._on_job_error(
        job_id, {"what": "no model passed", "where": "attribution.experiment", "hint": "raise r"}
    )
    notice = services.notifications.notices()[-1]
    assert (notice.level, notice.message, notice.hint) == ("error", "no model passed", "raise r")

    # A gallery file deleted behind the store's back is a notice, not a crash.
    for path in tmp_path.glob("galleries-*.npz"):
        path.unlink()
    services.store.artifacts.path(services.store.artifacts.for_run(run_id)[0]).unlink()
    page._loaded_gallery = None
    page.refresh()
    page.load_gallery()
    assert page.gallery_stack.currentWidget() is page.gallery_message


def test_starting_from_the_designer_opens_the_prefilled_dialog(qtbot, services: AppServices) -> None:  # type: ignore[no-untyped-def]
    page = make_page(qtbot, services)
    qtbot.waitUntil(lambda: not page.designer.is_busy(), timeout=20_000)
    action = page.actions_by_id["attribution.start_experiment"]
    assert action.shortcut().toString() == "Ctrl+Return"
    action.trigger()
    dialog = page._dialog
    assert dialog is not None and dialog.isVisible()
    assert [n for n, box in dialog.manipulation_boxes.items() if box.isChecked()] == [
        page.designer.design().manipulation
    ]
    dialog.reject()


SCRIPT = """
import json, sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
import gui.app
from gui.pages.attribution import AttributionPage
services = gui.app.build_services()
page = AttributionPage(services)
page.resize(1200, 800)
page.show()
for index in range(page.tabs.count()):
    page.tabs.setCurrentIndex(index)
    app.processEvents()
page.designer.pool.waitForDone(20000)
page.explore.wait_for_loads()
app.processEvents()
dialog = page.open_dialog()  # lists the models and methods, and validates the spec it would submit
dialog.threshold_spin.setValue(0.9)
dialog.check()
dialog.reject()
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"torch", "transformers", "captum", "diffusers"})
page.shutdown()
gui.app.shutdown(services)
print(json.dumps({"loaded": loaded, "preview": page.designer.preview is not None}))
"""


def test_building_the_page_imports_no_model_library(lantern_home: Path) -> None:
    report = run_gui_script(SCRIPT, lantern_home)
    assert report["loaded"] == [], f"the Attribution page imported {report['loaded']}"
    assert report["preview"]


def test_explore_sends_the_op_and_shows_top_classes_and_the_map(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bridge = FakeInteractive()
    panel = ExplorePanel(bridge)  # type: ignore[arg-type]
    qtbot.addWidget(panel)
    panel.resize(1100, 650)
    panel.show()
    assert panel.wait_for_loads()
    qtbot.waitUntil(lambda: len(panel.images) == len(DEMO_PHOTOS), timeout=10_000)
    panel.image_list.setCurrentRow([i.name for i in panel.images].index("chelsea"))
    panel.method_box.setCurrentIndex(panel.method_box.findData("gradient_shap"))
    request_id = panel.explain()
    op, args = bridge.requests[-1]
    assert (op, args["demo"], args["method"], args["model"], args["top_k"]) == (
        "attribution.explore",
        ["chelsea"],
        "gradient_shap",
        "efficientnet-lite0",
        5,
    )
    assert not panel.explain_button.isEnabled()
    attribution = np.zeros((16, 16), dtype=np.float32)
    attribution[4:8, 4:8] = 1.0
    seen = np.full((16, 16, 3), 200, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(seen).save(buffer, format="PNG")
    answer = {
        "results": [
            {
                "name": "chelsea",
                "top_k": [
                    {"index": 285, "name": "Egyptian cat", "probability": 0.62},
                    {"index": 281, "name": "tabby", "probability": 0.2},
                ],
                "map": encode_map(attribution),
                "image_png": base64.b64encode(buffer.getvalue()).decode("ascii"),
            }
        ],
        "seconds": 1.5,
    }
    bridge.answered.emit(request_id + 1, answer)  # another request's answer is not ours
    assert panel.answer is None
    bridge.answered.emit(request_id, answer)
    assert panel.answer is answer and panel.explain_button.isEnabled()
    label, bar = panel.predictions.rows[0]
    assert "Egyptian cat" in label.text() and "62.0 %" in label.text() and bar.value() == 620
    assert panel.predictions.rows[2][0].isHidden()
    assert "Egyptian cat" in panel.status.text()

    errors: list[Any] = []
    panel.failed.connect(errors.append)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    panel.add_file(bad)
    assert panel.wait_for_loads()
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert str(bad) == errors[-1].where
    second = panel.explain()
    bridge.failed.emit(second, LanternError("no network for that model", "attribution.explore", "use lite0"))
    assert errors[-1].what == "no network for that model"
    assert panel.status.text() == "Explain failed: no network for that model"
    panel.shutdown()


def test_a_leaderboard_cell_opens_the_gallery_on_its_manipulation_and_method(
    qtbot, services: AppServices, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    store_experiment(services.store, tmp_path)
    page = make_page(qtbot, services)
    page.show_tab("Leaderboard")
    page.leaderboard.cellActivated.emit("gradcam", "centre_brightness")
    assert page.current_tab() == "Gallery"
    assert page.gallery.galleries[page.gallery.current_index()].manipulation == "centre_brightness"
    assert page.gallery.grid.highlight == "gradcam"


def test_a_manipulation_no_run_of_which_passed_says_what_to_change(
    qtbot, services: AppServices, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    run_id = store_experiment(services.store, tmp_path)
    AttributionRepository(services.store).add_replicate(
        run_id,
        manipulation="watermark",
        strength=1.0,
        r=0.5,
        replicate=0,
        model="small_cnn",
        val_accuracy=0.62,
        p_star=0.5,
        passed=False,
        epochs=5,
    )
    page = make_page(qtbot, services)
    note = page.experiments.note.text()
    assert "no run of watermark" in note and "best validation accuracy 0.620 against 0.9" in note
    assert "train.max_epochs" in note and "centre_brightness" not in note  # one of its runs passed
    assert page.experiments.note.property("role") == "error"


def test_a_second_experiments_galleries_join_for_side_by_side_comparison(
    qtbot, services: AppServices, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    first = store_experiment(services.store, tmp_path)
    second = store_experiment(services.store, tmp_path)
    page = make_page(qtbot, services)
    page.select_experiment(first)
    page.show_tab("Gallery")
    assert len(page.gallery.galleries) == 1
    box = page.gallery_compare
    assert [box.itemData(i) for i in range(box.count())] == [None, second]  # not itself
    box.setCurrentIndex(1)
    box.activated.emit(1)
    assert [g.model for g in page.gallery.galleries] == [f"small_cnn · #{first}", f"small_cnn · #{second}"]
    page.gallery.set_compare(True, left=(0, "saliency"), right=(1, "saliency"))
    assert page.gallery.compare_mode()
    box.setCurrentIndex(0)
    box.activated.emit(0)
    assert [g.model for g in page.gallery.galleries] == ["small_cnn"]
