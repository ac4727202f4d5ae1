"""The Augment page's Experiment tab: the form of an "ssl.experiment" (methods, arms p, controls, seeds,
epochs), and the chosen experiment's results read from the store: a table of linear-probe top-1 (mean ± sd
over seeds) and kNN per arm and method, a bar plot of linear-probe top-1 per arm with its spread and every
seed's point, and the SSL loss curve of every run coloured by arm."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import LanternError
from engine.store.database import Store
from gui.widgets.augment_views import (
    DatasetInfo,
    GeneratorChooser,
    GeneratorInfo,
    chosen_dataset,
    fill_datasets,
)
from gui.widgets.figure_export import ExportButton, export_table_csv
from gui.widgets.form_parts import ErrorLabel, form_beside, send_form, spin_box, table_item

JOB_NAME = "ssl.experiment"
RUN_KIND = "ssl"
LOSS_METRIC = "ssl_loss"
LINEAR_METRIC = "linear_top1"
KNN_METRIC = "knn_top1"
METHODS = (
    ("simclr", "SimCLR"),
    ("simsiam", "SimSiam"),
    ("byol", "BYOL"),
    ("moco_v2", "MoCo v2"),
    ("barlow_twins", "Barlow Twins"),
)
CONTROLS = (
    ("identity", "Identity", "The generator returns the source: must match the p=0 baseline"),
    (
        "other_image",
        "Other image",
        "The generator is conditioned on a random other image: should hurt, if meaning matters",
    ),
)
DRAWS = (
    ("per_image", "per image (fixed for the run, as the paper's code)"),
    ("per_sample", "per sample (redrawn every time)"),
)
DEFAULT_ARMS = "0, 0.5, 1"
# p arms from light to dark amber (more generated views, darker); the controls in their own hues.
P_COLOURS = ("#9ca3af", "#f6b65a", "#e8900c", "#b35f00")
CONTROL_COLOURS = {"identity": "#2f6fde", "other_image": "#cf3a3a"}
BAR_WIDTH = 0.8  # of one arm's slot, shared by its methods


def arm_key(config: dict[str, Any]) -> str:
    """The arm a run belongs to: "p=0.5", or a control's name ("identity", "other_image")."""
    arm = config.get("arm")
    if isinstance(arm, str) and arm:
        try:
            return f"p={float(arm):g}"
        except ValueError:
            return arm
    p = config.get("p", arm)
    if isinstance(p, int | float):
        return f"p={float(p):g}"
    return "?"


def arm_order(arm: str) -> tuple[int, float, str]:
    """p arms by p, then the controls in their listed order, then anything else."""
    if arm.startswith("p="):
        try:
            return (0, float(arm[2:]), arm)
        except ValueError:
            pass
    names = [name for name, *_ in CONTROLS]
    return (1, float(names.index(arm)) if arm in names else float(len(names)), arm)


def arm_title(arm: str) -> str:
    return {"identity": "identity", "other_image": "other image"}.get(arm, arm)


def arm_colour(arm: str, arms: list[str]) -> QColor:
    if arm in CONTROL_COLOURS:
        return QColor(CONTROL_COLOURS[arm])
    ps = [a for a in arms if a.startswith("p=")]
    if arm not in ps:
        return QColor("#6b7280")
    if len(ps) == 1:
        return QColor(P_COLOURS[2])
    index = round(ps.index(arm) * (len(P_COLOURS) - 1) / (len(ps) - 1))
    return QColor(P_COLOURS[index])


def method_title(method: str) -> str:
    return dict(METHODS).get(method, method)


def parse_arms(text: str) -> list[float]:
    """ "0, 0.5, 1" -> [0.0, 0.5, 1.0]; each p in [0, 1], no repeats."""
    parts = [p for p in re.split(r"[\s,;]+", text.strip()) if p]
    values: list[float] = []
    for part in parts:
        try:
            value = float(part)
        except ValueError as exc:
            raise LanternError(
                f"'{part}' is not a probability", "arms", "write the arms p as numbers, e.g. 0, 0.5, 1"
            ) from exc
        if not 0.0 <= value <= 1.0:
            raise LanternError(f"the arm p={value:g} is outside [0, 1]", "arms", "each p is a probability")
        if value not in values:
            values.append(value)
    return values


