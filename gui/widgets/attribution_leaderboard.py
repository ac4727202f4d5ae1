"""The attribution leaderboard: methods x manipulations (mean ± sd over runs, coloured, sortable), the
scatter of a metric against the region share with the random baseline y = x, and Kendall tau of metrics."""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import (
    QAbstractTableModel,
    QElapsedTimer,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QPointF,
    QRect,
    QRectF,
    QSize,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QHelpEvent,
    QLinearGradient,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import LanternError
from gui.widgets.figure_export import ExportButton, export_table_csv

# The catalogue's names in the order the paper and the contract list them; unknown names follow, sorted.
METHOD_ORDER = (
    "saliency",
    "input_x_gradient",
    "integrated_gradients",
    "smoothgrad",
    "smoothgrad_x_input",
    "gradient_shap",
    "deeplift",
    "gradcam",
    "occlusion",
    "lime",
    "kernel_shap",
    "feature_ablation",
    "attention",
    "rationale",
)
MANIPULATION_ORDER = (
    "peripheral_blur",
    "centre_brightness",
    "striped_noise",
    "watermark",
    "striped_hue",
    "article_substitution",
    "inserted_tokens",
)
KNOWN_TITLES = {
    "saliency": "Saliency",
    "input_x_gradient": "Input × gradient",
    "integrated_gradients": "Integrated gradients",
    "smoothgrad": "SmoothGrad",
    "smoothgrad_x_input": "SmoothGrad × input",
    "gradient_shap": "GradientSHAP",
    "deeplift": "DeepLift",
    "gradcam": "Grad-CAM",
    "occlusion": "Occlusion",
    "lime": "LIME",
    "kernel_shap": "KernelSHAP",
    "feature_ablation": "Feature ablation",
    "attention": "Attention",
    "rationale": "Rationale",
    "peripheral_blur": "Peripheral blur",
    "centre_brightness": "Centre brightness",
    "striped_noise": "Striped noise",
    "watermark": "Watermark",
    "striped_hue": "Striped hue",
    "article_substitution": "Article substitution",
    "inserted_tokens": "Inserted tokens",
}
# One colour per method, fixed by the method's place in METHOD_ORDER so it is the same in every figure.
METHOD_COLOURS = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#59a14f",
    "#76b7b2",
    "#b6992d",
    "#b07aa1",
    "#d37295",
    "#9c755f",
    "#499894",
    "#79706e",
    "#8cd17d",
    "#5f4b8b",
    "#e6a0c4",
)
# One symbol per manipulation (pyqtgraph symbol names), in MANIPULATION_ORDER.
DODGE = 0.0035  # sideways offset between methods in the scatter, in region-share units
SYMBOLS = ("o", "s", "t", "d", "star", "p", "h", "t1", "+", "x")
DEFAULT_METRICS = (
    ("attr_pct", "Attr%"),
    ("pointing_game", "Pointing game"),
    ("top_k_overlap", "Top-k overlap"),
    ("auroc", "AUROC"),
)
CONDITION_TITLES = {
    "presence": "samples with the manipulation",
    "absence": "samples without it",
    "all": "all samples",
}
CONDITION_LABELS = {"presence": "Presence", "absence": "Absence", "all": "All samples"}
# The leaderboard's colour scale over [0, 1], after the table's base colour at 0.
SCALE_STOPS = (
    (0.3, QColor("#d3ede8")),
    (0.55, QColor("#8ccdc1")),
    (0.8, QColor("#3a9a9a")),
    (1.0, QColor("#1f5f7a")),
)
DARK_SCALE_STOPS = (
    (0.3, QColor("#1d3a44")),
    (0.55, QColor("#22646b")),
    (0.8, QColor("#2f9a95")),
    (1.0, QColor("#6fd3c2")),
)
BELOW_BASELINE = QColor("#c2410c")
MEETS_BOUND = QColor("#2e9d5b")
VALUE_ROLE = Qt.ItemDataRole.UserRole  # the number behind a cell (sort key, CSV); None when missing
CELL_ROLE = Qt.ItemDataRole.UserRole + 1  # the cell's _Cell


