"""The Relational page's Train tab: the Box-World level form, the agent (relational, baseline or both) and
PPO essentials turned into checked RLTrainConfig dicts for the "rl.train" job, and the curves of fraction
solved (training and held-out evaluation) against environment steps of the stored "rl-train" runs, relational
and baseline overlaid in two colour families."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pyqtgraph as pg
from pydantic import ValidationError
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import LanternError
from engine.rl.boxworld.config import BoxWorldConfig
from engine.rl.ppo_config import PPOConfig
from engine.store.database import Store
from gui.widgets.figure_export import ExportButton
from gui.widgets.form_parts import send_form

JOB_NAME = "rl.train"
RUN_KIND = "rl-train"
TRAIN_METRIC = "fraction_solved"
EVAL_METRIC = "eval_fraction_solved"
AGENT_CHOICES = (
    ("relational", "Relational"),
    ("baseline", "Baseline (ResNet)"),
    ("both", "Both, side by side"),
)
DEVICES = ("auto", "cpu", "cuda")
# Relational runs in warm tones, baseline runs in cool ones; shades tell runs of one agent apart.
AGENT_COLOURS = {
    "relational": ("#e8900c", "#b35f00", "#f6b65a", "#8a4300"),
    "baseline": ("#2f6fde", "#163f8c", "#7ea8f2", "#0b2a66"),
}
OTHER_COLOURS = ("#6b7280", "#374151")
MAX_RUNS_SHOWN = 8  # the newest runs drawn by default
_PAIR = re.compile(r"[\s,;]*(\d+)\s*(?::|->|→|-|>)\s*(\d+)[\s,;]*")


def parse_pairs(text: str) -> list[list[int]]:
    """Withheld key->lock colour pairs written "3:5, 7:2" (or "3-5 7->2") -> [[3, 5], [7, 2]]."""
    pairs, at = [], 0
    while at < len(text):
        match = _PAIR.match(text, at)
        if match is None:
            chunk = re.split(r"[,;]", text[at:])[0].strip()
            raise LanternError(
                f"'{chunk}' is not a key:lock colour pair",
                "withheld pairs",
                "write pairs of colour indices as key:lock, separated by commas, e.g. 3:5, 7:2",
            )
        pairs.append([int(match.group(1)), int(match.group(2))])
        at = match.end()
    return pairs


def check_level(level: dict[str, Any]) -> dict[str, Any]:
    """The engine's own check of a level family (BoxWorldConfig); its LanternError as it is."""
    try:
        return BoxWorldConfig.model_validate(level).model_dump()
    except ValidationError as exc:
        problem = exc.errors()[0]
        field_name = ".".join(str(p) for p in problem["loc"]) or "level"
        raise LanternError(
            f"{field_name}: {problem['msg']}", f"BoxWorldConfig.{field_name}", "correct the level settings"
        ) from exc


def check_ppo(ppo: dict[str, Any]) -> dict[str, Any]:
    """PPO settings checked by the engine's PPOConfig (torch-free); only the fields given are sent."""
    PPOConfig(**ppo)
    return ppo


@dataclass
class RunCurves:
    """One stored rl-train run's curves: (steps, values) of training and evaluation fraction solved."""

    run_id: int
    name: str
    agent: str
    status: str
    train: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))
    evaluation: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))

    @property
    def label(self) -> str:
        return f"#{self.run_id} {self.agent or '?'} · {self.name}"


def load_run_curves(store: Store, limit: int = 50) -> list[RunCurves]:
    """The newest rl-train runs with their fraction-solved curves, newest first."""
    runs = [r for r in store.runs.list(text=RUN_KIND, limit=500) if r.kind == RUN_KIND][:limit]
    curves = []
    for record in runs:
        series = store.runs.metrics(record.id, [TRAIN_METRIC, EVAL_METRIC])
        config = record.config or {}
        train, evaluation = series.get(TRAIN_METRIC), series.get(EVAL_METRIC)
        curves.append(
            RunCurves(
                run_id=record.id,
                name=record.name,
                agent=str(config.get("agent", "")),
                status=record.status,
                train=(list(train.steps), list(train.values)) if train else ([], []),
                evaluation=(list(evaluation.steps), list(evaluation.values)) if evaluation else ([], []),
            )
        )
    return curves


