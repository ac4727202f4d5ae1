"""The Explore tab: attribute a pretrained classifier's predictions on your own images (skimage's bundled
photos for a start) through the interactive engine's "attribution.explore" op; top-5 and the heat map."""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QRectF, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import LanternError
from gui.interactive_bridge import InteractiveBridge
from gui.widgets.attribution_designer import to_qimage

OP_NAME = "attribution.explore"
DEMO_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "cat")
DEFAULT_MODEL = "efficientnet-lite0"
DEFAULT_METHOD = "integrated_gradients"
TOP_K = 5
THUMBNAIL = 72
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp)"
# A perceptual sequential ramp (dark violet -> orange -> pale yellow, as inferno) for the heat map.
_RAMP = np.array(
    [
        (0.00, (0, 0, 4)),
        (0.25, (87, 16, 110)),
        (0.50, (188, 55, 84)),
        (0.75, (249, 142, 9)),
        (1.00, (252, 255, 164)),
    ],
    dtype=object,
)


def heat_colours(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] [H, W] -> uint8 RGB [H, W, 3] on the ramp."""
    stops = np.array([s for s, _ in _RAMP], dtype=np.float64)
    colours = np.array([c for _, c in _RAMP], dtype=np.float64)
    flat = np.clip(np.asarray(values, dtype=np.float64).ravel(), 0.0, 1.0)
    rgb = np.stack([np.interp(flat, stops, colours[:, k]) for k in range(3)], axis=1)
    return rgb.reshape(*np.shape(values), 3).astype(np.uint8)


def normalise_map(values: np.ndarray) -> np.ndarray:
    """|map| scaled to [0, 1] by its 99th percentile, so one hot pixel does not wash the rest out."""
    array = np.abs(np.asarray(values, dtype=np.float64))
    top = float(np.percentile(array, 99)) if array.size else 0.0
    return np.clip(array / top, 0.0, 1.0) if top > 0 else np.zeros_like(array)


@dataclass
class ExploreImage:
    """One image the user chose: its name, the pixels shown (uint8 [H, W, 3]) and what the op is sent."""

    name: str
    pixels: np.ndarray
    demo: str | None = None  # a skimage demo photo by name
    png: str | None = None  # else the image as base64 PNG


def _png_base64(pixels: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def load_demo_photo(name: str) -> ExploreImage:
    """A photo bundled with scikit-image, as RGB."""
    import skimage.data

    loader = getattr(skimage.data, name, None)
    if loader is None:
        raise LanternError(f"scikit-image has no demo photo {name!r}", "explore", f"use one of {DEMO_PHOTOS}")
    pixels = np.asarray(loader())
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    return ExploreImage(name, np.ascontiguousarray(pixels[..., :3].astype(np.uint8)), demo=name)


def load_image_file(path: Path | str) -> ExploreImage:
    """An image file as RGB; an unreadable file is a LanternError naming it."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise LanternError(
            f"the image cannot be read ({exc})", str(path), "choose a PNG, JPEG, BMP, TIFF or WebP file"
        ) from exc
    return ExploreImage(path.name, np.ascontiguousarray(pixels), png=_png_base64(pixels))


def decode_map(value: Any) -> np.ndarray:
    """A map from the op's answer: nested lists, or {"shape", "dtype", "data" (base64)}."""
    if isinstance(value, dict):
        try:
            raw = base64.b64decode(str(value["data"]))
            dtype = np.dtype(str(value.get("dtype", "<f4")))
            return (
                np.frombuffer(raw, dtype=dtype).reshape([int(n) for n in value["shape"]]).astype(np.float32)
            )
        except (KeyError, ValueError, TypeError, binascii.Error) as exc:
            raise LanternError(f"the op sent an unreadable map ({exc})", OP_NAME) from exc
    return np.asarray(value, dtype=np.float32)


