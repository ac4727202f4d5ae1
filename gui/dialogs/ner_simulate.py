"""The "Simulate active learning" dialog: the paper's oracle experiment as a `ner.simulate` job."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import SpecError
from engine.jobs.registry import get_job_type, validate_spec
from engine.ner.acquisition import ACQUISITIONS

JOB_NAME = "ner.simulate"


class SimulateDialog(QDialog):
    """Strategies, seeds and rounds for a simulation on `corpus`; defaults come from the job's spec."""

    def __init__(self, corpus: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Simulate active learning")
        defaults = get_job_type(JOB_NAME).spec()
        self._corpus = corpus
        intro = QLabel(
            "Replays annotation with the gold labels as the oracle: each strategy picks sentences "
            "round by round under the same word budget, and the held-out F1 is plotted against words "
            "labelled. Curves appear live on the Runs page."
        )
        intro.setWordWrap(True)
        self.strategy_boxes: dict[str, QCheckBox] = {}
        strategies = QHBoxLayout()
        for name in ACQUISITIONS:
            box = QCheckBox(name.upper() if name != "random" else "random")
            box.setChecked(name in defaults.strategies)
            self.strategy_boxes[name] = box
            strategies.addWidget(box)
        strategies.addStretch(1)
        self.seeds = QSpinBox(minimum=1, maximum=50, value=defaults.seeds)
        self.rounds = QSpinBox(minimum=1, maximum=200, value=defaults.rounds)
        self.epochs = QSpinBox(minimum=1, maximum=200, value=defaults.epochs_per_round)
        self.limit = QSpinBox(minimum=0, maximum=1_000_000, value=defaults.limit, specialValueText="all")
        self.limit.setToolTip("use only the first N sentences of the corpus (all: the whole corpus)")
        self.preset = QComboBox()
        self.preset.addItems(["small-data", "paper"])
        self.preset.setCurrentText(defaults.preset)
        form = QFormLayout()
        form.addRow("Corpus", QLabel(corpus))
        form.addRow("Strategies", strategies)
        form.addRow("Seeds", self.seeds)
        form.addRow("Rounds", self.rounds)
        form.addRow("Epochs per round", self.epochs)
        form.addRow("Sentences", self.limit)
        form.addRow("Tagger size", self.preset)
        self.error = QLabel()
        self.error.setStyleSheet("color: #c62828;")
        self.error.setWordWrap(True)
        standard = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(standard.Ok | standard.Cancel)
        buttons.button(standard.Ok).setText("Start simulation")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def spec(self) -> dict[str, Any]:
        params = {
            "corpus": self._corpus,
            "strategies": [name for name, box in self.strategy_boxes.items() if box.isChecked()],
            "seeds": self.seeds.value(),
            "rounds": self.rounds.value(),
            "epochs_per_round": self.epochs.value(),
            "limit": self.limit.value(),
            "preset": self.preset.currentText(),
        }
        return {"job": JOB_NAME, "params": params}

    def accept(self) -> None:
        try:
            validate_spec(self.spec())
        except SpecError as exc:
            self.error.setText(exc.what)
            return
        super().accept()
