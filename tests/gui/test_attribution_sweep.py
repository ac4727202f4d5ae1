"""The sweep plot (a metric against r or the manipulation's strength, one line per method, the random
baseline and the bound 1.5 − max(r, 1 − r)), its place on the Attribution page (a figure tab shown only for
an experiment with a sweep), its exports, and a screenshot for review."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QImage
from test_screenshots import assert_real_image, lantern_look, save  # noqa: F401 (a fixture)

from engine.attribution.records import ScoreRow
from engine.attribution.repository import EXPERIMENT_KIND, AttributionRepository
from engine.attribution.scores import METRICS
from engine.core.device import DeviceChoice
from engine.core.errors import LanternError
from engine.store.database import Store
from gui.pages.attribution import AttributionPage
from gui.services import AppServices
from gui.widgets.attribution_leaderboard import SweepView, sweep_bound

CPU = DeviceChoice("cpu", "float32", "x86_64")


@dataclass(frozen=True)
class Row:
    """The shape of engine.attribution.records.LeaderboardRow."""

    manipulation: str
    method: str
    mean: float
    std: float
    n_runs: int
    region_share: float
    bound: float | None
    strength: float = 0.0
    r: float = 0.5
    metric: str = "attr_pct"
    condition: str = "all"


def r_rows(metric: str = "attr_pct") -> list[Row]:
    """Two manipulations x two methods x three r, means chosen by hand."""
    rows = []
    for manipulation, share in (("watermark", 0.29), ("centre_brightness", 0.16)):
        for method, lift in (("lime", 0.4), ("saliency", 0.1)):
            for r in (0.5, 0.7, 0.9):
                mean = round(share + lift * (1.2 - r), 4)
                bound = float(sweep_bound(r)) if metric == "attr_pct" else None
                rows.append(Row(manipulation, method, mean, 0.02, 3, share, bound, 2.0, r, metric))
    return rows


@pytest.fixture
def sweep(qtbot):  # type: ignore[no-untyped-def]
    view = SweepView()
    qtbot.addWidget(view)
    view.resize(900, 420)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_points_match_the_rows_of_the_chosen_manipulation(sweep: SweepView) -> None:
    rows = r_rows()
    sweep.set_rows(rows, over="r", metric_title="Attr%", condition="presence")
    # Several manipulations: a selector, the catalogue's first one drawn.
    assert sweep.manipulations() == ["centre_brightness", "watermark"]
    assert sweep.manipulation_box.isVisible()
    assert sweep.current_manipulation() == "centre_brightness"
    expected = sorted(
        (r.method, r.manipulation, r.r, r.mean, r.std) for r in rows if r.manipulation == "centre_brightness"
    )
    assert sorted(sweep.points()) == expected
    assert ("lime", "centre_brightness", 0.7, round(0.16 + 0.4 * 0.5, 4), 0.02) in sweep.points()
    assert len(sweep.legend.items) == 2
    assert "Attr% as r changes" in sweep.caption.text() and "Centre brightness" in sweep.caption.text()

    sweep.set_manipulation("watermark")
    assert {p[1] for p in sweep.points()} == {"watermark"} and len(sweep.points()) == 6
    # New rows keep the manipulation chosen; `manipulation=` picks one.
    sweep.set_rows(rows, over="r", metric_title="Attr%", condition="all")
    assert sweep.current_manipulation() == "watermark"
    sweep.set_rows(rows, over="r", metric_title="Attr%", condition="all", manipulation="centre_brightness")
    assert {p[1] for p in sweep.points()} == {"centre_brightness"}
    # One manipulation: no selector.
    sweep.set_rows(rows[:6], over="r", metric_title="Attr%", condition="all")
    assert not sweep.manipulation_box.isVisible()
    with pytest.raises(LanternError, match="sweep over 'epochs'"):
        sweep.set_rows(rows, over="epochs", metric_title="Attr%", condition="all")
    with pytest.raises(LanternError, match="no sweep for 'striped_hue'"):
        sweep.set_manipulation("striped_hue")


def test_bound_curve_and_random_baseline(sweep: SweepView) -> None:
    sweep.set_rows(r_rows(), over="r", metric_title="Attr%", condition="all", manipulation="watermark")
    x, y = sweep.bound_points()
    assert sweep.bound_curve.isVisible()
    assert np.interp([0.5, 0.7, 0.9], x, y) == pytest.approx([1.0, 0.8, 0.6], abs=1e-12)
    assert x.min() < 0.5 and x.max() > 0.9  # drawn over the whole x range
    assert y.max() == pytest.approx(1.0)  # the kink at r = 0.5
    bx, by = sweep.baseline_points()
    assert list(bx[1:-1]) == [0.5, 0.7, 0.9] and bx[0] < 0.5 and bx[-1] > 0.9  # across the plot
    assert by == pytest.approx([0.29] * 5)
    assert len(sweep.guide_legend.items) == 2
    # Another metric, or a sweep over strength: no bound.
    sweep.set_rows(r_rows("auroc"), over="r", metric_title="AUROC", condition="all")
    assert not sweep.bound_curve.isVisible() and sweep.bound_points()[0].size == 0
    strength_rows = [
        Row("striped_noise", "lime", 0.3 + 0.1 * s, 0.01, 3, 0.33, 1.0, strength=s) for s in (0.1, 0.2, 0.4)
    ]
    sweep.set_rows(strength_rows, over="strength", metric_title="Attr%", condition="all")
    assert not sweep.bound_curve.isVisible()
    assert [p[2] for p in sweep.points()] == [0.1, 0.2, 0.4]
    assert sweep.plot.getAxis("bottom").labelText == "manipulation strength"


def test_clicking_a_point_emits_method_and_manipulation(sweep: SweepView, qtbot) -> None:  # type: ignore[no-untyped-def]
    sweep.set_rows(r_rows(), over="r", metric_title="Attr%", condition="all", manipulation="watermark")
    qtbot.wait(50)
    seen: list[tuple[str, str]] = []
    sweep.pointActivated.connect(lambda method, manipulation: seen.append((method, manipulation)))
    item = next(i for i in sweep.plot.items if getattr(i, "name", lambda: None)() == "LIME")
    spot = item.points()[1]
    scene = sweep.plot.getViewBox().mapViewToScene(QPointF(spot.pos()))
    where = sweep.canvas.mapFromScene(scene)
    qtbot.mouseClick(sweep.canvas.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert seen == [("lime", "watermark")]


def test_export_writes_a_png_and_the_plotted_points_as_csv(sweep: SweepView, tmp_path: Path) -> None:
    sweep.set_rows(r_rows(), over="r", metric_title="Attr%", condition="all", manipulation="watermark")
    png = sweep.export_button.export("PNG", tmp_path / "sweep.png")
    image = QImage(str(png))
    assert not image.isNull() and image.width() >= 2 * sweep.figure.width()
    sweep.export_button.export("SVG", tmp_path / "sweep.svg")
    assert "<svg" in (tmp_path / "sweep.svg").read_text(encoding="utf-8")
    sweep.export_button.export("CSV", tmp_path / "sweep.csv")
    with (tmp_path / "sweep.csv").open(encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == 6 and {row["manipulation"] for row in table} == {"watermark"}
    lime = next(row for row in table if row["method"] == "lime" and row["r"] == "0.9")
    assert float(lime["mean"]) == pytest.approx(0.29 + 0.4 * 0.3, abs=1e-4)
    assert float(lime["bound"]) == pytest.approx(0.6) and float(lime["region_share"]) == 0.29


# The page: a figure tab for the sweep, shown only when the experiment has one.
CONFIG = {
    "name": "watermark",
    "modality": "image",
    "base": {"kind": "fashion_pair", "classes": [0, 6], "colour": False},
    "manipulations": [{"name": "watermark", "strength": 0.8}],
    "r": 0.5,
    "model": {"name": "small_cnn"},
    "runs": 2,
    "train": {"max_epochs": 5, "min_accuracy": 0.95},
    "methods": ["saliency", "kernel_shap"],
}


def store_experiment(store: Store, sweep: dict[str, list[float]] | None) -> int:
    """An experiment stored as the job stores it: 2 replicates at each r (one r without a sweep)."""
    repository = AttributionRepository(store)
    config = dict(CONFIG, sweep=sweep) if sweep else CONFIG
    run_id = store.runs.create(name="watermark", kind=EXPERIMENT_KIND, config=config, device=CPU)
    for r in (sweep or {}).get("r", [0.5]):
        for replicate in range(2):
            scores = [
                ScoreRow(method, metric, condition, lift * (1.3 - r) + 0.29, 32, 0.29, "abs-sum-channels")
                for method, lift in (("saliency", 0.1 + 0.01 * replicate), ("kernel_shap", 0.5))
                for metric in ("attr_pct", "pointing_game", "top_k_overlap", "auroc")
                for condition in ("presence", "absence", "all")
            ]
            repository.add_replicate(
                run_id,
                manipulation="watermark",
                strength=0.8,
                r=r,
                replicate=replicate,
                model="small_cnn",
                val_accuracy=0.97,
                p_star=max(r, 1 - r),
                passed=True,
                epochs=4,
                scores=scores,
            )
    store.runs.finish(run_id, "done", {"pass_rate": 1.0})
    return run_id


def test_the_sweep_tab_shows_only_for_an_experiment_with_a_sweep(qtbot, services: AppServices) -> None:  # type: ignore[no-untyped-def]
    plain = store_experiment(services.store, None)
    swept = store_experiment(services.store, {"r": [0.5, 0.7, 0.9]})
    page = AttributionPage(services)
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    qtbot.waitExposed(page)
    page.show_tab("Leaderboard")
    tabs = page.figure_tabs
    assert tabs.count() == 3

    page.select_experiment(plain)
    assert page.sweep_over() is None
    assert not tabs.isTabVisible(page.sweep_tab) and not tabs.isTabEnabled(page.sweep_tab)

    page.select_experiment(swept)
    assert page.sweep_over() == "r"
    assert tabs.isTabVisible(page.sweep_tab) and tabs.isTabEnabled(page.sweep_tab)
    assert tabs.tabText(page.sweep_tab) == "Score against r"
    tabs.setCurrentIndex(page.sweep_tab)
    points = page.sweep.points()
    assert len(points) == 6 and {p[2] for p in points} == {0.5, 0.7, 0.9}
    shap = next(p for p in points if p[0] == "kernel_shap" and p[2] == 0.7)
    assert shap[3] == pytest.approx(0.5 * 0.6 + 0.29)
    assert page.sweep.bound_curve.isVisible()
    # The leaderboard's metric and condition are the sweep's too.
    page.leaderboard.metric_box.setCurrentIndex(page.leaderboard.metric_box.findData("auroc"))
    assert page.sweep.plot.getAxis("left").labelText == METRICS["auroc"].title
    assert not page.sweep.bound_curve.isVisible()

    page.sweep.pointActivated.emit("kernel_shap", "watermark")
    assert page.current_tab() == "Gallery"

    page.show_tab("Leaderboard")
    page.select_experiment(plain)  # the sweep tab was current: the scatter takes its place
    assert not tabs.isTabVisible(page.sweep_tab) and tabs.currentIndex() == 0
    page.shutdown()


# The screenshot: Attr% on the watermark as r grows, shaped like the paper's sweeps (SHAP and LIME keep
# most of the mass in the region, gradients slide toward the random baseline as r gives the original
# image more of the label), three runs per point.
SWEEP_SKILL = {
    "saliency": (0.16, 0.6),
    "integrated_gradients": (0.34, 0.75),
    "smoothgrad": (0.24, 0.7),
    "gradcam": (0.10, 0.9),
    "lime": (0.52, 0.8),
    "kernel_shap": (0.60, 0.85),
}


def paper_like_sweep() -> list[Row]:
    rng = np.random.default_rng(11)
    rows = []
    for r in (0.5, 0.6, 0.7, 0.8, 0.9):
        for manipulation, share in (("watermark", 0.29), ("centre_brightness", 0.16)):
            for method, (skill, fade) in SWEEP_SKILL.items():
                reliance = 1 - fade * (r - 0.5) / 0.4 * 0.7  # the model leans less on the region as r grows
                mean = share + (1 - share) * skill * reliance + rng.normal(0, 0.015)
                rows.append(
                    Row(
                        manipulation,
                        method,
                        float(np.clip(mean, 0.02, 0.98)),
                        float(rng.uniform(0.015, 0.05)),
                        3,
                        share,
                        float(sweep_bound(r)),
                        0.8,
                        r,
                    )
                )
    return rows


@pytest.mark.usefixtures("lantern_look")
def test_screenshot_of_the_sweep(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = SweepView()
    qtbot.addWidget(view)
    view.resize(QSize(960, 560))
    view.set_rows(
        paper_like_sweep(), over="r", metric_title="Attr%", condition="presence", manipulation="watermark"
    )
    view.show()
    path = save(view, "attribution_sweep", qtbot)
    assert_real_image(path, QSize(960, 560))
    view.close()
