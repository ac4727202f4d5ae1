"""The attribution gallery: explained samples x methods, each map over its input with the effective region
outlined; click a tile to enlarge it; two methods or two models side by side; texts as shaded tokens."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QHelpEvent,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QStackedWidget,
    QTextBrowser,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from engine.attribution.types import Gallery
from engine.core.errors import LanternError
from gui.widgets.attribution_leaderboard import METHOD_ORDER, display_title, method_colour
from gui.widgets.figure_export import ExportButton
from gui.widgets.pixels import pixels_to_qimage

HEAT_MAP = "inferno"  # perceptually uniform, dark to bright: low attribution stays out of the way
CONTOUR = QColor("#22d3ee")  # cyan: apart from every colour of the heat map and from grey inputs
TOKEN_HIGH = QColor("#e8590c")  # the most attributed token's shade
PRESENT = QColor("#b45309")
WRONG = QColor("#cf3a3a")
RIGHT = QColor("#2e9d5b")
DEFAULT_OPACITY = 0.75
INPUT_DIM = 0.55  # the input under a heat map is dimmed so the map reads first
MIN_TILE, MAX_TILE, COMPARE_TILE = 64, 168, 300
ROW_HEADER = 168
GAP = 8
CAPTION = 18
SAMPLE_FILTERS = {"all": "All samples", "presence": "With the manipulation", "absence": "Without it"}
INPUT = ""  # the column key of the plain input


# pixels
@lru_cache(maxsize=4)
def heat_lut(name: str = HEAT_MAP) -> np.ndarray:
    """The colour map as a uint8 [256, 3] lookup table."""
    table = pg.colormap.get(name).getLookupTable(0.0, 1.0, 256, alpha=False)
    return np.ascontiguousarray(np.asarray(table, dtype=np.uint8)[:, :3])


def normalise_map(values: np.ndarray) -> np.ndarray:
    """|values| scaled to [0, 1] by the map's 99.5th percentile: one hot pixel does not wash out the rest."""
    magnitude = np.abs(np.nan_to_num(np.asarray(values, dtype=np.float32)))
    top = float(np.percentile(magnitude, 99.5)) if magnitude.size else 0.0
    if top <= 0:
        top = float(magnitude.max()) if magnitude.size else 0.0
    if top <= 0:
        return np.zeros_like(magnitude)
    return np.clip(magnitude / top, 0.0, 1.0)