class LeaderboardRowLike(Protocol):
    """What the table reads from a row (engine.attribution.repository.LeaderboardRow has this shape)."""

    @property
    def manipulation(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def mean(self) -> float: ...
    @property
    def std(self) -> float: ...
    @property
    def n_runs(self) -> int: ...
    @property
    def region_share(self) -> float: ...
    @property
    def bound(self) -> float | None: ...


def display_title(name: str, titles: Mapping[str, str] | None = None) -> str:
    """A method's or manipulation's title: from `titles`, else the catalogue's, else the name, readable."""
    if titles and name in titles:
        return titles[name]
    return KNOWN_TITLES.get(name) or name.replace("_", " ").capitalize()


def _ordered(names: set[str], order: Sequence[str]) -> list[str]:
    return [n for n in order if n in names] + sorted(n for n in names if n not in order)


def method_colour(method: str) -> QColor:
    """The method's colour in every attribution figure."""
    if method in METHOD_ORDER:
        index = METHOD_ORDER.index(method)
    else:
        index = len(METHOD_ORDER) + sum(map(ord, method))
    return QColor(METHOD_COLOURS[index % len(METHOD_COLOURS)])


def manipulation_symbol(manipulation: str, known: Sequence[str] = ()) -> str:
    order = list(MANIPULATION_ORDER) + [m for m in known if m not in MANIPULATION_ORDER]
    index = order.index(manipulation) if manipulation in order else sum(map(ord, manipulation))
    return SYMBOLS[index % len(SYMBOLS)]


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _mix(base: QColor, top: QColor, amount: float) -> QColor:
    amount = min(max(amount, 0.0), 1.0)
    return QColor.fromRgbF(
        base.redF() + (top.redF() - base.redF()) * amount,
        base.greenF() + (top.greenF() - base.greenF()) * amount,
        base.blueF() + (top.blueF() - base.blueF()) * amount,
    )


def _luminance(colour: QColor) -> float:
    return 0.2126 * colour.redF() + 0.7152 * colour.greenF() + 0.0722 * colour.blueF()


def scale_colour(value: float | None, base: QColor) -> QColor:
    """The colour of a score in [0, 1] (higher is better): from the table's base colour through pale and
    mid teal to deep blue-teal, lightness changing steadily so the order reads in grey too."""
    if value is None:
        return base
    value = min(max(value, 0.0), 1.0)
    # On a dark base the ramp runs the other way in lightness, from the base up to bright teal.
    stops = [(0.0, base), *(SCALE_STOPS if base.lightnessF() >= 0.5 else DARK_SCALE_STOPS)]
    for (x0, c0), (x1, c1) in itertools.pairwise(stops):
        if value <= x1:
            return _mix(c0, c1, (value - x0) / (x1 - x0))
    return QColor(stops[-1][1])


@dataclass(frozen=True)
class _Cell:
    """One table cell: a method's score on a manipulation (or its mean over manipulations)."""

    mean: float | None
    std: float | None = None
    n_runs: int = 0
    baseline: float | None = None
    bound: float | None = None
    parts: int = 0  # for the mean column: how many manipulations it averages

    @property
    def marker(self) -> str:
        """ "below_baseline" under the random baseline, "meets_bound" at or above the bound, else ""."""
        if self.mean is None:
            return ""
        if self.baseline is not None and self.mean < self.baseline:
            return "below_baseline"
        if self.bound is not None and self.mean >= self.bound:
            return "meets_bound"
        return ""


def _rank(name: str, order: Sequence[str]) -> int:
    return order.index(name) if name in order else len(order)


def _point(row: object) -> tuple[float | None, float | None]:
    return _finite(getattr(row, "r", None)), _finite(getattr(row, "strength", None))


def sweep_columns(
    rows: Sequence[LeaderboardRowLike],
) -> tuple[dict[str, tuple[str, str]], dict[tuple[str, float | None, float | None], str]]:
    """Columns for manipulations scored at several sweep points (r or strength): key -> (manipulation,
    point label), e.g. "watermark@r=0.8" -> ("watermark", "r 0.8"), and each (manipulation, r, strength)'s
    key. A manipulation scored at one point keeps its name as its key."""
    points: dict[str, set[tuple[float | None, float | None]]] = {}
    for row in rows:
        points.setdefault(str(row.manipulation), set()).add(_point(row))
    columns: dict[str, tuple[str, str]] = {}
    keys: dict[tuple[str, float | None, float | None], str] = {}
    for manipulation, seen in points.items():
        vary_r = len({r for r, _ in seen}) > 1
        vary_strength = len({st for _, st in seen}) > 1
        for r, strength in seen:
            parts = []
            if vary_r:
                parts.append(f"r {r:g}" if r is not None else "r –")
            if vary_strength:
                parts.append(f"strength {strength:g}" if strength is not None else "strength –")
            label = ", ".join(parts)
            key = f"{manipulation}@{label.replace(' ', '=')}" if label else manipulation
            columns[key] = (manipulation, label)
            keys[(manipulation, r, strength)] = key
    return columns, keys


def cell_text(cell: _Cell) -> str:
    if cell.mean is None:
        return "–"
    if cell.std is None:
        return f"{cell.mean:.2f}"
    return f"{cell.mean:.2f} ± {cell.std:.2f}"


class LeaderboardModel(QAbstractTableModel):
    """Methods (rows) x manipulations (columns), a Method column first and a Mean column last."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.methods: list[str] = []
        self.manipulations: list[str] = []
        self.cells: dict[tuple[str, str], _Cell] = {}
        self.means: dict[str, _Cell] = {}
        self.titles: Mapping[str, str] = {}
        self.metric_title = ""
        self.condition = "all"
        self.base = QColor("#ffffff")
        self.column_baselines: dict[str, float | None] = {}
        self.column_points: dict[str, tuple[str, str]] = {}  # column key -> (manipulation, sweep point)
        self.column_bounds: dict[str, float | None] = {}

    def set_rows(
        self,
        rows: Sequence[LeaderboardRowLike],
        *,
        metric_title: str,
        condition: str,
        titles: Mapping[str, str],
        baseline: float | None,
        show_bound: bool,
    ) -> None:
        self.beginResetModel()
        self.titles, self.metric_title, self.condition = titles, metric_title, condition
        self.cells.clear()
        self.column_points, keys = sweep_columns(rows)
        for row in rows:
            region = _finite(row.region_share)
            self.cells[(str(row.method), keys[(str(row.manipulation), *_point(row))])] = _Cell(
                mean=_finite(row.mean),
                std=_finite(row.std),
                n_runs=int(row.n_runs),
                baseline=baseline if baseline is not None else region,
                bound=_finite(row.bound) if show_bound else None,
            )
        self.methods = _ordered({m for m, _ in self.cells}, METHOD_ORDER)
        # Columns in the catalogue's manipulation order; sweep points of one manipulation side by side.
        self.manipulations = sorted(
            {k for _, k in self.cells},
            key=lambda k: (_rank(self.column_points.get(k, (k, ""))[0], MANIPULATION_ORDER), k),
        )
        self.column_baselines, self.column_bounds = {}, {}
        for manipulation in self.manipulations:
            column = [c for (_, k), c in self.cells.items() if k == manipulation]
            baselines = [c.baseline for c in column if c.baseline is not None]
            bounds = [c.bound for c in column if c.bound is not None]
            self.column_baselines[manipulation] = float(np.mean(baselines)) if baselines else None
            self.column_bounds[manipulation] = float(np.mean(bounds)) if bounds else None
        self.means = {}
        for method in self.methods:
            values = [self.cells[(method, k)].mean for k in self.manipulations if (method, k) in self.cells]
            values = [v for v in values if v is not None]
            self.means[method] = _Cell(mean=float(np.mean(values)) if values else None, parts=len(values))
        self.endResetModel()

    def set_base(self, base: QColor) -> None:
        self.base = QColor(base)
        if self.methods:
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, self.columnCount() - 1))

    # shape
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.methods)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.manipulations) + 2

    def manipulation_of(self, key: str) -> str:
        """The manipulation a column shows (a column key carries a sweep point when there are several)."""
        return self.column_points.get(key, (key, ""))[0]

    def sweep_label(self, key: str) -> str:
        return self.column_points.get(key, (key, ""))[1]

    def column_title(self, key: str) -> str:
        point = self.sweep_label(key)
        title = display_title(self.manipulation_of(key), self.titles)
        return f"{title} ({point})" if point else title

    def column_key(self, column: int) -> str:
        """ "method", a manipulation's name, or "mean"."""
        if column == 0:
            return "method"
        if column == len(self.manipulations) + 1:
            return "mean"
        return self.manipulations[column - 1]

    def cell(self, row: int, column: int) -> _Cell | None:
        key = self.column_key(column)
        method = self.methods[row]
        if key == "method":
            return None
        if key == "mean":
            return self.means[method]
        return self.cells.get((method, key), _Cell(mean=None))

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        key = self.column_key(section)
        if role == Qt.ItemDataRole.DisplayRole:
            if key == "method":
                return "Method"
            if key == "mean":
                return "Mean"
            return display_title(self.manipulation_of(key), self.titles)
        if role == Qt.ItemDataRole.ToolTipRole:
            if key == "method":
                return "Click to sort the methods by name"
            if key == "mean":
                return "Each method's mean over the manipulations shown; click to sort"
            baseline, bound = self.column_baselines.get(key), self.column_bounds.get(key)
            lines = [f"<b>{html.escape(self.column_title(key))}</b>"]
            if baseline is not None:
                lines.append(f"random baseline (region share): {baseline:.3f}")
            if bound is not None:
                lines.append(f"bound 1.5 − max(r, 1 − r): {bound:.3f}")
            lines.append("Click to sort the methods by this column")
            return "<br>".join(lines)
        return None

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid():
            return None
        method = self.methods[index.row()]
        cell = self.cell(index.row(), index.column())
        if cell is None:  # the Method column
            if role == Qt.ItemDataRole.DisplayRole:
                return display_title(method, self.titles)
            if role == VALUE_ROLE:
                return display_title(method, self.titles).casefold()
            if role == Qt.ItemDataRole.DecorationRole:
                return method_colour(method)
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"{display_title(method, self.titles)} ({method})"
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return cell_text(cell)
        if role == VALUE_ROLE:
            return cell.mean
        if role == CELL_ROLE:
            return cell
        if role == Qt.ItemDataRole.BackgroundRole:
            return scale_colour(cell.mean, self.base)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(method, self.column_key(index.column()), cell)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    def _tooltip(self, method: str, key: str, cell: _Cell) -> str:
        name = html.escape(display_title(method, self.titles))
        condition = CONDITION_TITLES.get(self.condition, self.condition)
        metric = html.escape(self.metric_title)
        if key == "mean":
            if cell.mean is None:
                return f"<b>{name}</b><br>no scores"
            return (
                f"<b>{name}</b>, mean over {cell.parts} manipulation{'s' if cell.parts != 1 else ''}<br>"
                f"{metric} ({condition}): {cell.mean:.3f}"
            )
        where = html.escape(self.column_title(key))
        if cell.mean is None:
            return f"<b>{name}</b> on <b>{where}</b><br>no score for this pair"
        lines = [
            f"<b>{name}</b> on <b>{where}</b>",
            f"{metric} ({condition}): {cell.mean:.3f} ± {cell.std or 0:.3f} over {cell.n_runs} "
            f"run{'s' if cell.n_runs != 1 else ''}",
        ]
        if cell.baseline is not None:
            ratio = f" ({cell.mean / cell.baseline:.1f}× the baseline)" if cell.baseline > 0 else ""
            lines.append(f"random baseline (region share): {cell.baseline:.3f}{ratio}")
        if cell.bound is not None:
            lines.append(
                f"bound 1.5 − max(r, 1 − r): {cell.bound:.3f} — "
                + ("reached" if cell.mean >= cell.bound else "not reached")
            )
        if cell.marker == "below_baseline":
            lines.append(f"<span style='color:{BELOW_BASELINE.name()}'>▾ below the random baseline</span>")
        elif cell.marker == "meets_bound":
            lines.append(f"<span style='color:{MEETS_BOUND.name()}'>✓ at or above the bound</span>")
        return "<br>".join(lines)


class _NumericSort(QSortFilterProxyModel):
    """Sorts by the number behind a cell; cells without a score go last in either order."""

    def lessThan(
        self, left: QModelIndex | QPersistentModelIndex, right: QModelIndex | QPersistentModelIndex
    ) -> bool:
        a, b = left.data(VALUE_ROLE), right.data(VALUE_ROLE)
        descending = self.sortOrder() == Qt.SortOrder.DescendingOrder
        if a is None or b is None:
            if a is None and b is None:
                return left.row() < right.row()
            return descending if a is None else not descending
        if a == b:  # ties keep the catalogue's order
            return (left.row() < right.row()) != descending
        return a < b


class _CellDelegate(QStyledItemDelegate):
    """Paints a score as a tinted tile: the mean in bold, the spread muted, and the baseline/bound marker."""

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        palette = option.palette
        text_colour = palette.color(QPalette.ColorRole.Text)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(option.rect).adjusted(2, 2, -2, -2)
        cell = index.data(CELL_ROLE)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if cell is None:  # the Method column: a colour dot and the title
            colour = index.data(Qt.ItemDataRole.DecorationRole)
            if selected:
                painter.fillRect(option.rect, palette.color(QPalette.ColorRole.AlternateBase))
            dot = QRectF(rect.left() + 6, rect.center().y() - 5, 10, 10)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawEllipse(dot)
            painter.setPen(text_colour)
            font = QFont(option.font)
            font.setWeight(QFont.Weight.DemiBold)
            painter.setFont(font)
            text_rect = rect.adjusted(24, 0, -4, 0)
            elided = QFontMetricsF(font).elidedText(
                str(index.data(Qt.ItemDataRole.DisplayRole)), Qt.TextElideMode.ElideRight, text_rect.width()
            )
            painter.drawText(
                text_rect, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), elided
            )
            painter.restore()
            return
        fill = QColor(index.data(Qt.ItemDataRole.BackgroundRole))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, 4, 4)
        if selected:
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(1, 1, -1, -1), 4, 4)
        ink = QColor("#ffffff") if _luminance(fill) < 0.5 else QColor(text_colour)
        if _luminance(text_colour) > 0.5 and _luminance(fill) > 0.6:
            ink = QColor("#1f2430")
        muted = QColor(ink)
        muted.setAlphaF(0.7)
        bold = QFont(option.font)
        bold.setWeight(QFont.Weight.DemiBold)
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, option.font.pointSizeF() - 1.0))
        if cell.mean is None:
            painter.setPen(muted)
            painter.setFont(option.font)
            painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), "–")
            painter.restore()
            return
        head = f"{cell.mean:.2f}"
        tail = f" ± {cell.std:.2f}" if cell.std is not None else ""
        head_w = QFontMetricsF(bold).horizontalAdvance(head)
        tail_w = QFontMetricsF(small).horizontalAdvance(tail)
        x = rect.center().x() - (head_w + tail_w) / 2
        baseline_y = rect.center().y() + QFontMetricsF(bold).ascent() / 2 - 1
        painter.setFont(bold)
        painter.setPen(ink)
        painter.drawText(QPointF(x, baseline_y), head)
        if tail:
            painter.setFont(small)
            painter.setPen(muted)
            painter.drawText(QPointF(x + head_w, baseline_y), tail)
        if cell.marker:
            draw_flag(painter, rect, BELOW_BASELINE if cell.marker == "below_baseline" else MEETS_BOUND)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(max(hint.width() + 28, 96), max(hint.height() + 12, 32))


