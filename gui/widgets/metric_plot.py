"""Metric curves of several runs overlaid: a plot per chosen metric, live points, PNG and CSV export."""

from __future__ import annotations

import csv
import html
import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import LanternError

# Tableau 10: distinct hues that stay readable on light and dark backgrounds.
RUN_COLOURS = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
LEGEND_POINT_SIZE = 9
LEGEND_LABEL_CHARS = 40
LEGEND_ENTRY_EXTRA_PX = 46  # line sample, gaps and padding around a legend entry's text
REDRAW_INTERVAL_MS = 100  # live points are drawn at most ten times a second
DEFAULT_VISIBLE_METRICS = 4
_SPLIT_ORDER = {"train": 0, "val": 1, "valid": 1, "validation": 1, "test": 2}

Series = tuple[list[float], list[float]]


def metric_order(name: str) -> tuple[int, str, int, str]:
    """Losses before other metrics, then grouped by quantity, train before validation before test."""
    split, _, quantity = name.partition("_")
    if not quantity:
        split, quantity = "", name
    return (0 if "loss" in quantity else 1, quantity, _SPLIT_ORDER.get(split, 3), name)


def legend_text(label: str) -> str:
    """A run's label as the legend shows it: long names are cut so the legend never pushes plots aside."""
    return label if len(label) <= LEGEND_LABEL_CHARS else label[: LEGEND_LABEL_CHARS - 1] + "…"


def _format_value(value: float) -> str:
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4f}"
    return f"{value:.3e}"


