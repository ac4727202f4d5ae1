"""The manipulation designer: base data, manipulation, strength and r, with a live preview of original and
modified samples (the effective region outlined), computed by the numpy engine modules on a worker thread."""

from __future__ import annotations

import html
import json
import math
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QObject,
    QPointF,
    QRectF,
    QRunnable,
    QSettings,
    QSize,
    Qt,
    QThreadPool,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from engine.attribution import datasets, modify
from engine.attribution.manipulations import IMAGE_MANIPULATIONS, TEXT_MANIPULATIONS
from engine.attribution.relabel import binary_matrix, p_star
from engine.attribution.types import ImageSet, ModifiedImages, ModifiedTexts, TextSet
from engine.core.errors import LanternError
from engine.demo.fashion_mnist import CLASS_NAMES
from gui.style import ACCENT, INK, MUTED
from gui.widgets.pixels import pixels_to_qimage

DESIGN_KEY = "attribution/design"
BASES = {
    "fashion_pair": "Fashion-MNIST pair",
    "image_folder": "Image folder",
    "rotten_tomatoes": "Rotten Tomatoes reviews",
}
DEFAULT_CLASSES = (0, 6)  # T-shirt/top vs Shirt: the confusable pair the paper's setting favours
PREVIEW_POOL = 64  # samples modified for a preview (flips and shares are counted over these)
PREVIEW_IMAGES = 8
PREVIEW_TEXTS = 6
TEXT_POOL = 400
DEBOUNCE_MS = 120
SLIDER_STEPS = 200
REGION_COLOUR = ACCENT
FLIP_COLOUR = "#cf3a3a"
OK_COLOUR = "#2e9d5b"
ERROR_COLOUR = "#cf3a3a"
MARK_STYLE = "background:#ffe2b0; color:#8a5200; font-weight:600"


@dataclass(frozen=True)
class DesignRequest:
    """Everything a preview (and an experiment's data section) is made from."""

    base: str = "fashion_pair"
    classes: tuple[int, int] = DEFAULT_CLASSES
    colour: bool = False
    folder: str = ""
    manipulation: str = "peripheral_blur"
    strength: float | None = None
    r: float = 0.5
    seed: int = 0

    @property
    def modality(self) -> str:
        return "text" if self.base == "rotten_tomatoes" else "image"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str) -> DesignRequest:
        """A saved design; anything unreadable gives the default design rather than an error at start."""
        try:
            data = json.loads(text)
            data["classes"] = tuple(int(c) for c in data.get("classes", DEFAULT_CLASSES))[:2]
            design = DesignRequest(**data)
        except (TypeError, ValueError, KeyError, json.JSONDecodeError):
            return DesignRequest()
        known = TEXT_MANIPULATIONS if design.modality == "text" else IMAGE_MANIPULATIONS
        if design.base not in BASES or design.manipulation not in known:
            return DesignRequest()
        return design


@dataclass(frozen=True)
class ImagePreview:
    """A few modified images beside their originals, and what the whole preview pool says."""

    request: DesignRequest
    originals: np.ndarray  # float32 [n, C, H, W]
    images: np.ndarray
    masks: np.ndarray  # bool [n, H, W]
    labels: np.ndarray
    original_labels: np.ndarray
    manipulated: np.ndarray
    class_names: tuple[str, ...]
    region_share: float
    p_star: float
    flips: int
    total: int
    present: int
    source: str


@dataclass(frozen=True)
class TextPreview:
    request: DesignRequest
    tokens: list[list[str]]
    masks: list[np.ndarray]
    labels: np.ndarray
    original_labels: np.ndarray
    manipulated: np.ndarray
    class_names: tuple[str, ...]
    region_share: float
    p_star: float
    flips: int
    total: int
    present: int
    dropped: int
    source: str


_base_cache: dict[tuple, ImageSet | TextSet] = {}
_base_lock = threading.Lock()
BASE_CACHE_SIZE = 4