def draw_flag(painter: QPainter, rect: QRectF, colour: QColor, size: float = 11.0) -> None:
    """The marker of a cell: a triangle in its top-right corner, like a spreadsheet's comment mark."""
    painter.save()
    clip = QPainterPath()
    clip.addRoundedRect(rect, 4, 4)
    painter.setClipPath(clip)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    corner = rect.topRight()
    painter.drawPolygon(
        [QPointF(corner.x() - size, corner.y()), corner, QPointF(corner.x(), corner.y() + size)]
    )
    painter.restore()


class _ScaleBar(QWidget):
    """The key under the table: the colour scale, then the two corner flags explained."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.metric_title = ""
        self.show_bound = True
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(560, 26)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, 26)

    def paintEvent(self, _event: QEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        base = palette.color(QPalette.ColorRole.Base)
        metrics = QFontMetricsF(self.font())
        mid = self.height() / 2
        text_y = mid + metrics.ascent() / 2 - 1.5
        x = 2.0
        painter.setPen(muted)
        painter.drawText(QPointF(x, text_y), "0")
        x += metrics.horizontalAdvance("0") + 6
        bar = QRectF(x, mid - 6, 120, 12)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        for stop in np.linspace(0, 1, 6):
            gradient.setColorAt(float(stop), scale_colour(float(stop), base))
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(QBrush(gradient))
        painter.drawRoundedRect(bar, 3, 3)
        x = bar.right() + 6
        painter.setPen(muted)
        label = f"1  {self.metric_title}, higher is better"
        painter.drawText(QPointF(x, text_y), label)
        x += metrics.horizontalAdvance(label) + 22
        entries = [(BELOW_BASELINE, "below the random baseline (region share)")]
        if self.show_bound:
            entries.append((MEETS_BOUND, "reaches the bound 1.5 − max(r, 1 − r)"))
        for colour, label in entries:
            tile = QRectF(x, mid - 8, 22, 16)
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
            painter.setBrush(scale_colour(0.3, base))
            painter.drawRoundedRect(tile, 4, 4)
            draw_flag(painter, tile, colour, 8.0)
            x = tile.right() + 6
            painter.setPen(text)
            painter.drawText(QPointF(x, text_y), label)
            x += metrics.horizontalAdvance(label) + 18
        painter.end()


class _Header(QHeaderView):
    """Column headers on two lines: the manipulation's title, and its random baseline in a muted line."""

    HEIGHT = 46

    def __init__(self, model: LeaderboardModel, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.source = model

    def sizeHint(self) -> QSize:
        return QSize(super().sizeHint().width(), self.HEIGHT)

    def paintSection(self, painter: QPainter, rect: QRect, logical: int) -> None:
        palette = self.palette()
        painter.save()
        painter.fillRect(rect, palette.color(QPalette.ColorRole.Window))
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.drawLine(rect.bottomLeft(), rect.bottomRight())
        key = self.source.column_key(logical)
        if key == "mean":
            painter.drawLine(rect.topLeft() + QPoint(0, 8), rect.bottomLeft() - QPoint(0, 8))
        title = str(self.source.headerData(logical, Qt.Orientation.Horizontal))
        bold = QFont(self.font())
        bold.setWeight(QFont.Weight.DemiBold)
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, self.font().pointSizeF() - 1.0))
        sorted_here = self.isSortIndicatorShown() and self.sortIndicatorSection() == logical
        arrow = ""
        if sorted_here:
            arrow = " ▼" if self.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder else " ▲"
        inner = QRectF(rect).adjusted(6, 5, -6, -4)
        align = Qt.AlignmentFlag.AlignLeft if key == "method" else Qt.AlignmentFlag.AlignHCenter
        if key == "method":
            inner.adjust(18, 0, 0, 0)
        painter.setFont(bold)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        head = QFontMetricsF(bold).elidedText(title, Qt.TextElideMode.ElideRight, inner.width() - 14) + arrow
        painter.drawText(inner, int(align | Qt.AlignmentFlag.AlignTop), head)
        baseline = self.source.column_baselines.get(key)
        if key == "method":
            note = "sorted by name" if sorted_here else ""
        elif key == "mean":
            note = "over manipulations"
        else:
            note = f"random {baseline:.2f}" if baseline is not None else ""
            if self.source.sweep_label(key):
                note = f"{self.source.sweep_label(key)} · {note}" if note else self.source.sweep_label(key)
        if note:
            painter.setFont(small)
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(inner, int(align | Qt.AlignmentFlag.AlignBottom), note)
        painter.restore()


class _Table(QTableView):
    """The table, asking for the height of all its rows so a page can show them without scrolling."""

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        rows = self.model().rowCount() if self.model() is not None else 0
        height = (
            self.horizontalHeader().sizeHint().height() + rows * self.verticalHeader().defaultSectionSize()
        )
        return QSize(hint.width(), max(height + 2 * self.frameWidth() + 2, 120))


