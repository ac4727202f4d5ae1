"""The Augment page's Views tab: pick a dataset and a source image, choose a generator and its settings, and
watch generated views stream into a grid (one "augment.views" op call per view) with each view's similarity
to the source and whether a classifier keeps its label, beside classic SSL augmentations of the same image.
Also the shared pieces of the Augment widgets: op answers decoded with numpy, crisp image tiles, and a
settings form built from a generator's setting specs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import LanternError
from gui.interactive_bridge import InteractiveBridge
from gui.signals import disconnect_all
from gui.style import ACCENT
from gui.widgets.figure_export import ExportButton
from gui.widgets.form_parts import ErrorLabel, fill_choices, form_beside, muted_label
from gui.widgets.pixels import pixels_to_qimage
from gui.widgets.rl_player import decode_array

DATASETS_OP = "augment.datasets"
IMAGES_OP = "augment.images"
GENERATORS_OP = "augment.generators"
VIEWS_OP = "augment.views"
CLASSIC_OP = "augment.classic"
BUNDLED_CHECKPOINT = "bundled"
# Generators whose checkpoint is a hub id or a folder the user types: they have no default.
PIPELINE_GENERATORS = ("unclip", "image_variation", "sdedit")
NO_CHECKPOINT = ("identity",)  # returns the source: nothing to load
PICKER_PAGE = 40  # source thumbnails per page
PICKER_COLUMNS = 8
GRID_COLUMNS = 7  # the source and six views, or six classic views, to a row
DEFAULT_COUNT = 13  # two full rows with the source
MAX_COUNT = 64
CLASSIC_COUNT = 6
MAX_SEED = 2**31 - 1
KEPT_COLOUR = "#2e9d5b"
LOST_COLOUR = "#cf3a3a"


def _error(error: Any, op: str) -> LanternError:
    return error if isinstance(error, LanternError) else LanternError(str(error), op)


def decode_images(answer: Any, name: str, op: str, ndim: int) -> np.ndarray:
    """A uint8 image array of an op's answer ({"data": base64, "shape", "dtype"}) with `ndim` dimensions;
    a missing or malformed one is a LanternError naming the op (not a crash)."""
    if not isinstance(answer, dict):
        raise LanternError(f"'{op}' sent no answer", op, "try again")
    try:
        array = decode_array(answer, name, "uint8")
    except LanternError as exc:
        raise LanternError(f"the {name} of '{op}' cannot be decoded", op, exc.hint) from exc
    if array is None or array.ndim != ndim or array.shape[-3] not in (1, 3):
        shape = "none" if array is None else list(array.shape)
        raise LanternError(
            f"'{op}' sent {name} of shape {shape}, not {ndim} dimensions ending [C, H, W] with C 1 or 3",
            op,
            "the engine and the GUI disagree: update both",
        )
    return np.ascontiguousarray(array, dtype=np.uint8)


def to_qimage(image: np.ndarray) -> QImage:
    """uint8 [C, H, W] (C 1 or 3) as a QImage that owns its pixels."""
    return pixels_to_qimage(image[0] if image.shape[0] == 1 else np.transpose(image, (1, 2, 0)))


# the op answers
@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    train: int = 0
    test: int = 0
    shape: tuple[int, ...] = ()
    classes: tuple[str, ...] = ()
    available: bool = True
    reason: str = ""

    @property
    def label(self) -> str:
        size = f" · {self.train:,} train / {self.test:,} test" if self.train else ""
        return f"{self.title or self.name}{size}"


def parse_datasets(answer: Any) -> list[DatasetInfo]:
    """The "augment.datasets" answer as DatasetInfo entries (entries without a name are skipped)."""
    items = answer.get("datasets", []) if isinstance(answer, dict) else []
    found = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        classes = item.get("classes") or []
        found.append(
            DatasetInfo(
                name=str(item["name"]),
                title=str(item.get("title") or item["name"]),
                train=int(item.get("train") or 0),
                test=int(item.get("test") or 0),
                shape=tuple(int(v) for v in item.get("shape") or ()),
                classes=tuple(str(c) for c in classes) if isinstance(classes, list) else (),
                available=bool(item.get("available", True)),
                reason=str(item.get("reason") or ""),
            )
        )
    return found


@dataclass(frozen=True)
class SettingSpec:
    """One generator setting: a spin box from `minimum` to `maximum` starting at `default`."""

    name: str
    kind: str  # "int" | "float"
    default: float
    minimum: float
    maximum: float
    help: str = ""


@dataclass(frozen=True)
class GeneratorInfo:
    name: str
    title: str
    description: str = ""
    settings: tuple[SettingSpec, ...] = ()
    available: bool = True
    reason: str = ""
    takes: bool | None = None  # the engine's "takes_checkpoint", when it says
    suggested: str | None = None  # the engine's "default_checkpoint", when it says
    checkpoint_help: str = ""

    @property
    def takes_checkpoint(self) -> bool:
        return self.takes if self.takes is not None else self.name not in NO_CHECKPOINT

    @property
    def default_checkpoint(self) -> str:
        """What the checkpoint field starts with: the engine's suggestion, else "bundled" for Lantern's own
        generator and nothing for a pipeline (a hub id or folder the user has)."""
        if not self.takes_checkpoint:
            return ""
        if self.suggested is not None:
            return self.suggested
        return "" if self.name in PIPELINE_GENERATORS else BUNDLED_CHECKPOINT


def parse_generators(answer: Any) -> list[GeneratorInfo]:
    """The "augment.generators" answer; a setting with a wrong number is a LanternError naming it."""
    items = answer.get("generators", []) if isinstance(answer, dict) else []
    found = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        specs = []
        for spec in item.get("settings") or []:
            try:
                specs.append(
                    SettingSpec(
                        name=str(spec["name"]),
                        kind="int" if str(spec.get("kind", "float")) == "int" else "float",
                        default=float(spec["default"]),
                        minimum=float(spec["minimum"]),
                        maximum=float(spec["maximum"]),
                        help=str(spec.get("help") or ""),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise LanternError(
                    f"the setting {spec!r} of the generator '{item['name']}' is not understood ({exc})",
                    GENERATORS_OP,
                    "the engine and the GUI disagree: update both",
                ) from exc
        found.append(
            GeneratorInfo(
                name=str(item["name"]),
                title=str(item.get("title") or item["name"]),
                description=str(item.get("description") or ""),
                settings=tuple(specs),
                available=bool(item.get("available", True)),
                reason=str(item.get("reason") or ""),
                takes=bool(item["takes_checkpoint"]) if "takes_checkpoint" in item else None,
                suggested=str(item.get("default_checkpoint") or "") if "default_checkpoint" in item else None,
                checkpoint_help=str(item.get("checkpoint_help") or ""),
            )
        )
    return found


@dataclass(frozen=True)
class SourceImages:
    """A page of a dataset's train images from "augment.images"."""

    images: np.ndarray  # uint8 [n, C, H, W]
    labels: list[int]
    class_names: list[str]
    total: int
    offset: int

    def class_name(self, label: int | None) -> str:
        if label is None:
            return ""
        return self.class_names[label] if 0 <= label < len(self.class_names) else f"class {label}"