class HeatmapView(QWidget):
    """The image, the attribution heat map over it (opacity adjustable), the map alone beside it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._heat: QImage | None = None
        self.opacity = 0.6
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_content(self, pixels: np.ndarray | None, attribution: np.ndarray | None) -> None:
        self._image = (
            to_qimage(pixels.astype(np.float32) / 255.0, channels_last=True) if pixels is not None else None
        )
        if attribution is not None:
            rgb = heat_colours(normalise_map(attribution))
            self._heat = to_qimage(rgb.astype(np.float32) / 255.0, channels_last=True)
        else:
            self._heat = None
        self.update()

    def set_opacity(self, value: float) -> None:
        self.opacity = min(max(value, 0.0), 1.0)
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(720, 380)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if self._image is None:
            painter.setPen(QColor("#6b7280"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Pick an image and press Explain.")
            painter.end()
            return
        panels = 2 if self._heat is not None else 1
        gap = 14
        width = (self.width() - gap * (panels - 1)) / panels
        ratio = self._image.width() / max(1, self._image.height())
        side_w = min(width, (self.height() - 22) * ratio)
        side_h = side_w / ratio
        left = (self.width() - (panels * side_w + (panels - 1) * gap)) / 2
        top = max(20.0, (self.height() - side_h) / 2)
        over = QRectF(left, top, side_w, side_h)
        painter.setPen(QColor("#6b7280"))
        painter.drawText(
            QRectF(over.left(), top - 20, side_w, 18), Qt.AlignmentFlag.AlignHCenter, "over the image"
        )
        painter.drawImage(over, self._image)
        if self._heat is not None:
            painter.setOpacity(self.opacity)
            painter.drawImage(over, self._heat)
            painter.setOpacity(1.0)
            alone = QRectF(over.right() + gap, 20, side_w, side_h)
            painter.drawText(
                QRectF(alone.left(), 0, side_w, 18), Qt.AlignmentFlag.AlignHCenter, "attribution"
            )
            painter.drawImage(alone, self._heat)
        painter.end()


class _LoadSignals(QObject):
    loaded = Signal(object)  # ExploreImage
    failed = Signal(object)  # LanternError


class _LoadTask(QRunnable):
    def __init__(self, signals: _LoadSignals, source: str, demo: bool) -> None:
        super().__init__()
        self._signals, self._source, self._demo = signals, source, demo

    def run(self) -> None:
        try:
            image = load_demo_photo(self._source) if self._demo else load_image_file(self._source)
        except LanternError as exc:
            self._signals.failed.emit(exc)
        except Exception as exc:  # reading a strange file must not kill the pool thread
            self._signals.failed.emit(LanternError(f"{type(exc).__name__}: {exc}", self._source))
        else:
            self._signals.loaded.emit(image)


class PredictionList(QWidget):
    """The top-k classes with probability bars."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self.rows: list[tuple[QLabel, QProgressBar]] = []
        for _ in range(TOP_K):
            label = QLabel(self)
            bar = QProgressBar(self)
            bar.setRange(0, 1000)
            bar.setTextVisible(False)
            bar.setFixedHeight(8)
            self._layout.addWidget(label)
            self._layout.addWidget(bar)
            self.rows.append((label, bar))
        self._layout.addStretch(1)
        self.set_predictions([])

    def set_predictions(self, predictions: list[tuple[str, float]]) -> None:
        for i, (label, bar) in enumerate(self.rows):
            if i < len(predictions):
                name, probability = predictions[i]
                label.setText(
                    f"{'<b>' if i == 0 else ''}{name}{'</b>' if i == 0 else ''}  {100 * probability:.1f} %"
                )
                bar.setValue(round(1000 * probability))
                label.show()
                bar.show()
            else:
                label.hide()
                bar.hide()


