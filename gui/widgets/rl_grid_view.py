"""The crisp grid painter of the Relational page: an RL observation drawn as square cells (nearest neighbour,
whole-pixel sides at any widget size), an attention heat over it, arrows to the top-k targets, outlined
key->lock pairs and the chosen cell; maps clicks back to row-major cell indices."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from gui.widgets.attribution_explore import heat_colours

MARGIN = 8  # pixels kept free around the grid for outlines and arrow labels
CAPTION_HEIGHT = 20
INDEX_ROOM = 16  # row and column numbers beside the grid
SCALE_ROOM = 30  # the heat's colour scale under the grid
# Outline colours of key->lock pairs: chosen to stand apart from Box-World's saturated cell colours (dark,
# white and cyan-magenta tones with a contrasting halo), one per pair in order.
PAIR_COLOURS = ("#111827", "#ffffff", "#00b3b3", "#d6008f", "#3f51ff", "#8a5a00", "#6c6c6c", "#00a650")
SELECTED_COLOUR = QColor("#e8900c")
CHANCE_SPAN = 4.0  # the heat's ramp reaches at least this many times chance


@dataclass(frozen=True)
class Overlay:
    """Where one cell attends (or, inverted, who attends to it): the heat [N] and its top-k (cell, weight)."""

    source: int
    heat: np.ndarray
    targets: tuple[tuple[int, float], ...]
    invert: bool = False


class GridView(QWidget):
    """Draws one frame uint8 [H, W, 3] with square cells; `cell_clicked(cell)` on a click inside the grid."""

    cell_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None, *, caption: str = "") -> None:
        super().__init__(parent)
        self.caption = caption
        self.placeholder = "Load an episode to see its grid."
        self._frame: np.ndarray | None = None
        self._overlay: Overlay | None = None
        self._outlines: list[tuple[tuple[int, ...], QColor]] = []
        self._selected: int | None = None
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)

    # content
    def set_frame(self, frame: np.ndarray | None) -> None:
        """The observation to draw, uint8 [H, W, 3]; None clears the view."""
        self._frame = None if frame is None else np.ascontiguousarray(frame, dtype=np.uint8)
        self.update()

    def set_overlay(self, overlay: Overlay | None) -> None:
        self._overlay = overlay
        self.update()

    def set_outlines(self, groups: list[tuple[tuple[int, ...], QColor]]) -> None:
        """Cells to outline, each group in its colour (a key and the lock it opens share one)."""
        self._outlines = list(groups)
        self.update()

    def set_selected(self, cell: int | None) -> None:
        self._selected = cell
        self.update()

    @property
    def grid_shape(self) -> tuple[int, int]:
        return (0, 0) if self._frame is None else (int(self._frame.shape[0]), int(self._frame.shape[1]))

    @property
    def overlay(self) -> Overlay | None:
        return self._overlay

    @property
    def outlines(self) -> list[tuple[tuple[int, ...], QColor]]:
        return list(self._outlines)

    # geometry
    def grid_geometry(self) -> tuple[float, float, int]:
        """(left, top, cell side) of the grid in widget pixels; whole-pixel sides keep every cell crisp. Room
        is kept for the caption above, row and column numbers left and on top, and the heat scale below."""
        rows, cols = self.grid_shape
        top_room = (CAPTION_HEIGHT if self.caption else 0) + INDEX_ROOM
        bottom_room = SCALE_ROOM
        if rows == 0 or cols == 0:
            return float(MARGIN + INDEX_ROOM), float(MARGIN + top_room), 0
        room_w = self.width() - 2 * MARGIN - 2 * INDEX_ROOM
        room_h = self.height() - 2 * MARGIN - top_room - bottom_room
        side = max(1, int(min(room_w / cols, room_h / rows)))
        left = math.floor((self.width() - side * cols) / 2)
        top = math.floor(top_room + (self.height() - top_room - bottom_room - side * rows) / 2)
        return float(left), float(top), side

    def cell_rect(self, cell: int) -> QRectF:
        _rows, cols = self.grid_shape
        left, top, side = self.grid_geometry()
        row, col = divmod(int(cell), max(cols, 1))
        return QRectF(left + col * side, top + row * side, side, side)

    def cell_at(self, point: QPointF) -> int | None:
        """The row-major cell under a widget point, None outside the grid."""
        rows, cols = self.grid_shape
        left, top, side = self.grid_geometry()
        if side == 0:
            return None
        col = math.floor((point.x() - left) / side)
        row = math.floor((point.y() - top) / side)
        if 0 <= row < rows and 0 <= col < cols:
            return row * cols + col
        return None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        cell = self.cell_at(event.position())
        if cell is not None and event.button() == Qt.MouseButton.LeftButton:
            self.cell_clicked.emit(cell)
            event.accept()
            return
        super().mousePressEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(420, 440)

    # painting
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            self._paint(painter)
        finally:
            painter.end()

    def _paint(self, painter: QPainter) -> None:
        muted = self.palette().color(self.palette().ColorRole.PlaceholderText)
        if self.caption:
            font = QFont(self.font())
            font.setBold(True)
            painter.setFont(font)
            painter.setPen(self.palette().color(self.palette().ColorRole.WindowText))
            painter.drawText(
                QRectF(0, 0, self.width(), CAPTION_HEIGHT), Qt.AlignmentFlag.AlignCenter, self.caption
            )
            painter.setFont(self.font())
        if self._frame is None:
            painter.setPen(muted)
            painter.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder
            )
            return
        rows, cols = self.grid_shape
        left, top, side = self.grid_geometry()
        overlay = self._overlay
        heat = _heat_rgb(overlay.heat) if overlay is not None else None
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(Qt.PenStyle.NoPen)
        for index in range(rows * cols):
            row, col = divmod(index, cols)
            rect = QRectF(left + col * side, top + row * side, side, side)
            rgb = self._frame[row, col]
            if heat is None:
                painter.fillRect(rect, QColor(int(rgb[0]), int(rgb[1]), int(rgb[2])))
                continue
            # Heat fills the cell; the cell's own colour stays readable as a chip in its centre.
            painter.fillRect(rect, QColor(*(int(v) for v in heat[index])))
            chip = max(2, side // 3)
            inner = QRectF(rect.center().x() - chip / 2, rect.center().y() - chip / 2, chip, chip)
            painter.fillRect(inner.adjusted(-1, -1, 1, 1), QColor(30, 30, 30))
            painter.fillRect(inner, QColor(int(rgb[0]), int(rgb[1]), int(rgb[2])))
        if side >= 6:  # hairline grid lines, so cells can be counted
            painter.setPen(QPen(QColor(0, 0, 0, 50), 1))
            for r in range(rows + 1):
                painter.drawLine(QPointF(left, top + r * side), QPointF(left + cols * side, top + r * side))
            for c in range(cols + 1):
                painter.drawLine(QPointF(left + c * side, top), QPointF(left + c * side, top + rows * side))
        self._indices(painter, rows, cols, left, top, side, muted)
        if overlay is not None:
            self._scale(painter, overlay, left, top + rows * side, cols * side)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for cells, colour in self._outlines:
            for cell in cells:
                self._outline(painter, cell, colour, side)
        # The selection frame goes under the overlay, so the chosen cell's own weight label stays on top.
        if self._selected is not None and 0 <= self._selected < rows * cols:
            self._selection(painter, self._selected)
        if overlay is not None:
            self._arrows(painter, overlay, side)

    def _selection(self, painter: QPainter, cell: int) -> None:
        rect = self.cell_rect(cell).adjusted(-1, -1, 1, 1)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor("#000000"), 5))
        painter.drawRect(rect)
        painter.setPen(QPen(SELECTED_COLOUR, 3))
        painter.drawRect(rect)

    def _indices(
        self, painter: QPainter, rows: int, cols: int, left: float, top: float, side: int, colour: QColor
    ) -> None:
        """Row numbers on the left, column numbers on top (every one when they fit, else every fifth)."""
        font = QFont(self.font())
        font.setPointSizeF(index_point_size(side))
        painter.setFont(font)
        painter.setPen(colour)
        every = 1 if side >= 14 else 5
        for r in range(0, rows, every):
            painter.drawText(
                QRectF(left - INDEX_ROOM - 2, top + r * side, INDEX_ROOM, side),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                str(r),
            )
        for c in range(0, cols, every):
            painter.drawText(
                QRectF(left + c * side, top - INDEX_ROOM, side, INDEX_ROOM - 2),
                Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                str(c),
            )
        painter.setFont(self.font())

    def _scale(self, painter: QPainter, overlay: Overlay, left: float, bottom: float, width: float) -> None:
        """The heat's colour scale, from 0 to the largest weight shown, and what the heat is."""
        cols = self.grid_shape[1]
        top_value = heat_top(overlay.heat)
        bar_w = min(width * 0.45, 240.0)
        bar = QRectF(left, bottom + 6, bar_w, 8)
        ramp = heat_colours(np.linspace(0.0, 1.0, 64))
        step = bar_w / len(ramp)
        for index, rgb in enumerate(ramp):
            painter.fillRect(
                QRectF(bar.left() + index * step, bar.top(), step + 1, bar.height()),
                QColor(int(rgb[0]), int(rgb[1]), int(rgb[2])),
            )
        font = QFont(self.font())
        font.setPointSizeF(7.5)
        painter.setFont(font)
        painter.setPen(self.palette().color(self.palette().ColorRole.WindowText))
        row, col = divmod(overlay.source, max(cols, 1))
        what = (
            f"attention to ({row}, {col}), from each cell"
            if overlay.invert
            else f"attention of ({row}, {col}) to each cell"
        ) + f"; tick: chance 1/{overlay.heat.size}"
        text = QRectF(bar.left(), bar.bottom() + 1, max(width, bar_w), 14)
        painter.drawText(text, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, "0")
        painter.drawText(
            QRectF(bar.left(), bar.bottom() + 1, bar_w, 14),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
            f"{top_value:.3f}",
        )
        if overlay.heat.size and top_value > 0:  # where chance (1/N) falls on the ramp
            x = bar.left() + bar_w * min(1.0, (1.0 / overlay.heat.size) / top_value)
            painter.drawLine(QPointF(x, bar.top() - 3), QPointF(x, bar.bottom() + 3))
        painter.drawText(
            QRectF(bar.right() + 8, bar.top() - 4, max(0.0, width - bar_w - 8), 16),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            what,
        )
        painter.setFont(self.font())

    def _outline(self, painter: QPainter, cell: int, colour: QColor, side: int) -> None:
        inset = max(1.5, side * 0.08)
        rect = self.cell_rect(cell).adjusted(inset, inset, -inset, -inset)
        width = max(2.0, side * 0.1)
        halo = QColor("#ffffff") if colour.lightness() < 128 else QColor("#000000")
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(halo, width + 2))
        painter.drawRoundedRect(rect, 2, 2)
        painter.setPen(QPen(colour, width))
        painter.drawRoundedRect(rect, 2, 2)

    def _arrows(self, painter: QPainter, overlay: Overlay, side: int) -> None:
        if not overlay.targets:
            return
        top_weight = max(w for _, w in overlay.targets) or 1.0
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, min(10.0, side * 0.28)))
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        for cell, weight in overlay.targets:
            a = self.cell_rect(overlay.source).center()
            b = self.cell_rect(cell).center()
            # Inverted, the arrow runs from the attending cell to the chosen one.
            start, end = (b, a) if overlay.invert else (a, b)
            width = 1.5 + 3.0 * weight / top_weight
            if cell != overlay.source:
                _arrow(painter, start, end, width, side)
            else:  # attention to itself: a ring inside the cell
                rect = self.cell_rect(cell).adjusted(side * 0.2, side * 0.2, -side * 0.2, -side * 0.2)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.setPen(QPen(QColor(0, 0, 0, 200), width + 2))
                painter.drawEllipse(rect)
                painter.setPen(QPen(QColor("#ffffff"), width))
                painter.drawEllipse(rect)
        # Labels after every arrow: a later arrow must not cross an earlier weight.
        for cell, weight in overlay.targets:
            label = weight_text(weight)
            box = QRectF(0, 0, metrics.horizontalAdvance(label) + 6, metrics.height() + 2)
            corner = self.cell_rect(cell)
            box.moveTopLeft(QPointF(corner.left() + 1, corner.top() + 1))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(17, 24, 39, 225))
            painter.drawRoundedRect(box, 3, 3)
            painter.setPen(QColor("#ffffff"))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, label)
        painter.setFont(self.font())