def resize_nearest(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of the first two axes: every input pixel stays a crisp block."""
    rows = (np.arange(height) * array.shape[0] // height).clip(0, array.shape[0] - 1)
    columns = (np.arange(width) * array.shape[1] // width).clip(0, array.shape[1] - 1)
    return array[rows][:, columns]


def mask_outline(mask: np.ndarray, thickness: int = 1) -> np.ndarray:
    """The inner boundary band of a region: mask pixels within `thickness` steps (4-neighbourhood) of a
    pixel outside it. The image border is no boundary (a peripheral region is outlined on its inner side)."""
    mask = np.asarray(mask, dtype=bool)
    eroded = mask.copy()
    for _ in range(max(1, thickness)):
        padded = np.pad(eroded, 1, mode="edge")
        eroded = (
            padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
        )
    return mask & ~eroded


def input_rgb(image: np.ndarray) -> np.ndarray:
    """[C, H, W] in [0, 1] (C 1 or 3) -> float [H, W, 3]."""
    image = np.clip(np.nan_to_num(np.asarray(image, dtype=np.float32)), 0.0, 1.0)
    if image.ndim == 2:
        image = image[None]
    if image.shape[0] == 1:
        return np.repeat(image[0][:, :, None], 3, axis=2)
    return np.moveaxis(image[:3], 0, 2)


def tile_size(height: int, width: int, longest: int) -> tuple[int, int]:
    scale = longest / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def compose_tile(
    image: np.ndarray | None,
    attribution: np.ndarray | None,
    mask: np.ndarray,
    longest: int,
    *,
    opacity: float = DEFAULT_OPACITY,
    contour: bool = True,
    heat_only: bool = False,
) -> np.ndarray:
    """One tile as uint8 [h, w, 3]: the input (dimmed under a map), the map in the heat colours with an
    opacity that grows with the attribution, and the region's outline in cyan on top.

    `heat_only` draws the map alone (on black), as the enlarged view's middle panel does.
    """
    mask = np.asarray(mask, dtype=bool)
    height, width = tile_size(mask.shape[0], mask.shape[1], longest)
    # Blended at the input's own resolution, then enlarged: the same pixels as blending the enlarged
    # arrays (nearest-neighbour), for a fraction of the arithmetic.
    if image is None or heat_only:
        rgb = np.zeros((*mask.shape, 3), dtype=np.float32)
    else:
        rgb = input_rgb(image) * 255.0
        if rgb.shape[:2] != mask.shape:
            rgb = resize_nearest(rgb, *mask.shape)
    if attribution is not None:
        values = normalise_map(attribution)
        if values.shape != mask.shape:
            raise LanternError(
                f"an attribution map is {values.shape}, its region mask {mask.shape}",
                "attribution gallery",
                "maps and masks must have the input's height and width",
            )
        colours = heat_lut()[np.round(values * 255).astype(np.int64)].astype(np.float32)
        if heat_only:
            rgb = colours
        else:
            # Low attribution lets the input show through; high attribution is the colour map itself.
            alpha = (opacity * np.sqrt(values))[:, :, None]
            rgb = rgb * INPUT_DIM * (1 - alpha) + colours * alpha
    out = resize_nearest(np.clip(np.round(rgb), 0, 255).astype(np.uint8), height, width)
    if contour and mask.any():
        edge = _outline_at(mask.tobytes(), mask.shape, height, width, contour_thickness(longest))
        out[edge] = (CONTOUR.red(), CONTOUR.green(), CONTOUR.blue())
    return out


@lru_cache(maxsize=512)
def _outline_at(
    mask_bytes: bytes, shape: tuple[int, int], height: int, width: int, thickness: int
) -> np.ndarray:
    """The outline of an enlarged mask; cached, as every method of a sample shares its region."""
    mask = np.frombuffer(mask_bytes, dtype=bool).reshape(shape)
    edge = mask_outline(resize_nearest(mask, height, width), thickness)
    edge.setflags(write=False)
    return edge


def contour_thickness(longest: int) -> int:
    """The outline width in pixels for a tile whose longer side is `longest`: 2 px in the grid, 4 enlarged."""
    return min(4, max(1, round(longest / 42)))


def to_qimage(rgb: np.ndarray) -> QImage:
    """uint8 [h, w, 3] -> a QImage that owns its pixels."""
    return pixels_to_qimage(rgb)


def region_score(attribution: np.ndarray, mask: np.ndarray) -> float:
    """Attr% of one map: the share of |attribution| inside the region (a zero map scores the region share)."""
    values = np.abs(np.nan_to_num(np.asarray(attribution, dtype=np.float64)))
    mask = np.asarray(mask, dtype=bool)
    total = values.sum()
    if mask.size == 0:
        return 0.0
    if total <= 0:
        return float(mask.mean())
    return float(values[mask].sum() / total)


# tokens
def token_shades(values: np.ndarray) -> np.ndarray:
    """Each token's shade in [0, 1]: |attribution| over the sample's largest (monotonic in |attribution|)."""
    magnitude = np.abs(np.nan_to_num(np.asarray(values, dtype=np.float64)))
    top = magnitude.max() if magnitude.size else 0.0
    return magnitude / top if top > 0 else np.zeros_like(magnitude)


def _mix(base: QColor, top: QColor, amount: float) -> QColor:
    amount = min(max(amount, 0.0), 1.0)
    return QColor.fromRgbF(
        base.redF() + (top.redF() - base.redF()) * amount,
        base.greenF() + (top.greenF() - base.greenF()) * amount,
        base.blueF() + (top.blueF() - base.blueF()) * amount,
    )


def token_colour(shade: float, base: QColor) -> QColor:
    return _mix(base, TOKEN_HIGH, 0.85 * shade)


def tokens_html(
    tokens: Sequence[str], values: np.ndarray, mask: np.ndarray, *, base: QColor, ink: QColor
) -> str:
    """Tokens as HTML spans shaded by attribution; manipulated tokens (the region) bold and underlined."""
    shades = token_shades(values)
    mask = np.asarray(mask, dtype=bool)
    parts = []
    for i, token in enumerate(tokens):
        shade = float(shades[i]) if i < len(shades) else 0.0
        fill = token_colour(shade, base)
        colour = "#ffffff" if fill.lightnessF() < 0.5 else ink.name()
        text = html.escape(token)
        if i < len(mask) and mask[i]:
            text = f"<b><u>{text}</u></b>"
        score = float(values[i]) if i < len(values) else 0.0
        parts.append(
            f'<span style="background-color:{fill.name()}; color:{colour}" title="{score:.3g}">'
            f"&nbsp;{text}&nbsp;</span>"
        )
    return " ".join(parts)


def fitted_font(title: str, font: QFont, width: float, smallest: float = 7.0) -> QFont:
    """`font`, made smaller (down to `smallest` pt) until the title's longest word fits `width`."""
    fitted = QFont(font)
    size = fitted.pointSizeF()
    words = title.split() or [title]
    while size > smallest and max(QFontMetricsF(fitted).horizontalAdvance(w) for w in words) > width - 2:
        size -= 0.5
        fitted.setPointSizeF(size)
    return fitted


# gallery entries
@dataclass(frozen=True)
class Column:
    """A grid column: the plain input (method "") or one method's maps, from one gallery."""

    gallery: int
    method: str
    title: str
    subtitle: str = ""


def _class_name(gallery: Gallery, label: int) -> str:
    names = gallery.meta.get("class_names") if isinstance(gallery.meta, dict) else None
    if isinstance(names, (list, tuple)) and 0 <= label < len(names):
        return str(names[label])
    return f"class {label}"


def gallery_title(
    gallery: Gallery, titles: Mapping[str, str] | None = None, *, with_model: bool = False
) -> str:
    text = f"{display_title(gallery.manipulation, titles)} · replicate {gallery.replicate}"
    return f"{text} · {gallery.model}" if with_model and gallery.model else text


def _methods(gallery: Gallery) -> list[str]:
    names = list(gallery.maps)
    return [m for m in METHOD_ORDER if m in names] + [m for m in names if m not in METHOD_ORDER]


def _check(gallery: Gallery, position: int) -> None:
    where = f"gallery {position + 1} ({gallery.manipulation}, replicate {gallery.replicate})"
    n = len(gallery.labels)
    if gallery.modality == "image":
        if gallery.inputs is None:
            raise LanternError("an image gallery has no inputs", where, "rebuild the gallery with its inputs")
        inputs, masks = np.asarray(gallery.inputs), np.asarray(gallery.masks)
        if inputs.ndim != 4 or masks.shape != (n, *inputs.shape[2:]):
            raise LanternError(
                f"inputs {inputs.shape} and masks {masks.shape} do not match {n} samples",
                where,
                "inputs must be [n, C, H, W] and masks [n, H, W]",
            )
        for method, maps in gallery.maps.items():
            if np.asarray(maps).shape != masks.shape:
                raise LanternError(
                    f"the {method} maps are {np.asarray(maps).shape}, not {masks.shape}",
                    where,
                    "every method needs one [H, W] map per sample",
                )
    else:
        if gallery.tokens is None or len(gallery.tokens) != n:
            raise LanternError("a text gallery needs one token list per sample", where, "rebuild the gallery")
        for method, maps in gallery.maps.items():
            if len(maps) != n or any(len(m) != len(t) for m, t in zip(maps, gallery.tokens, strict=False)):
                raise LanternError(
                    f"the {method} scores do not match the tokens", where, "one score per token and sample"
                )


class _ImageGrid(QWidget):
    """Samples (rows) x columns of tiles, painted in one pass; tiles are composed once and cached."""

    tileClicked = Signal(int, int)  # column, row

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.galleries: list[Gallery] = []
        self.columns: list[Column] = []
        self.samples: list[int] = []
        self.tile = 96
        self.opacity = DEFAULT_OPACITY
        self.contour = True
        self.highlight = ""  # a method whose column is marked (focus from the leaderboard)
        self._cache: dict[tuple[int, str, int, int, float, bool], QImage] = {}
        self._scores: dict[tuple[int, str, int], float] = {}
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def set_content(
        self, galleries: list[Gallery], columns: list[Column], samples: list[int], tile: int
    ) -> None:
        if galleries is not self.galleries:
            self._cache.clear()
            self._scores.clear()
        self.galleries, self.columns, self.samples, self.tile = galleries, columns, samples, tile
        self.setFixedSize(self.sizeHint())
        self.update()

    def set_look(self, opacity: float, contour: bool) -> None:
        if (opacity, contour) != (self.opacity, self.contour):
            self.opacity, self.contour = opacity, contour
            self._cache = {k: v for k, v in self._cache.items() if k[4:] == (opacity, contour)}
            self.update()

    # geometry
    def _tile_shape(self) -> tuple[int, int]:
        if not self.galleries or not self.columns:
            return self.tile, self.tile
        masks = np.asarray(self.galleries[self.columns[0].gallery].masks)
        return tile_size(masks.shape[1], masks.shape[2], self.tile)

    def header_height(self) -> int:
        return 2 * QFontMetricsF(self.font()).height() + 14

    def row_height(self) -> int:
        return self._tile_shape()[0] + CAPTION + GAP

    def sizeHint(self) -> QSize:
        _height, width = self._tile_shape()
        return QSize(
            ROW_HEADER + len(self.columns) * (width + GAP) + GAP,
            self.header_height() + len(self.samples) * self.row_height() + GAP,
        )

    def tile_rect(self, column: int, row: int) -> QRect:
        """Where the tile of a column and a (shown) row is drawn."""
        height, width = self._tile_shape()
        return QRect(
            ROW_HEADER + column * (width + GAP), self.header_height() + row * self.row_height(), width, height
        )

    def hit(self, x: float, y: float) -> tuple[int, int] | None:
        for row in range(len(self.samples)):
            for column in range(len(self.columns)):
                if self.tile_rect(column, row).adjusted(0, 0, 0, CAPTION).contains(int(x), int(y)):
                    return column, row
        return None

    # content
    def tile_image(self, column: int, sample: int) -> QImage:
        spec = self.columns[column]
        key = (spec.gallery, spec.method, sample, self.tile, self.opacity, self.contour)
        image = self._cache.get(key)
        if image is None:
            gallery = self.galleries[spec.gallery]
            attribution = np.asarray(gallery.maps[spec.method])[sample] if spec.method else None
            image = to_qimage(
                compose_tile(
                    np.asarray(gallery.inputs)[sample],
                    attribution,
                    np.asarray(gallery.masks)[sample],
                    self.tile,
                    opacity=self.opacity,
                    contour=self.contour,
                )
            )
            self._cache[key] = image
        return image

    def score(self, column: int, sample: int) -> float | None:
        spec = self.columns[column]
        if not spec.method:
            return None
        key = (spec.gallery, spec.method, sample)
        if key not in self._scores:
            gallery = self.galleries[spec.gallery]
            self._scores[key] = region_score(
                np.asarray(gallery.maps[spec.method])[sample], np.asarray(gallery.masks)[sample]
            )
        return self._scores[key]

    def region_share(self, gallery: int, sample: int) -> float:
        return float(np.asarray(self.galleries[gallery].masks)[sample].mean())

    # painting
    def paintEvent(self, event: QEvent) -> None:
        painter = QPainter(self)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        if not self.columns:
            painter.end()
            return
        font = QFont(self.font())
        bold = QFont(font)
        bold.setWeight(QFont.Weight.DemiBold)
        small = QFont(font)
        small.setPointSizeF(max(7.0, font.pointSizeF() - 1.0))
        metrics = QFontMetricsF(font)
        height, width = self._tile_shape()
        header = self.header_height()
        # Column heads: the method's colour, title and (in compare mode) where the maps come from.
        for column, spec in enumerate(self.columns):
            x = ROW_HEADER + column * (width + GAP)
            rect = QRectF(x, 4, width, header - 8)
            if spec.method:
                painter.fillRect(QRectF(x, header - 6, width, 3), method_colour(spec.method))
            if spec.method and spec.method == self.highlight:
                tint = QColor(palette.color(QPalette.ColorRole.Highlight))
                tint.setAlpha(40)
                painter.fillRect(QRectF(x - GAP / 2, 0, width + GAP, self.height()), tint)
            painter.setFont(fitted_font(spec.title, bold, width))
            painter.setPen(text)
            painter.drawText(
                rect.adjusted(0, 0, 0, -metrics.height() if spec.subtitle else 0),
                int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom | Qt.TextFlag.TextWordWrap),
                spec.title,
            )
            if spec.subtitle:
                painter.setFont(small)
                painter.setPen(muted)
                painter.drawText(
                    rect.adjusted(0, 0, 0, -2),
                    int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom),
                    QFontMetricsF(small).elidedText(spec.subtitle, Qt.TextElideMode.ElideRight, width),
                )
        visible = event.rect()
        first = self.columns[0].gallery
        for row, sample in enumerate(self.samples):
            top = header + row * self.row_height()
            if top > visible.bottom() or top + self.row_height() < visible.top():
                continue
            self._paint_row_header(painter, self.galleries[first], sample, top, height, font, bold, small)
            for column in range(len(self.columns)):
                rect = self.tile_rect(column, row)
                painter.drawImage(rect, self.tile_image(column, sample))
                painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(QRectF(rect).adjusted(-0.5, -0.5, 0.5, 0.5))
                score = self.score(column, sample)
                caption = QRectF(rect.left(), rect.bottom() + 2, rect.width(), CAPTION - 2)
                painter.setFont(small)
                if score is None:
                    painter.setPen(muted)
                    painter.drawText(caption, int(Qt.AlignmentFlag.AlignCenter), "input")
                else:
                    share = self.region_share(self.columns[column].gallery, sample)
                    painter.setPen(WRONG if score < share else text)
                    painter.drawText(caption, int(Qt.AlignmentFlag.AlignCenter), f"Attr {score:.2f}")
        painter.end()

    def _paint_row_header(
        self,
        painter: QPainter,
        gallery: Gallery,
        sample: int,
        top: int,
        height: int,
        font: QFont,
        bold: QFont,
        small: QFont,
    ) -> None:
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        metrics = QFontMetricsF(font)
        label, predicted = int(gallery.labels[sample]), int(gallery.predictions[sample])
        present = bool(gallery.manipulated[sample])
        lines = metrics.height()
        y = top + max(0.0, (height - 4 * lines) / 2)
        area = ROW_HEADER - 14
        painter.setFont(bold)
        painter.setPen(text)
        painter.drawText(QRectF(6, y, area, lines), int(Qt.AlignmentFlag.AlignLeft), f"Sample {sample + 1}")
        painter.setFont(small)
        painter.setPen(muted)
        painter.drawText(
            QRectF(6, y + lines, area, lines),
            int(Qt.AlignmentFlag.AlignLeft),
            QFontMetricsF(small).elidedText(
                f"label {_class_name(gallery, label)}", Qt.TextElideMode.ElideRight, area
            ),
        )
        painter.setPen(RIGHT if label == predicted else WRONG)
        mark = "✓" if label == predicted else "✗"
        painter.drawText(
            QRectF(6, y + 2 * lines, area, lines),
            int(Qt.AlignmentFlag.AlignLeft),
            QFontMetricsF(small).elidedText(
                f"predicted {_class_name(gallery, predicted)} {mark}", Qt.TextElideMode.ElideRight, area
            ),
        )
        pill = "manipulated" if present else "not manipulated"
        pill_w = QFontMetricsF(small).horizontalAdvance(pill) + 14
        rect = QRectF(6, y + 3 * lines + 3, pill_w, lines + 2)
        fill = QColor(PRESENT if present else muted)
        fill.setAlpha(36)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, rect.height() / 2, rect.height() / 2)
        painter.setPen(PRESENT if present else muted)
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), pill)

    # interaction
    def mousePressEvent(self, event: QMouseEvent) -> None:
        hit = self.hit(event.position().x(), event.position().y())
        if hit is not None and event.button() == Qt.MouseButton.LeftButton:
            self.tileClicked.emit(*hit)
            return
        super().mousePressEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            hit = self.hit(event.position().x(), event.position().y())
            if hit is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), self.describe(*hit), self)
            return True
        return super().event(event)

    def describe(self, column: int, row: int) -> str:
        spec, sample = self.columns[column], self.samples[row]
        gallery = self.galleries[spec.gallery]
        label, predicted = int(gallery.labels[sample]), int(gallery.predictions[sample])
        lines = [
            f"<b>{html.escape(spec.title)}</b> · sample {sample + 1}",
            f"label {html.escape(_class_name(gallery, label))}, predicted "
            f"{html.escape(_class_name(gallery, predicted))}",
            "manipulation present" if gallery.manipulated[sample] else "manipulation absent",
        ]
        score = self.score(column, sample)
        share = self.region_share(spec.gallery, sample)
        if score is not None:
            lines.append(f"Attr% {score:.3f} against a region share of {share:.3f}")
        lines.append("Click to enlarge")
        return "<br>".join(lines)