def parse_images(answer: Any) -> SourceImages:
    images = decode_images(answer, "images", IMAGES_OP, 4)
    labels = [int(v) for v in answer.get("labels") or []]
    return SourceImages(
        images=images,
        labels=labels + [-1] * (len(images) - len(labels)),
        class_names=[str(n) for n in answer.get("class_names") or []],
        total=int(answer.get("total") or len(images)),
        offset=int(answer.get("offset") or 0),
    )


@dataclass(frozen=True)
class ViewResult:
    """One generated view with its faithfulness scores."""

    view: np.ndarray  # uint8 [C, H, W]
    similarity: float
    label_kept: bool
    predicted: int | None = None
    predicted_name: str = ""
    source_label: int | None = None
    diversity: float | None = None


def _optional_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def parse_view(answer: Any) -> ViewResult:
    view = decode_images(answer, "view", VIEWS_OP, 3)
    similarity = _optional_float(answer.get("similarity"))
    predicted = answer.get("predicted")
    source = answer.get("source_label")
    return ViewResult(
        view=view,
        similarity=float("nan") if similarity is None else similarity,
        label_kept=bool(answer.get("label_kept", False)),
        predicted=int(predicted) if isinstance(predicted, int | float) else None,
        predicted_name=str(answer.get("predicted_name") or ""),
        source_label=int(source) if isinstance(source, int | float) else None,
        diversity=_optional_float(answer.get("diversity")),
    )


@dataclass(frozen=True)
class ClassicViews:
    views: np.ndarray  # uint8 [count, C, H, W]
    similarity: list[float]
    label_kept: list[bool]


def parse_classic(answer: Any) -> ClassicViews:
    views = decode_images(answer, "views", CLASSIC_OP, 4)
    similarity = [float(v) for v in answer.get("similarity") or []]
    kept = [bool(v) for v in answer.get("label_kept") or []]
    if len(similarity) != len(views) or len(kept) != len(views):
        raise LanternError(
            f"'{CLASSIC_OP}' sent {len(views)} views, {len(similarity)} similarities, {len(kept)} labels",
            CLASSIC_OP,
            "the engine and the GUI disagree: update both",
        )
    return ClassicViews(views, similarity, kept)