@dataclass
class SSLRun:
    """One stored run of an experiment: (method, arm, seed), its loss curve and final probe scores."""

    run_id: int
    name: str
    method: str
    arm: str
    seed: int | None
    status: str
    linear: float | None = None
    knn: float | None = None
    losses: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))


def _final(series: Any, summary: dict[str, Any], name: str) -> float | None:
    """A final score: the run's summary holds it when finished, else the last stored point of its metric."""
    value = summary.get(name)
    if value is None and series is not None and series.values:
        value = series.values[-1]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def load_experiment_runs(store: Store, experiment: int) -> list[SSLRun]:
    """The runs of the experiment whose job is `experiment` (config "experiment", or the run's own job)."""
    runs = []
    for record in store.runs.list(text=RUN_KIND, limit=5000):
        config = record.config or {}
        if record.kind != RUN_KIND:
            continue
        if config.get("experiment") != experiment and not (
            config.get("experiment") is None and record.job_id == experiment
        ):
            continue
        series = store.runs.metrics(record.id, [LOSS_METRIC, LINEAR_METRIC, KNN_METRIC])
        summary = record.summary or {}
        loss = series.get(LOSS_METRIC)
        seed = config.get("seed", record.seed)
        runs.append(
            SSLRun(
                run_id=record.id,
                name=record.name,
                method=str(config.get("method") or "?"),
                arm=arm_key(config),
                seed=int(seed) if isinstance(seed, int | float) else None,
                status=record.status,
                linear=_final(series.get(LINEAR_METRIC), summary, LINEAR_METRIC),
                knn=_final(series.get(KNN_METRIC), summary, KNN_METRIC),
                losses=(list(loss.steps), list(loss.values)) if loss else ([], []),
            )
        )
    return sorted(runs, key=lambda r: r.run_id)


@dataclass(frozen=True)
class ExperimentEntry:
    """An experiment: the job that started it (its id is the experiment's), and its newest job (a resume)."""

    job_id: int
    name: str
    status: str
    created_at: datetime | None
    spec: dict[str, Any]
    latest_job: int | None = None

    @property
    def label(self) -> str:
        return f"#{self.job_id} {self.name} · {self.status}"

    @property
    def running(self) -> bool:
        return self.status in ("queued", "running", "cancelling")


