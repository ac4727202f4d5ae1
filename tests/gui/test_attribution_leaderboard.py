"""The attribution leaderboard: cell texts, numeric sorting, colour scale, baseline/bound markers, the
scatter against region share, Kendall tau heat map, CSV export, and a screenshot for review."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget
from test_screenshots import assert_real_image, lantern_look, save  # noqa: F401 (a fixture)

from engine.core.errors import LanternError
from gui.widgets.attribution_leaderboard import (
    METHOD_ORDER,
    LeaderboardView,
    RankAgreementView,
    ScatterView,
    method_colour,
)


@dataclass(frozen=True)
class Row:
    """The shape of engine.attribution.repository.LeaderboardRow."""

    manipulation: str
    method: str
    mean: float
    std: float
    n_runs: int
    region_share: float
    bound: float


SMALL = [
    Row("watermark", "saliency", 0.10, 0.02, 3, 0.29, 0.8),
    Row("watermark", "lime", 0.62, 0.04, 3, 0.29, 0.8),
    Row("watermark", "gradcam", 0.85, 0.01, 3, 0.29, 0.8),
    Row("watermark", "kernel_shap", 0.05, 0.03, 2, 0.29, 0.8),
    Row("centre_brightness", "saliency", 0.30, 0.05, 3, 0.16, 0.8),
    Row("centre_brightness", "lime", 0.45, 0.02, 3, 0.16, 0.8),
    Row("centre_brightness", "gradcam", 0.20, 0.04, 3, 0.16, 0.8),
]


@pytest.fixture
def board(qtbot):  # type: ignore[no-untyped-def]
    view = LeaderboardView()
    qtbot.addWidget(view)
    view.resize(900, 420)
    view.show()
    qtbot.waitExposed(view)
    view.set_rows(SMALL, metric_title="Attr%", condition="presence")
    return view


def test_cells_show_mean_and_spread_and_a_dash_where_a_pair_has_no_score(board: LeaderboardView) -> None:
    assert board.cell_text("lime", "watermark") == "0.62 ± 0.04"
    assert board.cell_text("gradcam", "centre_brightness") == "0.20 ± 0.04"
    assert board.cell_text("kernel_shap", "centre_brightness") == "–"
    assert board.cell_text("lime", "mean") == "0.54"  # (0.62 + 0.45) / 2, over the manipulations it has
    assert board.cell_text("kernel_shap", "mean") == "0.05"
    assert board.manipulations() == ["centre_brightness", "watermark"]  # the catalogue's order


def test_sorting_is_by_number_best_first_then_reversed_and_missing_scores_stay_last(
    board: LeaderboardView,
) -> None:
    # By mean, the default: lime (0.62 + 0.45) / 2 = 0.535 before gradcam (0.85 + 0.20) / 2 = 0.525.
    assert board.method_order() == ["lime", "gradcam", "saliency", "kernel_shap"]

    header = board.table.horizontalHeader()
    column = 1 + board.manipulations().index("centre_brightness")
    header.sectionClicked.emit(column)
    assert board.method_order() == ["lime", "saliency", "gradcam", "kernel_shap"]
    header.sectionClicked.emit(column)
    assert board.method_order() == ["gradcam", "saliency", "lime", "kernel_shap"]  # "–" still last

    header.sectionClicked.emit(1 + board.manipulations().index("watermark"))
    assert board.method_order() == ["gradcam", "lime", "saliency", "kernel_shap"]  # 0.85 0.62 0.10 0.05

    header.sectionClicked.emit(0)
    assert board.method_order() == ["gradcam", "kernel_shap", "lime", "saliency"]  # by title: Grad-CAM…
    assert header.sortIndicatorSection() == 0


def test_sorting_by_number_differs_from_sorting_by_text(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = LeaderboardView()
    qtbot.addWidget(view)
    rows = [
        Row("watermark", "saliency", 9.5, 0.1, 3, 0.3, 1.0),
        Row("watermark", "lime", 10.25, 0.1, 3, 0.3, 1.0),
        Row("watermark", "gradcam", -2.0, 0.1, 3, 0.3, 1.0),
    ]
    view.set_rows(rows, metric_title="score", condition="all", show_bound=False)
    view.sort_by("watermark")
    # As text "9.50" > "10.25" > "-2.00"; as numbers 10.25 > 9.5 > -2.
    assert view.method_order() == ["lime", "saliency", "gradcam"]
    view.sort_by("watermark", descending=False)
    assert view.method_order() == ["gradcam", "saliency", "lime"]
    with pytest.raises(LanternError, match="no column"):
        view.sort_by("striped_noise")


def test_colour_scale_is_darker_for_higher_scores(board: LeaderboardView) -> None:
    high = board.cell_colour("gradcam", "watermark")
    low = board.cell_colour("saliency", "watermark")
    lowest = board.cell_colour("kernel_shap", "watermark")
    assert high != low
    assert high.lightnessF() < low.lightnessF() < lowest.lightnessF() + 1e-9


def test_markers_and_tooltips_tell_the_baseline_the_bound_and_the_runs(board: LeaderboardView) -> None:
    assert board.cell_marker("saliency", "watermark") == "below_baseline"  # 0.10 < region share 0.29
    assert board.cell_marker("gradcam", "watermark") == "meets_bound"  # 0.85 >= bound 0.8
    assert board.cell_marker("lime", "watermark") == ""
    tip = board.cell_tooltip("saliency", "watermark")
    assert "over 3 runs" in tip
    assert "region share): 0.290" in tip
    assert "bound 1.5 − max(r, 1 − r): 0.800 — not reached" in tip
    assert "below the random baseline" in tip
    assert "over 2 runs" in board.cell_tooltip("kernel_shap", "watermark")


def test_baseline_override_and_no_bound_for_other_metrics(board: LeaderboardView) -> None:
    board.set_rows(SMALL, metric_title="AUROC", condition="all", baseline=0.5, show_bound=False)
    assert board.cell_marker("lime", "watermark") == ""  # 0.62 > 0.5
    assert board.cell_marker("saliency", "centre_brightness") == "below_baseline"  # 0.30 < 0.5
    assert board.cell_marker("gradcam", "watermark") == ""  # no bound shown
    assert "bound" not in board.cell_tooltip("gradcam", "watermark")
    assert board.metric_box.currentText() == "AUROC"
    assert board.condition_box.currentData() == "all"


def test_clicking_a_cell_emits_method_and_manipulation_once(board: LeaderboardView, qtbot) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[str, str]] = []
    board.cellActivated.connect(lambda method, manipulation: seen.append((method, manipulation)))
    centre = board.visual_rect("lime", "watermark").center().toPoint()
    qtbot.mouseClick(board.table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert seen == [("lime", "watermark")]
    qtbot.mouseDClick(board.table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert seen == [("lime", "watermark")]  # a double click is the same gesture
    mean = board.visual_rect("saliency", "mean").center().toPoint()
    qtbot.mouseClick(board.table.viewport(), Qt.MouseButton.LeftButton, pos=mean)
    assert seen[-1] == ("saliency", "")


def test_selectors_emit_the_query_the_page_should_load(board: LeaderboardView, qtbot) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(board.queryChanged) as blocker:
        board.condition_box.setCurrentIndex(board.condition_box.findData("absence"))
    assert blocker.args == ["attr_pct", "absence"]
    with qtbot.waitSignal(board.queryChanged) as blocker:
        board.metric_box.setCurrentIndex(board.metric_box.findData("auroc"))
    assert blocker.args == ["auroc", "absence"]
    with qtbot.assertNotEmitted(board.queryChanged):
        board.set_rows(SMALL, metric_title="Attr%", condition="presence")
    assert board.condition_box.currentData() == "presence"


def test_csv_export_holds_every_row_in_full_precision(board: LeaderboardView, tmp_path: Path) -> None:
    assert board.export_csv(tmp_path / "board.csv") == len(SMALL)
    with (tmp_path / "board.csv").open(newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert table[1] == {
        "metric": "Attr%",
        "condition": "presence",
        "manipulation": "watermark",
        "method": "lime",
        "mean": "0.62",
        "std": "0.04",
        "n_runs": "3",
        "region_share": "0.29",
        "bound": "0.8",
        "r": "",
        "strength": "",
    }


@dataclass(frozen=True)
class SweepRow(Row):
    r: float = 0.5
    strength: float = 1.0


def test_sweep_points_of_one_manipulation_get_a_column_each(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = LeaderboardView()
    qtbot.addWidget(view)
    rows = [
        SweepRow("watermark", "lime", 0.6, 0.02, 3, 0.29, 1.0, r=0.5),
        SweepRow("watermark", "lime", 0.5, 0.02, 3, 0.29, 0.7, r=0.8),
        SweepRow("centre_brightness", "lime", 0.4, 0.02, 3, 0.16, 1.0, r=0.5),
    ]
    view.set_rows(rows, metric_title="Attr%", condition="all")
    assert view.manipulations() == ["centre_brightness", "watermark@r=0.5", "watermark@r=0.8"]
    assert view.cell_text("lime", "watermark@r=0.8") == "0.50 ± 0.02"
    assert view.cell_marker("lime", "watermark@r=0.8") == ""  # 0.5 < bound 0.7 at r = 0.8
    assert "Watermark (r 0.8)" in view.cell_tooltip("lime", "watermark@r=0.8")
    seen: list[tuple[str, str]] = []
    view.cellActivated.connect(lambda method, manipulation: seen.append((method, manipulation)))
    view.resize(900, 300)
    view.show()
    qtbot.waitExposed(view)
    centre = view.visual_rect("lime", "watermark@r=0.8").center().toPoint()
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert seen == [("lime", "watermark")]  # the manipulation, for the gallery


def test_scatter_has_one_point_per_method_and_manipulation(qtbot) -> None:  # type: ignore[no-untyped-def]
    scatter = ScatterView()
    qtbot.addWidget(scatter)
    scatter.set_rows(SMALL, metric_title="Attr%", condition="presence")
    points = scatter.points()
    assert len(points) == len(SMALL)
    assert {(m, k) for m, k, _x, _y in points} == {(r.method, r.manipulation) for r in SMALL}
    assert ("lime", "watermark", 0.29, 0.62) in points
    assert len(scatter.method_legend.items) == 4
    assert len(scatter.manipulation_legend.items) == 2
    assert scatter.bound_line.isVisible() and scatter.bound_line.value() == pytest.approx(0.8)
    tip = ScatterView._tip(x=0.29, y=0.62, data=("lime", "watermark", 0.04, 3, "LIME", "Watermark"))
    assert tip.splitlines() == [
        "LIME on Watermark",
        "score 0.620 ± 0.040 over 3 runs",
        "region share 0.290 (+0.330 against random)",
    ]
    seen: list[tuple[str, str]] = []
    scatter.pointActivated.connect(lambda method, manipulation: seen.append((method, manipulation)))
    item = next(i for i in scatter.plot.items if getattr(i, "name", lambda: None)() == "LIME")
    item.sigClicked.emit(item, item.points()[:1], None)
    assert seen == [("lime", item.points()[0].data()[1])]


def test_the_scatter_exports_as_png_and_svg(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    scatter = ScatterView()
    qtbot.addWidget(scatter)
    scatter.set_rows(SMALL, metric_title="Attr%", condition="presence")
    png = scatter.export_button.export("PNG", tmp_path / "scatter.png")
    svg = scatter.export_button.export("SVG", tmp_path / "scatter.svg")
    assert not QImage(str(png)).isNull()
    assert ElementTree.parse(svg).getroot().tag.endswith("svg")


def test_method_colours_are_distinct_and_fixed(qtbot) -> None:  # type: ignore[no-untyped-def]
    colours = {method_colour(m).name() for m in METHOD_ORDER}
    assert len(colours) == len(METHOD_ORDER)
    assert method_colour("lime") == method_colour("lime")


def test_rank_agreement_colours_follow_tau_and_reject_a_bad_matrix(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = RankAgreementView()
    qtbot.addWidget(view)
    view.resize(420, 320)
    view.set_matrix(
        ["attr_pct", "auroc", "pointing_game"],
        np.array([[1, 0.2, -0.6], [0.2, 1, np.nan], [-0.6, np.nan, 1]]),
    )
    strong, weak, negative = view.cell_colour(0, 0), view.cell_colour(0, 1), view.cell_colour(0, 2)
    assert strong.red() > strong.blue() and strong.lightnessF() < weak.lightnessF()
    assert negative.blue() > negative.red()
    assert view.title_of("auroc") == "AUROC"
    view.show()
    qtbot.waitExposed(view)
    assert view.cell_at(*_centre(view, 1, 2)) == (1, 2)
    with pytest.raises(LanternError, match="not 3 x 3"):
        view.set_matrix(["a", "b", "c"], np.eye(2))


def _centre(view: RankAgreementView, i: int, j: int) -> tuple[float, float]:
    left, top, cell = view._geometry()
    return left + (j + 0.5) * cell, top + (i + 0.5) * cell


# The screenshot: scores shaped like the paper's findings (SHAP and LIME best, gradients near the
# random baseline, Grad-CAM diffuse on small regions), three runs each, region shares of the five masks.
SHARES = {
    "peripheral_blur": 0.49,
    "centre_brightness": 0.16,
    "striped_noise": 0.33,
    "watermark": 0.29,
    "striped_hue": 0.36,
}
SKILL = {
    "saliency": 0.02,
    "input_x_gradient": 0.10,
    "integrated_gradients": 0.22,
    "smoothgrad": 0.12,
    "smoothgrad_x_input": 0.26,
    "gradient_shap": 0.45,
    "deeplift": 0.20,
    "gradcam": -0.12,
    "occlusion": 0.30,
    "lime": 0.40,
    "kernel_shap": 0.48,
    "feature_ablation": 0.33,
}


def paper_like_rows() -> list[Row]:
    rng = np.random.default_rng(4)
    rows = []
    for manipulation, share in SHARES.items():
        for method, skill in SKILL.items():
            mean = share + (1 - share) * skill + rng.normal(0, 0.05)
            rows.append(
                Row(
                    manipulation,
                    method,
                    float(np.clip(mean, 0.02, 0.98)),
                    float(rng.uniform(0.01, 0.07)),
                    3,
                    share,
                    1.0,
                )
            )
    return rows


@pytest.mark.usefixtures("lantern_look")
def test_screenshot_of_the_leaderboard(qtbot) -> None:  # type: ignore[no-untyped-def]
    rows = paper_like_rows()
    page = QWidget()
    qtbot.addWidget(page)
    page.resize(QSize(1400, 900))
    layout = QVBoxLayout(page)
    layout.setContentsMargins(16, 14, 16, 14)
    layout.setSpacing(14)
    board = LeaderboardView(page)
    board.set_rows(rows, metric_title="Attr%", condition="presence")
    scatter = ScatterView(page)
    scatter.set_rows(rows, metric_title="Attr%", condition="presence")
    tau = RankAgreementView(page)
    tau.set_matrix(
        ["attr_pct", "pointing_game", "top_k_overlap", "auroc"],
        np.array(
            [[1, 0.61, 0.82, 0.73], [0.61, 1, 0.52, 0.39], [0.82, 0.52, 1, 0.76], [0.73, 0.39, 0.76, 1]]
        ),
    )
    lower = QHBoxLayout()
    lower.setSpacing(18)
    lower.addWidget(scatter, 3)
    lower.addWidget(tau, 2)
    layout.addWidget(board)  # as tall as its rows ask
    layout.addLayout(lower, 1)
    page.show()

    path = save(page, "attribution_leaderboard", qtbot)
    assert_real_image(path, QSize(1400, 900))
    page.close()