def load_base(request: DesignRequest) -> ImageSet | TextSet:
    """The base data of a design, kept for the next preview (reading a folder or a corpus takes a while)."""
    if request.base == "fashion_pair":
        key: tuple = (request.base, request.classes, request.colour, request.seed)
    elif request.base == "image_folder":
        key = (request.base, request.folder)
    else:
        key = (request.base, request.seed)
    with _base_lock:
        if key in _base_cache:
            return _base_cache[key]
    if request.base == "fashion_pair":
        if request.classes[0] == request.classes[1]:
            raise LanternError(
                f"both classes are {CLASS_NAMES[request.classes[0]]}",
                "designer: classes",
                "pick two different Fashion-MNIST classes",
            )
        base: ImageSet | TextSet = datasets.fashion_pair(
            request.classes, split="test", colour=request.colour, limit=PREVIEW_POOL * 2, seed=request.seed
        )
    elif request.base == "image_folder":
        if not request.folder:
            raise LanternError(
                "no image folder chosen",
                "designer: image folder",
                "choose a folder with one subfolder per class",
            )
        base = datasets.image_folder(request.folder)
    elif request.base == "rotten_tomatoes":
        base = datasets.rotten_tomatoes(limit=TEXT_POOL, seed=request.seed)
    else:
        raise LanternError(
            f"unknown base data {request.base!r}", "designer", f"use one of {', '.join(BASES)}"
        )
    with _base_lock:
        while len(_base_cache) >= BASE_CACHE_SIZE:
            _base_cache.pop(next(iter(_base_cache)))
        _base_cache[key] = base
    return base


def forget_base(folder: str) -> None:
    """Read a folder afresh next time (the user chose it again, perhaps after fixing a file)."""
    with _base_lock:
        _base_cache.pop(("image_folder", folder), None)


def _shown(manipulated: np.ndarray, count: int) -> np.ndarray:
    """Indices of up to `count` samples, alternating with and without the manipulation."""
    present = list(np.flatnonzero(manipulated))
    absent = list(np.flatnonzero(~np.asarray(manipulated, dtype=bool)))
    order: list[int] = []
    while len(order) < count and (present or absent):
        for group in (present, absent):
            if group and len(order) < count:
                order.append(int(group.pop(0)))
    return np.array(order, dtype=np.int64)


def compute_preview(request: DesignRequest) -> ImagePreview | TextPreview:
    """Modify a small pool of the base data as the design says (runs on a worker thread: numpy only)."""
    base = load_base(request)
    if isinstance(base, TextSet):
        if request.manipulation not in TEXT_MANIPULATIONS:
            raise LanternError(
                f"{request.manipulation!r} is an image manipulation",
                "designer: manipulation",
                f"for text use one of {', '.join(TEXT_MANIPULATIONS)}",
            )
        texts: ModifiedTexts = modify.modify_texts(
            base, request.manipulation, strength=request.strength, r=request.r, seed=request.seed
        )
        pick = _shown(texts.manipulated, PREVIEW_TEXTS)
        return TextPreview(
            request=request,
            tokens=[texts.tokens[i] for i in pick],
            masks=[texts.masks[i] for i in pick],
            labels=texts.labels[pick],
            original_labels=texts.original_labels[pick],
            manipulated=texts.manipulated[pick],
            class_names=texts.class_names,
            region_share=float(texts.region_share()[texts.manipulated].mean())
            if texts.manipulated.any()
            else 0.0,
            p_star=float(texts.p_star),
            flips=int((texts.labels != texts.original_labels).sum()),
            total=len(texts),
            present=int(texts.manipulated.sum()),
            dropped=int(texts.dropped),
            source=texts.source,
        )
    if request.manipulation not in IMAGE_MANIPULATIONS:
        raise LanternError(
            f"{request.manipulation!r} is a text manipulation",
            "designer: manipulation",
            f"for images use one of {', '.join(IMAGE_MANIPULATIONS)}",
        )
    if len(base.labels) > PREVIEW_POOL:
        chosen = np.sort(
            np.random.default_rng(request.seed).choice(len(base.labels), PREVIEW_POOL, replace=False)
        )
        names = tuple(base.names[i] for i in chosen) if base.names else ()
        base = replace(base, images=base.images[chosen], labels=base.labels[chosen], names=names)
    modified: ModifiedImages = modify.modify_images(
        base, request.manipulation, strength=request.strength, r=request.r, seed=request.seed
    )
    pick = _shown(modified.manipulated, PREVIEW_IMAGES)
    return ImagePreview(
        request=request,
        originals=modified.originals[pick],
        images=modified.images[pick],
        masks=modified.masks[pick],
        labels=modified.labels[pick],
        original_labels=modified.original_labels[pick],
        manipulated=modified.manipulated[pick],
        class_names=modified.class_names,
        region_share=float(modified.region_share().mean()),
        p_star=float(modified.p_star),
        flips=int((modified.labels != modified.original_labels).sum()),
        total=len(modified),
        present=int(modified.manipulated.sum()),
        source=modified.source,
    )


