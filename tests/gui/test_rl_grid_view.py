"""The crisp grid painter: at two widget sizes every cell is a whole-pixel square painted in its frame colour
(nearest neighbour, no blending), a click anywhere inside a cell maps to that row-major cell, a click outside
the grid maps to none; the overlay's heat and arrows are drawn where the overlay says; weight labels lie over
every arrow and the selection frame lies under the overlay; the index numbers grow with the cells."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage

from gui.widgets.rl_grid_view import GridView, Overlay, index_point_size

ROWS, COLS = 6, 7  # not square, so rows and columns cannot be swapped unnoticed


def unique_frame() -> np.ndarray:
    """Every cell its own colour, so a pixel tells which cell it belongs to."""
    cells = np.arange(ROWS * COLS)
    rgb = np.stack([cells * 6 % 256, 255 - cells * 5 % 256, (cells * 37 + 11) % 256], axis=1)
    return rgb.reshape(ROWS, COLS, 3).astype(np.uint8)


def pixel(image: QImage, point: QPointF) -> tuple[int, int, int]:
    colour = image.pixelColor(int(point.x()), int(point.y()))
    return colour.red(), colour.green(), colour.blue()


@pytest.fixture
def view(qtbot):  # type: ignore[no-untyped-def]
    grid = GridView()
    qtbot.addWidget(grid)
    grid.set_frame(unique_frame())
    grid.show()
    qtbot.waitExposed(grid)
    yield grid
    grid.close()
    grid.deleteLater()


@pytest.mark.parametrize("size", [(300, 280), (760, 430)])
def test_clicks_map_to_the_cell_painted_under_them(qtbot, view: GridView, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    view.resize(*size)
    qtbot.waitUntil(lambda: (view.width(), view.height()) == size, timeout=2000)
    left, top, side = view.grid_geometry()
    assert side >= 20 and float(left).is_integer() and float(top).is_integer()
    assert left >= 0 and top >= 0 and left + COLS * side <= size[0] and top + ROWS * side <= size[1]
    image = view.grab().toImage()
    frame = unique_frame()
    clicked: list[int] = []
    view.cell_clicked.connect(clicked.append)
    for cell in range(ROWS * COLS):
        rect = view.cell_rect(cell)
        assert rect.width() == rect.height() == side
        row, col = divmod(cell, COLS)
        # Corners (2 px inside, clear of the hairlines) and the centre: all painted in the cell's own colour,
        # and all map back to the cell.
        probes = [
            QPointF(rect.left() + 2, rect.top() + 2),
            QPointF(rect.right() - 2, rect.bottom() - 2),
            rect.center(),
        ]
        for probe in probes:
            assert pixel(image, probe) == tuple(int(v) for v in frame[row, col]), (cell, probe)
            assert view.cell_at(probe) == cell
        qtbot.mouseClick(
            view, Qt.MouseButton.LeftButton, pos=QPoint(int(rect.left()) + 3, int(rect.top()) + 3)
        )
    assert clicked == list(range(ROWS * COLS))
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(int(left) - 4, int(top) - 4))
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(int(left + COLS * side) + 2, int(top) + 5))
    assert len(clicked) == ROWS * COLS
    assert view.cell_at(QPointF(left + COLS * side, top)) is None  # the right edge is outside


def test_the_cell_size_follows_the_widget(qtbot, view: GridView) -> None:  # type: ignore[no-untyped-def]
    view.resize(300, 280)
    qtbot.waitUntil(lambda: view.width() == 300, timeout=2000)
    small = view.grid_geometry()[2]
    view.resize(760, 430)
    qtbot.waitUntil(lambda: view.width() == 760, timeout=2000)
    large = view.grid_geometry()[2]
    assert large > small
    # The same point of the grid (row 4, column 5) maps to the same cell at both sizes.
    for size in ((300, 280), (760, 430)):
        view.resize(*size)
        qtbot.waitUntil(lambda size=size: view.width() == size[0], timeout=2000)
        left, top, side = view.grid_geometry()
        assert view.cell_at(QPointF(left + 5.5 * side, top + 4.5 * side)) == 4 * COLS + 5


def test_heat_colours_cells_by_weight_and_arrows_reach_the_targets(qtbot, view: GridView) -> None:  # type: ignore[no-untyped-def]
    view.resize(700, 600)
    qtbot.waitUntil(lambda: view.width() == 700, timeout=2000)
    heat = np.zeros(ROWS * COLS)
    heat[[3, 10, 30]] = [0.6, 0.3, 0.1]
    view.set_overlay(Overlay(source=22, heat=heat, targets=((3, 0.6), (10, 0.3))))
    view.set_outlines([((8, 9), QColor("#00b3b3"))])
    image = view.grab().toImage()

    def edge(cell: int) -> QColor:  # a pixel inside the cell, outside its centre chip and outline
        rect = view.cell_rect(cell)
        return image.pixelColor(int(rect.left() + rect.width() * 0.22), int(rect.top() + rect.height() * 0.5))

    hottest, warm, cold = edge(3), edge(10), edge(40)
    assert hottest.lightness() > warm.lightness() > cold.lightness()
    assert (cold.red(), cold.green(), cold.blue()) == (0, 0, 4)  # the ramp's bottom: zero attention
    # The centre chip keeps the cell's own colour under the heat.
    centre = view.cell_rect(40).center()
    assert pixel(image, centre) == tuple(int(v) for v in unique_frame()[40 // COLS, 40 % COLS])
    # The arrow to cell 3 runs up from cell 22: white pixels on the line between them.
    a, b = view.cell_rect(22).center(), view.cell_rect(3).center()
    mid = QPointF((a.x() + b.x()) / 2, (a.y() + b.y()) / 2)
    assert pixel(image, mid) == (255, 255, 255)
    # The outlined pair: its outline colour on the cell's inner edge.
    rect = view.cell_rect(8)
    inset = max(1.5, rect.width() * 0.08)
    probe = QPointF(rect.center().x(), rect.top() + inset)
    near = [image.pixelColor(int(probe.x()), int(probe.y()) + d) for d in (-1, 0, 1)]
    assert any((c.red(), c.green(), c.blue()) == (0, 179, 179) for c in near)
    view.set_overlay(None)
    plain = view.grab().toImage()
    assert pixel(plain, view.cell_rect(3).center()) == tuple(int(v) for v in unique_frame()[0, 3])


def near_white(image: QImage, box: tuple[int, int, int, int]) -> int:
    """How many pixels of the box (left, top, width, height) are near white: label text or an arrow."""
    left, top, width, height = box
    count = 0
    for y in range(top, top + height):
        for x in range(left, left + width):
            colour = image.pixelColor(x, y)
            count += min(colour.red(), colour.green(), colour.blue()) >= 240
    return count


def test_a_later_arrow_does_not_cross_an_earlier_label(qtbot, view: GridView) -> None:  # type: ignore[no-untyped-def]
    view.resize(700, 600)
    qtbot.waitUntil(lambda: view.width() == 700, timeout=2000)
    heat = np.zeros(ROWS * COLS)
    heat[[3 + 2 * COLS, 6]] = [0.6, 0.3]
    # From (3, 0) to (0, 6) the arrow runs through the top-left corner of (2, 3), where its label sits.
    source, first, second = 3 * COLS, 2 * COLS + 3, 6
    alone = Overlay(source=source, heat=heat, targets=((first, 0.6),))
    crossed = Overlay(source=source, heat=heat, targets=((first, 0.6), (second, 0.3)))
    rect = view.cell_rect(first)
    side = rect.width()
    # The line between the centres crosses the label's strip (the cell's top fifth) inside the cell.
    a, b = view.cell_rect(source).center(), view.cell_rect(second).center()
    x = rect.left() + 0.2 * side
    y = a.y() + (b.y() - a.y()) * (x - a.x()) / (b.x() - a.x())
    assert rect.top() + 2 < y < rect.top() + 0.2 * side
    font = QFont(view.font())  # the label's font, as GridView._arrows sets it
    font.setPointSizeF(10.0)
    font.setBold(True)
    metrics = QFontMetrics(font)
    label_w, label_h = metrics.horizontalAdvance("0.60") + 6, metrics.height() + 2
    box = (int(rect.left()) + 3, int(rect.top()) + 3, label_w - 4, label_h - 4)  # inside the label's box
    view.set_overlay(alone)
    text_only = near_white(view.grab().toImage(), box)
    view.set_overlay(crossed)
    with_arrow = near_white(view.grab().toImage(), box)
    assert text_only > 10  # the label's white text
    assert with_arrow <= text_only + 3, (with_arrow, text_only)
    # Where the arrow runs clear of the label, it is drawn (white) as before.
    mid = QPointF((x + b.x()) / 2, y + (b.y() - y) / 2)
    assert pixel(view.grab().toImage(), mid) == (255, 255, 255)


def test_the_selection_frame_is_drawn_before_the_overlay(view: GridView, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    drawn: list[str] = []
    selection, arrows = view._selection, view._arrows
    monkeypatch.setattr(view, "_selection", lambda *a: (drawn.append("selection"), selection(*a)))
    monkeypatch.setattr(view, "_arrows", lambda *a: (drawn.append("arrows"), arrows(*a)))
    heat = np.full(ROWS * COLS, 1.0 / (ROWS * COLS))
    view.set_overlay(Overlay(source=9, heat=heat, targets=((9, 0.5), (3, 0.2))))
    view.set_selected(9)
    view.grab()
    assert drawn == ["selection", "arrows"]


def test_index_numbers_grow_with_the_cells() -> None:
    assert index_point_size(20) == 7.5
    assert index_point_size(75) == pytest.approx(9.0)
    assert index_point_size(200) == 10.0