def run_colours(runs: list[RunCurves]) -> dict[int, QColor]:
    """A colour per run: the agent's family, shades in run order (oldest first)."""
    seen: dict[str, int] = {}
    colours = {}
    for run in sorted(runs, key=lambda r: r.run_id):
        family = AGENT_COLOURS.get(run.agent, OTHER_COLOURS)
        index = seen.get(run.agent, 0)
        seen[run.agent] = index + 1
        colours[run.run_id] = QColor(family[index % len(family)])
    return colours


class CurvesView(QWidget):
    """Fraction solved against environment steps: training (left) and held-out evaluation (right)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = pg.GraphicsLayoutWidget(self)
        self.canvas.setBackground(None)
        self.plots = {}
        for column, (metric, title) in enumerate(
            (
                (TRAIN_METRIC, "Fraction solved (training)"),
                (EVAL_METRIC, "Eval fraction solved (held-out levels)"),
            )
        ):
            plot = self.canvas.addPlot(row=0, col=column, title=title)
            plot.setLabel("bottom", "environment steps")
            plot.setYRange(0, 1.0, padding=0.02)
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.getAxis("bottom").enableAutoSIPrefix(True)
            self.plots[metric] = plot
        # Top left, on a light box: the curves rise to the right, so the bottom right is where they are.
        self.legend = self.plots[EVAL_METRIC].addLegend(
            offset=(8, 8),
            labelTextSize="9pt",
            labelTextColor="#1f2937",
            brush=pg.mkBrush(255, 255, 255, 210),
            pen=pg.mkPen("#d1d5db"),
        )
        self.curves: dict[tuple[int, str], pg.PlotDataItem] = {}
        self.colours: dict[int, QColor] = {}
        self.placeholder = QLabel("No training runs yet: set up a level family and press Start.", self)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setProperty("role", "muted")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.canvas, 1)
        self.set_runs([])

    def set_runs(self, runs: list[RunCurves]) -> None:
        """Draw these runs (replacing what was drawn); a run without points yet keeps a legend entry."""
        for (_run, metric), item in self.curves.items():
            self.plots[metric].removeItem(item)
        self.curves.clear()
        self.legend.clear()
        self.colours = run_colours(runs)
        for run in runs:
            colour = self.colours[run.run_id]
            for metric, (steps, values) in ((TRAIN_METRIC, run.train), (EVAL_METRIC, run.evaluation)):
                pen = pg.mkPen(colour, width=2 if metric == TRAIN_METRIC else 2.5)
                symbol = (
                    {}
                    if metric == TRAIN_METRIC
                    else {"symbol": "o", "symbolSize": 5, "symbolBrush": colour, "symbolPen": None}
                )
                item = self.plots[metric].plot(steps, values, pen=pen, name=None, **symbol)
                self.curves[(run.run_id, metric)] = item
            self.legend.addItem(self.curves[(run.run_id, EVAL_METRIC)], run.label)
        self.placeholder.setVisible(not runs)
        self.canvas.setVisible(bool(runs))

    def points(self, run_id: int, metric: str) -> tuple[list[float], list[float]]:
        item = self.curves.get((run_id, metric))
        if item is None or item.xData is None:
            return [], []
        return [float(x) for x in item.xData], [float(y) for y in item.yData]


def _spin(low: int, high: int, value: int, tip: str, step: int = 1) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setSingleStep(step)
    spin.setToolTip(tip)
    spin.setGroupSeparatorShown(high >= 100_000)
    return spin


def _range_row(low: QSpinBox, high: QSpinBox) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(6)
    layout.addWidget(low)
    layout.addWidget(QLabel("to"))
    layout.addWidget(high)
    layout.addStretch(1)
    return row


class TrainPanel(QWidget):
    """The form (left) and the curves and runs (right). `start_requested(configs)` carries the checked
    RLTrainConfig dicts (two for "both"); the page submits them as jobs."""

    start_requested = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        defaults = PPOConfig()
        self.name_edit = QLineEdit("boxworld-small")
        self.name_edit.setToolTip("The run's name (the agent is appended when training both)")
        self.size_spin = _spin(3, 30, 6, "Inner grid side (the paper: 12; CPU: 6-8)")
        self.solution_min = _spin(1, 50, 1, "Fewest boxes to open on the way to the gem")
        self.solution_max = _spin(1, 50, 2, "Most boxes to open on the way to the gem")
        self.distractor_min = _spin(0, 50, 0, "Fewest distractor branches")
        self.distractor_max = _spin(0, 50, 1, "Most distractor branches")
        self.distractor_length = _spin(1, 20, 1, "Boxes per distractor branch (the paper: 1)")
        self.colours_spin = _spin(1, 250, 20, "Key and lock colours (the paper: 20)")
        self.max_steps_spin = _spin(1, 10_000, 120, "Steps before a level is cut off (the paper: 120)")
        self.withheld_edit = QLineEdit()
        self.withheld_edit.setPlaceholderText("e.g. 3:5, 7:2")
        self.withheld_edit.setToolTip(
            "Key->lock colour pairs never seen in training, to test generalisation: key colour : lock colour,"
            " e.g. 3:5, 7:2 (or 3-5 7->2)"
        )
        self.agent_box = QComboBox()
        for key, title in AGENT_CHOICES:
            self.agent_box.addItem(title, key)
        self.agent_box.setToolTip(
            "Train the relational agent, the convolutional baseline, or both as two jobs"
        )
        self.total_steps_spin = _spin(
            1_000,
            2_000_000_000,
            max(defaults.total_steps, 1_000),
            "Environment steps to train for",
            step=50_000,
        )
        self.n_envs_spin = _spin(1, 4096, defaults.n_envs, "Levels played in parallel")
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(6)
        self.lr_spin.setRange(0.000001, 1.0)
        self.lr_spin.setSingleStep(0.0001)
        self.lr_spin.setValue(defaults.lr)
        self.lr_spin.setToolTip("Adam learning rate")
        self.eval_episodes_spin = _spin(1, 100_000, 200, "Held-out levels per evaluation")
        self.eval_every_spin = _spin(1, 100_000, 20, "Evaluate (and checkpoint) every this many PPO updates")
        self.seed_spin = _spin(0, 2**31 - 1, 0, "Seed of the training levels and the agent's initialisation")
        self.device_box = QComboBox()
        self.device_box.addItems(DEVICES)
        self.error_label = QLabel()
        self.error_label.setObjectName("formError")
        self.error_label.setStyleSheet("color: #cf3a3a;")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        self.start_button = QPushButton("Start training")
        self.start_button.setObjectName("primaryAction")
        self.start_button.setToolTip("Check the settings and start the job(s)")
        self.start_button.clicked.connect(self.start)
        self.job_label = QLabel()
        self.job_label.setProperty("role", "muted")
        self.job_label.setWordWrap(True)

        level = QGroupBox("Level family (Box-World)")
        level_form = QFormLayout(level)
        level_form.addRow("Grid size", self.size_spin)
        level_form.addRow("Solution length", _range_row(self.solution_min, self.solution_max))
        level_form.addRow("Distractor branches", _range_row(self.distractor_min, self.distractor_max))
        level_form.addRow("Distractor length", self.distractor_length)
        level_form.addRow("Colours", self.colours_spin)
        level_form.addRow("Max steps", self.max_steps_spin)
        level_form.addRow("Withheld pairs", self.withheld_edit)
        training = QGroupBox("Agent and PPO")
        training_form = QFormLayout(training)
        training_form.addRow("Name", self.name_edit)
        training_form.addRow("Agent", self.agent_box)
        training_form.addRow("Total steps", self.total_steps_spin)
        training_form.addRow("Parallel levels", self.n_envs_spin)
        training_form.addRow("Learning rate", self.lr_spin)
        training_form.addRow("Eval episodes", self.eval_episodes_spin)
        training_form.addRow("Eval every (updates)", self.eval_every_spin)
        training_form.addRow("Seed", self.seed_spin)
        training_form.addRow("Device", self.device_box)
        form = QWidget()
        form_layout = QVBoxLayout(form)
        form_layout.setContentsMargins(0, 0, 0, 0)
        form_layout.addWidget(level)
        form_layout.addWidget(training)
        form_layout.addWidget(self.error_label)
        form_layout.addWidget(self.start_button)
        form_layout.addWidget(self.job_label)
        form_layout.addStretch(1)
        form.setMinimumWidth(330)
        form.setMaximumWidth(420)

        self.curves = CurvesView()
        self.export_button = ExportButton(lambda: self.curves, name="rl-fraction-solved")
        self.run_list = QListWidget()
        self.run_list.setMaximumHeight(130)
        self.run_list.setToolTip("Tick the runs whose curves are drawn")
        self.run_list.itemChanged.connect(lambda _item: self.draw())
        right = QFrame()
        right.setProperty("role", "card")
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(12, 8, 12, 8)
        top = QHBoxLayout()
        heading = QLabel("Fraction of levels solved against environment steps")
        heading.setProperty("role", "section")
        top.addWidget(heading, 1)
        top.addWidget(self.export_button)
        right_layout.addLayout(top)
        right_layout.addWidget(self.curves, 1)
        right_layout.addWidget(self.run_list)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(form)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(splitter)
        self._checked: dict[int, bool] = {}
        self._runs: list[RunCurves] = []

    # the form
    def level_config(self) -> dict[str, Any]:
        """The level family as the form says it, unchecked."""
        return {
            "size": self.size_spin.value(),
            "solution_length": [self.solution_min.value(), self.solution_max.value()],
            "distractors": [self.distractor_min.value(), self.distractor_max.value()],
            "distractor_length": self.distractor_length.value(),
            "colours": self.colours_spin.value(),
            "max_steps": self.max_steps_spin.value(),
            "withheld_pairs": parse_pairs(self.withheld_edit.text()),
        }

    def ppo_config(self) -> dict[str, Any]:
        return {
            "total_steps": self.total_steps_spin.value(),
            "n_envs": self.n_envs_spin.value(),
            "lr": float(self.lr_spin.value()),
        }

    def train_configs(self) -> list[dict[str, Any]]:
        """One RLTrainConfig dict per agent chosen; raises the engine's LanternError for a bad level."""
        level = check_level(self.level_config())
        ppo = check_ppo(self.ppo_config())
        choice = str(self.agent_box.currentData())
        agents = ["relational", "baseline"] if choice == "both" else [choice]
        name = self.name_edit.text().strip() or "boxworld"
        return [
            {
                "name": f"{name} · {agent}" if len(agents) > 1 else name,
                "env": {"kind": "boxworld", "boxworld": level},
                "agent": agent,
                "agent_config": {},
                "ppo": dict(ppo),
                "eval_episodes": self.eval_episodes_spin.value(),
                "eval_every": self.eval_every_spin.value(),
                "seed": self.seed_spin.value(),
                "device": self.device_box.currentText(),
            }
            for agent in agents
        ]

    def start(self) -> list[dict[str, Any]] | None:
        """Check the form; on success emit start_requested, else show the engine's message inline."""
        return send_form(self.train_configs, self.show_error, self.start_requested)

    def show_error(self, error: LanternError | None) -> None:
        if error is None:
            self.error_label.clear()
            self.error_label.hide()
            return
        text = (
            error.what
            + (f"\nwhere: {error.where}" if error.where else "")
            + (f"\nwhat to do: {error.hint}" if error.hint else "")
        )
        self.error_label.setText(text)
        self.error_label.show()

    # the runs and curves
    def set_runs(self, runs: list[RunCurves]) -> None:
        """List the runs (the newest MAX_RUNS_SHOWN ticked unless the user chose) and draw the ticked ones."""
        self.run_list.blockSignals(True)
        for row in range(self.run_list.count()):
            item = self.run_list.item(row)
            self._checked[int(item.data(Qt.ItemDataRole.UserRole))] = (
                item.checkState() == Qt.CheckState.Checked
            )
        self.run_list.clear()
        for index, run in enumerate(runs):
            last = f" · eval {run.evaluation[1][-1]:.2f}" if run.evaluation[1] else ""
            item = QListWidgetItem(f"{run.label} · {run.status}{last}")
            item.setData(Qt.ItemDataRole.UserRole, run.run_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            ticked = self._checked.get(run.run_id, index < MAX_RUNS_SHOWN)
            item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)
            self.run_list.addItem(item)
        self.run_list.blockSignals(False)
        self.run_list.setVisible(bool(runs))
        self._runs = runs
        self.draw()

    def ticked(self) -> list[int]:
        return [
            int(self.run_list.item(r).data(Qt.ItemDataRole.UserRole))
            for r in range(self.run_list.count())
            if self.run_list.item(r).checkState() == Qt.CheckState.Checked
        ]

    def draw(self) -> None:
        chosen = set(self.ticked())
        self.curves.set_runs([r for r in self._runs if r.run_id in chosen])