# drawing helpers (shared with the Explore tab)
def to_qimage(image: np.ndarray, *, channels_last: bool = False) -> QImage:
    """float [C, H, W] (C 1 or 3; [H, W, C] with channels_last) or [H, W] in [0, 1] -> a QImage that owns
    its pixels."""
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 3 and not channels_last:
        array = array.transpose(1, 2, 0)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    return pixels_to_qimage(np.clip(array * 255 + 0.5, 0, 255).astype(np.uint8))


def region_outline(mask: np.ndarray, rect: QRectF) -> QPainterPath:
    """The boundary of a boolean mask [H, W] as line segments, scaled into `rect`."""
    mask = np.asarray(mask, dtype=bool)
    height, width = mask.shape
    sx, sy = rect.width() / width, rect.height() / height
    padded = np.pad(mask, 1)
    path = QPainterPath()
    # Horizontal edges: between row y-1 and row y wherever the mask changes; merged into runs.
    horizontal = padded[1:, 1:-1] != padded[:-1, 1:-1]  # [H + 1, W]
    vertical = padded[1:-1, 1:] != padded[1:-1, :-1]  # [H, W + 1]
    for y in range(height + 1):
        row = horizontal[y]
        x = 0
        while x < width:
            if row[x]:
                start = x
                while x < width and row[x]:
                    x += 1
                path.moveTo(QPointF(rect.left() + start * sx, rect.top() + y * sy))
                path.lineTo(QPointF(rect.left() + x * sx, rect.top() + y * sy))
            else:
                x += 1
    for x in range(width + 1):
        column = vertical[:, x]
        y = 0
        while y < height:
            if column[y]:
                start = y
                while y < height and column[y]:
                    y += 1
                path.moveTo(QPointF(rect.left() + x * sx, rect.top() + start * sy))
                path.lineTo(QPointF(rect.left() + x * sx, rect.top() + y * sy))
            else:
                y += 1
    return path


def region_fill(mask: np.ndarray, rect: QRectF) -> QPainterPath:
    """The mask [H, W] as a fillable path of row runs, scaled into `rect`."""
    mask = np.asarray(mask, dtype=bool)
    height, width = mask.shape
    sx, sy = rect.width() / width, rect.height() / height
    path = QPainterPath()
    path.setFillRule(Qt.FillRule.WindingFill)
    for y in range(height):
        row = np.flatnonzero(np.diff(np.concatenate([[0], mask[y].astype(np.int8), [0]])))
        for start, stop in zip(row[::2], row[1::2], strict=True):
            path.addRect(QRectF(rect.left() + start * sx, rect.top() + y * sy, (stop - start) * sx, sy))
    return path