@dataclass
class ViewSummary:
    """What the summary line says about the views shown so far."""

    similarities: list[float] = field(default_factory=list)
    kept: list[bool] = field(default_factory=list)
    diversity: float | None = None

    def add(self, result: ViewResult) -> None:
        self.similarities.append(result.similarity)
        self.kept.append(result.label_kept)
        if result.diversity is not None:
            self.diversity = result.diversity  # the engine's figure over every view of this source so far

    @property
    def mean_similarity(self) -> float | None:
        finite = [s for s in self.similarities if np.isfinite(s)]
        return float(np.mean(finite)) if finite else None

    @property
    def kept_rate(self) -> float | None:
        return sum(self.kept) / len(self.kept) if self.kept else None

    def text(self, what: str = "generated") -> str:
        if not self.kept:
            return ""
        parts = [f"{len(self.kept)} {what} view(s)"]
        if self.mean_similarity is not None:
            parts.append(f"mean similarity {self.mean_similarity:.3f}")
        parts.append(f"label kept {sum(self.kept)}/{len(self.kept)} ({100 * (self.kept_rate or 0):.0f} %)")
        if self.diversity is not None:
            parts.append(f"diversity {self.diversity:.3f}")
        return " · ".join(parts)


# widgets
class ImageTile(QWidget):
    """An image drawn with nearest-neighbour scaling (pixels stay crisp), a caption under it, a green tick or
    red cross for "label kept", and an accent frame when highlighted (the source, the chosen thumbnail)."""

    clicked = Signal()

    def __init__(self, side: int = 112, caption_lines: int = 1, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.side = side
        self.caption_lines = caption_lines
        self.image: QImage | None = None
        self.caption = ""
        self.kept: bool | None = None
        self.highlighted = False
        self.setFixedSize(self.sizeHint())

    def sizeHint(self) -> QSize:
        caption = 0 if self.caption_lines == 0 else 4 + 16 * self.caption_lines
        return QSize(self.side + 6, self.side + 6 + caption)

    def set_image(self, image: np.ndarray | None, caption: str = "", kept: bool | None = None) -> None:
        self.image = None if image is None else to_qimage(image)
        self.caption, self.kept = caption, kept
        self.setToolTip(caption)
        self.update()

    def set_highlighted(self, on: bool) -> None:
        self.highlighted = on
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mousePressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        target = QRectF(3, 3, self.side, self.side)
        if self.highlighted:
            painter.setPen(QPen(QColor(ACCENT), 3))
            painter.drawRect(target.adjusted(-1.5, -1.5, 1.5, 1.5))
        if self.image is None:
            painter.fillRect(target, QColor(127, 127, 127, 40))
        else:
            # No smoothing: a 28x28 image scaled up must show its pixels, not a blur.
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            painter.drawImage(target, self.image)
        if self.caption_lines:
            text_rect = QRectF(0, self.side + 8, self.width() - (18 if self.kept is not None else 0), 16)
            painter.setPen(self.palette().color(self.palette().ColorRole.WindowText))
            painter.drawText(
                text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self._first_line()
            )
            if self.kept is not None:
                painter.setPen(QColor(KEPT_COLOUR if self.kept else LOST_COLOUR))
                font = painter.font()
                font.setBold(True)
                painter.setFont(font)
                painter.drawText(
                    QRectF(self.width() - 18, self.side + 8, 18, 16),
                    Qt.AlignmentFlag.AlignCenter,
                    "✓" if self.kept else "✗",
                )
        painter.end()

    def _first_line(self) -> str:
        line = self.caption.splitlines()[0] if self.caption else ""
        room = self.width() - (18 if self.kept is not None else 0)
        return self.fontMetrics().elidedText(line, Qt.TextElideMode.ElideRight, room)


class TileGrid(QWidget):
    """Tiles appended one at a time (a stream of views), `columns` to a row; with `reflow`, as many to a row
    as the width holds (at least one, at most `columns`), so a narrow window wraps the grid rather than
    scrolling it sideways."""

    SPACING = 6

    def __init__(
        self,
        columns: int,
        side: int,
        parent: QWidget | None = None,
        *,
        caption_lines: int = 1,
        reflow: bool = False,
    ) -> None:
        super().__init__(parent)
        self.columns, self.side, self.caption_lines, self.reflow = columns, side, caption_lines, reflow
        self.tiles: list[ImageTile] = []
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._place()

    def tile_size(self) -> QSize:
        caption = 0 if self.caption_lines == 0 else 4 + 16 * self.caption_lines
        return QSize(self.side + 6, self.side + 6 + caption)

    def per_row(self) -> int:
        if not self.reflow:
            return max(1, self.columns)
        step = self.tile_size().width() + self.SPACING
        return max(1, min(self.columns, (self.width() + self.SPACING) // step))

    def clear(self) -> None:
        for tile in self.tiles:
            tile.hide()
            tile.deleteLater()
        self.tiles = []
        self._place()

    def add(self, image: np.ndarray | None, caption: str = "", kept: bool | None = None) -> ImageTile:
        tile = ImageTile(self.side, self.caption_lines, self)
        tile.set_image(image, caption, kept)
        self.tiles.append(tile)
        self._place()
        tile.show()
        return tile

    def _height(self, per_row: int) -> int:
        rows = -(-len(self.tiles) // per_row)
        return max(0, rows * (self.tile_size().height() + self.SPACING) - self.SPACING)

    def _place(self) -> None:
        per_row, size = self.per_row(), self.tile_size()
        for index, tile in enumerate(self.tiles):
            row, column = divmod(index, per_row)
            tile.move(column * (size.width() + self.SPACING), row * (size.height() + self.SPACING))
        self.setFixedHeight(self._height(per_row))
        self.updateGeometry()

    def sizeHint(self) -> QSize:
        width = self.columns * (self.tile_size().width() + self.SPACING) - self.SPACING
        return QSize(width, self._height(self.per_row()))

    def minimumSizeHint(self) -> QSize:
        width = self.tile_size().width() if self.reflow else self.sizeHint().width()
        return QSize(width, self._height(self.per_row()))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place()


class SettingsForm(QWidget):
    """Spin boxes built from setting specs: integer or decimal, held within the spec's minimum and maximum,
    starting at its default, with the spec's help as tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.spins: dict[str, QSpinBox | QDoubleSpinBox] = {}
        self.specs: tuple[SettingSpec, ...] = ()

    def set_specs(self, specs: tuple[SettingSpec, ...] | list[SettingSpec]) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.spins = {}
        self.specs = tuple(specs)
        for spec in self.specs:
            spin: QSpinBox | QDoubleSpinBox
            if spec.kind == "int":
                spin = QSpinBox(self)
                spin.setRange(int(spec.minimum), int(spec.maximum))
                spin.setValue(int(spec.default))
            else:
                spin = QDoubleSpinBox(self)
                span = spec.maximum - spec.minimum
                spin.setDecimals(3 if span <= 10 else 2)
                spin.setSingleStep(0.05 if span <= 2 else 0.5)
                spin.setRange(spec.minimum, spec.maximum)
                spin.setValue(spec.default)
            spin.setToolTip(
                (spec.help + "\n" if spec.help else "")
                + f"from {spec.minimum:g} to {spec.maximum:g}, default {spec.default:g}"
            )
            self.spins[spec.name] = spin
            self.form.addRow(spec.name.replace("_", " ").capitalize(), spin)

    def values(self) -> dict[str, int | float]:
        return {
            name: int(spin.value()) if isinstance(spin, QSpinBox) else float(spin.value())
            for name, spin in self.spins.items()
        }

    def set_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            spin = self.spins.get(name)
            if spin is not None and isinstance(value, int | float):
                spin.setValue(int(value) if isinstance(spin, QSpinBox) else float(value))


def fill_generators(box: QComboBox, generators: list[GeneratorInfo]) -> None:
    """List generators in a combo, keeping the chosen one; one that cannot run is shown but disabled."""
    fill_choices(
        box,
        [
            (
                info.title,
                info.name,
                (
                    info.description + (f"\nNot available: {info.reason}" if not info.available else "")
                ).strip(),
                info.available,
            )
            for info in generators
        ],
    )


def fill_datasets(box: QComboBox, datasets: list[DatasetInfo]) -> None:
    """List datasets in a combo, keeping the chosen one; one that cannot be read is shown but disabled."""
    fill_choices(
        box,
        [
            (info.label, info.name, "" if info.available else f"Not available: {info.reason}", info.available)
            for info in datasets
        ],
    )


def chosen_dataset(box: QComboBox) -> str:
    """The dataset a form's box names; a LanternError while none is chosen (the listing has not come yet)."""
    dataset = box.currentData()
    if not dataset:
        raise LanternError("no dataset is chosen", "dataset", "wait for the datasets to be listed")
    return str(dataset)


class GeneratorChooser(QWidget):
    """A generator combo, its checkpoint (hub id, folder or "bundled") and its settings form."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.generators: list[GeneratorInfo] = []
        self.box = QComboBox(self)
        self.box.setToolTip("The generator making views conditioned on the source image")
        self.checkpoint_edit = QLineEdit(self)
        self.browse_button = QToolButton(self)
        self.browse_button.setText("…")
        self.browse_button.setToolTip("Choose a local folder (a diffusers pipeline or a Lantern checkpoint)")
        self.browse_button.clicked.connect(self._browse)
        self.settings = SettingsForm(self)
        self.description = QLabel(self)
        self.description.setProperty("role", "muted")
        self.description.setWordWrap(True)
        checkpoint_row = QHBoxLayout()
        checkpoint_row.setContentsMargins(0, 0, 0, 0)
        checkpoint_row.addWidget(self.checkpoint_edit, 1)
        checkpoint_row.addWidget(self.browse_button)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Generator", self.box)
        form.addRow("Checkpoint", checkpoint_row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(form)
        layout.addWidget(self.description)
        layout.addWidget(self.settings)
        self.box.currentIndexChanged.connect(lambda _i: self._chosen())

    def set_generators(self, generators: list[GeneratorInfo]) -> None:
        before = self.box.currentData()
        self.generators = list(generators)
        fill_generators(self.box, self.generators)
        if self.box.currentData() != before or not self.settings.specs:
            self._chosen()

    def current(self) -> GeneratorInfo | None:
        name = self.box.currentData()
        return next((g for g in self.generators if g.name == name), None)

    def choose(self, name: str) -> bool:
        index = self.box.findData(name)
        if index >= 0:
            self.box.setCurrentIndex(index)
        return index >= 0

    def _chosen(self) -> None:
        info = self.current()
        self.settings.set_specs(info.settings if info else ())
        self.checkpoint_edit.setText(info.default_checkpoint if info else "")
        needs = info is not None and info.takes_checkpoint
        self.checkpoint_edit.setEnabled(needs)
        self.browse_button.setEnabled(needs)
        if not needs:
            self.checkpoint_edit.setPlaceholderText("this generator loads no checkpoint")
        elif info is not None and info.name in PIPELINE_GENERATORS:
            self.checkpoint_edit.setPlaceholderText("a Hugging Face hub id or a local pipeline folder")
        else:
            self.checkpoint_edit.setPlaceholderText("bundled, or a folder of a Lantern generator checkpoint")
        self.checkpoint_edit.setToolTip(info.checkpoint_help if info is not None else "")
        text = info.description if info else ""
        if info is not None and not info.available:
            text += f" Not available: {info.reason}"
        self.description.setText(text.strip())
        self.description.setVisible(bool(text.strip()))
        self.changed.emit()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a checkpoint folder")
        if folder:
            self.checkpoint_edit.setText(folder)

    def request_args(self) -> dict[str, Any]:
        """{generator, checkpoint, settings}; raises LanternError when the generator cannot be asked."""
        info = self.current()
        if info is None:
            raise LanternError("no generator is chosen", "generator", "wait for the generators to be listed")
        if not info.available:
            raise LanternError(f"the generator '{info.title}' is not available: {info.reason}", info.name)
        checkpoint = (self.checkpoint_edit.text().strip() or None) if info.takes_checkpoint else None
        if info.name in PIPELINE_GENERATORS and checkpoint is None:
            raise LanternError(
                f"the generator '{info.title}' needs a pipeline",
                "checkpoint",
                "type a Hugging Face hub id you have downloaded, or choose a local pipeline folder",
            )
        return {"generator": info.name, "checkpoint": checkpoint, "settings": self.settings.values()}


class SourcePicker(QWidget):
    """A page of thumbnails of the dataset's train images; a click picks the source."""

    picked = Signal(int)  # the image's index in the train split
    page_requested = Signal(int)  # offset

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source: SourceImages | None = None
        self.chosen: int | None = None
        self.grid = TileGrid(PICKER_COLUMNS, 36, self, caption_lines=0)
        self.back_button = QPushButton("‹", self)
        self.back_button.setToolTip("The previous page of images")
        self.next_button = QPushButton("›", self)
        self.next_button.setToolTip("The next page of images")
        for button in (self.back_button, self.next_button):
            button.setFixedWidth(34)
        self.back_button.clicked.connect(lambda: self._turn(-1))
        self.next_button.clicked.connect(lambda: self._turn(1))
        self.page_label = muted_label("", self)
        bar = QHBoxLayout()
        bar.addWidget(self.back_button)
        bar.addWidget(self.page_label, 1)
        bar.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.grid)
        layout.addLayout(bar)
        self._set_buttons()

    def set_images(self, source: SourceImages) -> None:
        self.source = source
        self.grid.clear()
        for position, image in enumerate(source.images):
            index = source.offset + position
            label = source.labels[position] if position < len(source.labels) else None
            tile = self.grid.add(image, f"#{index} · {source.class_name(label)}")
            tile.clicked.connect(lambda index=index: self.pick(index))
        last = source.offset + len(source.images)
        self.page_label.setText(f"images {source.offset + 1:,}–{last:,} of {source.total:,}")
        self._set_buttons()
        self._highlight()

    def pick(self, index: int) -> None:
        self.chosen = index
        self._highlight()
        self.picked.emit(index)

    def image(self, index: int | None) -> tuple[np.ndarray, int | None] | None:
        """The image and label of `index` when it is on the page shown."""
        source = self.source
        if source is None or index is None or not 0 <= index - source.offset < len(source.images):
            return None
        position = index - source.offset
        label = source.labels[position]
        return source.images[position], (label if label >= 0 else None)

    def _highlight(self) -> None:
        offset = self.source.offset if self.source else 0
        for position, tile in enumerate(self.grid.tiles):
            tile.set_highlighted(offset + position == self.chosen)

    def _turn(self, step: int) -> None:
        if self.source is None:
            return
        offset = min(max(0, self.source.offset + step * PICKER_PAGE), max(0, self.source.total - 1))
        if offset != self.source.offset:
            self.page_requested.emit(offset)

    def _set_buttons(self) -> None:
        source = self.source
        self.back_button.setEnabled(source is not None and source.offset > 0)
        self.next_button.setEnabled(source is not None and source.offset + len(source.images) < source.total)


@dataclass
class _Stream:
    """The views being generated: the op's arguments, the next view to ask for, and the one in flight."""

    args: dict[str, Any]
    count: int
    next_view: int = 0
    pending: int | None = None
    started: float = field(default_factory=time.monotonic)


class ViewsPanel(QWidget):
    """The Views tab. Datasets and generators are listed the first time `load_catalogue()` runs (the page
    calls it when the tab first shows); views are asked one op call at a time, so a Cancel stops the stream
    after the view being made and the GUI thread never waits."""

    failed = Signal(object)  # LanternError, for the page's notices
    datasets_listed = Signal(list)  # [DatasetInfo]
    generators_listed = Signal(list)  # [GeneratorInfo]
    view_added = Signal(int)  # the view's number (0-based) once its tile is in the grid
    finished = Signal(str)  # "done" | "cancelled" | "failed"

    def __init__(self, interactive: InteractiveBridge | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.interactive = interactive
        self.datasets: list[DatasetInfo] = []
        self._requests: dict[int, str] = {}  # request id -> what it is for
        self._catalogue_asked = False
        self._stream: _Stream | None = None
        self._classic_request: int | None = None
        self._shut_down = False
        self.results: list[ViewResult] = []
        self.summary = ViewSummary()
        self.classic_summary = ViewSummary()
        self._build()
        if interactive is not None:
            interactive.answered.connect(self._answered)
            interactive.failed.connect(self._failed)

    def _build(self) -> None:
        self.dataset_box = QComboBox(self)
        self.dataset_box.setToolTip("The dataset whose training images are the sources")
        self.dataset_box.currentIndexChanged.connect(lambda _i: self._dataset_changed())
        self.picker = SourcePicker(self)
        self.picker.picked.connect(self._picked)
        self.picker.page_requested.connect(self.load_images)
        self.generator = GeneratorChooser(self)
        self.seed_spin = QSpinBox(self)
        self.seed_spin.setRange(0, MAX_SEED)
        self.seed_spin.setToolTip("The same seed gives the same views")
        self.count_spin = QSpinBox(self)
        self.count_spin.setRange(1, MAX_COUNT)
        self.count_spin.setValue(DEFAULT_COUNT)
        self.count_spin.setToolTip("How many views to generate (they appear one by one)")
        self.generate_button = QPushButton("Generate", self)
        self.generate_button.setObjectName("primaryAction")
        self.generate_button.setToolTip("Generate views of the chosen source image (Ctrl+Return)")
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop after the view being made")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.error_label = ErrorLabel(self)

        source_box = QGroupBox("Source image", self)
        source_layout = QVBoxLayout(source_box)
        source_layout.addWidget(self.dataset_box)
        source_layout.addWidget(self.picker)
        generator_box = QGroupBox("Generator", self)
        generator_layout = QVBoxLayout(generator_box)
        generator_layout.addWidget(self.generator)
        numbers = QFormLayout()
        numbers.addRow("Seed", self.seed_spin)
        numbers.addRow("Views", self.count_spin)
        generator_layout.addLayout(numbers)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button, 1)
        buttons.addWidget(self.cancel_button)
        form = QWidget(self)
        form_layout = QVBoxLayout(form)
        form_layout.setContentsMargins(0, 0, 0, 0)
        form_layout.addWidget(source_box)
        form_layout.addWidget(generator_box)
        form_layout.addLayout(buttons)
        form_layout.addWidget(self.error_label)
        form_layout.addStretch(1)

        # The figure: what Export writes.
        self.figure = QFrame(self)
        self.figure.setProperty("role", "card")
        figure_layout = QVBoxLayout(self.figure)
        figure_layout.setContentsMargins(14, 10, 14, 10)
        figure_layout.setSpacing(6)
        self.title_label = QLabel("Generated views", self.figure)
        self.title_label.setWordWrap(True)
        self.title_label.setProperty("role", "section")
        self.title_label.setStyleSheet("font-size: 12pt; font-weight: 600;")
        self.status_label = muted_label("Pick a source image and a generator, then Generate.", self.figure)
        self.grid = TileGrid(GRID_COLUMNS, 112, self.figure, reflow=True)
        self.summary_label = QLabel(self.figure)
        self.summary_label.setWordWrap(True)
        self.summary_label.setStyleSheet("font-weight: 600;")
        classic_title = QLabel("Classic augmentations of the same image (SimCLR's crop, jitter, blur, flip)")
        classic_title.setWordWrap(True)
        classic_title.setStyleSheet("font-weight: 600;")
        self.classic_grid = TileGrid(GRID_COLUMNS, 112, self.figure, reflow=True)
        self.classic_label = muted_label("", self.figure)
        self.legend_label = muted_label(
            "Under each view: cosine similarity to the source in an independent encoder; ✓ the classifier "
            "still sees the source's class, ✗ it does not. The framed tile is the source.",
            self.figure,
        )
        figure_layout.addWidget(self.title_label)
        figure_layout.addWidget(self.status_label)
        figure_layout.addWidget(self.grid)
        figure_layout.addWidget(self.summary_label)
        figure_layout.addSpacing(6)
        figure_layout.addWidget(classic_title)
        figure_layout.addWidget(self.classic_grid)
        figure_layout.addWidget(self.classic_label)
        figure_layout.addWidget(self.legend_label)
        figure_layout.addStretch(1)
        self.export_button = ExportButton(lambda: self.figure, name="augment-views", parent=self)
        top = QHBoxLayout()
        top.addStretch(1)
        top.addWidget(self.export_button)
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(top)
        scroll = QScrollArea(right)
        scroll.setWidget(self.figure)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        right_layout.addWidget(scroll, 1)
        form_beside(self, form, right, PICKER_COLUMNS * 48 + 60, PICKER_COLUMNS * 48 + 110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # requests
    def _ask(self, purpose: str, op: str, **args: Any) -> int | None:
        if self.interactive is None or self._shut_down:
            return None
        request = self.interactive.request(op, **args)
        self._requests[request] = purpose
        return request

    def load_catalogue(self, *, again: bool = False) -> None:
        """List the datasets and generators (once, unless `again`)."""
        if self._catalogue_asked and not again:
            return
        self._catalogue_asked = True
        self._ask("datasets", DATASETS_OP)
        self._ask("generators", GENERATORS_OP)

    def current_dataset(self) -> str | None:
        data = self.dataset_box.currentData()
        return str(data) if data else None

    def _dataset_changed(self) -> None:
        # Another dataset: its first image becomes the source once its first page arrives.
        self.picker.chosen = None
        self.load_images(0)

    def load_images(self, offset: int = 0) -> int | None:
        dataset = self.current_dataset()
        if dataset is None:
            return None
        return self._ask("images", IMAGES_OP, dataset=dataset, offset=int(offset), count=PICKER_PAGE)

    def _answered(self, request_id: int, answer: Any) -> None:
        purpose = self._requests.pop(request_id, None)
        if purpose is None or self._shut_down:
            return
        try:
            if purpose == "datasets":
                self.set_datasets(parse_datasets(answer))
            elif purpose == "generators":
                generators = parse_generators(answer)
                self.generator.set_generators(generators)
                self.generators_listed.emit(generators)
            elif purpose == "images":
                self.set_images(parse_images(answer))
            elif purpose == "classic":
                self.show_classic(parse_classic(answer))
            elif purpose == "view":
                self._view_answered(request_id, answer)
        except LanternError as exc:
            self.show_error(exc)
            if purpose == "view" and self._stream is not None:
                self._end("failed")

    def _failed(self, request_id: int, error: Any) -> None:
        purpose = self._requests.pop(request_id, None)
        if purpose is None or self._shut_down:
            return
        if purpose == "view" and (self._stream is None or self._stream.pending != request_id):
            return  # a view of a cancelled stream: nobody waits for it
        if purpose in ("datasets", "generators"):
            self._catalogue_asked = False  # ask again the next time the tab shows
        op = {"view": VIEWS_OP, "classic": CLASSIC_OP, "images": IMAGES_OP}.get(purpose, purpose)
        self.show_error(_error(error, op))
        if purpose == "view":
            self._end("failed")

    def set_datasets(self, datasets: list[DatasetInfo]) -> None:
        self.datasets = list(datasets)
        before = self.current_dataset()
        fill_datasets(self.dataset_box, self.datasets)
        self.datasets_listed.emit(self.datasets)
        if self.current_dataset() != before or self.picker.source is None:
            self.load_images(0)

    def set_images(self, source: SourceImages) -> None:
        first = self.picker.source is None or self.picker.chosen is None
        self.picker.set_images(source)
        if first and len(source.images):
            self.picker.pick(source.offset)

    def _picked(self, index: int) -> None:
        found = self.picker.image(index)
        if found is None or self._stream is not None:
            return
        image, label = found
        name = self.picker.source.class_name(label) if self.picker.source else ""
        # The chosen source in place of the last views, so the grid always says what it is about.
        self.results, self.summary, self.classic_summary = [], ViewSummary(), ViewSummary()
        for grid in (self.grid, self.classic_grid):
            grid.clear()
            grid.add(image, f"source · {name}").set_highlighted(True)
        self.summary_label.clear()
        self.classic_label.clear()
        self.title_label.setText(f"Source #{index}: {name}")
        self.status_label.setText("Generate to see its views (Ctrl+Return).")

    # generating
    def generate(self) -> int | None:
        """Start streaming `count` views of the chosen source; the first op call's id, or None."""
        if self._stream is not None:
            return None
        try:
            args = self.view_args()
        except LanternError as exc:
            self.show_error(exc)
            return None
        self.show_error(None)
        count = int(self.count_spin.value())
        self.results, self.summary, self.classic_summary = [], ViewSummary(), ViewSummary()
        self.grid.clear()
        self.classic_grid.clear()
        self.summary_label.clear()
        self.classic_label.clear()
        found = self.picker.image(args["index"])
        if found is not None:
            image, label = found
            name = self.picker.source.class_name(label) if self.picker.source else ""
            self.grid.add(image, f"source · {name}").set_highlighted(True)
            self.classic_grid.add(image, f"source · {name}").set_highlighted(True)
        self._stream = _Stream(args, count)
        self._classic_request = self._ask(
            "classic",
            CLASSIC_OP,
            dataset=args["dataset"],
            index=args["index"],
            count=CLASSIC_COUNT,
            seed=args["seed"],
        )
        self.generate_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.title_label.setText(f"Views of #{args['index']} by {self.generator.box.currentText()}")
        return self._next_view()

    def view_args(self) -> dict[str, Any]:
        """The "augment.views" arguments without `view`; raises LanternError when something is missing."""
        dataset = self.current_dataset()
        if dataset is None:
            raise LanternError("no dataset is chosen", "dataset", "wait for the datasets to be listed")
        index = self.picker.chosen
        if index is None:
            raise LanternError("no source image is chosen", "source image", "click an image on the left")
        return {"dataset": dataset, "index": int(index), **self.generator.request_args(), "seed": self.seed()}

    def seed(self) -> int:
        return int(self.seed_spin.value())

    def _next_view(self) -> int | None:
        stream = self._stream
        if stream is None:
            return None
        if stream.next_view >= stream.count:
            self._end("done")
            return None
        view = stream.next_view
        stream.next_view += 1
        stream.pending = self._ask("view", VIEWS_OP, **stream.args, view=view)
        self.status_label.setText(f"Generating view {view + 1} of {stream.count}…")
        if stream.pending is None:
            self._end("failed")
        return stream.pending

    def _view_answered(self, request_id: int, answer: Any) -> None:
        stream = self._stream
        if stream is None or stream.pending != request_id:
            return  # cancelled while it was being made
        result = parse_view(answer)
        self.results.append(result)
        self.summary.add(result)
        caption = f"sim {result.similarity:.2f}"
        tip = caption + (f" · seen as {result.predicted_name}" if result.predicted_name else "")
        tile = self.grid.add(result.view, caption, result.label_kept)
        tile.setToolTip(tip)
        self.summary_label.setText(self.summary.text())
        self.view_added.emit(len(self.results) - 1)
        self._next_view()

    def show_classic(self, classic: ClassicViews) -> None:
        for view, similarity, kept in zip(classic.views, classic.similarity, classic.label_kept, strict=True):
            self.classic_grid.add(view, f"sim {similarity:.2f}", kept)
            self.classic_summary.add(ViewResult(view, similarity, kept))
        self.classic_label.setText(self.classic_summary.text("classic"))

    def cancel(self) -> None:
        """Stop the stream: the view being made is dropped when it arrives."""
        if self._stream is not None:
            self._end("cancelled")

    def streaming(self) -> bool:
        return self._stream is not None

    def _end(self, how: str) -> None:
        stream = self._stream
        self._stream = None
        self.generate_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if stream is not None:
            seconds = time.monotonic() - stream.started
            made = len(self.results)
            pace = f" in {seconds:.1f} s ({seconds / made:.2f} s per view)" if made else ""
            self.status_label.setText(
                {
                    "done": f"{made} view(s){pace}.",
                    "cancelled": f"Cancelled after {made} of {stream.count} view(s){pace}.",
                    "failed": f"Stopped after {made} of {stream.count} view(s): see the message on the left.",
                }[how]
            )
        self.finished.emit(how)

    def show_error(self, error: LanternError | None) -> None:
        self.error_label.show_error(error)
        if error is not None:
            self.failed.emit(error)

    def shutdown(self) -> None:
        self._shut_down = True
        self._stream = None
        if self.interactive is not None:
            disconnect_all(
                ((self.interactive.answered, self._answered), (self.interactive.failed, self._failed))
            )
