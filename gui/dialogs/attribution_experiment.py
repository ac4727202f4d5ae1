"""The "Start experiment" dialog: an `attribution.experiment` job built from the designer's design, with the
accuracy bar checked against p* before anything starts."""

from __future__ import annotations

import html
import re
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.attribution.manipulations import IMAGE_MANIPULATIONS, TEXT_MANIPULATIONS
from engine.attribution.methods.catalog import METHOD_CATALOG
from engine.attribution.models.catalog import IMAGE_MODEL_CATALOG, TEXT_MODEL_CATALOG
from engine.attribution.relabel import binary_matrix, p_star
from engine.core.errors import LanternError, SpecError
from engine.jobs.registry import validate_spec
from gui.widgets.attribution_designer import BASES, DesignRequest, strength_bounds

JOB_NAME = "attribution.experiment"
DEFAULT_THRESHOLD = 0.9
DEFAULT_RUNS = 3
ERROR_COLOUR = "#cf3a3a"


def p_star_of(r: float) -> float:
    """p* of the balanced binary reassignment with keep-probability r: max(r, 1 − r)."""
    return float(p_star(binary_matrix(r), np.array([0.5, 0.5])))


def parse_values(text: str, where: str) -> list[float]:
    """ "0.5, 0.7 0.9" -> [0.5, 0.7, 0.9]; anything else is a LanternError naming the bad entry."""
    values = []
    for part in [p for p in re.split(r"[,\s;]+", text.strip()) if p]:
        try:
            values.append(float(part))
        except ValueError as exc:
            raise LanternError(
                f"“{part}” is not a number", where, "write numbers separated by commas, e.g. 0.5, 0.7, 0.9"
            ) from exc
    if not values:
        raise LanternError("the sweep has no values", where, "write numbers separated by commas")
    return values