class MetricPlot(QWidget):
    """Curves of the runs shown, one plot per visible metric; each run keeps one colour in every plot.

    Data is keyed by (run label, metric name). `append_point` only records the point and schedules a
    redraw, so a stream of metric events costs the GUI thread a list append each.
    """

    metrics_changed = Signal(list)  # every metric name known, in display order
    visible_metrics_changed = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._series: dict[str, dict[str, Series]] = {}  # metric -> run label -> (steps, values)
        self._arrays: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self._runs: list[str] = []
        self._colours: dict[str, QColor] = {}
        self._visible: set[str] = set()  # wanted metrics; may name some no shown run has
        self._hidden_by_user: set[str] = set()
        # Plot items are built once per metric and kept (building one costs ~15 ms): a run or metric that
        # comes or goes only moves plots in the layout and adds or removes curves.
        self._plots: dict[str, pg.PlotItem] = {}
        self._placed: list[str] = []  # metrics whose plots are in the layout, in display order
        self._columns = 0
        self._curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        self._cursors: dict[str, pg.InfiniteLine] = {}
        self._hover_label: pg.TextItem | None = None
        self._legend: pg.LegendItem | None = None
        self._legend_span = 0
        self._legend_runs: list[tuple[str, str]] = []  # (label, colour) the legend shows
        self._legend_text = ""
        self._dirty: set[tuple[str, str]] = set()
        self._layout_stale = True
        self._restyle = True
        self._redraws = 0

        self._chips: dict[str, QToolButton] = {}
        self._chip_bar = QWidget(self)
        self._chip_layout = QHBoxLayout(self._chip_bar)
        self._chip_layout.setContentsMargins(0, 0, 0, 0)
        self._chip_layout.setSpacing(4)
        self._chip_caption = QLabel("Metrics", self._chip_bar)
        self._chip_caption.setObjectName("metricCaption")
        self._chip_layout.addWidget(self._chip_caption)
        self._chip_layout.addStretch(1)

        self.canvas = pg.GraphicsLayoutWidget(self)
        self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.canvas.ci.setContentsMargins(6, 6, 6, 6)
        self.canvas.ci.setSpacing(10)
        self._placeholder = QLabel("Select runs in the table to compare their curves.", self)
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setObjectName("plotPlaceholder")
        self._placeholder.setWordWrap(True)
        self._stack = QStackedWidget(self)
        self._stack.addWidget(self._placeholder)
        self._stack.addWidget(self.canvas)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self._chip_bar)
        layout.addWidget(self._stack, 1)

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(REDRAW_INTERVAL_MS)
        self._redraw_timer.timeout.connect(self._redraw_in_steps)
        self.canvas.sigDeviceRangeChanged.connect(self._on_canvas_resized)
        self._mouse_proxy = pg.SignalProxy(
            self.canvas.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse
        )
        self._apply_theme()
        self._update_chips()
        self.redraw()

    # data in
    def set_series(self, run_label: str, metric_name: str, steps: list[float], values: list[float]) -> None:
        """Replace one curve (e.g. read back from the store)."""
        if len(steps) != len(values):
            raise LanternError(
                f"a series needs as many steps as values ({len(steps)} steps, {len(values)} values)",
                f"metric plot: {run_label} / {metric_name}",
                "pass matching lists",
            )
        self._ensure(run_label, metric_name)
        self._series[metric_name][run_label] = ([float(s) for s in steps], [float(v) for v in values])
        self._mark_dirty(run_label, metric_name)

    def append_point(self, run_label: str, metric_name: str, step: float, value: float) -> bool:
        """Add a live point; returns False for a point at or before the curve's last step.

        Points are recorded before they are broadcast, so a curve just read from the store may already
        hold a point whose event is still queued; steps only move forward within a series.
        """
        self._ensure(run_label, metric_name)
        steps, values = self._series[metric_name][run_label]
        if steps and float(step) <= steps[-1]:
            return False
        steps.append(float(step))
        values.append(float(value))
        self._mark_dirty(run_label, metric_name)
        return True

    def remove_run(self, run_label: str) -> None:
        if run_label not in self._runs:
            return
        self._runs.remove(run_label)
        self._colours.pop(run_label, None)
        for metric in list(self._series):
            self._series[metric].pop(run_label, None)
            self._arrays.pop((run_label, metric), None)
            self._drop_curve(run_label, metric)
            if not self._series[metric]:
                del self._series[metric]
        self._dirty = {key for key in self._dirty if key[0] != run_label}
        self._layout_stale = True
        self._schedule()

    def clear(self) -> None:
        for label, metric in list(self._curves):
            self._drop_curve(label, metric)
        self._series.clear()
        self._arrays.clear()
        self._runs.clear()
        self._colours.clear()
        self._dirty.clear()
        self._layout_stale = True
        self._update_chips()
        self.redraw()

    # data out
    def runs(self) -> list[str]:
        return list(self._runs)

    def metrics(self) -> list[str]:
        return sorted(self._series, key=metric_order)

    def series(self, run_label: str, metric_name: str) -> Series:
        steps, values = self._series.get(metric_name, {}).get(run_label, ([], []))
        return list(steps), list(values)

    def point_count(self, run_label: str, metric_name: str) -> int:
        return len(self._series.get(metric_name, {}).get(run_label, ((), ()))[0])

    def colour_of(self, run_label: str) -> QColor:
        return QColor(self._colours[run_label])

    def curve(self, run_label: str, metric_name: str) -> pg.PlotDataItem | None:
        """The drawn curve (after the next redraw), for tests and exporters."""
        return self._curves.get((run_label, metric_name))

    def plotted_metrics(self) -> list[str]:
        """The metrics whose plots are on screen (after the next redraw), in display order."""
        return list(self._placed)

    def plot_item(self, metric_name: str) -> pg.PlotItem | None:
        return self._plots.get(metric_name) if metric_name in self._placed else None

    @property
    def redraw_count(self) -> int:
        return self._redraws

    def values_at(self, metric_name: str, x: float) -> dict[str, tuple[float, float]]:
        """For each run, the point of the metric's curve nearest to step x: label -> (step, value)."""
        found: dict[str, tuple[float, float]] = {}
        for label in self._runs:
            arrays = self._arrays_for(label, metric_name)
            if arrays is None:
                continue
            steps, values = arrays
            i = int(np.searchsorted(steps, x))
            candidates = [j for j in (i - 1, i) if 0 <= j < len(steps)]
            best = min(candidates, key=lambda j: abs(steps[j] - x))
            found[label] = (float(steps[best]), float(values[best]))
        return found

    # metric choice
    def visible_metrics(self) -> list[str]:
        return [name for name in self.metrics() if name in self._visible]

    def set_visible_metrics(self, names: list[str]) -> None:
        self._hidden_by_user = set(self._series) - set(names)
        self._set_visible(set(names))

    def _set_visible(self, names: set[str]) -> None:
        before = self.visible_metrics()
        self._visible = set(names)
        self._sync_chips()
        if self.visible_metrics() != before:
            self._layout_stale = True
            self.redraw()
            self.visible_metrics_changed.emit(self.visible_metrics())

    def _on_chip(self, name: str, checked: bool) -> None:
        if checked:
            self._hidden_by_user.discard(name)
            self._set_visible({*self._visible, name})
        else:
            self._hidden_by_user.add(name)
            self._set_visible(self._visible - {name})

    # export
    def export_png(self, path: str | Path) -> Path:
        """Save the plots and their legend as a PNG, as laid out on screen (at the screen's pixel ratio)."""
        self.redraw()
        if not self._placed:
            raise LanternError(
                "there is no plot to export", "runs: Export PNG", "select at least one run with metrics"
            )
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        window = self.window()
        offscreen = not window.isVisible()
        if offscreen:
            # Never shown (a script, a test): lay it out without putting it on screen.
            if window is self and not self.testAttribute(Qt.WidgetAttribute.WA_Resized):
                self.resize(900, 600)
            window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
            window.show()
            QApplication.processEvents()
        self._hide_hover()
        # A grab of the view, not pyqtgraph's ImageExporter: the exporter re-lays text out at another
        # size and lets axis labels collide with tick labels.
        try:
            pixmap = self.canvas.grab()
        finally:
            if offscreen:
                window.hide()
                window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, False)
        if pixmap.isNull() or not pixmap.save(str(path), "PNG"):
            raise LanternError(
                "the image could not be written",
                str(path),
                "choose a folder you can write to and a .png name",
            )
        return path

    def export_csv(self, path: str | Path) -> int:
        """Write every point of every shown run as run,metric,step,value; returns the number of rows."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = 0
        try:
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["run", "metric", "step", "value"])
                for label in self._runs:
                    for metric in self.metrics():
                        steps, values = self._series[metric].get(label, ([], []))
                        for step, value in zip(steps, values, strict=True):
                            writer.writerow([label, metric, repr(step), repr(value)])
                            rows += 1
        except OSError as exc:
            raise LanternError(
                f"the CSV file could not be written ({exc.strerror})",
                str(path),
                "choose a folder you can write to",
            ) from exc
        return rows

    # drawing
    def redraw(self) -> None:
        """Bring the plots up to date now (normally called by the coalescing timer)."""
        self._redraw_timer.stop()
        self._redraws += 1
        if self._layout_stale:
            self._arrange()
        for label, metric in self._dirty:
            if metric in self._placed:
                self._update_curve(label, metric)
        self._dirty.clear()

    def _redraw_in_steps(self) -> None:
        """The timer's redraw: new plots are built one per pass of the event loop (~15 ms each), so that
        runs bringing several new metrics at once never hold the GUI thread for long."""
        if self._layout_stale:
            missing = [m for m in (self.visible_metrics() if self._runs else []) if m not in self._plots]
            if missing:
                self._new_plot(missing[0], self.palette().color(QPalette.ColorRole.Text))
                QTimer.singleShot(0, self._redraw_in_steps)
                return
        self.redraw()

    def _ensure(self, run_label: str, metric_name: str) -> None:
        if run_label not in self._runs:
            self._runs.append(run_label)
            used = {c.name() for c in self._colours.values()}
            free = [c for c in RUN_COLOURS if QColor(c).name() not in used]
            fallback = RUN_COLOURS[len(self._runs) % len(RUN_COLOURS)]
            self._colours[run_label] = QColor(free[0] if free else fallback)
            self._layout_stale = True
        if metric_name not in self._series:
            self._series[metric_name] = {}
            self._update_chips()
            shown = len(self.visible_metrics()) - (metric_name in self._visible)
            if metric_name not in self._hidden_by_user and shown < DEFAULT_VISIBLE_METRICS:
                self._visible.add(metric_name)
            self._sync_chips()
            self._layout_stale = True
        if run_label not in self._series[metric_name]:
            self._series[metric_name][run_label] = ([], [])
            self._layout_stale = True

    def _mark_dirty(self, run_label: str, metric_name: str) -> None:
        self._arrays.pop((run_label, metric_name), None)
        self._dirty.add((run_label, metric_name))
        self._schedule()

    def _schedule(self) -> None:
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def _arrays_for(
        self, run_label: str, metric_name: str, refresh: bool = False
    ) -> tuple[np.ndarray, np.ndarray] | None:
        key = (run_label, metric_name)
        if refresh or key not in self._arrays:
            series = self._series.get(metric_name, {}).get(run_label)
            if not series or not series[0]:
                self._arrays.pop(key, None)
                return None
            self._arrays[key] = (np.asarray(series[0], dtype=float), np.asarray(series[1], dtype=float))
        return self._arrays[key]

    def _arrange(self) -> None:
        """Put the visible metrics' plots in a grid under the legend, with a curve for every run."""
        self._layout_stale = False
        shown = self.visible_metrics() if self._runs else []
        self._stack.setCurrentIndex(1 if shown else 0)
        if not self._runs:
            self._placeholder.setText("Select runs in the table to compare their curves.")
        elif not shown:
            self._placeholder.setText("Choose a metric above to plot it.")
        text = self.palette().color(QPalette.ColorRole.Text)
        columns = 1 if len(shown) == 1 else 2
        if shown != self._placed or columns != self._columns or self._restyle:
            self._hide_hover()
            for metric in self._placed:
                self.canvas.ci.removeItem(self._plots[metric])
                self._plots[metric].setXLink(None)
            self._placed, self._columns = [], columns
            for index, metric in enumerate(shown):
                plot = self._plots.get(metric) or self._new_plot(metric, text)
                if self._restyle:
                    self._style_plot(plot, metric, text)
                self.canvas.addItem(plot, row=1 + index // columns, col=index % columns)
                # The x axes are linked (every metric is recorded against the same steps): one "step"
                # caption per column, and hovering one plot lines up all.
                plot.showLabel("bottom", index + columns >= len(shown))
                if index:
                    plot.setXLink(self._plots[shown[0]])
                self._placed.append(metric)
            self._restyle = False
        for label, metric in list(self._curves):
            if label not in self._runs or metric not in self._placed:
                self._drop_curve(label, metric)
        for metric in self._placed:
            for label in self._runs:
                self._update_curve(label, metric)
        self._arrange_legend(text, columns)

    def _new_plot(self, metric: str, text: QColor) -> pg.PlotItem:
        plot = pg.PlotItem()
        self._style_plot(plot, metric, text)
        cursor = pg.InfiniteLine(
            angle=90, movable=False, pen=pg.mkPen(text, width=1, style=Qt.PenStyle.DashLine)
        )
        cursor.setVisible(False)
        cursor.setZValue(100)
        plot.addItem(cursor, ignoreBounds=True)
        self._cursors[metric] = cursor
        self._plots[metric] = plot
        return plot

    def _update_curve(self, label: str, metric: str) -> None:
        arrays = self._arrays_for(label, metric, refresh=True)
        curve = self._curves.get((label, metric))
        if arrays is None:
            if curve is not None:
                self._drop_curve(label, metric)
            return
        # A lone point (the first test metric) is drawn as a dot; a line of one point is invisible.
        symbol = "o" if len(arrays[0]) == 1 else None
        if curve is None:
            colour = self._colours[label]
            curve = pg.PlotDataItem(
                pen=pg.mkPen(colour, width=2), name=label, symbolSize=6, symbolBrush=colour, symbolPen=None
            )
            curve.setClipToView(True)
            curve.setDownsampling(auto=True, method="peak")
            self._plots[metric].addItem(curve)
            self._curves[(label, metric)] = curve
        if curve.opts["symbol"] != symbol:
            curve.setSymbol(symbol)
        curve.setData(*arrays)

    def _drop_curve(self, label: str, metric: str) -> None:
        curve = self._curves.pop((label, metric), None)
        if curve is not None and metric in self._plots:
            self._plots[metric].removeItem(curve)

    def _arrange_legend(self, text: QColor, columns: int) -> None:
        """One legend for all plots (a run has one colour everywhere), as many columns as fit.

        The legend item is built once and refilled: deleting graphics items while Qt restyles the
        application crashes PySide6.
        """
        wanted = [(label, self._colours[label].name()) for label in self._runs] if self._placed else []
        count = self._legend_columns()
        if self._legend is None:
            self._legend = pg.LegendItem(
                colCount=count, labelTextColor=text, labelTextSize=f"{LEGEND_POINT_SIZE}pt", frame=False
            )
            # A compact legend in the top-left corner, not one stretched over the whole row.
            self._legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        legend = self._legend
        if (wanted, count, text.name()) != (self._legend_runs, legend.columnCount, self._legend_text):
            legend.clear()
            legend.columnCount = count
            legend.opts["labelTextColor"] = text
            for label, colour in wanted:
                legend.addItem(
                    pg.PlotDataItem(pen=pg.mkPen(colour, width=2.5)), html.escape(legend_text(label))
                )
            self._legend_runs, self._legend_text = wanted, text.name()
        placed = legend.parentLayoutItem() is not None
        if placed and (not wanted or columns != self._legend_span):
            self.canvas.ci.removeItem(legend)
            placed = False
        if wanted and not placed:
            self.canvas.addItem(legend, row=0, col=0, colspan=columns)
            self.canvas.ci.layout.setAlignment(
                legend, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
            )
            self._legend_span = columns

    def _legend_columns(self) -> int:
        """As many legend columns as fit the plot area's width (entries go row by row)."""
        font = QFont(self.font())
        font.setPointSizeF(LEGEND_POINT_SIZE)
        metrics = QFontMetricsF(font)
        widths = [
            metrics.horizontalAdvance(legend_text(label)) + LEGEND_ENTRY_EXTRA_PX for label in self._runs
        ]
        available = max(200, self.canvas.width() - 24)
        for columns in range(min(len(widths), 6), 1, -1):
            if sum(max(widths[i::columns]) for i in range(columns)) <= available:
                return columns
        return 1

    def _on_canvas_resized(self, *_args: object) -> None:
        if (
            self._legend_runs
            and self._legend is not None
            and self._legend.columnCount != self._legend_columns()
        ):
            self._layout_stale = True
            self._schedule()

    def _style_plot(self, plot: pg.PlotItem, metric: str, text: QColor) -> None:
        plot.setTitle(metric, color=text.name(), size="10pt")
        plot.showGrid(x=True, y=True, alpha=0.18)
        plot.setMenuEnabled(True)
        plot.hideButtons()
        axis_pen = pg.mkPen(QColor(text.red(), text.green(), text.blue(), 110))
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.setPen(axis_pen)
            axis.setTextPen(pg.mkPen(text))
            # Grid lines at major ticks only: the minor levels double the cost of every repaint.
            axis.setStyle(maxTickLevel=0)
            axis.setTickDensity(1.8)
        plot.getAxis("left").setWidth(52)
        plot.setLabel("bottom", "step", color=text.name())
        plot.getViewBox().setDefaultPadding(0.03)

    # hover
    def _on_mouse(self, event: tuple[QPointF]) -> None:
        position = event[0]
        hovered = None
        for metric in self._placed:
            plot = self._plots[metric]
            if plot.sceneBoundingRect().contains(position) and plot.getViewBox().sceneBoundingRect().contains(
                position
            ):
                hovered = metric
                break
        if hovered is None:
            self._hide_hover()
            return
        point = self._plots[hovered].getViewBox().mapSceneToView(position)
        self.show_hover(hovered, point.x(), point.y())

    def show_hover(self, metric_name: str, x: float, y: float | None = None) -> str:
        """Show the crosshair at step x in every plot and the hovered plot's values; returns their text."""
        values = self.values_at(metric_name, x)
        if not values:
            self._hide_hover()
            return ""
        for cursor in self._cursors.values():
            cursor.setPos(x)
            cursor.setVisible(True)
        plot = self._plots.get(metric_name) if metric_name in self._placed else None
        lines = [f"<b>step {x:.3g}</b>"]
        plain = [f"step {x:.3g}"]
        for label, (step, value) in values.items():
            colour = self._colours[label].name()
            lines.append(f"<span style='color:{colour}'>■</span> {label}: {_format_value(value)} @ {step:g}")
            plain.append(f"{label}: {_format_value(value)} @ {step:g}")
        if plot is not None:
            if self._hover_label is None or self._hover_label.scene() is not plot.scene():
                self._hover_label = pg.TextItem(
                    anchor=(0, 0), fill=pg.mkBrush(self._hover_fill()), border=pg.mkPen(self._hover_border())
                )
                self._hover_label.setZValue(200)
            if self._hover_label.parentItem() is not plot.getViewBox().childGroup:
                if self._hover_label.scene() is not None:
                    self._hover_label.scene().removeItem(self._hover_label)
                plot.addItem(self._hover_label, ignoreBounds=True)
            text = self.palette().color(QPalette.ColorRole.Text).name()
            self._hover_label.setHtml(f"<div style='color:{text}; font-size:9pt'>{'<br>'.join(lines)}</div>")
            (x0, x1), (y0, y1) = plot.getViewBox().viewRange()
            anchor_x = 1 if x > (x0 + x1) / 2 else 0
            top = y if y is not None and math.isfinite(y) else y1
            anchor_y = 0 if top > (y0 + y1) / 2 else 1
            self._hover_label.setAnchor((anchor_x, anchor_y))
            self._hover_label.setPos(x, top)
            self._hover_label.setVisible(True)
        return "\n".join(plain)

    def _hide_hover(self) -> None:
        for cursor in self._cursors.values():
            cursor.setVisible(False)
        if self._hover_label is not None:
            self._hover_label.setVisible(False)

    def _hover_fill(self) -> QColor:
        colour = QColor(self.palette().color(QPalette.ColorRole.Base))
        colour.setAlpha(230)
        return colour

    def _hover_border(self) -> QColor:
        return self.palette().color(QPalette.ColorRole.Mid)

    # chips and theme
    def _update_chips(self) -> None:
        names = self.metrics()
        for name in list(self._chips):
            if name not in names:
                self._chips.pop(name).deleteLater()
        for position, name in enumerate(names):
            chip = self._chips.get(name)
            if chip is None:
                chip = QToolButton(self._chip_bar)
                chip.setObjectName("metricChip")
                chip.setText(name)
                chip.setCheckable(True)
                chip.setAutoRaise(True)
                chip.setToolTip(f"show or hide the {name} plot")
                chip.toggled.connect(lambda checked, n=name: self._on_chip(n, checked))
                self._chips[name] = chip
            self._chip_layout.insertWidget(1 + position, chip)
        self._sync_chips()
        self._chip_caption.setVisible(bool(names))
        self._chip_bar.setVisible(bool(names))
        self.metrics_changed.emit(names)

    def _sync_chips(self) -> None:
        for name, chip in self._chips.items():
            chip.blockSignals(True)
            chip.setChecked(name in self._visible)
            chip.blockSignals(False)

    def metric_chip(self, name: str) -> QToolButton:
        return self._chips[name]

    def _apply_theme(self) -> None:
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        self.canvas.setBackground(base)
        highlight = palette.color(QPalette.ColorRole.Highlight)
        mid = palette.color(QPalette.ColorRole.Mid)
        # Checked chips are tinted with the accent, not filled with it: four filled chips shout.
        tint = f"rgba({highlight.red()}, {highlight.green()}, {highlight.blue()}, 40)"
        self._chip_bar.setStyleSheet(
            f"QToolButton#metricChip {{ border: 1px solid {mid.name()}; border-radius: 10px;"
            " padding: 2px 10px; }"
            f"QToolButton#metricChip:checked {{ background: {tint}; color: {highlight.darker(170).name()};"
            f" border-color: {highlight.name()}; font-weight: 600; }}"
            "QLabel#metricCaption { padding-right: 6px; }"
        )
        self._placeholder.setStyleSheet(f"color: {palette.color(QPalette.ColorRole.PlaceholderText).name()};")
        self._layout_stale = True
        self._restyle = True

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_theme()
            self._schedule()
        super().changeEvent(event)