class EnlargedTile(QDialog):
    """One sample and method large: the input with its region, the map alone, and the overlay; ← and →
    step through the methods of the same sample."""

    PANEL = 300

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Attribution")
        self.gallery: Gallery | None = None
        self.sample = 0
        self.methods: list[str] = []
        self.method = ""
        self.opacity = DEFAULT_OPACITY
        self.titles: Mapping[str, str] = {}
        self.heading = QLabel(self)
        self.heading.setStyleSheet("font-size: 12pt; font-weight: 600;")
        self.details = QLabel(self)
        self.details.setProperty("role", "muted")
        self.details.setWordWrap(True)
        self.panels = [QLabel(self) for _ in range(3)]
        self.captions = [QLabel(text, self) for text in ("Input and region", "Attribution", "Overlay")]
        row = QHBoxLayout()
        row.setSpacing(12)
        for panel, caption in zip(self.panels, self.captions, strict=True):
            panel.setAlignment(Qt.AlignmentFlag.AlignCenter)
            panel.setFrameShape(QFrame.Shape.StyledPanel)
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            caption.setProperty("role", "muted")
            column = QVBoxLayout()
            column.addWidget(panel)
            column.addWidget(caption)
            row.addLayout(column)
        self.previous_button = QPushButton("← Previous method", self)
        self.next_button = QPushButton("Next method →", self)
        self.previous_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        self.key = HeatKey(self)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.previous_button)
        buttons.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 14)
        layout.addWidget(self.heading)
        layout.addWidget(self.details)
        layout.addLayout(row)
        layout.addWidget(self.key)
        layout.addLayout(buttons)

    def show_tile(
        self,
        gallery: Gallery,
        sample: int,
        method: str,
        *,
        methods: Sequence[str] = (),
        opacity: float = DEFAULT_OPACITY,
        titles: Mapping[str, str] | None = None,
    ) -> None:
        self.gallery, self.sample, self.method = gallery, sample, method
        self.methods = list(methods) or _methods(gallery)
        self.opacity, self.titles = opacity, titles or {}
        self._render()

    def step(self, delta: int) -> None:
        if not self.methods:
            return
        position = self.methods.index(self.method) if self.method in self.methods else -1
        self.method = self.methods[(position + delta) % len(self.methods)]
        self._render()

    def _render(self) -> None:
        gallery = self.gallery
        if gallery is None:
            return
        image = np.asarray(gallery.inputs)[self.sample]
        mask = np.asarray(gallery.masks)[self.sample]
        attribution = np.asarray(gallery.maps[self.method])[self.sample] if self.method else None
        tiles = [
            compose_tile(image, None, mask, self.PANEL),
            compose_tile(None, attribution, mask, self.PANEL, heat_only=True),
            compose_tile(image, attribution, mask, self.PANEL, opacity=self.opacity),
        ]
        for panel, tile in zip(self.panels, tiles, strict=True):
            panel.setPixmap(QPixmap.fromImage(to_qimage(tile)))
        title = display_title(self.method, self.titles) if self.method else "Input"
        self.heading.setText(f"{title} · sample {self.sample + 1}")
        label, predicted = int(gallery.labels[self.sample]), int(gallery.predictions[self.sample])
        parts = [
            gallery_title(gallery, self.titles, with_model=True),
            f"label {_class_name(gallery, label)}",
            f"predicted {_class_name(gallery, predicted)} {'✓' if label == predicted else '✗'}",
            "manipulation present" if gallery.manipulated[self.sample] else "manipulation absent",
        ]
        if attribution is not None:
            parts.append(
                f"Attr% {region_score(attribution, mask):.3f} (region share {float(mask.mean()):.3f})"
            )
        self.details.setText(" · ".join(parts))
        self.captions[1].setText(
            "Attribution (scaled to its maximum)" if attribution is not None else "No map"
        )
        self.setWindowTitle(f"{title} — sample {self.sample + 1}")
        stepping = len(self.methods) > 1
        self.previous_button.setEnabled(stepping)
        self.next_button.setEnabled(stepping)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self.step(-1 if event.key() == Qt.Key.Key_Left else 1)
            return
        super().keyPressEvent(event)