class ExperimentDialog(QDialog):
    """Manipulations, runs, model, methods, the accuracy bar and an optional sweep; `spec()` is the job."""

    def __init__(self, design: DesignRequest, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Start attribution experiment")
        self.design = design
        self.modality = design.modality
        self.error_text = ""
        manipulations = TEXT_MANIPULATIONS if self.modality == "text" else IMAGE_MANIPULATIONS
        intro = QLabel(
            "For each manipulation, Lantern modifies the data, trains the model <b>runs</b> times with "
            "different seeds, keeps the runs whose validation accuracy passes the bar (which must be above "
            "p*, so a passing model must use the manipulation), and scores every method against the "
            "effective region. Replicates appear live on the Experiments tab.",
            self,
        )
        intro.setWordWrap(True)

        # data
        self.name_edit = QLineEdit(self)
        source = BASES.get(design.base, design.base)
        if design.base == "fashion_pair":
            from engine.demo.fashion_mnist import CLASS_NAMES

            source += f": {CLASS_NAMES[design.classes[0]]} vs {CLASS_NAMES[design.classes[1]]}"
            source += ", tinted" if design.colour else ""
        elif design.base == "image_folder":
            source += f": {design.folder}"
        self.name_edit.setText(f"{source.split(':')[0]} · r {design.r:.2f}")
        self.manipulation_boxes: dict[str, QCheckBox] = {}
        self.strengths: dict[str, float | None] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        for i, (name, info) in enumerate(manipulations.items()):
            strength = (
                design.strength if name == design.manipulation else getattr(info, "default_strength", None)
            )
            bounds = strength_bounds(info)
            self.strengths[name] = strength if bounds is not None else None
            label = str(getattr(info, "title", name))
            if bounds is not None and strength is not None:
                label += f"  ({strength:.0f})" if bounds[2] else f"  ({strength:.2f})"
            box = QCheckBox(label, self)
            box.setToolTip(str(getattr(info, "description", "")))
            box.setChecked(name == design.manipulation)
            self.manipulation_boxes[name] = box
            grid.addWidget(box, i // 2, i % 2)
        self.r_spin = QDoubleSpinBox(self)
        self.r_spin.setRange(0.0, 1.0)
        self.r_spin.setSingleStep(0.05)
        self.r_spin.setDecimals(2)
        self.r_spin.setValue(design.r)
        self.p_star_label = QLabel(self)
        self.p_star_label.setProperty("role", "muted")
        r_row = QHBoxLayout()
        r_row.addWidget(self.r_spin)
        r_row.addWidget(self.p_star_label, 1)
        self.sweep_box = QComboBox(self)
        self.sweep_box.addItem("No sweep", None)
        self.sweep_box.addItem("Sweep r", "r")
        self.sweep_box.addItem("Sweep strength", "strength")
        self.sweep_values = QLineEdit(self)
        self.sweep_values.setPlaceholderText("values, e.g. 0.5, 0.7, 0.9")
        self.sweep_values.setEnabled(False)
        sweep_row = QHBoxLayout()
        sweep_row.addWidget(self.sweep_box)
        sweep_row.addWidget(self.sweep_values, 1)
        data = QGroupBox("Data", self)
        data_form = QFormLayout(data)
        data_form.addRow("Name", self.name_edit)
        data_form.addRow("Base data", QLabel(html.escape(source), data))
        data_form.addRow("Manipulations", grid)
        data_form.addRow("r (keep label)", r_row)
        data_form.addRow("Sweep", sweep_row)

        # model and training
        catalog = TEXT_MODEL_CATALOG if self.modality == "text" else IMAGE_MODEL_CATALOG
        self.model_box = QComboBox(self)
        for name, (title, description) in catalog.items():
            self.model_box.addItem(title, name)
            self.model_box.setItemData(self.model_box.count() - 1, description, Qt.ItemDataRole.ToolTipRole)
        self.runs_spin = QSpinBox(self)
        self.runs_spin.setRange(1, 50)
        self.runs_spin.setValue(DEFAULT_RUNS)
        self.runs_spin.setToolTip("Replicates per manipulation (and sweep point), each with its own seed")
        self.threshold_spin = QDoubleSpinBox(self)
        self.threshold_spin.setRange(0.0, 1.0)
        self.threshold_spin.setSingleStep(0.01)
        self.threshold_spin.setDecimals(3)
        self.threshold_spin.setValue(DEFAULT_THRESHOLD)
        self.threshold_spin.setToolTip(
            "Validation accuracy a run must reach to be kept; it must lie above p* (the paper used 0.97)"
        )
        self.epochs_spin = QSpinBox(self)
        self.epochs_spin.setRange(1, 500)
        self.epochs_spin.setValue(15 if self.modality == "image" else 8)
        self.explain_spin = QSpinBox(self)
        self.explain_spin.setRange(1, 10_000)
        self.explain_spin.setValue(64)
        self.explain_spin.setToolTip("Test samples explained and scored per passing run")
        self.gallery_spin = QSpinBox(self)
        self.gallery_spin.setRange(0, 64)
        self.gallery_spin.setValue(8)
        self.gallery_spin.setToolTip("Explained samples kept per run for the Gallery tab")
        self.seed_spin = QSpinBox(self)
        self.seed_spin.setRange(0, 1_000_000)
        self.seed_spin.setValue(design.seed)
        model = QGroupBox("Model and training", self)
        model_form = QFormLayout(model)
        model_form.addRow("Model", self.model_box)
        model_form.addRow("Runs", self.runs_spin)
        model_form.addRow("Accuracy bar", self.threshold_spin)
        model_form.addRow("Max epochs", self.epochs_spin)
        model_form.addRow("Samples explained", self.explain_spin)
        model_form.addRow("Gallery samples", self.gallery_spin)
        model_form.addRow("Seed", self.seed_spin)

        # methods
        self.method_boxes: dict[str, QCheckBox] = {}
        methods = QGroupBox("Attribution methods", self)
        methods_layout = QVBoxLayout(methods)
        method_grid = QGridLayout()
        method_grid.setHorizontalSpacing(14)
        shown = [info for info in METHOD_CATALOG.values() if self.modality in info.modalities]
        for i, info in enumerate(shown):
            box = QCheckBox(info.title, self)
            box.setToolTip(f"{info.family}: {info.description}")
            box.setChecked(True)
            self.method_boxes[info.name] = box
            method_grid.addWidget(box, i // 3, i % 3)
        all_button = QPushButton("All", self)
        none_button = QPushButton("None", self)
        all_button.clicked.connect(lambda: self._check_methods(True))
        none_button.clicked.connect(lambda: self._check_methods(False))
        method_buttons = QHBoxLayout()
        method_buttons.addStretch(1)
        method_buttons.addWidget(all_button)
        method_buttons.addWidget(none_button)
        methods_layout.addLayout(method_grid)
        methods_layout.addLayout(method_buttons)

        self.error = QLabel(self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        standard = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(standard.Ok | standard.Cancel, self)
        self.ok_button = buttons.button(standard.Ok)
        self.ok_button.setText("Start experiment")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        columns = QHBoxLayout()
        columns.setSpacing(12)
        left = QVBoxLayout()
        left.addWidget(data)
        left.addWidget(methods)
        columns.addLayout(left, 3)
        columns.addWidget(model, 2, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(columns)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

        self.r_spin.valueChanged.connect(self._update_p_star)
        self.threshold_spin.valueChanged.connect(self._update_p_star)
        self.sweep_box.currentIndexChanged.connect(self._sweep_changed)
        self.sweep_values.textChanged.connect(self._update_p_star)
        self._update_p_star()

    def _check_methods(self, checked: bool) -> None:
        for box in self.method_boxes.values():
            box.setChecked(checked)

    def _sweep_changed(self) -> None:
        kind = self.sweep_box.currentData()
        self.sweep_values.setEnabled(kind is not None)
        if kind == "r" and not self.sweep_values.text():
            self.sweep_values.setText("0.5, 0.6, 0.7, 0.8, 0.9")
        elif kind == "strength" and not self.sweep_values.text():
            self.sweep_values.setPlaceholderText("strengths, e.g. 0.25, 0.5, 1.0")
        self._update_p_star()

    def r_values(self) -> list[float]:
        """Every r the experiment will use (the sweep's when it sweeps r)."""
        if self.sweep_box.currentData() == "r":
            return parse_values(self.sweep_values.text(), "sweep: r")
        return [self.r_spin.value()]

    def highest_p_star(self) -> float:
        return max(p_star_of(r) for r in self.r_values())

    def _update_p_star(self) -> None:
        try:
            value = self.highest_p_star()
        except LanternError:
            self.p_star_label.setText("")
            return
        passes = self.threshold_spin.value() > value
        colour = "#2e9d5b" if passes else ERROR_COLOUR
        self.p_star_label.setText(
            f'p* = {value:.2f} · bar <span style="color:{colour}">'
            f"{'above' if passes else 'not above'}</span> p*"
        )

    def manipulations(self) -> list[dict[str, Any]]:
        return [
            {"name": name, "strength": self.strengths[name]}
            for name, box in self.manipulation_boxes.items()
            if box.isChecked()
        ]

    def methods(self) -> list[str]:
        return [name for name, box in self.method_boxes.items() if box.isChecked()]

    def sweep(self) -> dict[str, list[float]] | None:
        kind = self.sweep_box.currentData()
        if kind is None:
            return None
        return {str(kind): parse_values(self.sweep_values.text(), f"sweep: {kind}")}

    def config(self) -> dict[str, Any]:
        """The experiment's configuration (the job's params); raises LanternError on a bad sweep."""
        design = self.design
        base: dict[str, Any] = {"kind": design.base}
        if design.base == "fashion_pair":
            base |= {"classes": list(design.classes), "colour": design.colour}
        elif design.base == "image_folder":
            base |= {"path": design.folder}
        return {
            "name": self.name_edit.text().strip() or "attribution experiment",
            "modality": self.modality,
            "base": base,
            "manipulations": self.manipulations(),
            "r": round(self.r_spin.value(), 4),
            "model": {"name": self.model_box.currentData()},
            "runs": self.runs_spin.value(),
            "train": {
                "max_epochs": self.epochs_spin.value(),
                "min_accuracy": round(self.threshold_spin.value(), 4),
            },
            "methods": self.methods(),
            "n_explain": self.explain_spin.value(),
            "n_gallery": self.gallery_spin.value(),
            "seed": self.seed_spin.value(),
            "sweep": self.sweep(),
        }

    def spec(self) -> dict[str, Any]:
        return {"job": JOB_NAME, "params": self.config()}

    def check(self) -> dict[str, Any]:
        """The job spec when everything is valid; else LanternError saying what and what to do."""
        if not self.manipulations():
            raise LanternError("no manipulation chosen", "manipulations", "tick at least one manipulation")
        if not self.methods():
            raise LanternError("no attribution method chosen", "methods", "tick at least one method")
        threshold = self.threshold_spin.value()
        for r in self.r_values():
            if not 0.0 <= r <= 1.0:
                raise LanternError(f"r = {r} is outside [0, 1]", "sweep: r", "use values between 0 and 1")
        highest = self.highest_p_star()
        if threshold <= highest:
            raise LanternError(
                f"the accuracy bar {threshold:.3f} is not above p* = {highest:.3f}",
                "accuracy bar",
                "a model that only reaches p* may ignore the manipulation; raise the bar above p* "
                "(e.g. 0.9), or lower r towards 0.5",
            )
        spec = self.spec()
        validate_spec(spec)
        return spec

    def accept(self) -> None:
        try:
            self.check()
        except (LanternError, SpecError) as exc:
            self.show_error(exc)
            return
        self.error_text = ""
        self.error.clear()
        super().accept()

    def show_error(self, exc: LanternError) -> None:
        self.error_text = exc.what
        text = f"<b>{html.escape(exc.what)}</b>"
        if exc.hint:
            text += f"<br>{html.escape(exc.hint)}"
        self.error.setText(text)