def _muted_label(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setProperty("role", "muted")
    return label


class LeaderboardView(QWidget):
    """The leaderboard table with its metric and condition selectors, colour scale and export.

    Signals: `cellActivated(method, manipulation)` when a cell is clicked or activated with the keyboard
    (manipulation is "" for the Method and Mean columns); `queryChanged(metric, condition)` when the user
    picks another metric or condition in the selectors (the page then calls set_rows with the new rows).
    """

    cellActivated = Signal(str, str)
    queryChanged = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = LeaderboardModel(self)
        self.proxy = _NumericSort(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(VALUE_ROLE)
        self._rows: list[LeaderboardRowLike] = []
        self._last_emit: tuple[str, str] | None = None
        self._emit_clock = QElapsedTimer()
        self._sort_key = "mean"
        self._sort_descending = True

        self.title = QLabel(self)
        self.title.setStyleSheet("font-size: 12pt; font-weight: 600;")
        self.subtitle = _muted_label("", self)
        self.metric_box = QComboBox(self)
        self.metric_box.setToolTip("The score shown in the table")
        self.condition_box = QComboBox(self)
        self.condition_box.setToolTip(
            "Which samples the scores cover: with the manipulation, without it, or all"
        )
        for condition, label in CONDITION_LABELS.items():
            self.condition_box.addItem(label, condition)
        self.set_metric_choices(DEFAULT_METRICS)
        self.metric_box.currentIndexChanged.connect(self._on_query)
        self.condition_box.currentIndexChanged.connect(self._on_query)
        self.export_button = ExportButton(
            lambda: self.figure, name="attribution-leaderboard", table_csv=self.export_csv, parent=self
        )

        self.table = _Table(self)
        self.table.setHorizontalHeader(_Header(self.model, self.table))
        self.table.setModel(self.proxy)
        self.table.setItemDelegate(_CellDelegate(self.table))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.table.setShowGrid(False)
        self.table.setFrameShape(QFrame.Shape.NoFrame)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(31)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        header = self.table.horizontalHeader()
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignCenter)
        header.setMinimumSectionSize(104)
        header.sectionClicked.connect(self._on_header_clicked)
        self.table.clicked.connect(self._on_cell)
        self.table.activated.connect(self._on_cell)
        self.scale = _ScaleBar(self)
        self.empty = _muted_label("No scores yet: finished replicates of an experiment appear here.", self)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)

        # The figure exported: title, table and scale, without the selectors.
        self.figure = QWidget(self)
        figure_layout = QVBoxLayout(self.figure)
        figure_layout.setContentsMargins(0, 0, 0, 0)
        figure_layout.setSpacing(6)
        heading = QVBoxLayout()
        heading.setSpacing(0)
        heading.addWidget(self.title)
        heading.addWidget(self.subtitle)
        figure_layout.addLayout(heading)
        figure_layout.addWidget(self.table, 1)
        figure_layout.addWidget(self.empty, 1)
        figure_layout.addWidget(self.scale)

        controls = QHBoxLayout()
        controls.setSpacing(8)
        controls.addWidget(_muted_label("Metric", self))
        controls.addWidget(self.metric_box)
        controls.addSpacing(6)
        controls.addWidget(_muted_label("Samples", self))
        controls.addWidget(self.condition_box)
        controls.addStretch(1)
        controls.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(controls)
        layout.addWidget(self.figure, 1)
        self._apply_theme()
        self.set_rows([], metric_title="Attr%", condition="all")

    # data in
    def set_metric_choices(self, choices: Sequence[tuple[str, str]]) -> None:
        """The metrics offered in the selector as (name, title); the current one is kept when offered."""
        current = self.metric_box.currentData()
        self.metric_box.blockSignals(True)
        self.metric_box.clear()
        for name, title in choices:
            self.metric_box.addItem(title, name)
        position = self.metric_box.findData(current)
        self.metric_box.setCurrentIndex(max(position, 0))
        self.metric_box.blockSignals(False)

    def set_rows(
        self,
        rows: Sequence[LeaderboardRowLike],
        *,
        metric_title: str,
        condition: str,
        titles: Mapping[str, str] | None = None,
        baseline: float | None = None,
        show_bound: bool = True,
    ) -> None:
        """Show `rows` (objects with manipulation, method, mean, std, n_runs, region_share, bound).

        `baseline` replaces each row's region share as the random baseline (0.5 for AUROC); `show_bound`
        False hides the bound for metrics it does not apply to (it is a bound on Attr%). `titles` maps
        method and manipulation names to display titles (the catalogues'); others are made readable.
        """
        self._rows = list(rows)
        self.model.set_rows(
            self._rows,
            metric_title=metric_title,
            condition=condition,
            titles=titles or {},
            baseline=baseline,
            show_bound=show_bound,
        )
        self._sync_selectors(metric_title, condition)
        self.title.setText(f"{metric_title} by method and manipulation")
        runs = sorted({int(row.n_runs) for row in self._rows})
        spread = (
            f"mean ± sd over {runs[0]} runs"
            if len(runs) == 1
            else f"mean ± sd over {runs[0]}–{runs[-1]} runs"
            if runs
            else "mean ± sd over runs"
        )
        self.subtitle.setText(f"{CONDITION_TITLES.get(condition, condition).capitalize()} · {spread}")
        self.scale.metric_title, self.scale.show_bound = metric_title, show_bound
        self.scale.update()
        has_rows = bool(self._rows)
        self.table.setVisible(has_rows)
        self.empty.setVisible(not has_rows)
        self._apply_sort()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        if self.model.columnCount():
            header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
            bold = QFont(self.font())
            bold.setWeight(QFont.Weight.DemiBold)
            fm = QFontMetricsF(bold)
            widest = max([fm.horizontalAdvance(display_title(m, titles)) for m in self.model.methods] or [80])
            header.resizeSection(0, int(widest) + 48)

    def _sync_selectors(self, metric_title: str, condition: str) -> None:
        for box, index in (
            (self.metric_box, self.metric_box.findText(metric_title)),
            (self.condition_box, self.condition_box.findData(condition)),
        ):
            if index >= 0 and index != box.currentIndex():
                box.blockSignals(True)
                box.setCurrentIndex(index)
                box.blockSignals(False)

    def _on_query(self) -> None:
        self.queryChanged.emit(str(self.metric_box.currentData()), str(self.condition_box.currentData()))

    # sorting
    def sort_by(self, key: str, *, descending: bool | None = None) -> None:
        """Sort the methods by "method" (name), "mean", or a manipulation's column; numbers best first."""
        if key not in ("method", "mean", *self.model.manipulations):
            raise LanternError(
                f"no column {key!r} to sort by",
                "attribution leaderboard",
                "sort by method, mean or a manipulation",
            )
        self._sort_key = key
        self._sort_descending = (key != "method") if descending is None else descending
        self._apply_sort()

    def _apply_sort(self) -> None:
        keys = [self.model.column_key(c) for c in range(self.model.columnCount())]
        if self._sort_key not in keys:
            self._sort_key, self._sort_descending = "mean", True
        if not keys:
            return
        column = keys.index(self._sort_key)
        order = Qt.SortOrder.DescendingOrder if self._sort_descending else Qt.SortOrder.AscendingOrder
        self.proxy.sort(column, order)
        self.table.horizontalHeader().setSortIndicator(column, order)

    def _on_header_clicked(self, column: int) -> None:
        key = self.model.column_key(column)
        if key == self._sort_key:
            self.sort_by(key, descending=not self._sort_descending)
        else:
            self.sort_by(key)

    # data out
    def rows(self) -> list[LeaderboardRowLike]:
        return list(self._rows)

    def method_order(self) -> list[str]:
        """The methods top to bottom as the table shows them."""
        return [
            self.model.methods[self.proxy.mapToSource(self.proxy.index(r, 0)).row()]
            for r in range(self.proxy.rowCount())
        ]

    def manipulations(self) -> list[str]:
        return list(self.model.manipulations)

    def _index(self, method: str, key: str) -> QModelIndex:
        row = self.model.methods.index(method)
        column = [self.model.column_key(c) for c in range(self.model.columnCount())].index(key)
        return self.proxy.mapFromSource(self.model.index(row, column))

    def cell_text(self, method: str, manipulation: str) -> str:
        """The text of a cell; manipulation "mean" for the Mean column."""
        return str(self._index(method, manipulation).data(Qt.ItemDataRole.DisplayRole))

    def cell_colour(self, method: str, manipulation: str) -> QColor:
        return QColor(self._index(method, manipulation).data(Qt.ItemDataRole.BackgroundRole))

    def cell_tooltip(self, method: str, manipulation: str) -> str:
        return str(self._index(method, manipulation).data(Qt.ItemDataRole.ToolTipRole))

    def cell_marker(self, method: str, manipulation: str) -> str:
        """ "below_baseline", "meets_bound" or ""."""
        cell = self._index(method, manipulation).data(CELL_ROLE)
        return cell.marker if cell is not None else ""

    def visual_rect(self, method: str, manipulation: str) -> QRectF:
        """Where a cell is drawn in the table's viewport (for clicks in tests and tours)."""
        return QRectF(self.table.visualRect(self._index(method, manipulation)))

    def _on_cell(self, index: QModelIndex) -> None:
        source = self.proxy.mapToSource(index)
        method = self.model.methods[source.row()]
        key = self.model.column_key(source.column())
        pair = (method, "" if key in ("method", "mean") else self.model.manipulation_of(key))
        # A double click is a click and an activation: one gesture, one signal.
        if pair == self._last_emit and self._emit_clock.isValid() and self._emit_clock.elapsed() < 500:
            return
        self._last_emit = pair
        self._emit_clock.start()
        self.cellActivated.emit(*pair)

    # export
    def export_csv(self, path: Path | str) -> int:
        """Every row in full precision, with the metric and condition shown and the sweep point (r and
        strength, empty when the rows do not carry them); returns the number of rows."""
        records = [
            {
                "metric": self.model.metric_title,
                "condition": self.model.condition,
                "manipulation": row.manipulation,
                "method": row.method,
                "mean": _finite(row.mean),
                "std": _finite(row.std),
                "n_runs": int(row.n_runs),
                "region_share": _finite(row.region_share),
                "bound": _finite(row.bound),
                "r": _finite(getattr(row, "r", None)),
                "strength": _finite(getattr(row, "strength", None)),
            }
            for row in self._rows
        ]
        headers = [
            "metric",
            "condition",
            "manipulation",
            "method",
            "mean",
            "std",
            "n_runs",
            "region_share",
            "bound",
            "r",
            "strength",
        ]
        return export_table_csv(records, path, headers=headers)

    # theme
    def _apply_theme(self) -> None:
        self.model.set_base(self.palette().color(QPalette.ColorRole.Base))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_theme()
        super().changeEvent(event)