def list_experiments(store: Store) -> list[ExperimentEntry]:
    """The ssl.experiment jobs, newest first; a resumed job counts as the experiment it continues (its runs
    carry the first job's id), with the newest job's status."""
    jobs = {job.id: job for job in store.jobs.list(limit=1000) if job.name == JOB_NAME}

    def root(job_id: int) -> int:
        seen = {job_id}
        while jobs[job_id].resume_of in jobs and jobs[job_id].resume_of not in seen:
            job_id = int(jobs[job_id].resume_of)  # type: ignore[arg-type]
            seen.add(job_id)
        return job_id

    newest: dict[int, int] = {}
    for job_id in sorted(jobs):
        newest[root(job_id)] = job_id
    entries = []
    for first, last in newest.items():
        spec = jobs[first].spec or {}
        config = spec.get("config") or {}
        name = str(spec.get("experiment_name") or config.get("name") or f"experiment {first}")
        entries.append(
            ExperimentEntry(
                first, name, jobs[last].status, jobs[first].created_at, dict(spec), latest_job=last
            )
        )
    return sorted(entries, key=lambda e: -e.job_id)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0.0 for one value)."""
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0


@dataclass(frozen=True)
class ArmRow:
    """One (arm, method) cell of the results: linear and kNN over the seeds that finished."""

    arm: str
    method: str
    linear: list[float]
    knn: list[float]
    runs: int

    @property
    def done(self) -> int:
        return len(self.linear)

    @property
    def linear_mean_std(self) -> tuple[float, float] | None:
        return mean_std(self.linear) if self.linear else None

    @property
    def knn_mean_std(self) -> tuple[float, float] | None:
        return mean_std(self.knn) if self.knn else None


def summarise(runs: list[SSLRun]) -> list[ArmRow]:
    """(arm, method) rows in arm order then method order; a run counts once it has a linear-probe score."""
    groups: dict[tuple[str, str], list[SSLRun]] = {}
    for run in runs:
        groups.setdefault((run.arm, run.method), []).append(run)
    order = [m for m, _ in METHODS]
    keys = sorted(
        groups,
        key=lambda k: (arm_order(k[0]), order.index(k[1]) if k[1] in order else len(order), k[1]),
    )
    return [
        ArmRow(
            arm=arm,
            method=method,
            linear=[r.linear for r in groups[(arm, method)] if r.linear is not None],
            knn=[r.knn for r in groups[(arm, method)] if r.knn is not None],
            runs=len(groups[(arm, method)]),
        )
        for arm, method in keys
    ]


def percent(value: tuple[float, float] | None) -> str:
    """(mean, sd) of a fraction as "72.4 ± 1.3 %"."""
    if value is None:
        return "—"
    mean, std = value
    return f"{100 * mean:.1f} ± {100 * std:.1f} %"


class ResultsTable(QTableWidget):
    """Rows: arms. Per method: linear-probe top-1 (mean ± sd), kNN top-1 (mean ± sd), seeds done."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 1, parent)
        self.verticalHeader().hide()
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.rows: list[ArmRow] = []
        self.set_rows([])

    def set_rows(self, rows: list[ArmRow]) -> None:
        self.rows = list(rows)
        arms = sorted({r.arm for r in rows}, key=arm_order)
        order = [m for m, _ in METHODS]
        methods = sorted({r.method for r in rows}, key=lambda m: (order.index(m) if m in order else 99, m))
        headers = ["Arm"]
        for method in methods:
            title = method_title(method)
            headers += [f"{title} linear top-1", f"{title} kNN top-1", "seeds"]
        self.clear()
        self.setColumnCount(len(headers))
        self.setHorizontalHeaderLabels(headers)
        self.setRowCount(len(arms))
        by_key = {(r.arm, r.method): r for r in rows}
        for row, arm in enumerate(arms):
            name = table_item(arm_title(arm), arm)
            name.setForeground(arm_colour(arm, arms))
            self.setItem(row, 0, name)
            for index, method in enumerate(methods):
                cell = by_key.get((arm, method))
                column = 1 + 3 * index
                if cell is None:
                    continue
                linear = table_item(percent(cell.linear_mean_std), cell.linear_mean_std, right=True)
                linear.setToolTip(
                    "seeds: " + ", ".join(f"{100 * v:.1f} %" for v in cell.linear) if cell.linear else ""
                )
                font = linear.font()
                font.setBold(True)
                linear.setFont(font)
                self.setItem(row, column, linear)
                self.setItem(
                    row, column + 1, table_item(percent(cell.knn_mean_std), cell.knn_mean_std, right=True)
                )
                self.setItem(row, column + 2, table_item(f"{cell.done}/{cell.runs}", cell.done, right=True))
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        # As tall as its rows: the room below goes to the bar plot.
        rows_height = sum(self.rowHeight(r) for r in range(self.rowCount()))
        self.setFixedHeight(max(60, header.sizeHint().height() + rows_height + 2 * self.frameWidth() + 2))

    def write_csv(self, path: Path) -> None:
        rows = [
            {
                "arm": r.arm,
                "method": r.method,
                "linear_mean": (r.linear_mean_std or (None, None))[0],
                "linear_std": (r.linear_mean_std or (None, None))[1],
                "knn_mean": (r.knn_mean_std or (None, None))[0],
                "knn_std": (r.knn_mean_std or (None, None))[1],
                "seeds_done": r.done,
                "runs": r.runs,
            }
            for r in self.rows
        ]
        export_table_csv(rows, path)


