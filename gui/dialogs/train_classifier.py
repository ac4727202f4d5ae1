"""The "New training run" dialog: the parameters of `demo.train_classifier`, defaults taken from its spec."""

from __future__ import annotations

import html
from typing import Any

from pydantic.fields import FieldInfo
from PySide6.QtCore import Qt
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import SpecError
from engine.jobs.registry import JobSpec, get_job_type, validate_spec

JOB_NAME = "demo.train_classifier"
SPIN_MAX = 2**31 - 1


def _bounds(field: FieldInfo, low: float, high: float) -> tuple[float, float]:
    """The field's ge/gt/le constraints, so the widgets refuse what the spec would refuse."""
    for constraint in field.metadata:
        for name in ("ge", "gt"):
            if getattr(constraint, name, None) is not None:
                low = float(getattr(constraint, name))
        if getattr(constraint, "le", None) is not None:
            high = float(constraint.le)
    return low, high


class LearningRateBox(QDoubleSpinBox):
    """A learning rate shown as people write it (2e-3, 0.0005) and stepped by factors of two."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)
        self.setKeyboardTracking(False)

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, position: int) -> object:
        stripped = text.strip()
        try:
            value = float(stripped)
        except ValueError:
            # Half-typed numbers ("1e", "0.") are fine while editing.
            if stripped in ("", ".", "-") or stripped[-1:] in ("e", "E", ".", "-"):
                return QValidator.State.Intermediate, text, position
            return QValidator.State.Invalid, text, position
        if self.minimum() <= value <= self.maximum():
            return QValidator.State.Acceptable, text, position
        return QValidator.State.Intermediate, text, position

    def stepBy(self, steps: int) -> None:
        self.setValue(self.value() * 2.0**steps)


class TrainClassifierDialog(QDialog):
    """Collects a spec for `demo.train_classifier`; OK refuses an invalid one and says why."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New training run")
        self.setObjectName("trainClassifierDialog")
        job_type = get_job_type(JOB_NAME)
        self._fields: dict[str, FieldInfo] = job_type.spec.model_fields
        self._defaults: JobSpec = job_type.spec()

        intro = QLabel(
            f"<b>{job_type.title}</b><br>A small CNN on the bundled Fashion-MNIST subset. The run, its "
            "curves and checkpoints are stored, so it can be compared and resumed later.",
            self,
        )
        intro.setWordWrap(True)

        self.name_edit = QLineEdit(self)
        self.name_edit.setPlaceholderText("named from its settings when left empty")
        self.name_edit.setMaxLength(200)

        self.epochs_box = self._int_box("epochs", suffix=" epochs")
        self.batch_size_box = self._int_box("batch_size")
        self.batch_size_box.setSingleStep(32)
        self.learning_rate_box = LearningRateBox(self)
        low, high = _bounds(self._fields["learning_rate"], 1e-8, 10.0)
        self.learning_rate_box.setRange(max(low, 1e-8), high)
        self.learning_rate_box.setValue(float(self._defaults.learning_rate))  # type: ignore[attr-defined]
        self.train_limit_box = self._int_box("train_limit", low=0, high=SPIN_MAX)
        self.train_limit_box.setSpecialValueText("all images")
        self.train_limit_box.setSingleStep(512)
        self.train_limit_box.setValue(int(getattr(self._defaults, "train_limit", None) or 0))
        self.seed_box = self._int_box("seed")

        self.channels_edit = QLineEdit(self)
        self.channels_edit.setText(", ".join(str(c) for c in self._defaults.channels))  # type: ignore[attr-defined]
        self.channels_edit.setToolTip(self._fields["channels"].description or "")
        self.hidden_box = self._int_box("hidden", suffix=" units")
        self.dropout_box = QDoubleSpinBox(self)
        self.dropout_box.setRange(*_bounds(self._fields["dropout"], 0.0, 0.9))
        self.dropout_box.setSingleStep(0.05)
        self.dropout_box.setDecimals(2)
        self.dropout_box.setValue(float(self._defaults.dropout))  # type: ignore[attr-defined]
        self.checkpoint_every_box = self._int_box("checkpoint_every", suffix=" epoch(s)")

        run_form = QFormLayout()
        run_form.addRow("Run name", self.name_edit)
        training = QGroupBox("Training", self)
        training_form = QFormLayout(training)
        training_form.addRow("Epochs", self.epochs_box)
        training_form.addRow("Batch size", self.batch_size_box)
        training_form.addRow("Learning rate", self.learning_rate_box)
        training_form.addRow("Training images", self.train_limit_box)
        training_form.addRow("Seed", self.seed_box)
        model = QGroupBox("Model and checkpoints", self)
        model_form = QFormLayout(model)
        model_form.addRow("Conv channels", self.channels_edit)
        model_form.addRow("Hidden layer", self.hidden_box)
        model_form.addRow("Dropout", self.dropout_box)
        model_form.addRow("Checkpoint every", self.checkpoint_every_box)
        groups = QHBoxLayout()
        groups.addWidget(training)
        groups.addWidget(model)

        self.error_label = QLabel(self)
        self.error_label.setObjectName("dialogError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #cf3a3a;")
        self.error_label.setVisible(False)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        start = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        start.setText("Start training")
        start.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.setSpacing(12)
        # The dialog grows to fit an error message instead of squeezing the forms.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        intro.setMinimumWidth(560)
        layout.addWidget(intro)
        layout.addLayout(run_form)
        layout.addLayout(groups)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.name_edit.setFocus()

    def _int_box(
        self, field: str, suffix: str = "", low: int | None = None, high: int | None = None
    ) -> QSpinBox:
        box = QSpinBox(self)
        bound_low, bound_high = _bounds(self._fields[field], 0, SPIN_MAX)
        box.setRange(
            int(bound_low if low is None else low), int(min(bound_high, SPIN_MAX) if high is None else high)
        )
        default = getattr(self._defaults, field)
        if default is not None:
            box.setValue(int(default))
        box.setSuffix(suffix)
        box.setToolTip(self._fields[field].description or "")
        return box

    def spec(self) -> dict[str, Any]:
        """The job document the dialog describes, ready for services.jobs.submit."""
        params: dict[str, Any] = {
            "epochs": self.epochs_box.value(),
            "batch_size": self.batch_size_box.value(),
            "learning_rate": self.learning_rate_box.value(),
            "seed": self.seed_box.value(),
            "hidden": self.hidden_box.value(),
            "dropout": round(self.dropout_box.value(), 4),
            "checkpoint_every": self.checkpoint_every_box.value(),
        }
        channels = self._channels()
        params["channels"] = channels if channels is not None else self.channels_edit.text()
        if self.train_limit_box.value() > 0:
            params["train_limit"] = self.train_limit_box.value()
        name = self.name_edit.text().strip()
        if name:
            params["name"] = name
        return {"job": JOB_NAME, "params": params}

    def _channels(self) -> list[int] | None:
        parts = [part.strip() for part in self.channels_edit.text().replace(";", ",").split(",")]
        try:
            return [int(part) for part in parts if part]
        except ValueError:
            return None

    def accept(self) -> None:
        """Check the spec the way the engine will, and say what is wrong instead of closing."""
        try:
            if self._channels() is None:
                raise SpecError(
                    "conv channels must be whole numbers separated by commas,"
                    f" not '{self.channels_edit.text()}'",
                    "New training run: Conv channels",
                    "write e.g. 16, 32",
                )
            validate_spec(self.spec(), where="New training run")
        except SpecError as exc:
            self.error_label.setText(html.escape(exc.message, quote=False).replace("\n", "<br>"))
            self.error_label.setVisible(True)
            self.adjustSize()
            return
        self.error_label.setVisible(False)
        super().accept()