def _plot_figure(owner: QWidget) -> tuple[pg.GraphicsLayoutWidget, pg.PlotItem, pg.GraphicsLayout, QWidget]:
    """A still plot (no mouse, no menu) with a legend column to its right, inside the widget exported.

    The export goes through a plain wrapper widget: pyqtgraph's view replaces render() with another
    signature, so rendering the canvas itself fails.
    """
    canvas = pg.GraphicsLayoutWidget(owner)
    canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    canvas.ci.setContentsMargins(8, 8, 8, 8)
    canvas.ci.setSpacing(12)
    plot = pg.PlotItem()
    plot.hideButtons()
    plot.setMenuEnabled(False)
    plot.getViewBox().setMouseEnabled(x=False, y=False)
    canvas.addItem(plot, row=0, col=0)
    side = pg.GraphicsLayout()
    side.setContentsMargins(0, 4, 0, 0)
    canvas.addItem(side, row=0, col=1)
    canvas.ci.layout.setColumnStretchFactor(0, 1)
    canvas.ci.layout.setColumnStretchFactor(1, 0)
    figure = QWidget(owner)
    layout = QVBoxLayout(figure)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(canvas)
    return canvas, plot, side, figure


class _PlotView(QWidget):
    """What the scatter and the sweep plot share: a click on a point names its (method, manipulation),
    and the plot follows the palette (light or dark). Subclasses build self.canvas and self.plot (see
    _plot_figure) and draw in _draw()."""

    pointActivated = Signal(str, str)
    canvas: pg.GraphicsLayoutWidget
    plot: pg.PlotItem
    _draw: Callable[[], None]

    def _on_clicked(self, _item: pg.ScatterPlotItem, points: Sequence[Any], _event: object) -> None:
        if len(points):
            method, manipulation = points[0].data()[:2]
            self.pointActivated.emit(method, manipulation)

    def _apply_theme(self) -> None:
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        self.canvas.setBackground(palette.color(QPalette.ColorRole.Base))
        axis_pen = pg.mkPen(QColor(text.red(), text.green(), text.blue(), 110))
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setPen(axis_pen)
            axis.setTextPen(pg.mkPen(text))
        self.plot.showGrid(x=True, y=True, alpha=0.12)
        self._draw()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_theme()
        super().changeEvent(event)