class ArmBarPlot(QWidget):
    """Linear-probe top-1 per arm: one bar per method (mean over seeds) with ± one sd, and each seed's dot.
    The axis starts just below the lowest score so that differences of a point are visible; the caption
    says so."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(self)
        self.plot.setBackground(None)
        self.plot.showGrid(x=False, y=True, alpha=0.2)
        self.plot.setLabel("left", "linear-probe top-1 (%)")
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.legend = self.plot.addLegend(offset=(8, 8), labelTextSize="9pt", labelTextColor="#1f2937")
        self._items: list[Any] = []
        self.bars: dict[tuple[str, str], tuple[float, float, float]] = {}  # (arm, method) -> x, mean, sd
        self.caption = QLabel(self)
        self.caption.setProperty("role", "muted")
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.caption)
        self.set_rows([])

    def set_rows(self, rows: list[ArmRow]) -> None:
        for item in self._items:
            self.plot.removeItem(item)
        self._items, self.bars = [], {}
        self.legend.clear()
        done = [r for r in rows if r.linear]
        arms = sorted({r.arm for r in rows}, key=arm_order)
        order = [m for m, _ in METHODS]
        methods = sorted({r.method for r in done}, key=lambda m: (order.index(m) if m in order else 99, m))
        if not done:
            self.caption.setText("No run has a linear-probe score yet: bars appear as runs finish.")
            self.plot.getAxis("bottom").setTicks([[(i, arm_title(a)) for i, a in enumerate(arms)]])
            return
        lows = [100 * (np.mean(r.linear) - (r.linear_mean_std or (0, 0))[1]) for r in done]
        lows += [100 * min(r.linear) for r in done]
        highs = [100 * (np.mean(r.linear) + (r.linear_mean_std or (0, 0))[1]) for r in done]
        highs += [100 * max(r.linear) for r in done]
        span = max(max(highs) - min(lows), 1.0)
        base = max(0.0, float(np.floor((min(lows) - 0.6 * span) / 5.0) * 5.0))
        width = BAR_WIDTH / max(1, len(methods))
        styles = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine)
        for m_index, method in enumerate(methods):
            offset = (m_index - (len(methods) - 1) / 2) * width
            mine = [r for r in done if r.method == method]
            xs = [arms.index(r.arm) + offset for r in mine]
            means = [100 * r.linear_mean_std[0] for r in mine if r.linear_mean_std]
            stds = [100 * r.linear_mean_std[1] for r in mine if r.linear_mean_std]
            brushes = [pg.mkBrush(arm_colour(r.arm, arms)) for r in mine]
            outline = pg.mkPen("#374151", width=1, style=styles[m_index % len(styles)])
            bars = pg.BarGraphItem(
                x=xs,
                y0=base,
                height=[m - base for m in means],
                width=width * 0.9,
                brushes=brushes,
                pen=outline,
            )
            errors = pg.ErrorBarItem(
                x=np.array(xs),
                y=np.array(means),
                top=np.array(stds),
                bottom=np.array(stds),
                beam=width * 0.35,
                pen=pg.mkPen("#111827", width=1.5),
            )
            seed_x, seed_y = [], []
            for x, row in zip(xs, mine, strict=True):
                count = len(row.linear)
                for s_index, value in enumerate(row.linear):
                    jitter = ((s_index - (count - 1) / 2) * width * 0.5 / max(1, count)) if count > 1 else 0.0
                    seed_x.append(x + jitter)
                    seed_y.append(100 * value)
            dots = pg.ScatterPlotItem(
                x=seed_x, y=seed_y, size=6, brush=pg.mkBrush("#ffffff"), pen=pg.mkPen("#111827", width=1)
            )
            for item in (bars, errors, dots):
                self.plot.addItem(item)
            self._items += [bars, errors, dots]
            if len(methods) > 1:
                # Colour says the arm, the outline the method: the legend shows the outline on white.
                sample = pg.BarGraphItem(x=[0], height=[1], width=1, brush=pg.mkBrush("#ffffff"), pen=outline)
                self.legend.addItem(sample, method_title(method))
            for x, row, mean, std in zip(xs, mine, means, stds, strict=True):
                self.bars[(row.arm, row.method)] = (x, mean, std)
        self.plot.getAxis("bottom").setTicks([[(i, arm_title(a)) for i, a in enumerate(arms)]])
        self.plot.setXRange(-0.6, len(arms) - 0.4, padding=0)
        self.plot.setYRange(base, max(highs) + 0.15 * span, padding=0)
        seeds = sorted({len(r.linear) for r in done})
        self.caption.setText(
            "Bars: mean over seeds; whiskers: ± one standard deviation; dots: single seeds "
            f"({'/'.join(str(s) for s in seeds)} seed(s) per bar). The axis starts at {base:g} %, not 0."
        )


class LossCurves(QWidget):
    """SSL loss against epoch, one curve per run, coloured by arm (legend: one entry per arm)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(self)
        self.plot.setBackground(None)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "SSL loss")
        self.legend = self.plot.addLegend(offset=(-8, 8), labelTextSize="9pt", labelTextColor="#1f2937")
        self.curves: dict[int, pg.PlotDataItem] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def set_runs(self, runs: list[SSLRun]) -> None:
        for item in self.curves.values():
            self.plot.removeItem(item)
        self.curves = {}
        self.legend.clear()
        arms = sorted({r.arm for r in runs}, key=arm_order)
        named: set[str] = set()
        for run in runs:
            steps, values = run.losses
            colour = arm_colour(run.arm, arms)
            item = self.plot.plot(steps, values, pen=pg.mkPen(colour, width=1.6))
            item.setToolTip(run.name)
            self.curves[run.run_id] = item
            if run.arm not in named:
                named.add(run.arm)
                self.legend.addItem(item, arm_title(run.arm))

    def points(self, run_id: int) -> tuple[list[float], list[float]]:
        item = self.curves.get(run_id)
        if item is None or item.xData is None:
            return [], []
        return [float(x) for x in item.xData], [float(y) for y in item.yData]