class ExplorePanel(QWidget):
    """Images on the left, model and method above, the answer (top-5 and the heat map) on the right."""

    failed = Signal(object)  # LanternError, for the page to post
    answered = Signal(object)  # the op's answer

    def __init__(self, interactive: InteractiveBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.interactive = interactive
        self.images: list[ExploreImage] = []
        self.answer: dict[str, Any] | None = None
        self._request: int | None = None
        self._request_image: ExploreImage | None = None
        self._shut_down = False
        self._methods_filled = False
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._signals = _LoadSignals(self)
        self._signals.loaded.connect(self._loaded)
        self._signals.failed.connect(self._load_failed)
        interactive.answered.connect(self._answered)
        interactive.failed.connect(self._failed)

        self.image_list = QListWidget(self)
        self.image_list.setViewMode(QListView.ViewMode.IconMode)
        self.image_list.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.image_list.setGridSize(QSize(THUMBNAIL + 24, THUMBNAIL + 30))
        self.image_list.setResizeMode(QListView.ResizeMode.Adjust)
        self.image_list.setMovement(QListView.Movement.Static)
        self.image_list.setMinimumWidth(190)
        self.image_list.currentRowChanged.connect(self._image_chosen)
        self.add_button = QPushButton("Add images…", self)
        self.add_button.clicked.connect(self.choose_files)
        self.demo_button = QPushButton("Demo photos", self)
        self.demo_button.setToolTip("scikit-image's bundled photos: " + ", ".join(DEMO_PHOTOS))
        self.demo_button.clicked.connect(self.load_demos)
        self.model_box = QComboBox(self)
        self.model_box.setEditable(True)
        self.model_box.addItem(DEFAULT_MODEL)
        self.model_box.setToolTip(
            "EfficientNet-Lite0 works offline; any Hugging Face image-classification model by name"
            " when online."
            " Press Enter after typing a name"
        )
        self.model_box.setMinimumWidth(180)
        self.method_box = QComboBox(self)
        self.method_box.setMinimumWidth(170)
        self.explain_button = QPushButton("Explain", self)
        self.explain_button.setObjectName("primaryAction")
        self.explain_button.clicked.connect(self.explain)
        self.opacity = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(60)
        self.opacity.setMaximumWidth(140)
        self.opacity.setToolTip("Opacity of the heat map over the image")
        self.status = QLabel(self)
        self.status.setProperty("role", "muted")
        self.status.setWordWrap(True)
        self.view = HeatmapView(self)
        self.opacity.valueChanged.connect(lambda v: self.view.set_opacity(v / 100))
        self.predictions = PredictionList(self)
        note = QLabel(
            "No ground truth here: the map shows what the method says, not whether it is right. The "
            "Designer and Leaderboard tabs measure how far each method can be trusted.",
            self,
        )
        note.setWordWrap(True)
        note.setProperty("role", "muted")

        left_card = QFrame(self)
        left_card.setProperty("role", "card")
        left = QVBoxLayout(left_card)
        left.setContentsMargins(12, 10, 12, 10)
        caption = QLabel("Images", left_card)
        caption.setStyleSheet("font-weight: 600;")
        left.addWidget(caption)
        left.addWidget(self.image_list, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.demo_button)
        buttons.addWidget(self.add_button)
        left.addLayout(buttons)
        left_card.setMaximumWidth(280)

        controls = QHBoxLayout()
        controls.setSpacing(8)
        controls.addWidget(QLabel("Model", self))
        controls.addWidget(self.model_box)
        controls.addWidget(QLabel("Method", self))
        controls.addWidget(self.method_box)
        controls.addWidget(self.explain_button)
        controls.addStretch(1)
        predictions_card = QFrame(self)
        predictions_card.setProperty("role", "card")
        predictions_layout = QVBoxLayout(predictions_card)
        predictions_layout.setContentsMargins(12, 10, 12, 10)
        title = QLabel(f"Top {TOP_K}", predictions_card)
        title.setStyleSheet("font-weight: 600;")
        predictions_layout.addWidget(title)
        predictions_layout.addWidget(self.predictions, 1)
        predictions_card.setMinimumWidth(200)
        predictions_card.setMaximumWidth(280)
        result = QHBoxLayout()
        result.setSpacing(12)
        view_card = QFrame(self)
        view_card.setProperty("role", "card")
        view_layout = QVBoxLayout(view_card)
        view_layout.setContentsMargins(12, 10, 12, 10)
        view_layout.addWidget(self.view, 1)
        opacity_row = QHBoxLayout()
        opacity_row.addStretch(1)
        opacity_label = QLabel("Heat map opacity", view_card)
        opacity_label.setProperty("role", "muted")
        opacity_row.addWidget(opacity_label)
        opacity_row.addWidget(self.opacity)
        view_layout.addLayout(opacity_row)
        result.addWidget(view_card, 1)
        result.addWidget(predictions_card)
        right = QVBoxLayout()
        right.setSpacing(10)
        right.addLayout(controls)
        right.addLayout(result, 1)
        right.addWidget(self.status)
        right.addWidget(note)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.setSpacing(12)
        layout.addWidget(left_card)
        layout.addLayout(right, 1)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.fill_methods()
        if not self.images and self.pool.activeThreadCount() == 0:
            self.load_demos()

    def fill_methods(self) -> None:
        """The image methods, listed when the tab is first shown (the catalogue need not load earlier)."""
        if self._methods_filled:
            return
        from engine.attribution.methods.catalog import METHOD_CATALOG

        for name, info in METHOD_CATALOG.items():
            if "image" in info.modalities:
                self.method_box.addItem(info.title, name)
                self.method_box.setItemData(
                    self.method_box.count() - 1, info.description, Qt.ItemDataRole.ToolTipRole
                )
        self.method_box.setCurrentIndex(max(0, self.method_box.findData(DEFAULT_METHOD)))
        self._methods_filled = True

    # images
    def load_demos(self) -> None:
        have = {image.demo for image in self.images}
        for name in DEMO_PHOTOS:
            if name not in have:
                self.pool.start(_LoadTask(self._signals, name, demo=True))

    def choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Images to explain", "", IMAGE_FILTER)
        for path in files:
            self.add_file(path)

    def add_file(self, path: Path | str) -> None:
        self.pool.start(_LoadTask(self._signals, str(path), demo=False))

    def wait_for_loads(self, timeout_ms: int = 30_000) -> bool:
        return self.pool.waitForDone(timeout_ms)

    def _loaded(self, image: ExploreImage) -> None:
        if self._shut_down:
            return
        self.images.append(image)
        thumbnail = QPixmap.fromImage(to_qimage(image.pixels.astype(np.float32) / 255.0, channels_last=True))
        item = QListWidgetItem(
            QIcon(thumbnail.scaled(THUMBNAIL, THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio)), image.name
        )
        self.image_list.addItem(item)
        if self.image_list.currentRow() < 0:
            self.image_list.setCurrentRow(0)

    def _load_failed(self, error: LanternError) -> None:
        if not self._shut_down:
            self.status.setText(f"Could not add an image: {error.what}")
            self.failed.emit(error)

    def current_image(self) -> ExploreImage | None:
        row = self.image_list.currentRow()
        return self.images[row] if 0 <= row < len(self.images) else None

    def _image_chosen(self, _row: int) -> None:
        image = self.current_image()
        self.view.set_content(image.pixels if image is not None else None, None)
        self.predictions.set_predictions([])

    # the op
    def request_args(self, image: ExploreImage) -> dict[str, Any]:
        args: dict[str, Any] = {
            "model": self.model_box.currentText().strip() or DEFAULT_MODEL,
            "method": self.method_box.currentData() or DEFAULT_METHOD,
            "top_k": TOP_K,
        }
        if image.demo is not None:
            args["demo"] = [image.demo]
        else:
            args["images"] = [image.png]
        return args

    def explain(self) -> int | None:
        image = self.current_image()
        if image is None:
            self.status.setText("Pick an image first.")
            return None
        self.fill_methods()
        self._request_image = image
        self._request = self.interactive.request(OP_NAME, **self.request_args(image))
        self.explain_button.setEnabled(False)
        self.status.setText(
            f"Explaining {image.name} with {self.method_box.currentText()}…"
            " (the first request loads the model)"
        )
        return self._request

    def _answered(self, request_id: int, answer: Any) -> None:
        if request_id != self._request or self._shut_down:
            return
        self._request = None
        self.explain_button.setEnabled(True)
        try:
            predictions, attribution, seen = parse_answer(answer)
        except LanternError as exc:
            self._failed(request_id, exc)
            return
        self.answer = answer
        image = self._request_image
        if seen is None and image is not None:
            seen = image.pixels
        self.view.set_content(seen, attribution)
        self.predictions.set_predictions(predictions)
        seconds = answer.get("seconds") if isinstance(answer, dict) else None
        self.status.setText(
            f"{self.method_box.currentText()} for the top class, {predictions[0][0] if predictions else '?'}"
            + (f" · {float(seconds):.1f} s" if seconds is not None else "")
        )
        self.answered.emit(answer)

    def _failed(self, request_id: int, error: Any) -> None:
        if request_id != self._request or self._shut_down:
            return
        self._request = None
        self.explain_button.setEnabled(True)
        error = error if isinstance(error, LanternError) else LanternError(str(error), OP_NAME)
        self.status.setText(f"Explain failed: {error.what}")
        self.failed.emit(error)

    def shutdown(self) -> None:
        self._shut_down = True
        for signal, slot in (
            (self.interactive.answered, self._answered),
            (self.interactive.failed, self._failed),
        ):
            with contextlib.suppress(RuntimeError, TypeError):
                signal.disconnect(slot)
        self.pool.waitForDone(30_000)


def _png_pixels(text: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(base64.b64decode(text))) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, binascii.Error) as exc:
        raise LanternError(f"the op sent an unreadable image ({exc})", OP_NAME) from exc


def parse_answer(answer: Any) -> tuple[list[tuple[str, float]], np.ndarray, np.ndarray | None]:
    """(top-k (class, probability), map [H, W], the image the model saw uint8 [H, W, 3] or None) of the
    first image in the op's answer."""
    if not isinstance(answer, dict) or not isinstance(answer.get("results"), list) or not answer["results"]:
        raise LanternError("the explore op sent no result", OP_NAME, "try again")
    first = answer["results"][0]
    try:
        predictions = [(str(c["name"]), float(c["probability"])) for c in first["top_k"]]
        attribution = decode_map(first["map"])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise LanternError(f"the explore op's answer is not understood ({exc})", OP_NAME) from exc
    seen = _png_pixels(first["image_png"]) if first.get("image_png") else None
    if attribution.ndim == 3:
        attribution = np.abs(attribution).sum(axis=0)
    return predictions, attribution, seen