class ScatterView(_PlotView):
    """A metric (y) against the region share (x): one colour per method, one symbol per manipulation, error
    bars of one sd, the random baseline y = x and the bound, as in the paper's figures.

    Signal `pointActivated(method, manipulation)` when a point is clicked.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas, self.plot, self.side, self.figure = _plot_figure(self)
        # The legend column: methods by colour, manipulations by symbol; built once and refilled.
        self.method_heading = pg.LabelItem("", justify="left")
        self.method_legend = pg.LegendItem(frame=False, labelTextSize="9pt", verSpacing=-4)
        self.manipulation_heading = pg.LabelItem("", justify="left")
        self.manipulation_legend = pg.LegendItem(frame=False, labelTextSize="9pt", verSpacing=-4)
        # Methods and manipulations side by side: a tall legend would squeeze the plot in a short panel.
        for row, column, item in (
            (0, 0, self.method_heading),
            (1, 0, self.method_legend),
            (0, 1, self.manipulation_heading),
            (1, 1, self.manipulation_legend),
        ):
            item.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            self.side.addItem(item, row=row, col=column)
            self.side.layout.setAlignment(item, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.side.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        self.side.layout.setHorizontalSpacing(18)
        self.side.layout.setRowStretchFactor(2, 1)
        self.side.addItem(pg.GraphicsWidget(), row=2, col=0)
        self.diagonal = pg.PlotDataItem([0, 1], [0, 1])
        # rotateAxis keeps the label along the line whatever the plot's aspect ratio.
        self.diagonal_label = pg.TextItem("random baseline y = x", anchor=(0.5, 1.05), rotateAxis=(1, 1))
        self.bound_line = pg.InfiniteLine(angle=0, movable=False)
        self.bound_label = pg.TextItem("", anchor=(0, 1))
        for item in (self.diagonal, self.bound_line):
            self.plot.addItem(item)
        self.plot.addItem(self.diagonal_label, ignoreBounds=True)
        self.plot.addItem(self.bound_label, ignoreBounds=True)
        # A little room past 0 and 1 so the end ticks (and points at 0 or 1) are drawn.
        self.plot.setXRange(-0.03, 1.04, padding=0)
        self.plot.setYRange(-0.03, 1.04, padding=0)
        self._items: list[pg.GraphicsObject] = []
        self._points: list[tuple[str, str, float, float]] = []
        self.export_button = ExportButton(lambda: self.figure, name="attribution-scatter", parent=self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        top = QHBoxLayout()
        self.caption = _muted_label("", self)
        top.addWidget(self.caption, 1)
        top.addWidget(self.export_button)
        layout.addLayout(top)
        layout.addWidget(self.figure, 1)
        self._metric_title, self._condition = "Attr%", "all"
        self._show_bound = True
        self._rows: list[LeaderboardRowLike] = []
        self._titles: Mapping[str, str] = {}
        self._apply_theme()

    def set_rows(
        self,
        rows: Sequence[LeaderboardRowLike],
        *,
        metric_title: str,
        condition: str,
        titles: Mapping[str, str] | None = None,
        show_bound: bool = True,
    ) -> None:
        """One point per (method, manipulation) row at (region share, mean), with a bar of ± one sd."""
        self._rows = list(rows)
        self._metric_title, self._condition = metric_title, condition
        self._titles = titles or {}
        self._show_bound = show_bound
        self._draw()

    def points(self) -> list[tuple[str, str, float, float]]:
        """(method, manipulation, x = region share, y = mean) of every point drawn."""
        return list(self._points)

    def _draw(self) -> None:
        for item in self._items:
            self.plot.removeItem(item)
        self._items, self._points = [], []
        text = self.palette().color(QPalette.ColorRole.Text)
        rows = [r for r in self._rows if _finite(r.mean) is not None and _finite(r.region_share) is not None]
        methods = _ordered({str(r.method) for r in rows}, METHOD_ORDER)
        manipulations = _ordered({str(r.manipulation) for r in rows}, MANIPULATION_ORDER)
        outline = QColor(self.palette().color(QPalette.ColorRole.Base))
        for position, method in enumerate(methods):
            mine = [r for r in rows if r.method == method]
            colour = method_colour(method)
            # Every method shares its manipulation's region share: a small sideways dodge per method keeps
            # the points of one manipulation from hiding each other (points() reports the true x).
            dodge = (position - (len(methods) - 1) / 2) * DODGE
            x = np.array([float(r.region_share) + dodge for r in mine])
            y = np.array([float(r.mean) for r in mine])
            std = np.array([_finite(r.std) or 0.0 for r in mine])
            bars = pg.ErrorBarItem(
                x=x,
                y=y,
                top=std,
                bottom=std,
                beam=0.008,
                pen=pg.mkPen(QColor(colour.red(), colour.green(), colour.blue(), 150), width=1.2),
            )
            self.plot.addItem(bars)
            spots = [
                {
                    "pos": (float(r.region_share) + dodge, float(r.mean)),
                    "symbol": manipulation_symbol(str(r.manipulation), manipulations),
                    "data": (
                        method,
                        str(r.manipulation),
                        _finite(r.std) or 0.0,
                        int(r.n_runs),
                        display_title(method, self._titles),
                        display_title(str(r.manipulation), self._titles),
                    ),
                }
                for r in mine
            ]
            scatter = pg.ScatterPlotItem(
                spots=spots,
                size=11,
                brush=pg.mkBrush(colour),
                pen=pg.mkPen(outline, width=1),
                hoverable=True,
                hoverSize=14,
                tip=self._tip,
                name=display_title(method, self._titles),
            )
            scatter.sigClicked.connect(self._on_clicked)
            self.plot.addItem(scatter)
            self._items += [bars, scatter]
            self._points += [
                (method, str(r.manipulation), float(r.region_share), float(r.mean)) for r in mine
            ]
        self._draw_guides(text, rows)
        self._fill_legends(text, methods, manipulations)
        condition = CONDITION_TITLES.get(self._condition, self._condition)
        self.caption.setText(
            f"{self._metric_title} against the region's share of the input · {condition} · "
            "points above the dashed line beat a random attribution"
        )
        self.plot.setLabel("bottom", "region share of the input (random baseline)", color=text.name())
        self.plot.setLabel("left", self._metric_title, color=text.name())

    def _draw_guides(self, text: QColor, rows: list[LeaderboardRowLike]) -> None:
        guide = QColor(text)
        guide.setAlpha(150)
        self.diagonal.setPen(pg.mkPen(guide, width=1.4, style=Qt.PenStyle.DashLine))
        self.diagonal_label.setColor(guide)
        self.diagonal_label.setPos(0.74, 0.74)
        bounds = sorted({round(b, 6) for r in rows if (b := _finite(r.bound)) is not None})
        show = self._show_bound and len(bounds) == 1
        self.bound_line.setVisible(show)
        self.bound_label.setVisible(show)
        if show:
            colour = QColor(MEETS_BOUND)
            self.bound_line.setPen(pg.mkPen(colour, width=1.4, style=Qt.PenStyle.DotLine))
            self.bound_line.setPos(bounds[0])
            self.bound_label.setText(f"bound 1.5 − max(r, 1 − r) = {bounds[0]:.2f}")
            self.bound_label.setColor(colour)
            self.bound_label.setPos(0.01, bounds[0])
            # Under the line near the top of the plot (r = 0.5 puts the bound at 1), above it elsewhere.
            self.bound_label.setAnchor((0, 0) if bounds[0] > 0.9 else (0, 1))

    def _fill_legends(self, text: QColor, methods: list[str], manipulations: list[str]) -> None:
        muted = QColor(text)
        muted.setAlpha(170)
        self.method_heading.setText("Method", color=muted.name(), size="9pt", bold=True)
        self.manipulation_heading.setText("Manipulation", color=muted.name(), size="9pt", bold=True)
        self.method_legend.clear()
        self.manipulation_legend.clear()
        self.method_legend.setColumnCount(2 if len(methods) > 12 else 1)
        for legend in (self.method_legend, self.manipulation_legend):
            legend.opts["labelTextColor"] = text
        for method in methods:
            sample = pg.ScatterPlotItem(
                symbol="o", size=10, brush=pg.mkBrush(method_colour(method)), pen=None
            )
            self.method_legend.addItem(sample, html.escape(display_title(method, self._titles)))
        grey = QColor(text)
        grey.setAlpha(140)
        for manipulation in manipulations:
            sample = pg.ScatterPlotItem(
                symbol=manipulation_symbol(manipulation, manipulations),
                size=10,
                brush=pg.mkBrush(grey),
                pen=None,
            )
            self.manipulation_legend.addItem(sample, html.escape(display_title(manipulation, self._titles)))
        self.method_heading.setVisible(bool(methods))
        self.manipulation_heading.setVisible(bool(manipulations))

    @staticmethod
    def _tip(x: float, y: float, data: tuple) -> str:  # type: ignore[type-arg]
        _method, _manipulation, std, runs, method_title, manipulation_title = data
        return (
            f"{method_title} on {manipulation_title}\n"
            f"score {y:.3f} ± {std:.3f} over {runs} run{'s' if runs != 1 else ''}\n"
            f"region share {x:.3f} ({y - x:+.3f} against random)"
        )


# A diverging map for tau in [-1, 1]: blue (opposite rankings), the base colour (none), red (the same).
TAU_NEGATIVE = QColor("#2166ac")
TAU_POSITIVE = QColor("#b2182b")


def tau_colour(tau: float | None, base: QColor) -> QColor:
    if tau is None or not math.isfinite(tau):
        return QColor(base).darker(108)
    return _mix(base, TAU_POSITIVE if tau >= 0 else TAU_NEGATIVE, 0.9 * min(abs(tau), 1.0))


class RankAgreementView(QWidget):
    """Kendall tau between the method rankings of every pair of metrics, as a heat map with the numbers."""

    CELL = 64
    LABEL_GAP = 10

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.metrics: list[str] = []
        self.tau = np.zeros((0, 0))
        self._titles: Mapping[str, str] = {}
        self.setMouseTracking(True)
        self.setMinimumSize(240, 160)

    def set_matrix(
        self, metrics: Sequence[str], tau: np.ndarray, *, titles: Mapping[str, str] | None = None
    ) -> None:
        """`tau[i, j]`: Kendall tau-b between the rankings by metrics[i] and metrics[j] (NaN: undefined)."""
        matrix = np.asarray(tau, dtype=float)
        if matrix.shape != (len(metrics), len(metrics)):
            raise LanternError(
                f"the tau matrix is {matrix.shape}, not {len(metrics)} x {len(metrics)}",
                "rank agreement",
                "pass one row and one column per metric",
            )
        self.metrics, self.tau = [str(m) for m in metrics], matrix
        self._titles = dict(titles or {})
        for name, title in DEFAULT_METRICS:
            self._titles.setdefault(name, title)
        self.updateGeometry()
        self.update()

    def title_of(self, metric: str) -> str:
        return self._titles.get(metric) or metric.replace("_", " ")

    def _geometry(self) -> tuple[float, float, float]:
        """(left, top, cell size) of the matrix."""
        metrics = QFontMetricsF(self.font())
        label_w = (
            max([metrics.horizontalAdvance(self.title_of(m)) for m in self.metrics] or [0]) + self.LABEL_GAP
        )
        top = metrics.height() * 2 + 12
        n = max(len(self.metrics), 1)
        # Column titles get two lines above the matrix.
        available = min(self.width() - label_w - 70, self.height() - top - 2 * metrics.height() - 12)
        cell = max(28.0, min(float(self.CELL) * 1.6, available / n))
        return label_w + 4, top + 2 * metrics.height() + 6, cell

    def sizeHint(self) -> QSize:
        metrics = QFontMetricsF(self.font())
        label_w = max([metrics.horizontalAdvance(self.title_of(m)) for m in self.metrics] or [80])
        n = max(len(self.metrics), 2)
        return QSize(int(label_w + n * self.CELL + 90), int(metrics.height() * 3 + 30 + n * self.CELL))

    def cell_colour(self, i: int, j: int) -> QColor:
        value = float(self.tau[i, j])
        return tau_colour(
            value if math.isfinite(value) else None, self.palette().color(QPalette.ColorRole.Base)
        )

    def paintEvent(self, _event: QEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        base = palette.color(QPalette.ColorRole.Base)
        font = QFont(self.font())
        metrics = QFontMetricsF(font)
        bold = QFont(font)
        bold.setWeight(QFont.Weight.DemiBold)
        painter.setFont(bold)
        painter.setPen(text)
        painter.drawText(QPointF(2, metrics.ascent() + 2), "Rank agreement between metrics")
        painter.setFont(font)
        painter.setPen(muted)
        painter.drawText(
            QPointF(2, metrics.height() + metrics.ascent() + 4),
            "Kendall τ of the method rankings (1: same order)",
        )
        if not self.metrics:
            painter.drawText(
                QRectF(self.rect()), int(Qt.AlignmentFlag.AlignCenter), "No metrics to compare yet."
            )
            painter.end()
            return
        left, top, cell = self._geometry()
        n = len(self.metrics)
        painter.setPen(text)
        for j, metric in enumerate(self.metrics):
            painter.drawText(
                QRectF(left + j * cell, top - 2 * metrics.height() - 4, cell, 2 * metrics.height()),
                int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom | Qt.TextFlag.TextWordWrap),
                self.title_of(metric),
            )
        number_font = QFont(font)
        number_font.setWeight(QFont.Weight.DemiBold)
        for i, metric in enumerate(self.metrics):
            painter.setPen(text)
            painter.setFont(font)
            painter.drawText(
                QRectF(0, top + i * cell, left - self.LABEL_GAP, cell),
                int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight),
                self.title_of(metric),
            )
            for j in range(n):
                rect = QRectF(left + j * cell + 1.5, top + i * cell + 1.5, cell - 3, cell - 3)
                fill = self.cell_colour(i, j)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(fill)
                painter.drawRoundedRect(rect, 4, 4)
                value = float(self.tau[i, j])
                painter.setFont(number_font)
                painter.setPen(QColor("#ffffff") if _luminance(fill) < 0.5 else QColor("#1f2430"))
                painter.drawText(
                    rect, int(Qt.AlignmentFlag.AlignCenter), f"{value:.2f}" if math.isfinite(value) else "–"
                )
        # The colour key: -1 .. 1.
        bar = QRectF(left + n * cell + 18, top, 12, n * cell)
        gradient = QLinearGradient(bar.topLeft(), bar.bottomLeft())
        for stop in np.linspace(0, 1, 9):
            gradient.setColorAt(float(stop), tau_colour(1 - 2 * float(stop), base))
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(QBrush(gradient))
        painter.drawRoundedRect(bar, 3, 3)
        painter.setFont(font)
        painter.setPen(muted)
        for value, y in ((1, bar.top()), (0, bar.center().y()), (-1, bar.bottom())):
            painter.drawText(
                QPointF(bar.right() + 5, y + metrics.ascent() / 2 - 1), f"{value:+d}" if value else "0"
            )
        painter.end()

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        if not self.metrics:
            return None
        left, top, cell = self._geometry()
        i, j = math.floor((y - top) / cell), math.floor((x - left) / cell)
        n = len(self.metrics)
        return (i, j) if 0 <= i < n and 0 <= j < n else None

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            hit = self.cell_at(event.position().x(), event.position().y())
            if hit is None:
                QToolTip.hideText()
            else:
                i, j = hit
                value = float(self.tau[i, j])
                shown = f"{value:.3f}" if math.isfinite(value) else "undefined (a ranking with no spread)"
                QToolTip.showText(
                    event.globalPos(),
                    f"{self.title_of(self.metrics[i])} vs {self.title_of(self.metrics[j])}: τ = {shown}",
                    self,
                )
            return True
        return super().event(event)


SWEEP_AXES = {
    "r": ("r", "r (probability that a label is kept)"),
    "strength": ("strength", "manipulation strength"),
}
SWEEP_SYMBOLS = ("o", "s", "t", "t1", "p", "d", "h", "star", "t2", "t3", "x", "+")
# pyqtgraph draws these smaller than a circle of the same size: scaled up so every marker reads alike.
SWEEP_SYMBOL_SCALE = {"d": 1.3, "star": 1.45, "x": 1.2, "+": 1.2}
SWEEP_DODGE = 0.018  # sideways offset between methods, as a share of the smallest step between points


def sweep_bound(r: np.ndarray | float) -> np.ndarray:
    """1.5 − max(r, 1 − r): for r > 0.5 the ground-truth Attr% is only known to reach this (SCIENCE D)."""
    values = np.asarray(r, dtype=float)
    return 1.5 - np.maximum(values, 1.0 - values)


class SweepView(_PlotView):
    """A metric of each method as r or the manipulation's strength changes, as in the paper's sweep plots:
    one line per method (its colour and a marker, ± one sd bars), the random baseline (the region's mean
    share) dashed and, for Attr% over r, the bound 1.5 − max(r, 1 − r) dotted. One manipulation at a time,
    chosen in a selector when the rows hold several.

    Signal `pointActivated(method, manipulation)` when a point is clicked.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas, self.plot, self.side, self.figure = _plot_figure(self)
        self.legend_heading = pg.LabelItem("", justify="left")
        self.legend = pg.LegendItem(frame=False, labelTextSize="9pt", verSpacing=-4)
        self.guide_legend = pg.LegendItem(frame=False, labelTextSize="9pt", verSpacing=-4)
        for row, item in enumerate((self.legend_heading, self.legend, self.guide_legend)):
            item.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            self.side.addItem(item, row=row, col=0)
            self.side.layout.setAlignment(item, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.side.addItem(pg.GraphicsWidget(), row=3, col=0)
        self.side.layout.setRowStretchFactor(3, 1)
        self.side.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        # The guides stay in the plot and are redrawn; the method lines are replaced on every draw.
        self.baseline = pg.PlotDataItem([], [], antialias=True)
        self.bound_curve = pg.PlotDataItem([], [], antialias=True)
        self.plot.addItem(self.baseline)
        self.plot.addItem(self.bound_curve)
        self.plot.setYRange(-0.03, 1.04, padding=0)
        for name in ("left", "bottom"):  # r and scores are plain numbers: no "(x0.001)" on the axes
            self.plot.getAxis(name).enableAutoSIPrefix(False)
        self._items: list[pg.GraphicsObject] = []
        self._points: list[tuple[str, str, float, float, float]] = []
        self._drawn: list[LeaderboardRowLike] = []

        self.caption = _muted_label("", self)
        self.caption.setWordWrap(True)
        self.manipulation_label = _muted_label("Manipulation", self)
        self.manipulation_box = QComboBox(self)
        self.manipulation_box.setToolTip("The manipulation whose sweep is drawn")
        self.manipulation_box.currentIndexChanged.connect(self._on_manipulation)
        self.export_button = ExportButton(
            lambda: self.figure, name="attribution-sweep", table_csv=self.export_csv, parent=self
        )
        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(self.caption, 1)
        top.addWidget(self.manipulation_label)
        top.addWidget(self.manipulation_box)
        top.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.figure, 1)
        self._rows: list[LeaderboardRowLike] = []
        self._over = "r"
        self._metric_title, self._condition = "Attr%", "all"
        self._titles: Mapping[str, str] = {}
        self._apply_theme()

    # data in
    def set_rows(
        self,
        rows: Sequence[LeaderboardRowLike],
        *,
        over: str,
        metric_title: str,
        condition: str,
        titles: Mapping[str, str] | None = None,
        manipulation: str | None = None,
    ) -> None:
        """Rows of one metric and condition, one per (manipulation, method, sweep point); `over` names the
        swept value ("r" or "strength"), read from each row's attribute of that name. `manipulation` picks
        the one drawn (default: the one drawn before when the rows still hold it, else the first)."""
        if over not in SWEEP_AXES:
            raise LanternError(
                f"cannot draw a sweep over '{over}'", "sweep plot", f"use one of {', '.join(SWEEP_AXES)}"
            )
        self._rows = list(rows)
        self._over, self._metric_title, self._condition = over, metric_title, condition
        self._titles = titles or {}
        manipulations = self.manipulations()
        keep = manipulation if manipulation in manipulations else self.current_manipulation()
        if keep not in manipulations:
            keep = manipulations[0] if manipulations else None
        self.manipulation_box.blockSignals(True)
        self.manipulation_box.clear()
        for name in manipulations:
            self.manipulation_box.addItem(display_title(name, self._titles), name)
        self.manipulation_box.setCurrentIndex(max(self.manipulation_box.findData(keep), 0))
        self.manipulation_box.blockSignals(False)
        several = len(manipulations) > 1
        self.manipulation_box.setVisible(several)
        self.manipulation_label.setVisible(several)
        self._draw()

    def manipulations(self) -> list[str]:
        return _ordered({str(r.manipulation) for r in self._rows}, MANIPULATION_ORDER)

    def current_manipulation(self) -> str | None:
        data = self.manipulation_box.currentData()
        return None if data is None else str(data)

    def set_manipulation(self, manipulation: str) -> None:
        index = self.manipulation_box.findData(manipulation)
        if index < 0:
            raise LanternError(
                f"no sweep for '{manipulation}'",
                "sweep plot",
                f"choose one of {', '.join(self.manipulations()) or '(none)'}",
            )
        self.manipulation_box.setCurrentIndex(index)

    def _on_manipulation(self, _index: int) -> None:
        self._draw()

    # data out
    def points(self) -> list[tuple[str, str, float, float, float]]:
        """(method, manipulation, x = the swept value, y = mean, sd) of every point drawn."""
        return list(self._points)

    def bound_points(self) -> tuple[np.ndarray, np.ndarray]:
        """The bound curve drawn (empty when there is none)."""
        if not self.bound_curve.isVisible():
            return np.zeros(0), np.zeros(0)
        x, y = self.bound_curve.getData()
        return (np.zeros(0), np.zeros(0)) if x is None else (np.asarray(x), np.asarray(y))

    def baseline_points(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.baseline.getData()
        return (np.zeros(0), np.zeros(0)) if x is None else (np.asarray(x), np.asarray(y))

    def export_csv(self, path: Path | str) -> int:
        """The points drawn in full precision, with the baseline and bound at each; returns the rows."""
        records = [
            {
                "metric": self._metric_title,
                "condition": self._condition,
                "manipulation": row.manipulation,
                "method": row.method,
                self._over: self._x(row),
                "mean": _finite(row.mean),
                "std": _finite(row.std),
                "n_runs": int(row.n_runs),
                "region_share": _finite(row.region_share),
                "bound": _finite(row.bound),
            }
            for row in self._drawn
        ]
        headers = ["metric", "condition", "manipulation", "method", self._over, "mean", "std", "n_runs"]
        return export_table_csv(records, path, headers=[*headers, "region_share", "bound"])

    # drawing
    def _x(self, row: LeaderboardRowLike) -> float | None:
        return _finite(getattr(row, self._over, None))

    def _shows_bound(self, rows: Sequence[LeaderboardRowLike]) -> bool:
        """The bound is Attr%'s over r: rows of another metric (or with no bound) get none."""
        if self._over != "r" or not rows:
            return False
        return all(
            getattr(r, "metric", "attr_pct") == "attr_pct" and _finite(r.bound) is not None for r in rows
        )

    def _draw(self) -> None:
        for item in self._items:
            self.plot.removeItem(item)
        self._items, self._points = [], []
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        manipulation = self.current_manipulation()
        rows = [
            r
            for r in self._rows
            if str(r.manipulation) == manipulation and self._x(r) is not None and _finite(r.mean) is not None
        ]
        rows.sort(key=lambda r: (self._x(r), str(r.method)))
        self._drawn = rows
        methods = _ordered({str(r.method) for r in rows}, METHOD_ORDER)
        xs = sorted({float(self._x(r)) for r in rows})  # type: ignore[arg-type]
        steps = np.diff(xs) if len(xs) > 1 else np.array([1.0])
        span = (xs[-1] - xs[0]) if len(xs) > 1 else 1.0
        outline = palette.color(QPalette.ColorRole.Base)
        self.legend.clear()
        for position, method in enumerate(methods):
            mine = [r for r in rows if r.method == method]
            colour = method_colour(method)
            symbol = SWEEP_SYMBOLS[position % len(SWEEP_SYMBOLS)]
            # Methods share the sweep points: a small sideways dodge keeps their bars apart (points() and
            # the CSV report the true x).
            dodge = (position - (len(methods) - 1) / 2) * SWEEP_DODGE * float(steps.min())
            x = np.array([float(self._x(r)) + dodge for r in mine])  # type: ignore[arg-type]
            y = np.array([float(r.mean) for r in mine])
            sd = np.array([_finite(r.std) or 0.0 for r in mine])
            faded = QColor(colour)
            faded.setAlpha(170)
            bars = pg.ErrorBarItem(
                x=x, y=y, top=sd, bottom=sd, beam=0.012 * span, pen=pg.mkPen(faded, width=1.2)
            )
            line = pg.PlotCurveItem(x=x, y=y, pen=pg.mkPen(colour, width=2.0), antialias=True)
            title = display_title(method, self._titles)
            spots = [
                {
                    "pos": (px, float(r.mean)),
                    "data": (
                        method,
                        str(r.manipulation),
                        float(self._x(r)),  # type: ignore[arg-type]
                        _finite(r.std) or 0.0,
                        int(r.n_runs),
                        _finite(r.region_share),
                        f"{title} on {display_title(str(r.manipulation), self._titles)}",
                        SWEEP_AXES[self._over][0],
                    ),
                }
                for px, r in zip(x, mine, strict=True)
            ]
            scatter = pg.ScatterPlotItem(
                spots=spots,
                symbol=symbol,
                size=10 * SWEEP_SYMBOL_SCALE.get(symbol, 1.0),
                brush=pg.mkBrush(colour),
                pen=pg.mkPen(outline, width=1),
                hoverable=True,
                hoverSize=12,
                tip=self._tip,
                name=title,
            )
            scatter.sigClicked.connect(self._on_clicked)
            for item in (bars, line, scatter):
                self.plot.addItem(item)
            self._items += [bars, line, scatter]
            sample = pg.PlotDataItem(
                [0, 1],
                [0, 0],
                pen=pg.mkPen(colour, width=2.0),
                symbol=symbol,
                symbolSize=8 * SWEEP_SYMBOL_SCALE.get(symbol, 1.0),
                symbolBrush=pg.mkBrush(colour),
                symbolPen=pg.mkPen(outline, width=1),
            )
            self.legend.addItem(sample, html.escape(title))
            self._points += [
                (method, str(r.manipulation), float(self._x(r)), float(r.mean), _finite(r.std) or 0.0)  # type: ignore[arg-type]
                for r in mine
            ]
        self._draw_guides(text, rows, xs)
        self._label(text, manipulation, methods)

    def _draw_guides(self, text: QColor, rows: list[LeaderboardRowLike], xs: list[float]) -> None:
        self.guide_legend.clear()
        self.guide_legend.opts["labelTextColor"] = text
        guide = QColor(text)
        guide.setAlpha(160)
        # The random baseline: the region's mean share at each sweep point (a strength can change it).
        shares = {
            x: [s for r in rows if self._x(r) == x and (s := _finite(r.region_share)) is not None] for x in xs
        }
        base_x = [x for x in xs if shares[x]]
        base_y = [float(np.mean(shares[x])) for x in base_x]
        pad = 0.05 * ((xs[-1] - xs[0]) if len(xs) > 1 else 1.0) if xs else 0.0
        if base_x:  # held flat past the first and last points, across the whole plot like the bound
            base_x = [base_x[0] - pad, *base_x, base_x[-1] + pad]
            base_y = [base_y[0], *base_y, base_y[-1]]
        dashed = pg.mkPen(guide, width=1.6, style=Qt.PenStyle.DashLine)
        self.baseline.setData(base_x, base_y)
        self.baseline.setPen(dashed)
        self.baseline.setVisible(bool(base_x))
        if base_x:
            self.guide_legend.addItem(pg.PlotDataItem([0, 1], [0, 0], pen=dashed), "random (region share)")
        show = self._shows_bound(rows) and bool(xs)
        self.bound_curve.setVisible(show)
        if show:
            low, high = xs[0] - pad, xs[-1] + pad
            # The sweep points and the kink at 0.5 lie on the grid, so the curve is exact there.
            grid = np.union1d(np.linspace(low, high, 121), [*xs, 0.5])
            grid = grid[(grid >= low) & (grid <= high)]
            dotted = pg.mkPen(MEETS_BOUND, width=2.0, style=Qt.PenStyle.DotLine)
            self.bound_curve.setData(grid, sweep_bound(grid))
            self.bound_curve.setPen(dotted)
            self.guide_legend.addItem(
                pg.PlotDataItem([0, 1], [0, 0], pen=dotted), "bound 1.5 − max(r, 1 − r)"
            )
        else:
            self.bound_curve.setData([], [])
        if xs:
            self.plot.setXRange(xs[0] - pad, xs[-1] + pad, padding=0)
            self.plot.getAxis("bottom").setTicks([[(x, f"{x:g}") for x in xs], []])
        else:
            self.plot.getAxis("bottom").setTicks(None)

    def _label(self, text: QColor, manipulation: str | None, methods: list[str]) -> None:
        muted = QColor(text)
        muted.setAlpha(170)
        self.legend.opts["labelTextColor"] = text
        self.legend_heading.setText("Method", color=muted.name(), size="9pt", bold=True)
        self.legend_heading.setVisible(bool(methods))
        short, axis_title = SWEEP_AXES[self._over]
        condition = CONDITION_TITLES.get(self._condition, self._condition)
        if manipulation is None:
            self.caption.setText(f"No sweep points yet: {self._metric_title} against {short} appears here.")
            self.plot.setTitle(None)
        else:
            where = display_title(manipulation, self._titles)
            self.caption.setText(
                f"{self._metric_title} as {short} changes · {where} · {condition} · mean ± sd over runs"
            )
            self.plot.setTitle(where, color=text.name(), size="11pt", bold=True)
        self.plot.setLabel("bottom", axis_title, color=text.name())
        self.plot.setLabel("left", self._metric_title, color=text.name())

    @staticmethod
    def _tip(x: float, y: float, data: tuple) -> str:  # type: ignore[type-arg]
        _method, _manipulation, swept, std, runs, share, title, over = data
        lines = [
            f"{title} at {over} = {swept:g}",
            f"score {y:.3f} ± {std:.3f} over {runs} run{'s' if runs != 1 else ''}",
        ]
        if share is not None:
            lines.append(f"region share {share:.3f} ({y - share:+.3f} against random)")
        return "\n".join(lines)
