"""MetricPlot: overlaid curves per metric, coalesced live appends, metric choice, hover, PNG/CSV export."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from engine.core.errors import LanternError
from gui.widgets.metric_plot import REDRAW_INTERVAL_MS, RUN_COLOURS, MetricPlot, metric_order


def rgb_pixels(image: QImage) -> np.ndarray:
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(rgb.constBits(), dtype=np.uint8).reshape(rgb.height(), rgb.bytesPerLine())
    # A copy: the buffer belongs to `rgb`, which is freed when this function returns.
    return rows[:, : rgb.width() * 3].reshape(rgb.height(), rgb.width(), 3).copy()


@pytest.fixture
def plot(qtbot):  # type: ignore[no-untyped-def]
    widget = MetricPlot()
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    return widget


def _curve_xy(plot: MetricPlot, label: str, metric: str) -> tuple[list[float], list[float]]:
    curve = plot.curve(label, metric)
    assert curve is not None, f"no curve for {label} / {metric}"
    x, y = curve.getOriginalDataset()
    return list(x), list(y)


def test_set_series_draws_one_curve_per_run_and_metric_with_one_colour_per_run(plot: MetricPlot) -> None:
    plot.set_series("#1 a", "train_loss", [0.5, 1.0, 1.5], [2.0, 1.5, 1.2])
    plot.set_series("#1 a", "test_accuracy", [1.0], [0.7])
    plot.set_series("#2 b", "train_loss", [0.5, 1.0], [2.2, 1.9])
    plot.redraw()

    assert plot.runs() == ["#1 a", "#2 b"]
    assert plot.metrics() == ["train_loss", "test_accuracy"]  # losses first
    assert _curve_xy(plot, "#1 a", "train_loss") == ([0.5, 1.0, 1.5], [2.0, 1.5, 1.2])
    assert _curve_xy(plot, "#2 b", "train_loss") == ([0.5, 1.0], [2.2, 1.9])
    assert plot.curve("#2 b", "test_accuracy") is None  # run b has no such series
    assert plot.colour_of("#1 a").name() == RUN_COLOURS[0]
    assert plot.colour_of("#2 b").name() == RUN_COLOURS[1]
    # The same run has the same pen colour in every plot.
    pen_a_loss = plot.curve("#1 a", "train_loss").opts["pen"].color().name()
    pen_a_acc = plot.curve("#1 a", "test_accuracy").opts["pen"].color().name()
    assert pen_a_loss == pen_a_acc == RUN_COLOURS[0]


def test_live_points_are_coalesced_into_few_redraws(plot: MetricPlot, qtbot) -> None:  # type: ignore[no-untyped-def]
    plot.set_series("#1 live", "train_loss", [0.1], [2.3])
    plot.redraw()
    before = plot.redraw_count
    for i in range(2, 201):
        assert plot.append_point("#1 live", "train_loss", i / 10, 2.3 / i)
    # Appending only records the points; nothing is drawn until the timer fires.
    assert plot.redraw_count == before
    assert len(_curve_xy(plot, "#1 live", "train_loss")[0]) == 1
    qtbot.waitUntil(lambda: len(_curve_xy(plot, "#1 live", "train_loss")[0]) == 200, timeout=2000)
    assert plot.redraw_count - before == 1  # 199 points, one redraw
    x, y = _curve_xy(plot, "#1 live", "train_loss")
    assert x[-1] == pytest.approx(20.0)
    assert y[-1] == pytest.approx(2.3 / 200)
    assert REDRAW_INTERVAL_MS <= 100


def test_append_ignores_points_at_or_before_the_last_step(plot: MetricPlot) -> None:
    """A point already read from the store may still arrive as a queued event; it must not be drawn twice."""
    plot.set_series("#3 r", "train_loss", [0.1, 0.2], [1.0, 0.9])
    assert not plot.append_point("#3 r", "train_loss", 0.2, 0.9)
    assert not plot.append_point("#3 r", "train_loss", 0.1, 1.0)
    assert plot.append_point("#3 r", "train_loss", 0.3, 0.8)
    assert plot.series("#3 r", "train_loss") == ([0.1, 0.2, 0.3], [1.0, 0.9, 0.8])


def test_new_metrics_show_up_to_four_plots_and_chips_toggle_them(plot: MetricPlot) -> None:
    names = ["train_loss", "train_accuracy", "test_loss", "test_accuracy", "learning_rate"]
    for name in names:
        plot.set_series("#1 a", name, [1.0, 2.0], [0.5, 0.4])
    plot.redraw()
    assert plot.metrics() == ["train_loss", "test_loss", "train_accuracy", "test_accuracy", "learning_rate"]
    # The first four that arrived are shown, in display order; the fifth waits behind its chip.
    assert plot.visible_metrics() == ["train_loss", "test_loss", "train_accuracy", "test_accuracy"]
    assert plot.plotted_metrics() == plot.visible_metrics()
    assert not plot.metric_chip("learning_rate").isChecked()

    plot.metric_chip("train_loss").click()
    assert "train_loss" not in plot.visible_metrics()
    assert "train_loss" not in plot.plotted_metrics()
    plot.metric_chip("learning_rate").click()
    assert "learning_rate" in plot.plotted_metrics()

    plot.set_visible_metrics(["test_loss"])
    assert plot.visible_metrics() == ["test_loss"]
    assert plot.plotted_metrics() == ["test_loss"]
    # A metric the user hid stays hidden when other runs bring it again.
    plot.set_series("#2 b", "train_loss", [1.0], [0.3])
    plot.redraw()
    assert plot.visible_metrics() == ["test_loss"]


def test_removing_a_run_frees_its_colour_and_clear_shows_the_placeholder(plot: MetricPlot) -> None:
    plot.set_series("#1 a", "loss", [1.0], [1.0])
    plot.set_series("#2 b", "loss", [1.0], [2.0])
    plot.remove_run("#1 a")
    plot.set_series("#3 c", "loss", [1.0], [3.0])
    plot.redraw()
    assert plot.runs() == ["#2 b", "#3 c"]
    assert plot.colour_of("#3 c").name() == RUN_COLOURS[0]
    assert plot._stack.currentIndex() == 1
    plot.clear()
    assert plot.runs() == [] and plot.metrics() == []
    assert plot._stack.currentIndex() == 0


def test_hover_reports_the_nearest_point_of_every_run(plot: MetricPlot) -> None:
    plot.set_series("#1 a", "train_loss", [0.5, 1.0, 1.5], [2.0, 1.5, 1.2])
    plot.set_series("#2 b", "train_loss", [1.0, 2.0], [1.9, 1.1])
    plot.redraw()
    assert plot.values_at("train_loss", 1.4) == {"#1 a": (1.5, 1.2), "#2 b": (1.0, 1.9)}
    text = plot.show_hover("train_loss", 1.4, 1.5)
    assert text.splitlines() == ["step 1.4", "#1 a: 1.2000 @ 1.5", "#2 b: 1.9000 @ 1"]
    assert all(cursor.isVisible() and cursor.value() == 1.4 for cursor in plot._cursors.values())


def test_export_csv_writes_every_point_exactly(plot: MetricPlot, tmp_path: Path) -> None:
    plot.set_series("#1 a", "train_loss", [0.1, 0.2], [2.302585092994046, 1.1])
    plot.set_series("#2 b", "test_accuracy", [1.0], [0.6620000000000001])
    rows = plot.export_csv(tmp_path / "out" / "metrics.csv")
    assert rows == 3
    with (tmp_path / "out" / "metrics.csv").open(newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["run", "metric", "step", "value"]
    assert table[1:] == [
        ["#1 a", "train_loss", "0.1", "2.302585092994046"],
        ["#1 a", "train_loss", "0.2", "1.1"],
        ["#2 b", "test_accuracy", "1.0", "0.6620000000000001"],
    ]
    assert float(table[3][3]) == 0.6620000000000001  # values round-trip bit for bit


def test_export_png_renders_the_curves(plot: MetricPlot, tmp_path: Path) -> None:
    steps = [i / 10 for i in range(1, 51)]
    plot.set_series("#1 a", "train_loss", steps, [2.3 * np.exp(-s) for s in steps])
    plot.set_series("#2 b", "train_loss", steps, [2.0 * np.exp(-0.5 * s) for s in steps])
    path = plot.export_png(tmp_path / "plot.png")
    image = QImage(str(path))
    assert (image.width(), image.height()) == (plot.canvas.width(), plot.canvas.height())
    assert image.width() >= 800 and image.height() >= 400
    pixels = rgb_pixels(image)
    assert pixels.std() > 10  # not a blank image
    for colour in RUN_COLOURS[:2]:
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        near = (np.abs(pixels.astype(int) - rgb).sum(axis=2) < 40).sum()
        assert near > 300, f"{colour} curve not visible in the export ({near} pixels)"


def test_bad_input_and_empty_export_say_what_is_wrong(plot: MetricPlot, tmp_path: Path) -> None:
    with pytest.raises(LanternError, match="as many steps as values"):
        plot.set_series("#1 a", "loss", [1.0, 2.0], [1.0])
    with pytest.raises(LanternError, match="no plot to export"):
        plot.export_png(tmp_path / "empty.png")
    assert not (tmp_path / "empty.png").exists()


def test_metric_order_groups_losses_then_quantities_train_before_test() -> None:
    names = ["test_accuracy", "train_accuracy", "test_loss", "train_loss", "val_loss"]
    assert sorted(names, key=metric_order) == [
        "train_loss",
        "val_loss",
        "test_loss",
        "train_accuracy",
        "test_accuracy",
    ]


def test_runs_coming_and_going_reuse_the_plots(plot: MetricPlot) -> None:
    """Plot items are built once per metric: a run that comes or goes only adds or removes its curve."""
    plot.set_series("#1 a", "loss", [1.0, 2.0], [1.0, 0.5])
    plot.redraw()
    item = plot.plot_item("loss")
    assert item is not None
    plot.set_series("#2 b", "loss", [1.0, 2.0], [2.0, 1.5])
    plot.redraw()
    assert plot.plot_item("loss") is item
    assert plot.curve("#2 b", "loss") in item.listDataItems()
    plot.remove_run("#1 a")
    plot.redraw()
    assert plot.plot_item("loss") is item
    assert plot.curve("#1 a", "loss") is None
    assert item.listDataItems() == [plot.curve("#2 b", "loss")]
    plot.set_visible_metrics([])
    plot.redraw()
    assert plot.plot_item("loss") is None and plot.plotted_metrics() == []
    plot.set_visible_metrics(["loss"])
    plot.redraw()
    assert plot.plot_item("loss") is item