class PairGrid(QWidget):
    """Original | modified pairs in a grid, the effective region outlined, labels and flips under each."""

    CAPTION = 36
    GAP = 18

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preview: ImagePreview | None = None
        self._images: list[tuple[QImage, QImage]] = []
        self._outlines: list[np.ndarray] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(200)

    def set_preview(self, preview: ImagePreview | None) -> None:
        self.preview = preview
        self._images = (
            [(to_qimage(o), to_qimage(m)) for o, m in zip(preview.originals, preview.images, strict=True)]
            if preview is not None
            else []
        )
        self.update()

    def _layout(self) -> tuple[int, float]:
        """(columns, image side): the column count that gives the largest images in the space there is."""
        count = max(1, len(self._images))
        best = (1, 0.0)
        for columns in range(1, count + 1):
            rows = math.ceil(count / columns)
            side_w = (self.width() - self.GAP * (columns + 1)) / (2 * columns) - 2
            side_h = (self.height() - 30 - rows * (self.CAPTION + self.GAP)) / rows
            side = min(side_w, side_h, 176.0)
            if side > best[1] + 0.5:
                best = (columns, side)
        return best[0], max(24.0, best[1])

    def sizeHint(self) -> QSize:
        return QSize(900, 520)

    def pair_rect(self, index: int) -> tuple[QRectF, QRectF]:
        columns, side = self._layout()
        row, column = divmod(index, columns)
        pair_width = 2 * side + 4
        total = columns * pair_width + (columns - 1) * self.GAP
        left = (self.width() - total) / 2 + column * (pair_width + self.GAP)
        top = 28 + row * (side + self.CAPTION + self.GAP)
        return QRectF(left, top, side, side), QRectF(left + side + 4, top, side, side)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        preview = self.preview
        if preview is None or not self._images:
            painter.end()
            return
        font = painter.font()
        small = painter.font()
        small.setPointSizeF(max(7.5, font.pointSizeF() - 1.5))
        pixelated = preview.originals.shape[-1] <= 64
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, not pixelated)
        for i, (original, modified) in enumerate(self._images):
            left, right = self.pair_rect(i)
            if i < self._layout()[0]:  # column headers over the first row
                painter.setFont(small)
                painter.setPen(QColor(MUTED))
                painter.drawText(left.adjusted(0, -20, 0, 0), Qt.AlignmentFlag.AlignHCenter, "original")
                painter.drawText(right.adjusted(0, -20, 0, 0), Qt.AlignmentFlag.AlignHCenter, "modified")
            painter.drawImage(left, original)
            painter.drawImage(right, modified)
            # The region shaded on the original (so a frame reads as a frame), outlined on the modified.
            shade = QColor(REGION_COLOUR)
            shade.setAlpha(70)
            painter.save()
            painter.setClipRect(left)
            painter.fillPath(region_fill(preview.masks[i], left), shade)
            painter.restore()
            outline = region_outline(preview.masks[i], right)
            painter.setPen(QPen(QColor(REGION_COLOUR), 2.0))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(outline)
            painter.setPen(QPen(QColor("#d5d9e0"), 1.0))
            painter.drawRect(left)
            painter.drawRect(right)
            # caption: old -> new label (red when reassigned), and whether the manipulation is present
            names = preview.class_names
            old, new = int(preview.original_labels[i]), int(preview.labels[i])
            caption = QRectF(left.left(), left.bottom() + 3, right.right() - left.left(), self.CAPTION)
            painter.setFont(small)
            flipped = old != new
            painter.setPen(QColor(FLIP_COLOUR if flipped else INK))
            text = f"{_short(names[old])} → {_short(names[new])}" if flipped else _short(names[new])
            painter.drawText(caption, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, text)
            present = bool(preview.manipulated[i])
            badge = "● present" if present else "○ absent"
            metrics = painter.fontMetrics()
            # The badge goes under the labels when both do not fit on one line.
            fits = metrics.horizontalAdvance(text) + metrics.horizontalAdvance(badge) + 8 <= caption.width()
            line = caption if fits else caption.adjusted(0, metrics.height(), 0, 0)
            painter.setPen(QColor(ACCENT if present else MUTED))
            painter.drawText(line, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop, badge)
        painter.end()


def _short(name: str, limit: int = 14) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def text_preview_html(preview: TextPreview) -> str:
    """Sentences with the manipulated tokens highlighted, labels and flips in front of each."""
    rows = []
    for tokens, mask, old, new, present in zip(
        preview.tokens,
        preview.masks,
        preview.original_labels,
        preview.labels,
        preview.manipulated,
        strict=True,
    ):
        words = []
        for token, marked in zip(tokens, np.asarray(mask, dtype=bool), strict=True):
            escaped = html.escape(token)
            words.append(f'<span style="{MARK_STYLE}">&nbsp;{escaped}&nbsp;</span>' if marked else escaped)
        names = preview.class_names
        old, new = int(old), int(new)
        label = (
            f'<span style="color:{FLIP_COLOUR}">{html.escape(names[old])} → {html.escape(names[new])}</span>'
            if old != new
            else html.escape(names[new])
        )
        badge = (
            f'<span style="color:{ACCENT}">● present</span>'
            if present
            else f'<span style="color:{MUTED}">○ absent</span>'
        )
        rows.append(f'<p style="margin:0 0 10px 0"><b>{label}</b> &nbsp; {badge}<br>{" ".join(words)}</p>')
    return "".join(rows)


class _Signals(QObject):
    done = Signal(int, object)  # generation, preview
    failed = Signal(int, object)  # generation, error


class _PreviewTask(QRunnable):
    def __init__(self, signals: _Signals, generation: int, request: DesignRequest) -> None:
        super().__init__()
        self._signals, self._generation, self._request = signals, generation, request

    def run(self) -> None:
        try:
            preview = compute_preview(self._request)
        except LanternError as exc:
            self._signals.failed.emit(self._generation, exc)
        except Exception as exc:  # a bug in a manipulation must reach the user, not kill the pool thread
            self._signals.failed.emit(
                self._generation, LanternError(f"{type(exc).__name__}: {exc}", "designer preview")
            )
        else:
            self._signals.done.emit(self._generation, preview)