class ExperimentForm(QWidget):
    """The experiment's config: data, methods, arms and controls, seeds, the generator of the bank, SSL."""

    run_requested = Signal(dict)  # the "ssl.experiment" job document's params

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name_edit = QLineEdit("generative views")
        self.name_edit.setToolTip("The experiment's name")
        self.dataset_box = QComboBox()
        self.limit_spin = spin_box(
            0, 10_000_000, 2000, "Training images used (0: all); the test split probes"
        )
        self.limit_spin.setSpecialValueText("all")
        self.method_checks: dict[str, QCheckBox] = {}
        methods = QWidget()
        method_grid = QGridLayout(methods)
        method_grid.setContentsMargins(0, 0, 0, 0)
        for index, (name, title) in enumerate(METHODS):
            check = QCheckBox(title)
            check.setChecked(name == "simclr")
            self.method_checks[name] = check
            method_grid.addWidget(check, index // 2, index % 2)
        self.arms_edit = QLineEdit(DEFAULT_ARMS)
        self.arms_edit.setToolTip("Probabilities p that view 2 is a generated view, e.g. 0, 0.5, 1")
        self.control_checks: dict[str, QCheckBox] = {}
        controls = QWidget()
        control_layout = QVBoxLayout(controls)
        control_layout.setContentsMargins(0, 0, 0, 0)
        for name, title, tip in CONTROLS:
            check = QCheckBox(title)
            check.setToolTip(tip)
            check.setChecked(True)
            self.control_checks[name] = check
            control_layout.addWidget(check)
        self.seeds_spin = spin_box(1, 20, 3, "Seeds per arm and method (the spread needs 3 or more)")
        self.draw_box = QComboBox()
        for key, title in DRAWS:
            self.draw_box.addItem(title, key)
        self.draw_box.setToolTip(
            "Whether the real-or-generated choice is redrawn every time or fixed per image"
        )
        self.generator = GeneratorChooser()
        # The CLI's defaults (engine.ssl.experiment_config), sized for a CPU: K 4, 10 epochs, 2,000 images.
        self.k_spin = spin_box(1, 64, 4, "Generated views per image in the bank (the paper: 10)")
        self.epochs_spin = spin_box(1, 10_000, 10, "SSL epochs (the same for every arm)")
        self.batch_spin = spin_box(2, 65_536, 256, "SSL batch size")
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(5)
        self.lr_spin.setRange(0.0, 10.0)
        self.lr_spin.setSingleStep(0.0005)
        self.lr_spin.setValue(0.0)
        self.lr_spin.setSpecialValueText("method default")
        self.lr_spin.setToolTip("Learning rate (at the left end: the method's default)")
        self.width_spin = spin_box(4, 512, 32, "Backbone width (channels of the first stage)")
        self.probe_spin = spin_box(1, 10_000, 100, "Epochs of the linear probe on the frozen backbone")
        self.run_button = QPushButton("Run experiment")
        self.run_button.setObjectName("primaryAction")
        self.run_button.setToolTip("Start the experiment job (Ctrl+Return)")
        self.run_button.clicked.connect(self.run)
        self.error_label = ErrorLabel()

        data = QGroupBox("Data and arms")
        data_form = QFormLayout(data)
        data_form.addRow("Name", self.name_edit)
        data_form.addRow("Dataset", self.dataset_box)
        data_form.addRow("Images", self.limit_spin)
        data_form.addRow("Methods", methods)
        data_form.addRow("Arms p", self.arms_edit)
        data_form.addRow("Controls", controls)
        data_form.addRow("Seeds", self.seeds_spin)
        data_form.addRow("Draw", self.draw_box)
        generator = QGroupBox("Generated views (the bank)")
        generator_layout = QVBoxLayout(generator)
        generator_layout.addWidget(self.generator)
        k_form = QFormLayout()
        k_form.addRow("Views per image (K)", self.k_spin)
        generator_layout.addLayout(k_form)
        ssl = QGroupBox("Self-supervised training")
        ssl_form = QFormLayout(ssl)
        ssl_form.addRow("Epochs", self.epochs_spin)
        ssl_form.addRow("Batch size", self.batch_spin)
        ssl_form.addRow("Learning rate", self.lr_spin)
        ssl_form.addRow("Backbone width", self.width_spin)
        ssl_form.addRow("Probe epochs", self.probe_spin)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(data)
        layout.addWidget(generator)
        layout.addWidget(ssl)
        layout.addWidget(self.run_button)
        layout.addWidget(self.error_label)
        layout.addStretch(1)

    def set_datasets(self, datasets: list[DatasetInfo]) -> None:
        fill_datasets(self.dataset_box, datasets)

    def set_generators(self, generators: list[GeneratorInfo]) -> None:
        self.generator.set_generators(generators)

    def params(self) -> dict[str, Any]:
        """The job's params {config, experiment_name}; raises LanternError for a form that cannot run."""
        dataset = chosen_dataset(self.dataset_box)
        methods = [name for name, check in self.method_checks.items() if check.isChecked()]
        if not methods:
            raise LanternError("no SSL method is ticked", "methods", "tick at least one method")
        arms = parse_arms(self.arms_edit.text())
        controls = [name for name, check in self.control_checks.items() if check.isChecked()]
        if not arms and not controls:
            raise LanternError("the experiment has no arm", "arms", "give at least one p, e.g. 0, 1")
        generator = self.generator.request_args()
        ssl: dict[str, Any] = {
            "epochs": int(self.epochs_spin.value()),
            "batch_size": int(self.batch_spin.value()),
            "width": int(self.width_spin.value()),
        }
        if self.lr_spin.value() > 0:
            ssl["lr"] = float(self.lr_spin.value())
        limit = int(self.limit_spin.value())
        config = {
            "dataset": str(dataset),
            "limit": limit or None,
            "methods": methods,
            "arms": arms,
            "controls": controls,
            "seeds": list(range(int(self.seeds_spin.value()))),
            "draw": str(self.draw_box.currentData()),
            "generator": {
                "name": generator["generator"],
                "checkpoint": generator["checkpoint"],
                "settings": generator["settings"],
            },
            "k": int(self.k_spin.value()),
            "ssl": ssl,
            "probe_epochs": int(self.probe_spin.value()),
        }
        return {"config": config, "experiment_name": self.name_edit.text().strip() or "experiment"}

    def run(self) -> dict[str, Any] | None:
        return send_form(self.params, self.show_error, self.run_requested)

    def show_error(self, error: LanternError | None) -> None:
        self.error_label.show_error(error)


class ExperimentPanel(QWidget):
    """The form (left); the chosen experiment's table, bar plot and loss curves (right)."""

    experiment_chosen = Signal(object)  # job id or None
    cancel_requested = Signal(int)  # job id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.experiments: list[ExperimentEntry] = []
        self.runs: list[SSLRun] = []
        self.form = ExperimentForm()

        self.experiment_box = QComboBox()
        self.experiment_box.setMinimumWidth(260)
        self.experiment_box.setToolTip("The experiment whose results are shown")
        self.experiment_box.currentIndexChanged.connect(
            lambda _i: self.experiment_chosen.emit(self.current())
        )
        self.job_label = QLabel()
        self.job_label.setProperty("role", "muted")
        self.cancel_button = QPushButton("Stop")
        self.cancel_button.setToolTip("Cancel the experiment's job; finished runs are kept")
        self.cancel_button.clicked.connect(self._cancel)
        self.cancel_button.hide()
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Experiment"))
        bar.addWidget(self.experiment_box, 1)
        bar.addWidget(self.job_label, 1)
        bar.addWidget(self.cancel_button)

        # The results figure (title, table, bars): what its Export writes.
        self.figure = QFrame()
        self.figure.setProperty("role", "card")
        figure_layout = QVBoxLayout(self.figure)
        figure_layout.setContentsMargins(14, 10, 14, 10)
        self.title_label = QLabel("No experiment yet")
        self.title_label.setStyleSheet("font-size: 13pt; font-weight: 600;")
        self.summary_label = QLabel()
        self.summary_label.setProperty("role", "muted")
        self.summary_label.setWordWrap(True)
        self.table = ResultsTable()
        self.bars = ArmBarPlot()
        self.bars.setMinimumHeight(220)
        figure_layout.addWidget(self.title_label)
        figure_layout.addWidget(self.summary_label)
        figure_layout.addWidget(self.table)
        figure_layout.addWidget(self.bars, 1)
        self.export_button = ExportButton(
            lambda: self.figure, name="augment-experiment", table_csv=self.table.write_csv, parent=self
        )
        self.losses = LossCurves()
        self.loss_export = ExportButton(lambda: self.losses, name="augment-ssl-loss", parent=self)
        loss_card = QFrame()
        loss_card.setProperty("role", "card")
        loss_layout = QVBoxLayout(loss_card)
        loss_layout.setContentsMargins(12, 8, 12, 8)
        loss_top = QHBoxLayout()
        loss_title = QLabel("SSL loss per run")
        loss_title.setStyleSheet("font-weight: 600;")
        loss_top.addWidget(loss_title, 1)
        loss_top.addWidget(self.loss_export)
        loss_layout.addLayout(loss_top)
        loss_layout.addWidget(self.losses, 1)
        figure_top = QHBoxLayout()
        figure_top.addStretch(1)
        figure_top.addWidget(self.export_button)
        results = QWidget()
        results_layout = QVBoxLayout(results)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addLayout(figure_top)
        results_layout.addWidget(self.figure, 1)
        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(results)
        plots.addWidget(loss_card)
        plots.setStretchFactor(0, 3)
        plots.setStretchFactor(1, 2)
        plots.setChildrenCollapsible(False)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(bar)
        right_layout.addWidget(plots, 1)
        form_beside(self, self.form, right, 360, 450)

    def set_experiments(self, experiments: list[ExperimentEntry], select: int | None = None) -> None:
        """List the experiments (newest first), keeping the choice or choosing `select`."""
        keep = select if select is not None else self.current()
        self.experiments = list(experiments)
        box = self.experiment_box
        box.blockSignals(True)
        box.clear()
        for entry in self.experiments:
            box.addItem(entry.label, entry.job_id)
        found = box.findData(keep) if keep is not None else -1
        box.setCurrentIndex(found if found >= 0 else (0 if self.experiments else -1))
        box.blockSignals(False)
        current = self.current()
        if current != keep:
            self.experiment_chosen.emit(current)

    def current(self) -> int | None:
        data = self.experiment_box.currentData()
        return int(data) if data is not None else None

    def entry(self) -> ExperimentEntry | None:
        return next((e for e in self.experiments if e.job_id == self.current()), None)

    def set_runs(self, runs: list[SSLRun]) -> None:
        """Show the chosen experiment's runs: table, bars and curves."""
        self.runs = list(runs)
        entry = self.entry()
        rows = summarise(self.runs)
        self.table.set_rows(rows)
        self.bars.set_rows(rows)
        self.losses.set_runs(self.runs)
        if entry is None:
            self.title_label.setText("No experiment yet")
            self.summary_label.setText("Fill in the form and press Run experiment: results appear here live.")
            self.cancel_button.hide()
            return
        self.title_label.setText(f"{entry.name}: linear-probe top-1 per arm")
        done = sum(1 for r in runs if r.linear is not None)
        config = entry.spec.get("config") or {}
        parts = [f"{done} of {len(runs)} run(s) finished"]
        if config:
            generator = (config.get("generator") or {}).get("name")
            ssl = config.get("ssl") or {}
            parts += [
                f"dataset {config.get('dataset')}"
                + (f" ({config['limit']} images)" if config.get("limit") else ""),
                f"generator {generator}, K {config.get('k')}" if generator else "",
                f"{ssl.get('epochs')} epochs" if ssl.get("epochs") else "",
                f"draw {config.get('draw')}" if config.get("draw") else "",
            ]
        self.summary_label.setText(" · ".join(p for p in parts if p))
        self.cancel_button.setVisible(entry.running)

    def set_job_text(self, text: str) -> None:
        self.job_label.setText(text)

    def _cancel(self) -> None:
        entry = self.entry()
        if entry is not None:
            self.cancel_requested.emit(entry.latest_job or entry.job_id)  # the job running now