def heat_top(values: np.ndarray) -> float:
    """The weight drawn at the top of the ramp: the largest weight, but at least CHANCE_SPAN x chance (1/N),
    so attention spread evenly stays dark instead of being stretched to look hot."""
    array = np.asarray(values, dtype=np.float64)
    if not array.size:
        return 0.0
    return max(float(array.max()), CHANCE_SPAN / array.size)


def _heat_rgb(values: np.ndarray) -> np.ndarray:
    """Attention [N] -> uint8 RGB [N, 3] on the ramp from 0 to heat_top."""
    array = np.clip(np.asarray(values, dtype=np.float64), 0.0, None)
    top = heat_top(array)
    scaled = array / top if top > 0 else np.zeros_like(array)
    return heat_colours(scaled)


def index_point_size(side: int) -> float:
    """The row and column numbers' point size: grows with the cell side, from 7.5 pt to 10 pt."""
    return max(7.5, min(10.0, side * 0.12))


def weight_text(weight: float) -> str:
    return f"{weight:.2f}" if weight >= 0.1 else f"{weight:.3f}"


def _arrow(painter: QPainter, start: QPointF, end: QPointF, width: float, side: int) -> None:
    """A straight arrow with a filled head, white over a dark halo so it reads on any cell colour."""
    dx, dy = end.x() - start.x(), end.y() - start.y()
    length = math.hypot(dx, dy)
    if length < 1e-6:
        return
    ux, uy = dx / length, dy / length
    shrink = side * 0.3  # stop short of the centres so both cells stay visible
    head = max(7.0, width * 3.2)
    a = QPointF(start.x() + ux * shrink, start.y() + uy * shrink)
    tip = QPointF(end.x() - ux * shrink, end.y() - uy * shrink)
    base = QPointF(tip.x() - ux * head, tip.y() - uy * head)
    left = QPointF(base.x() - uy * head * 0.55, base.y() + ux * head * 0.55)
    right = QPointF(base.x() + uy * head * 0.55, base.y() - ux * head * 0.55)
    shaft = QPainterPath(a)
    shaft.lineTo(base)
    head_polygon = QPolygonF([tip, left, right])
    for colour, extra in ((QColor(0, 0, 0, 210), 2.5), (QColor("#ffffff"), 0.0)):
        painter.setPen(
            QPen(
                colour,
                width + extra,
                Qt.PenStyle.SolidLine,
                Qt.PenCapStyle.RoundCap,
                Qt.PenJoinStyle.RoundJoin,
            )
        )
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(shaft)
        painter.setBrush(QBrush(colour))
        painter.drawPolygon(head_polygon)