def _chip(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setProperty("role", "pill")
    return label


class DesignerPanel(QWidget):
    """The controls on the left, the live preview on the right; `start_requested` asks for the dialog."""

    start_requested = Signal()
    preview_ready = Signal(object)  # ImagePreview | TextPreview
    preview_failed = Signal(object)  # LanternError

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._signals = _Signals(self)
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        self._generation = 0
        self._running = False
        self._pending: DesignRequest | None = None
        self._shut_down = False
        self._loading = False  # while controls are filled from a design, changes schedule nothing
        self.preview: ImagePreview | TextPreview | None = None
        self.error: LanternError | None = None
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self.refresh_preview)
        self._build()
        self._connect()
        saved = QSettings().value(DESIGN_KEY)
        self.set_design(DesignRequest.from_json(str(saved)) if saved else DesignRequest())

    # layout
    def _build(self) -> None:
        self.base_box = QComboBox(self)
        for name, title in BASES.items():
            self.base_box.addItem(title, name)
        self.class_a = QComboBox(self)
        self.class_b = QComboBox(self)
        for box in (self.class_a, self.class_b):
            for index, name in enumerate(CLASS_NAMES):
                box.addItem(name, index)
        classes = QWidget(self)
        class_row = QHBoxLayout(classes)
        class_row.setContentsMargins(0, 0, 0, 0)
        class_row.addWidget(self.class_a, 1)
        versus = QLabel("vs", self)
        versus.setProperty("role", "muted")
        class_row.addWidget(versus)
        class_row.addWidget(self.class_b, 1)
        self.classes_widget = classes
        self.colour_box = QCheckBox("Colour (a random hue each)", self)
        self.colour_box.setToolTip(
            "Colour images (the hue carries no label) so that the striped hue shift has colour to shift"
        )
        self.folder_edit = QLineEdit(self)
        self.folder_edit.setReadOnly(True)
        self.folder_edit.setPlaceholderText("one subfolder per class")
        self.folder_button = QPushButton("Choose…", self)
        folder = QWidget(self)
        folder_row = QHBoxLayout(folder)
        folder_row.setContentsMargins(0, 0, 0, 0)
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.folder_button)
        self.folder_widget = folder

        self.manipulation_box = QComboBox(self)
        self.manipulation_note = QLabel(self)
        self.manipulation_note.setWordWrap(True)
        self.manipulation_note.setProperty("role", "muted")
        self.strength_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.strength_slider.setRange(0, SLIDER_STEPS)
        self.strength_value = QLabel(self)
        self.strength_value.setMinimumWidth(52)
        self.strength_value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        strength = QWidget(self)
        strength_row = QHBoxLayout(strength)
        strength_row.setContentsMargins(0, 0, 0, 0)
        strength_row.addWidget(self.strength_slider, 1)
        strength_row.addWidget(self.strength_value)
        self.strength_widget = strength
        self.r_spin = QDoubleSpinBox(self)
        self.r_spin.setRange(0.0, 1.0)
        self.r_spin.setSingleStep(0.05)
        self.r_spin.setDecimals(2)
        self.r_spin.setToolTip(
            "Probability that a sample keeps its label; otherwise it is flipped. No function of the original "
            "image predicts the new label better than p* = max(r, 1 − r)."
        )
        self.p_star_label = QLabel(self)
        self.p_star_label.setProperty("role", "muted")
        r_widget = QWidget(self)
        r_row = QHBoxLayout(r_widget)
        r_row.setContentsMargins(0, 0, 0, 0)
        r_row.addWidget(self.r_spin)
        r_row.addWidget(self.p_star_label, 1)
        self.seed_spin = QSpinBox(self)
        self.seed_spin.setRange(0, 1_000_000)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(8)
        form.addRow("Base data", self.base_box)
        form.addRow("Classes", classes)
        form.addRow("", self.colour_box)
        form.addRow("Folder", folder)
        form.addRow("Manipulation", self.manipulation_box)
        form.addRow(self.manipulation_note)
        form.addRow("Strength", strength)
        form.addRow("r (keep label)", r_widget)
        form.addRow("Seed", self.seed_spin)
        self.form = form

        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setStyleSheet(
            f"color: {ERROR_COLOUR}; background: #fdecec; border: 1px solid #f3c1c1; border-radius: 6px;"
            " padding: 6px 8px;"
        )
        self.message.hide()
        self.start_button = QPushButton("Start experiment…", self)
        self.start_button.setObjectName("primaryAction")
        self.start_button.setToolTip("Train models on this modified data and score every attribution method")
        explain = QLabel(
            "Labels are reassigned (kept with probability r), then the manipulation is applied to every "
            "sample whose new label is 1. A model that beats p* must use the effective region, so the "
            "region is the ground truth attribution methods are scored against.",
            self,
        )
        explain.setWordWrap(True)
        explain.setProperty("role", "muted")

        controls = QFrame(self)
        controls.setProperty("role", "card")
        controls.setMinimumWidth(330)
        controls.setMaximumWidth(420)
        controls_layout = QVBoxLayout(controls)
        controls_layout.setContentsMargins(16, 14, 16, 14)
        controls_layout.setSpacing(10)
        heading = QLabel("Design", controls)
        heading.setStyleSheet("font-weight: 600;")
        controls_layout.addWidget(heading)
        controls_layout.addLayout(form)
        controls_layout.addWidget(self.message)
        controls_layout.addStretch(1)
        controls_layout.addWidget(explain)
        controls_layout.addWidget(self.start_button)

        # preview
        self.region_label = _chip(self)
        self.p_star_chip = _chip(self)
        self.flips_label = _chip(self)
        for chip, tip in (
            (
                self.region_label,
                "The effective region's share of the input: the random baseline of Attr% (a map that "
                "ignores the region puts this share of its mass there)",
            ),
            (
                self.p_star_chip,
                "p* = max(r, 1 − r): the best accuracy any function of the original input reaches",
            ),
            (self.flips_label, "Samples of the preview pool whose label was reassigned"),
        ):
            chip.setToolTip(tip)
        self.status = QLabel(self)
        self.status.setProperty("role", "muted")
        chips = QHBoxLayout()
        chips.setSpacing(8)
        for chip in (self.region_label, self.p_star_chip, self.flips_label):
            chips.addWidget(chip)
        chips.addStretch(1)
        self.grid = PairGrid(self)
        self.text_view = QTextBrowser(self)
        self.text_view.setOpenLinks(False)
        self.text_view.setFrameShape(QFrame.Shape.NoFrame)
        self.empty = QLabel(self)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setProperty("role", "muted")
        self.preview_stack = QStackedWidget(self)
        for widget in (self.grid, self.text_view, self.empty):
            self.preview_stack.addWidget(widget)
        self.legend = QLabel(self)
        self.legend.setProperty("role", "muted")
        self.legend.setWordWrap(True)
        self.source_label = QLabel(self)
        self.source_label.setProperty("role", "muted")
        self.source_label.setWordWrap(True)
        preview_card = QFrame(self)
        preview_card.setProperty("role", "card")
        preview_layout = QVBoxLayout(preview_card)
        preview_layout.setContentsMargins(16, 12, 16, 12)
        preview_layout.setSpacing(8)
        title = QLabel("Preview", preview_card)
        title.setStyleSheet("font-weight: 600;")
        top = QHBoxLayout()
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(self.status)
        preview_layout.addLayout(top)
        preview_layout.addLayout(chips)
        preview_layout.addWidget(self.preview_stack, 1)
        preview_layout.addWidget(self.legend)
        preview_layout.addWidget(self.source_label)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        layout.addWidget(controls)
        layout.addWidget(preview_card, 1)

    def _connect(self) -> None:
        self.base_box.currentIndexChanged.connect(self._base_changed)
        for box in (self.class_a, self.class_b):
            box.currentIndexChanged.connect(self._changed)
        self.colour_box.toggled.connect(self._changed)
        self.folder_button.clicked.connect(self.choose_folder)
        self.manipulation_box.currentIndexChanged.connect(self._manipulation_changed)
        self.strength_slider.valueChanged.connect(self._strength_moved)
        self.r_spin.valueChanged.connect(self._changed)
        self.seed_spin.valueChanged.connect(self._changed)
        self.start_button.clicked.connect(self.start_requested)

    # the design
    def design(self) -> DesignRequest:
        base = str(self.base_box.currentData())
        return DesignRequest(
            base=base,
            classes=(int(self.class_a.currentData()), int(self.class_b.currentData())),
            colour=self.colour_box.isChecked(),
            folder=self.folder_edit.text(),
            manipulation=str(self.manipulation_box.currentData() or ""),
            strength=self.strength(),
            r=round(self.r_spin.value(), 4),
            seed=self.seed_spin.value(),
        )

    def manipulation_info(self, name: str | None = None) -> Any:
        name = name or str(self.manipulation_box.currentData() or "")
        return IMAGE_MANIPULATIONS.get(name) or TEXT_MANIPULATIONS.get(name)

    def strength(self) -> float | None:
        info = self.manipulation_info()
        bounds = strength_bounds(info)
        if bounds is None:
            return None
        low, high, integral = bounds
        value = low + (high - low) * self.strength_slider.value() / SLIDER_STEPS
        return float(round(value)) if integral else round(float(value), 4)

    def set_design(self, design: DesignRequest) -> None:
        """Fill the controls from a design (a saved one, or one built in a test) and preview it."""
        self._loading = True
        try:
            self.base_box.setCurrentIndex(max(0, self.base_box.findData(design.base)))
            self.class_a.setCurrentIndex(max(0, self.class_a.findData(design.classes[0])))
            self.class_b.setCurrentIndex(max(0, self.class_b.findData(design.classes[1])))
            self.colour_box.setChecked(design.colour)
            self.folder_edit.setText(design.folder)
            self._fill_manipulations(design.modality)
            self.manipulation_box.setCurrentIndex(max(0, self.manipulation_box.findData(design.manipulation)))
            self._update_strength_range(design.strength)
            self.r_spin.setValue(design.r)
            self.seed_spin.setValue(design.seed)
            self._update_visibility()
        finally:
            self._loading = False
        self._update_p_star()
        self.schedule_preview()

    def _fill_manipulations(self, modality: str) -> None:
        registry = TEXT_MANIPULATIONS if modality == "text" else IMAGE_MANIPULATIONS
        current = self.manipulation_box.currentData()
        self.manipulation_box.blockSignals(True)
        self.manipulation_box.clear()
        for name, info in registry.items():
            self.manipulation_box.addItem(str(getattr(info, "title", name)), name)
            self.manipulation_box.setItemData(
                self.manipulation_box.count() - 1,
                str(getattr(info, "description", "")),
                Qt.ItemDataRole.ToolTipRole,
            )
        index = self.manipulation_box.findData(current)
        self.manipulation_box.setCurrentIndex(index if index >= 0 else 0)
        self.manipulation_box.blockSignals(False)

    def _update_strength_range(self, strength: float | None = None) -> None:
        info = self.manipulation_info()
        bounds = strength_bounds(info)
        self.strength_widget.setEnabled(bounds is not None)
        self.strength_slider.blockSignals(True)
        if bounds is None:
            self.strength_slider.setValue(0)
        else:
            low, high, _ = bounds
            value = strength if strength is not None else getattr(info, "default_strength", low)
            share = 0.0 if high == low else (float(value) - low) / (high - low)
            self.strength_slider.setValue(round(min(max(share, 0.0), 1.0) * SLIDER_STEPS))
        self.strength_slider.blockSignals(False)
        self._show_strength()
        self.manipulation_note.setText(str(getattr(info, "description", "")) if info is not None else "")

    def _show_strength(self) -> None:
        value = self.strength()
        if value is None:
            self.strength_value.setText("—")
            return
        bounds = strength_bounds(self.manipulation_info())
        self.strength_value.setText(f"{value:.0f}" if bounds and bounds[2] else f"{value:.2f}")

    def _update_visibility(self) -> None:
        base = self.base_box.currentData()
        for widget, shown in (
            (self.classes_widget, base == "fashion_pair"),
            (self.colour_box, base == "fashion_pair"),
            (self.folder_widget, base == "image_folder"),
        ):
            widget.setVisible(shown)
            label = self.form.labelForField(widget)
            if label is not None:
                label.setVisible(shown)

    def _update_p_star(self) -> None:
        r = self.r_spin.value()
        value = p_star(binary_matrix(r), np.array([0.5, 0.5]))
        self.p_star_label.setText(f"p* = {value:.2f}")
        self.p_star_label.setToolTip("Models must beat p* to prove they use the manipulation")

    # reactions
    def _base_changed(self) -> None:
        if self._loading:
            return
        modality = "text" if self.base_box.currentData() == "rotten_tomatoes" else "image"
        self._fill_manipulations(modality)
        self._update_strength_range()
        self._update_visibility()
        self._changed()

    def _manipulation_changed(self) -> None:
        if self._loading:
            return
        self._update_strength_range()
        info = self.manipulation_info()
        if getattr(info, "needs_colour", False) and self.base_box.currentData() == "fashion_pair":
            self.colour_box.setChecked(True)  # hue needs colour: tint the garments rather than fail
        self._changed()

    def _strength_moved(self) -> None:
        self._show_strength()
        self._changed()

    def _changed(self, *_args: object) -> None:
        if self._loading:
            return
        self._update_p_star()
        self.schedule_preview()

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Image folder (one subfolder per class)")
        if folder:
            self.set_folder(folder)

    def set_folder(self, folder: str | Path) -> None:
        forget_base(str(folder))
        self.folder_edit.setText(str(folder))
        self.folder_edit.setToolTip(str(folder))
        self.schedule_preview()

    # the preview
    def schedule_preview(self) -> None:
        if not self._shut_down:
            self.status.setText("updating…")
            self._timer.start()

    def refresh_preview(self) -> None:
        """Compute the preview of the current design now (on the worker; a newer design supersedes it)."""
        self._timer.stop()
        if self._shut_down:
            return
        design = self.design()
        QSettings().setValue(DESIGN_KEY, design.to_json())
        self.request_preview(design)

    def request_preview(self, design: DesignRequest) -> None:
        if self._running:
            self._pending = design  # only the newest design waiting is worth computing
            return
        self._generation += 1
        self._running = True
        self.status.setText("updating…")
        self.pool.start(_PreviewTask(self._signals, self._generation, design))

    def _next(self) -> bool:
        self._running = False
        if self._pending is not None and not self._shut_down:
            design, self._pending = self._pending, None
            self.request_preview(design)
            return True
        return False

    def _on_done(self, generation: int, preview: ImagePreview | TextPreview) -> None:
        if self._next() or generation != self._generation or self._shut_down:
            return
        self.preview = preview
        self.error = None
        self.message.hide()
        self.status.setText("")
        self.region_label.setText(f"Region {100 * preview.region_share:.1f} %")
        self.p_star_chip.setText(f"p* = {preview.p_star:.2f}")
        self.flips_label.setText(f"Flipped {preview.flips} / {preview.total}")
        for chip in (self.region_label, self.p_star_chip, self.flips_label):
            chip.show()
        if isinstance(preview, ImagePreview):
            self.grid.set_preview(preview)
            self.preview_stack.setCurrentWidget(self.grid)
            self.legend.setText(
                "Each pair: original | modified. Amber: the effective region, shaded on the original and "
                "outlined on the modified. Red: label reassigned. ● the manipulation is present (new "
                f"label 1; {preview.present} of {preview.total} in the pool); ○ absent, which the model "
                "can use just as well."
            )
        else:
            self.text_view.setHtml(text_preview_html(preview))
            self.preview_stack.setCurrentWidget(self.text_view)
            dropped = (
                f" {preview.dropped} reviews could not carry it and were dropped." if preview.dropped else ""
            )
            self.legend.setText("Highlighted: the manipulated tokens (the effective region)." + dropped)
        self.source_label.setText(f"Source: {preview.source}")
        self.preview_ready.emit(preview)

    def _on_failed(self, generation: int, error: LanternError) -> None:
        if self._next() or generation != self._generation or self._shut_down:
            return
        self.preview = None
        self.error = error
        self.show_message(error)
        self.status.setText("")
        for chip in (self.region_label, self.p_star_chip, self.flips_label):
            chip.hide()
        self.empty.setText("No preview: fix the design on the left.")
        self.preview_stack.setCurrentWidget(self.empty)
        self.grid.set_preview(None)
        self.preview_failed.emit(error)

    def show_message(self, error: LanternError) -> None:
        parts = [f"<b>{html.escape(error.what)}</b>"]
        if error.where:
            parts.append(f"where: {html.escape(error.where)}")
        if error.hint:
            parts.append(f"what to do: {html.escape(error.hint)}")
        self.message.setText("<br>".join(parts))
        self.message.show()

    def is_busy(self) -> bool:
        return self._running or self._timer.isActive() or self._pending is not None

    def shutdown(self) -> None:
        self._shut_down = True
        self._timer.stop()
        self._pending = None
        self.pool.waitForDone(30_000)


def strength_bounds(info: Any) -> tuple[float, float, bool] | None:
    """(low, high, whole numbers?) of a manipulation's strength; None when it has no strength to set."""
    if info is None:
        return None
    low, high = getattr(info, "min_strength", None), getattr(info, "max_strength", None)
    if low is None or high is None or float(high) <= float(low):
        return None
    default = getattr(info, "default_strength", low)
    integral = all(float(v).is_integer() for v in (low, high, default)) and float(high) - float(low) >= 2
    return float(low), float(high), integral
