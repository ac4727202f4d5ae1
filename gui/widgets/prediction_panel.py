"""'Try it': a demo classifier's predictions on demo test images, from the interactive engine."""

from __future__ import annotations

import random

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import LanternError
from engine.demo.fashion_mnist import CLASS_NAMES, load_demo
from gui.interactive_bridge import InteractiveBridge
from gui.widgets.pixels import pixels_to_qimage

GRID_COLUMNS = 1
SAMPLES = 8
THUMBNAIL_PX = 48


def image_pixmap(pixels: np.ndarray, size: int = THUMBNAIL_PX) -> QPixmap:
    """A greyscale uint8 [H, W] array as a pixmap, scaled without smoothing so pixels stay visible."""
    image = pixels_to_qimage(255 - pixels)  # dark garment on a light card reads better
    return QPixmap.fromImage(image).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio)


class _PredictionCard(QFrame):
    """One row: the image, its true class, and the model's guess with a confidence bar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("predictionCard")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(8)
        self.image = QLabel()
        self.image.setFixedSize(THUMBNAIL_PX, THUMBNAIL_PX)
        text = QVBoxLayout()
        text.setSpacing(1)
        self.truth = QLabel()
        self.truth.setStyleSheet("color: palette(mid); font-size: 11px;")
        self.guess = QLabel()
        self.confidence = QProgressBar(maximum=100, textVisible=True)
        self.confidence.setFixedHeight(12)
        self.confidence.setFormat("%p %")
        for widget in (self.truth, self.guess, self.confidence):
            text.addWidget(widget)
        layout.addWidget(self.image)
        layout.addLayout(text, 1)

    def show_sample(self, pixels: np.ndarray, label: int) -> None:
        self.image.setPixmap(image_pixmap(pixels))
        self.truth.setText(f"true: {CLASS_NAMES[label]}")
        self.guess.setText("…")
        self.guess.setStyleSheet("")
        self.confidence.setValue(0)

    def show_prediction(self, predicted: int, probability: float, correct: bool) -> None:
        colour = "#2e7d32" if correct else "#c62828"
        self.guess.setText(("✓ " if correct else "✗ ") + CLASS_NAMES[predicted])
        self.guess.setStyleSheet(f"color: {colour}; font-weight: 600;")
        self.confidence.setValue(round(probability * 100))
        self.confidence.setStyleSheet(f"QProgressBar::chunk {{ background: {colour}; }}")


class PredictionPanel(QWidget):
    """Shows SAMPLES demo test images with the checkpoint's prediction and confidence for each.

    The request goes to the long-lived engine process; after its first answer the model stays loaded
    there, so "Shuffle" answers in a fraction of a second.
    """

    answered = Signal(object)

    def __init__(self, bridge: InteractiveBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._artifact_id: int | None = None
        self._indices: list[int] = []
        self._pending: int | None = None
        self._random = random.Random(0)
        layout = QVBoxLayout(self)
        header = QHBoxLayout()
        self.status = QLabel("Pick a run with a checkpoint to try its model.")
        self.status.setWordWrap(True)
        self.shuffle_button = QPushButton("Shuffle")
        self.shuffle_button.setToolTip("Classify another set of demo test images (R)")
        self.shuffle_button.setShortcut("R")
        self.shuffle_button.clicked.connect(self.shuffle)
        self.shuffle_button.setEnabled(False)
        header.addWidget(self.status, 1)
        header.addWidget(self.shuffle_button)
        layout.addLayout(header)
        grid = QGridLayout()
        grid.setSpacing(4)
        self.cards = [_PredictionCard(self) for _ in range(SAMPLES)]
        for position, card in enumerate(self.cards):
            grid.addWidget(card, position // GRID_COLUMNS, position % GRID_COLUMNS)
        layout.addLayout(grid)
        layout.addStretch(1)
        bridge.answered.connect(self._on_answer)
        bridge.failed.connect(self._on_failure)

    @property
    def artifact_id(self) -> int | None:
        return self._artifact_id

    def set_checkpoint(self, artifact_id: int | None, title: str = "") -> None:
        """Classify with this checkpoint artifact (None clears the panel)."""
        self._artifact_id = artifact_id
        self.shuffle_button.setEnabled(artifact_id is not None)
        if artifact_id is None:
            self.status.setText("This run has no checkpoint to try.")
            return
        self.status.setText(f"Checkpoint: {title or f'#{artifact_id}'}")
        self.shuffle()

    def shuffle(self) -> None:
        if self._artifact_id is None:
            return
        data = load_demo()
        self._indices = self._random.sample(range(len(data.test_labels)), SAMPLES)
        for card, index in zip(self.cards, self._indices, strict=True):
            card.show_sample(data.test_images[index], int(data.test_labels[index]))
        self.status.setText("Asking the engine…")
        self._pending = self._bridge.request(
            "demo.predict", artifact_id=self._artifact_id, test_indices=self._indices
        )

    def _on_answer(self, request_id: int, answer: dict) -> None:
        if request_id != self._pending:
            return  # an older request answered after the user moved on
        self._pending = None
        correct = 0
        for card, probabilities, predicted, label in zip(
            self.cards, answer["probabilities"], answer["predicted"], answer["labels"], strict=True
        ):
            card.show_prediction(predicted, probabilities[predicted], predicted == label)
            correct += predicted == label
        timing = "model cached" if answer.get("cached") else f"model loaded in {answer['load_seconds']:.2f} s"
        self.status.setText(
            f"{correct} of {len(self.cards)} correct · {timing} · "
            f"inference {answer['infer_seconds'] * 1000:.0f} ms on {answer.get('device', 'cpu')}"
        )
        self.answered.emit(answer)

    def _on_failure(self, request_id: int, error: object) -> None:
        if request_id != self._pending:
            return
        self._pending = None
        message = error.what if isinstance(error, LanternError) else str(error)
        self.status.setText(f"The engine could not answer: {message}")