class HeatKey(QWidget):
    """The key: the heat colours from low to high attribution, and the region's outline."""

    def __init__(self, parent: QWidget | None = None, *, text_mode: bool = False) -> None:
        super().__init__(parent)
        self.text_mode = text_mode
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(520, 24)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, 24)

    def paintEvent(self, _event: QEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        metrics = QFontMetricsF(self.font())
        mid = self.height() / 2
        text_y = mid + metrics.ascent() / 2 - 1.5
        x = 2.0
        painter.setPen(muted)
        painter.drawText(QPointF(x, text_y), "low")
        x += metrics.horizontalAdvance("low") + 6
        bar = QRectF(x, mid - 6, 120, 12)
        if self.text_mode:
            base = palette.color(QPalette.ColorRole.Base)
            for i in range(60):
                painter.fillRect(
                    QRectF(
                        bar.left() + i * bar.width() / 60, bar.top(), bar.width() / 60 + 0.5, bar.height()
                    ),
                    token_colour(i / 59, base),
                )
        else:
            lut = heat_lut()
            strip = np.repeat(lut[None], 12, axis=0)
            painter.drawImage(bar, to_qimage(strip))
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(bar)
        x = bar.right() + 6
        painter.setPen(muted)
        label = "high attribution (each map scaled to its own maximum)"
        painter.drawText(QPointF(x, text_y), label)
        x += metrics.horizontalAdvance(label) + 22
        if self.text_mode:
            bold = QFont(self.font())
            bold.setWeight(QFont.Weight.Bold)
            bold.setUnderline(True)
            painter.setFont(bold)
            painter.setPen(text)
            painter.drawText(QPointF(x, text_y), "the")
            x += QFontMetricsF(bold).horizontalAdvance("the") + 6
            painter.setFont(self.font())
            painter.drawText(QPointF(x, text_y), "manipulated tokens (the effective region)")
        else:
            painter.setPen(QPen(CONTOUR, 2))
            painter.drawRect(QRectF(x, mid - 6, 16, 12))
            x += 22
            painter.setPen(text)
            painter.drawText(QPointF(x, text_y), "effective region")
        painter.end()


class GalleryView(QWidget):
    """Explained samples of one replicate: samples (rows) x methods (columns), or two methods or two galleries
    (e.g. two models) side by side in compare mode; text galleries as tokens shaded by attribution.

    Signal `tileEnlarged(method, sample)` when a tile is opened in the enlarged view.
    """

    tileEnlarged = Signal(str, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.galleries: list[Gallery] = []
        self.titles: Mapping[str, str] = {}
        self.dialog: EnlargedTile | None = None

        self.gallery_box = QComboBox(self)
        self.gallery_box.setToolTip("The manipulation and replicate whose explained samples are shown")
        self.gallery_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.filter_box = QComboBox(self)
        for key, label in SAMPLE_FILTERS.items():
            self.filter_box.addItem(label, key)
        self.filter_box.setToolTip("Presence and absence of the manipulation are scored apart: look at each")
        self.grid_button = QToolButton(self)
        self.grid_button.setText("All methods")
        self.compare_button = QToolButton(self)
        self.compare_button.setText("Compare two")
        self.compare_button.setToolTip("Two methods, or the same method of two galleries (e.g. two models)")
        self.mode_group = QButtonGroup(self)
        for button in (self.grid_button, self.compare_button):
            button.setCheckable(True)
            button.setAutoRaise(True)
            button.setObjectName("galleryMode")
            self.mode_group.addButton(button)
        self.grid_button.setChecked(True)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity_slider.setRange(10, 100)
        self.opacity_slider.setValue(round(DEFAULT_OPACITY * 100))
        self.opacity_slider.setFixedWidth(110)
        self.opacity_slider.setToolTip("How strongly the heat map covers the input")
        self.contour_box = QCheckBox("Region outline", self)
        self.contour_box.setChecked(True)
        self.export_button = ExportButton(
            lambda: self.figure_widget(), name="attribution-gallery", parent=self
        )

        self.left_gallery = QComboBox(self)
        self.left_method = QComboBox(self)
        self.right_gallery = QComboBox(self)
        self.right_method = QComboBox(self)
        self.swap_button = QToolButton(self)
        self.swap_button.setText("⇄")
        self.swap_button.setToolTip("Swap the two sides")
        self.compare_bar = QWidget(self)
        compare = QHBoxLayout(self.compare_bar)
        compare.setContentsMargins(0, 0, 0, 0)
        compare.setSpacing(6)
        for widget in (
            _muted("Left", self),
            self.left_gallery,
            self.left_method,
            self.swap_button,
            _muted("Right", self),
            self.right_gallery,
            self.right_method,
        ):
            compare.addWidget(widget)
        compare.addStretch(1)
        self.compare_bar.setVisible(False)

        self.grid = _ImageGrid(self)
        self.scroll = QScrollArea(self)
        self.scroll.setWidget(self.grid)
        self.scroll.setWidgetResizable(False)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.text_view = QTextBrowser(self)
        self.text_view.setOpenLinks(False)
        self.text_view.setFrameShape(QFrame.Shape.NoFrame)
        self.placeholder = _muted(
            "No gallery yet: an experiment keeps a few explained samples of every passing replicate.",
            self,
            wrap=True,
        )
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget(self)
        for widget in (self.placeholder, self.scroll, self.text_view):
            self.stack.addWidget(widget)
        self.key = HeatKey(self)

        controls = QHBoxLayout()
        controls.setSpacing(8)
        self.gallery_label = _muted("Gallery", self)
        controls.addWidget(self.gallery_label)
        controls.addWidget(self.gallery_box)
        controls.addWidget(_muted("Samples", self))
        controls.addWidget(self.filter_box)
        controls.addSpacing(8)
        controls.addWidget(self.grid_button)
        controls.addWidget(self.compare_button)
        controls.addSpacing(8)
        self.opacity_label = _muted("Opacity", self)
        controls.addWidget(self.opacity_label)
        controls.addWidget(self.opacity_slider)
        controls.addWidget(self.contour_box)
        controls.addStretch(1)
        controls.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(controls)
        layout.addWidget(self.compare_bar)
        layout.addWidget(self.key)
        layout.addWidget(self.stack, 1)

        self.gallery_box.currentIndexChanged.connect(self._on_gallery)
        self.filter_box.currentIndexChanged.connect(self.refresh)
        self.mode_group.buttonToggled.connect(self._on_mode)
        self.opacity_slider.valueChanged.connect(self._on_look)
        self.contour_box.toggled.connect(self._on_look)
        self.left_gallery.currentIndexChanged.connect(
            lambda: self._fill_methods(self.left_gallery, self.left_method)
        )
        self.right_gallery.currentIndexChanged.connect(
            lambda: self._fill_methods(self.right_gallery, self.right_method)
        )
        for box in (self.left_method, self.right_method):
            box.currentIndexChanged.connect(self.refresh)
        self.swap_button.clicked.connect(self._swap)
        self.grid.tileClicked.connect(self._on_tile)
        self._apply_mode_style()
        self.refresh()

    # data in
    def set_galleries(self, galleries: Sequence[Gallery], *, titles: Mapping[str, str] | None = None) -> None:
        """Show `galleries` (engine.attribution.gallery.load_galleries); the first one is selected."""
        galleries = list(galleries)
        for position, gallery in enumerate(galleries):
            _check(gallery, position)
        self.galleries = galleries
        self.titles = titles or {}
        with_model = len({g.model for g in galleries}) > 1
        for box in (self.gallery_box, self.left_gallery, self.right_gallery):
            box.blockSignals(True)
            box.clear()
            for position, gallery in enumerate(galleries):
                box.addItem(gallery_title(gallery, self.titles, with_model=with_model), position)
            box.blockSignals(False)
        self._reset_compare()
        self.refresh()

    def select_gallery(self, index: int) -> None:
        self.gallery_box.setCurrentIndex(index)

    def focus(self, manipulation: str, method: str = "") -> bool:
        """Show the first gallery of `manipulation` and mark `method`'s column (from a leaderboard click)."""
        current = self.current_index()
        candidates = [i for i, g in enumerate(self.galleries) if g.manipulation == manipulation]
        if not candidates and not method:
            return False
        if candidates and (current is None or self.galleries[current].manipulation != manipulation):
            self.gallery_box.setCurrentIndex(candidates[0])
        self.grid.highlight = method
        self.refresh()
        if method:
            columns = [c.method for c in self.grid.columns]
            if method in columns:
                rect = self.grid.tile_rect(columns.index(method), 0)
                self.scroll.ensureVisible(rect.center().x(), rect.top(), rect.width(), 10)
        return bool(candidates)

    def set_compare(
        self,
        enabled: bool,
        left: tuple[int, str] | None = None,
        right: tuple[int, str] | None = None,
    ) -> None:
        """Compare mode on or off; `left`/`right` are (gallery index, method) of the two sides."""
        for side, (gallery_box, method_box) in (
            (left, (self.left_gallery, self.left_method)),
            (right, (self.right_gallery, self.right_method)),
        ):
            if side is not None:
                gallery_box.setCurrentIndex(side[0])
                position = method_box.findData(side[1])
                if position < 0:
                    raise LanternError(
                        f"gallery {side[0] + 1} has no maps of {side[1]!r}",
                        "attribution gallery: compare",
                        "pick a method of that gallery",
                    )
                method_box.setCurrentIndex(position)
        (self.compare_button if enabled else self.grid_button).setChecked(True)
        self.refresh()

    def set_sample_filter(self, key: str) -> None:
        """ "all", "presence" (samples carrying the manipulation) or "absence"."""
        self.filter_box.setCurrentIndex(max(0, self.filter_box.findData(key)))

    def set_opacity(self, opacity: float) -> None:
        self.opacity_slider.setValue(round(min(max(opacity, 0.1), 1.0) * 100))

    # state out
    def current_index(self) -> int | None:
        data = self.gallery_box.currentData()
        return int(data) if data is not None else None

    def compare_mode(self) -> bool:
        return self.compare_button.isChecked()

    def shown_samples(self) -> list[int]:
        index = self.current_index()
        if index is None:
            return []
        if self.compare_mode():
            index = int(self.left_gallery.currentData() or 0)
        gallery = self.galleries[index]
        wanted = self.filter_box.currentData()
        present = np.asarray(gallery.manipulated, dtype=bool)
        return [
            i
            for i in range(len(gallery.labels))
            if wanted == "all" or (wanted == "presence") == bool(present[i])
        ]

    def shown_columns(self) -> list[Column]:
        return list(self.grid.columns)

    def figure_widget(self) -> QWidget:
        """The widget to export: the whole grid (not only its visible part) or the text view."""
        return self.text_view if self.stack.currentWidget() is self.text_view else self.grid

    # building
    def refresh(self) -> None:
        index = self.current_index()
        if index is None:
            self.stack.setCurrentWidget(self.placeholder)
            self.grid.set_content([], [], [], MIN_TILE)
            return
        compare = self.compare_mode()
        self.compare_bar.setVisible(compare)
        gallery = self.galleries[int(self.left_gallery.currentData() or 0) if compare else index]
        text = gallery.modality == "text"
        self.key.text_mode = text
        self.key.update()
        for widget in (self.opacity_label, self.opacity_slider, self.contour_box):
            widget.setVisible(not text)
        columns = self._columns(compare)
        samples = self.shown_samples()
        if text:
            self.stack.setCurrentWidget(self.text_view)
            self._render_text(columns, samples)
            return
        self.stack.setCurrentWidget(self.scroll)
        self.grid.set_look(self.opacity_slider.value() / 100, self.contour_box.isChecked())
        self.grid.set_content(self.galleries, columns, samples, self._tile_for(len(columns), compare))

    def _columns(self, compare: bool) -> list[Column]:
        if not compare:
            index = self.current_index() or 0
            gallery = self.galleries[index]
            columns = [Column(index, INPUT, "Input")] if gallery.modality == "image" else []
            return columns + [Column(index, m, display_title(m, self.titles)) for m in _methods(gallery)]
        sides = []
        for gallery_box, method_box in (
            (self.left_gallery, self.left_method),
            (self.right_gallery, self.right_method),
        ):
            position = int(gallery_box.currentData() or 0)
            method = str(method_box.currentData() or "")
            if method:
                gallery = self.galleries[position]
                source = f"{gallery.model or 'model'} · replicate {gallery.replicate}"
                sides.append(Column(position, method, display_title(method, self.titles), source))
        left = int(self.left_gallery.currentData() or 0)
        columns = [Column(left, INPUT, "Input")] if self.galleries[left].modality == "image" else []
        return columns + sides

    def _tile_for(self, count: int, compare: bool) -> int:
        width = self.scroll.viewport().width() or self.width()
        available = (width - ROW_HEADER - GAP) / max(count, 1) - GAP
        return int(min(max(available, MIN_TILE), COMPARE_TILE if compare else MAX_TILE))

    def _render_text(self, columns: list[Column], samples: list[int]) -> None:
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        ink = palette.color(QPalette.ColorRole.Text)
        muted = palette.color(QPalette.ColorRole.PlaceholderText).name()
        first = self.galleries[columns[0].gallery] if columns else None
        blocks = []
        for sample in samples:
            if first is None:
                break
            label, predicted = int(first.labels[sample]), int(first.predictions[sample])
            verdict = (
                f'<span style="color:{RIGHT.name()}">✓</span>'
                if label == predicted
                else f'<span style="color:{WRONG.name()}">✗</span>'
            )
            present = (
                f'<span style="color:{PRESENT.name()}">manipulated</span>'
                if first.manipulated[sample]
                else f'<span style="color:{muted}">not manipulated</span>'
            )
            rows = []
            for column in columns:
                gallery = self.galleries[column.gallery]
                tokens = (gallery.tokens or [])[sample] if sample < len(gallery.tokens or []) else []
                values = np.asarray(gallery.maps[column.method][sample], dtype=np.float64)
                mask = np.asarray(gallery.masks[sample], dtype=bool)
                score = region_score(values, mask) if mask.any() else None
                score_text = f"Attr {score:.2f}" if score is not None else ""
                shaded = tokens_html(tokens, values, mask, base=base, ink=ink)
                colour = method_colour(column.method).name()
                name = html.escape(column.title) + (
                    f'<br><span style="color:{muted}; font-size:8pt">{html.escape(column.subtitle)}</span>'
                    if column.subtitle
                    else ""
                )
                rows.append(
                    f'<tr><td width="150" valign="top" style="border-left: 3px solid {colour};'
                    f' padding-left:6px"><b>{name}</b></td>'
                    f'<td valign="top" style="line-height: 150%">{shaded}</td>'
                    f'<td width="70" align="right" valign="top" style="color:{muted}">{score_text}</td></tr>'
                )
            blocks.append(
                f'<p style="margin-top:10px; margin-bottom:2px"><b>Sample {sample + 1}</b> &nbsp;'
                f'<span style="color:{muted}">label {html.escape(_class_name(first, label))} · predicted '
                f"{html.escape(_class_name(first, predicted))}</span> {verdict} · {present}</p>"
                f'<table width="100%" cellspacing="0" cellpadding="4">{"".join(rows)}</table>'
            )
        if not blocks:
            blocks.append(f'<p style="color:{muted}">No sample matches the filter.</p>')
        self.text_view.setHtml("".join(blocks))

    # compare selectors
    def _reset_compare(self) -> None:
        for box in (self.left_gallery, self.right_gallery):
            box.blockSignals(True)
            box.setCurrentIndex(0 if self.galleries else -1)
            box.blockSignals(False)
        self._fill_methods(self.left_gallery, self.left_method, refresh=False)
        self._fill_methods(self.right_gallery, self.right_method, refresh=False)
        if self.right_method.count() > 1:
            self.right_method.blockSignals(True)
            self.right_method.setCurrentIndex(1)
            self.right_method.blockSignals(False)

    def _fill_methods(self, gallery_box: QComboBox, method_box: QComboBox, refresh: bool = True) -> None:
        current = method_box.currentData()
        method_box.blockSignals(True)
        method_box.clear()
        data = gallery_box.currentData()
        if data is not None:
            for method in _methods(self.galleries[int(data)]):
                method_box.addItem(display_title(method, self.titles), method)
        method_box.setCurrentIndex(max(0, method_box.findData(current)))
        method_box.blockSignals(False)
        if refresh:
            self.refresh()

    def _swap(self) -> None:
        left = (int(self.left_gallery.currentData() or 0), str(self.left_method.currentData() or ""))
        right = (int(self.right_gallery.currentData() or 0), str(self.right_method.currentData() or ""))
        self.set_compare(True, right, left)

    # events
    def _on_gallery(self) -> None:
        index = self.current_index()
        if index is not None and not self.compare_mode():
            # The compare sides follow the gallery chosen in the grid view.
            self.left_gallery.blockSignals(True)
            self.left_gallery.setCurrentIndex(index)
            self.left_gallery.blockSignals(False)
            self._fill_methods(self.left_gallery, self.left_method, refresh=False)
        self.refresh()

    def _on_mode(self, _button: QToolButton, checked: bool) -> None:
        if checked:
            # In compare mode the two sides choose their galleries.
            self.gallery_box.setVisible(not self.compare_mode())
            self.gallery_label.setVisible(not self.compare_mode())
            self.refresh()

    def _on_look(self) -> None:
        self.grid.set_look(self.opacity_slider.value() / 100, self.contour_box.isChecked())
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.opacity = self.opacity_slider.value() / 100
            self.dialog._render()

    def _on_tile(self, column: int, row: int) -> None:
        spec, sample = self.grid.columns[column], self.grid.samples[row]
        self.enlarge(spec.gallery, sample, spec.method)

    def enlarge(self, gallery: int, sample: int, method: str) -> EnlargedTile:
        """Open (or reuse) the enlarged view of one tile; returns the dialog."""
        if self.dialog is None:
            self.dialog = EnlargedTile(self)
        self.dialog.show_tile(
            self.galleries[gallery],
            sample,
            method,
            opacity=self.opacity_slider.value() / 100,
            titles=self.titles,
        )
        self.dialog.show()
        self.dialog.raise_()
        self.tileEnlarged.emit(method, sample)
        return self.dialog

    def resizeEvent(self, event: QEvent) -> None:
        super().resizeEvent(event)
        if self.galleries and self.stack.currentWidget() is self.scroll:
            tile = self._tile_for(len(self.grid.columns), self.compare_mode())
            if tile != self.grid.tile:
                self.grid.set_content(self.galleries, self.grid.columns, self.grid.samples, tile)

    def _apply_mode_style(self) -> None:
        palette = self.palette()
        highlight = palette.color(QPalette.ColorRole.Highlight)
        mid = palette.color(QPalette.ColorRole.Mid)
        tint = f"rgba({highlight.red()}, {highlight.green()}, {highlight.blue()}, 40)"
        style = (
            f"QToolButton#galleryMode {{ border: 1px solid {mid.name()}; border-radius: 10px;"
            " padding: 2px 10px; }"
            f"QToolButton#galleryMode:checked {{ background: {tint}; color: {highlight.darker(170).name()};"
            f" border-color: {highlight.name()}; font-weight: 600; }}"
        )
        for button in (self.grid_button, self.compare_button):
            button.setStyleSheet(style)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_mode_style()
            if self.galleries:
                self.refresh()
        super().changeEvent(event)


def _muted(text: str, parent: QWidget, *, wrap: bool = False) -> QLabel:
    label = QLabel(text, parent)
    label.setProperty("role", "muted")
    label.setWordWrap(wrap)
    return label
