"""The Relational page's episode player: the "rl.episode" op's answer decoded with numpy, replayed step by
step on the crisp grid (play, pause, step, scrub; Space, Left/Right, Home/End), the step's action, reward,
value and policy, and the attention overlay (block, head or mean; a cell's row or, inverted, its column;
top-k arrows; key->lock pairs outlined) with the episode's key->lock attention against chance."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QKeySequence, QPainter, QPaintEvent, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import LanternError
from gui.interactive_bridge import InteractiveBridge
from gui.signals import disconnect_all
from gui.widgets.figure_export import ExportButton
from gui.widgets.form_parts import fill_choices, muted_label
from gui.widgets.rl_grid_view import PAIR_COLOURS, GridView, Overlay

EPISODE_OP = "rl.episode"
CHECKPOINTS_OP = "rl.checkpoints"
BUNDLED = ("bundled", "bundled:baseline")
PLAY_MS = 350  # one step per this many milliseconds while playing
DEFAULT_TOP_K = 3
MAX_SEED = 2**31 - 1
MEAN = -1  # the head (or block) combo's "mean" entry


# the op's answer
def decode_array(answer: dict[str, Any], name: str, dtype: str) -> np.ndarray | None:
    """An array of the op's answer: {"data": base64, "shape": [...], "dtype"?} or base64 text with its shape
    in `<name>_shape` (the contract's "base64 + shape"); None when the answer has none (a baseline's
    attention)."""
    value = answer.get(name)
    if value is None:
        return None
    try:
        if isinstance(value, dict):
            data, shape = value["data"], value["shape"]
            dtype = str(value.get("dtype", dtype))
        else:
            data, shape = value, answer[f"{name}_shape"]
        raw = base64.b64decode(str(data), validate=True)
        return np.frombuffer(raw, dtype=np.dtype(dtype)).reshape([int(n) for n in shape])
    except (KeyError, ValueError, TypeError, binascii.Error) as exc:
        raise LanternError(
            f"the episode's {name} cannot be decoded ({exc})",
            EPISODE_OP,
            "the engine and the GUI disagree: update both",
        ) from exc


@dataclass(frozen=True)
class Episode:
    """A recorded episode: T steps, T+1 frames, attention per frame [T+1, blocks, heads, N, N] or None."""

    frames: np.ndarray
    actions: list[int]
    rewards: list[float]
    values: list[float]
    policies: np.ndarray
    attention: np.ndarray | None
    roles: list[dict[str, Any]]
    solved: bool
    agent: str
    config: dict[str, Any]
    action_names: list[str]
    final_policy: list[float] = field(default_factory=list)  # the policy at the last frame (no action taken)

    @property
    def steps(self) -> int:
        """T, the number of actions taken; frames run 0..T."""
        return len(self.actions)

    @property
    def cells(self) -> int:
        return int(self.frames.shape[1] * self.frames.shape[2])

    @property
    def blocks(self) -> int:
        return 0 if self.attention is None else int(self.attention.shape[1])

    @property
    def heads(self) -> int:
        return 0 if self.attention is None else int(self.attention.shape[2])

    def key_lock_pairs(self, step: int) -> list[tuple[int, int]]:
        if not 0 <= step < len(self.roles):
            return []
        return [(int(k), int(lock)) for k, lock in self.roles[step].get("keys", [])]


def parse_episode(answer: Any) -> Episode:
    """The "rl.episode" answer as an Episode; a malformed answer is a LanternError saying what is wrong."""
    if not isinstance(answer, dict):
        raise LanternError("the episode op sent no episode", EPISODE_OP, "try loading again")
    frames = decode_array(answer, "frames", "uint8")
    if frames is None or frames.ndim != 4 or frames.shape[-1] != 3:
        raise LanternError("the episode has no frames [T+1, H, W, 3]", EPISODE_OP, "try loading again")
    frames = frames.astype(np.uint8)
    try:
        actions = [int(a) for a in answer.get("actions", [])]
        rewards = [float(r) for r in answer.get("rewards", [])]
        values = [float(v) for v in answer.get("values", [])]
        if answer.get("final_value") is not None and len(values) == len(actions):
            values.append(float(answer["final_value"]))  # the value of the last frame, after the last action
        policies = np.asarray(answer.get("policies", []), dtype=np.float64)
        final_policy = [float(p) for p in answer.get("final_policy") or []]
        roles = [dict(r) for r in answer.get("roles", [])]
    except (TypeError, ValueError) as exc:
        raise LanternError(f"the episode's steps are not understood ({exc})", EPISODE_OP) from exc
    steps = len(actions)
    if frames.shape[0] != steps + 1 or len(rewards) != steps:
        raise LanternError(
            f"the episode has {frames.shape[0]} frames, {steps} actions and {len(rewards)} rewards",
            EPISODE_OP,
            "an episode of T steps has T+1 frames and T actions and rewards",
        )
    attention = decode_array(answer, "attention", "float16")
    if attention is not None:
        n = frames.shape[1] * frames.shape[2]
        if attention.ndim != 5 or attention.shape[0] != steps + 1 or attention.shape[3:] != (n, n):
            raise LanternError(
                f"the attention has shape {list(attention.shape)}, not [T+1, blocks, heads, {n}, {n}]",
                EPISODE_OP,
                "the engine and the GUI disagree: update both",
            )
        attention = attention.astype(np.float32)
    names = [str(n) for n in answer.get("action_names", [])]
    if policies.ndim == 2 and len(names) < policies.shape[1]:
        names += [f"action {i}" for i in range(len(names), policies.shape[1])]
    return Episode(
        frames=frames,
        actions=actions,
        rewards=rewards,
        values=values,
        policies=policies,
        attention=attention,
        roles=roles,
        solved=bool(answer.get("solved", False)),
        agent=str(answer.get("agent", "")),
        config=dict(answer.get("config") or {}),
        action_names=names,
        final_policy=final_policy,
    )


# attention arithmetic (numpy, the same rows and columns the engine's AttentionStats reads)
def attention_matrix(attention_step: np.ndarray, block: int, head: int) -> np.ndarray:
    """[N, N] of one frame's attention [blocks, heads, N, N]: one head's, or the mean over heads (MEAN)."""
    of_block = attention_step[block]
    return of_block.mean(axis=0) if head == MEAN else of_block[head]


def attention_vector(matrix: np.ndarray, cell: int, invert: bool) -> np.ndarray:
    """Where `cell` attends (its row), or inverted who attends to it (its column)."""
    return np.asarray(matrix[:, cell] if invert else matrix[cell], dtype=np.float64)


def top_targets(vector: np.ndarray, k: int) -> tuple[tuple[int, float], ...]:
    """The k largest entries as (cell, weight), largest first; ties broken by the lower cell index."""
    order = np.lexsort((np.arange(vector.size), -vector))[: max(0, k)]
    return tuple((int(i), float(vector[i])) for i in order)


@dataclass(frozen=True)
class KeyLockStatistic:
    """Mean attention from a key to the lock it opens, over every (frame, pair) of the episode."""

    mass: float
    chance: float
    cases: int

    @property
    def ratio(self) -> float:
        return self.mass / self.chance if self.cases and self.chance > 0 else float("nan")


def key_lock_statistic(episode: Episode, block: int, head: int) -> KeyLockStatistic:
    """Key->lock attention of one block and head (or the mean of the heads) against chance 1/N."""
    chance = 1.0 / episode.cells
    if episode.attention is None:
        return KeyLockStatistic(float("nan"), chance, 0)
    total, cases = 0.0, 0
    for step in range(episode.attention.shape[0]):
        pairs = episode.key_lock_pairs(step)
        if not pairs:
            continue
        matrix = attention_matrix(episode.attention[step], block, head)
        rows, cols = np.array(pairs).T
        total += float(matrix[rows, cols].sum())
        cases += len(pairs)
    return KeyLockStatistic(total / cases if cases else float("nan"), chance, cases)


def key_lock_table(episode: Episode) -> np.ndarray:
    """[blocks, heads] key->lock mass as multiples of chance."""
    table = np.full((episode.blocks, episode.heads), np.nan)
    for block in range(episode.blocks):
        for head in range(episode.heads):
            table[block, head] = key_lock_statistic(episode, block, head).ratio
    return table


# checkpoints
@dataclass(frozen=True)
class CheckpointEntry:
    path: str
    label: str
    agent: str = ""


def parse_checkpoints(answer: Any) -> list[CheckpointEntry]:
    """The "rl.checkpoints" answer (a list, or {"checkpoints": [...]}) as entries, bundled ones first; the
    bundled checkpoints are always offered, since the op accepts their names even when the list failed."""
    items = answer.get("checkpoints", []) if isinstance(answer, dict) else (answer or [])
    entries: list[CheckpointEntry] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str):
            entries.append(CheckpointEntry(item, item))
            continue
        if not isinstance(item, dict) or not (item.get("checkpoint") or item.get("path")):
            continue
        path, agent = str(item.get("checkpoint") or item["path"]), str(item.get("agent") or "")
        name = str(item.get("name") or path.rsplit("/", 1)[-1])
        if item.get("run_id") is not None:
            name = f"run #{item['run_id']} {item.get('role') or name}"
        parts = [name]
        if agent:
            parts.append(agent)
        if item.get("env_steps") is not None:
            parts.append(f"{int(item['env_steps']):,} steps")
        evaluation = item.get("eval")
        solved = evaluation.get("fraction_solved") if isinstance(evaluation, dict) else evaluation
        if isinstance(solved, int | float):
            parts.append(f"eval {100 * float(solved):.0f} % solved")
        if item.get("error"):
            parts.append(f"unreadable: {item['error']}")
        entries.append(CheckpointEntry(path, " · ".join(parts), agent))
    known = {e.path for e in entries}
    defaults = [CheckpointEntry(p, f"{p} (shipped with Lantern)", p.split(":")[-1]) for p in BUNDLED]
    entries = [e for e in defaults if e.path not in known] + entries

    def rank(entry: CheckpointEntry) -> int:
        if entry.path in BUNDLED:
            return BUNDLED.index(entry.path)
        return len(BUNDLED) if entry.path.startswith("bundled") else len(BUNDLED) + 1

    return sorted(entries, key=rank)


def fill_checkpoints(box: QComboBox, entries: list[CheckpointEntry]) -> None:
    """List checkpoints in a combo, keeping the chosen one when it is still there."""
    fill_choices(box, [(entry.label, entry.path, entry.path, True) for entry in entries])


# widgets
class PolicyBars(QWidget):
    """The policy of one step as labelled horizontal bars; the action taken drawn in the accent colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.names: list[str] = []
        self.probabilities: list[float] = []
        self.taken: int | None = None
        self.setMinimumHeight(90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

    def set_policy(self, names: list[str], probabilities: list[float], taken: int | None) -> None:
        self.names, self.probabilities, self.taken = list(names), [float(p) for p in probabilities], taken
        self.setMinimumHeight(max(90, 22 * len(self.probabilities) + 4))
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(240, 22 * max(4, len(self.probabilities)) + 4)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text = self.palette().color(self.palette().ColorRole.WindowText)
        if not self.probabilities:
            painter.setPen(self.palette().color(self.palette().ColorRole.PlaceholderText))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no policy for this frame")
            painter.end()
            return
        label_w, value_w, row_h = 62.0, 46.0, 22.0
        bar_room = max(10.0, self.width() - label_w - value_w - 8)
        for index, p in enumerate(self.probabilities):
            y = 2 + index * row_h
            name = self.names[index] if index < len(self.names) else f"action {index}"
            painter.setPen(text)
            painter.drawText(
                QRectF(0, y, label_w - 6, row_h),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                name,
            )
            track = QRectF(label_w, y + 4, bar_room, row_h - 8)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(127, 127, 127, 45))
            painter.drawRoundedRect(track, 2, 2)
            painter.setBrush(QColor("#e8900c") if index == self.taken else QColor("#6b7280"))
            painter.drawRoundedRect(
                QRectF(track.left(), track.top(), bar_room * min(max(p, 0.0), 1.0), track.height()), 2, 2
            )
            painter.setPen(text)
            font = QFont(self.font())
            font.setBold(index == self.taken)
            painter.setFont(font)
            painter.drawText(
                QRectF(label_w + bar_room + 6, y, value_w, row_h), Qt.AlignmentFlag.AlignVCenter, f"{p:.3f}"
            )
            painter.setFont(self.font())
        painter.end()


class Transport(QWidget):
    """Home, step back, play/pause, step forward, End and the scrub slider, with the step shown."""

    step_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timer = QTimer(self, interval=PLAY_MS)
        self.timer.timeout.connect(self._tick)
        self.first_button = self._button(QStyle.StandardPixmap.SP_MediaSkipBackward, "First frame (Home)")
        self.back_button = self._button(QStyle.StandardPixmap.SP_MediaSeekBackward, "One step back (Left)")
        self.play_button = self._button(QStyle.StandardPixmap.SP_MediaPlay, "Play or pause (Space)")
        self.forward_button = self._button(
            QStyle.StandardPixmap.SP_MediaSeekForward, "One step forward (Right)"
        )
        self.last_button = self._button(QStyle.StandardPixmap.SP_MediaSkipForward, "Last frame (End)")
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the player's shortcuts own the arrow keys
        self.label = QLabel("step – / –", self)
        self.label.setMinimumWidth(96)
        for button in (
            self.first_button,
            self.back_button,
            self.play_button,
            self.forward_button,
            self.last_button,
        ):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setAutoRaise(False)
        self.first_button.clicked.connect(lambda: self.set_step(0))
        self.back_button.clicked.connect(lambda: self.set_step(self.step - 1))
        self.forward_button.clicked.connect(lambda: self.set_step(self.step + 1))
        self.last_button.clicked.connect(lambda: self.set_step(self.slider.maximum()))
        self.play_button.clicked.connect(self.toggle_play)
        self.slider.valueChanged.connect(self._moved)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        for button in (
            self.first_button,
            self.back_button,
            self.play_button,
            self.forward_button,
            self.last_button,
        ):
            layout.addWidget(button)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self.set_length(0)

    def _button(self, pixmap: QStyle.StandardPixmap, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setIcon(self.style().standardIcon(pixmap))
        button.setToolTip(tip)
        return button

    @property
    def step(self) -> int:
        return self.slider.value()

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def set_length(self, last: int) -> None:
        """Frames 0..last; back to frame 0."""
        self.pause()
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, last))
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.setEnabled(last > 0)
        self._moved(0)

    def set_step(self, step: int) -> None:
        self.slider.setValue(min(max(step, 0), self.slider.maximum()))

    def toggle_play(self) -> None:
        if self.playing:
            self.pause()
        elif self.slider.maximum() > 0:
            if self.step >= self.slider.maximum():
                self.set_step(0)
            self.timer.start()
            self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPause))

    def pause(self) -> None:
        self.timer.stop()
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))

    def _tick(self) -> None:
        if self.step >= self.slider.maximum():
            self.pause()
            return
        self.set_step(self.step + 1)

    def _moved(self, value: int) -> None:
        self.label.setText(f"step {value} / {self.slider.maximum()}")
        self.step_changed.emit(value)


def install_step_shortcuts(owner: QWidget, transport: Transport) -> list[QShortcut]:
    """Space plays or pauses, Left/Right step, Home/End jump, while the focus is inside `owner`."""
    bindings = (
        (Qt.Key.Key_Space, transport.toggle_play),
        (Qt.Key.Key_Left, lambda: transport.set_step(transport.step - 1)),
        (Qt.Key.Key_Right, lambda: transport.set_step(transport.step + 1)),
        (Qt.Key.Key_Home, lambda: transport.set_step(0)),
        (Qt.Key.Key_End, lambda: transport.set_step(transport.slider.maximum())),
    )
    shortcuts = []
    for key, slot in bindings:
        shortcut = QShortcut(QKeySequence(key), owner)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(slot)
        shortcuts.append(shortcut)
    return shortcuts


class PlayerPanel(QWidget):
    """Pick a checkpoint and a level seed, load the episode through the op, replay it and read its
    attention. `show_answer(answer)` is what runs when the op answers (tests feed it directly)."""

    failed = Signal(object)  # LanternError, for the page to post

    def __init__(self, interactive: InteractiveBridge | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.interactive = interactive
        self.episode: Episode | None = None
        self.cell: int | None = None
        self._request: int | None = None
        self._shut_down = False
        self._build()
        self.shortcuts = install_step_shortcuts(self, self.transport)
        if interactive is not None:
            interactive.answered.connect(self._answered)
            interactive.failed.connect(self._failed)
        self._show_attention_controls()

    def _build(self) -> None:
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.checkpoint_box = QComboBox(self)
        self.checkpoint_box.setMinimumWidth(280)
        self.checkpoint_box.setToolTip("The agent to replay: the bundled ones first, then your trained runs")
        fill_checkpoints(self.checkpoint_box, parse_checkpoints([]))
        self.seed_spin = QSpinBox(self)
        self.seed_spin.setRange(0, MAX_SEED)
        self.seed_spin.setToolTip("The level: the same seed gives the same level for every checkpoint")
        self.greedy_check = QCheckBox("Greedy", self)
        # Unticked by default: the agent was trained and evaluated acting on its sampled policy (seeded by
        # the level seed, so an episode replays identically); a memoryless argmax policy can loop forever.
        self.greedy_check.setChecked(False)
        self.greedy_check.setToolTip("Take the most probable action (unticked: sample from the policy)")
        self.load_button = QPushButton("Load episode", self)
        self.load_button.setObjectName("primaryAction")
        self.load_button.clicked.connect(self.load)
        self.export_button = ExportButton(lambda: self.grid, name="rl-episode-grid", parent=self)
        bar = QHBoxLayout()
        bar.setSpacing(8)
        bar.addWidget(QLabel("Checkpoint", self))
        bar.addWidget(self.checkpoint_box, 1)
        bar.addWidget(QLabel("Level seed", self))
        bar.addWidget(self.seed_spin)
        bar.addWidget(self.greedy_check)
        bar.addWidget(self.load_button)
        bar.addWidget(self.export_button)

        self.grid = GridView(self)
        self.grid.cell_clicked.connect(self.select_cell)
        self.transport = Transport(self)
        self.transport.step_changed.connect(lambda _step: self._show_step())
        self.status = muted_label("Pick a checkpoint and a level seed, then Load episode.", self)

        left = QVBoxLayout()
        left.setSpacing(6)
        left.addWidget(self.grid, 1)
        left.addWidget(self.transport)
        left.addWidget(self.status)

        side = QFrame(self)
        side.setProperty("role", "card")
        side.setMinimumWidth(300)
        side.setMaximumWidth(380)
        self.side = side
        column = QVBoxLayout(side)
        column.setContentsMargins(12, 10, 12, 10)
        column.setSpacing(6)
        title = QLabel("This step", side)
        title.setProperty("role", "section")
        column.addWidget(title)
        facts = QFormLayout()
        facts.setHorizontalSpacing(10)
        facts.setVerticalSpacing(2)
        self.action_label = QLabel("–", side)
        self.reward_label = QLabel("–", side)
        self.value_label = QLabel("–", side)
        self.outcome_label = QLabel("–", side)
        facts.addRow("Action", self.action_label)
        facts.addRow("Reward", self.reward_label)
        facts.addRow("Value", self.value_label)
        facts.addRow("Episode", self.outcome_label)
        column.addLayout(facts)
        column.addWidget(muted_label("Policy", side))
        self.policy = PolicyBars(side)
        column.addWidget(self.policy)

        rule = QFrame(side)
        rule.setFrameShape(QFrame.Shape.HLine)
        column.addWidget(rule)
        heading = QLabel("Attention", side)
        heading.setProperty("role", "section")
        column.addWidget(heading)
        controls = QGridLayout()
        controls.setHorizontalSpacing(8)
        controls.setVerticalSpacing(4)
        self.block_box = QComboBox(side)
        self.block_box.setToolTip("The attention block read")
        self.head_box = QComboBox(side)
        self.head_box.setToolTip("One head, or the mean of the block's heads")
        self.top_k_spin = QSpinBox(side)
        self.top_k_spin.setRange(1, 20)
        self.top_k_spin.setValue(DEFAULT_TOP_K)
        self.top_k_spin.setToolTip("Arrows to this many of the strongest targets")
        self.invert_check = QCheckBox("Invert: who attends to the cell", side)
        self.invert_check.setToolTip("Show the chosen cell's column (who attends to it) instead of its row")
        self.pairs_check = QCheckBox("Outline key → lock pairs", side)
        self.pairs_check.setChecked(True)
        controls.addWidget(QLabel("Block", side), 0, 0)
        controls.addWidget(self.block_box, 0, 1)
        controls.addWidget(QLabel("Head", side), 0, 2)
        controls.addWidget(self.head_box, 0, 3)
        controls.addWidget(QLabel("Top-k", side), 1, 0)
        controls.addWidget(self.top_k_spin, 1, 1)
        controls.addWidget(self.invert_check, 2, 0, 1, 4)
        controls.addWidget(self.pairs_check, 3, 0, 1, 4)
        column.addLayout(controls)
        self.cell_label = muted_label("Click a cell of the grid to see where it attends.", side)
        column.addWidget(self.cell_label)
        self.key_lock_label = QLabel(side)
        self.key_lock_label.setWordWrap(True)
        self.key_lock_label.setTextFormat(Qt.TextFormat.RichText)
        column.addWidget(self.key_lock_label)
        self.table_label = QLabel(side)
        self.table_label.setTextFormat(Qt.TextFormat.RichText)
        self.table_label.setWordWrap(True)
        column.addWidget(self.table_label)
        column.addStretch(1)
        for box in (self.block_box, self.head_box):
            box.currentIndexChanged.connect(lambda _i: self._attention_changed())
        self.top_k_spin.valueChanged.connect(lambda _v: self._show_step())
        self.invert_check.toggled.connect(lambda _on: self._show_step())
        self.pairs_check.toggled.connect(lambda _on: self._show_step())

        body = QHBoxLayout()
        body.setSpacing(12)
        body.addLayout(left, 1)
        body.addWidget(side)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(bar)
        layout.addLayout(body, 1)

    # loading
    def set_checkpoints(self, entries: list[CheckpointEntry]) -> None:
        fill_checkpoints(self.checkpoint_box, entries)

    def request_args(self) -> dict[str, Any]:
        return {
            "checkpoint": str(self.checkpoint_box.currentData() or "bundled"),
            "level_seed": int(self.seed_spin.value()),
            "greedy": bool(self.greedy_check.isChecked()),
        }

    def load(self) -> int | None:
        """Ask the engine for the episode; the answer arrives in show_answer."""
        if self.interactive is None:
            return None
        args = self.request_args()
        self._request = self.interactive.request(EPISODE_OP, **args)
        self.load_button.setEnabled(False)
        self.status.setText(
            f"Playing level {args['level_seed']} with {args['checkpoint']}… "
            "(the first request loads the agent)"
        )
        return self._request

    def _answered(self, request_id: int, answer: Any) -> None:
        if request_id != self._request or self._shut_down:
            return
        self._request = None
        self.load_button.setEnabled(True)
        self.show_answer(answer)

    def _failed(self, request_id: int, error: Any) -> None:
        if request_id != self._request or self._shut_down:
            return
        self._request = None
        self.load_button.setEnabled(True)
        self.show_error(error)

    def show_error(self, error: Any) -> None:
        error = error if isinstance(error, LanternError) else LanternError(str(error), EPISODE_OP)
        self.status.setText(
            f"The episode could not be loaded: {error.what}" + (f" ({error.hint})" if error.hint else "")
        )
        self.failed.emit(error)

    def show_answer(self, answer: Any) -> Episode | None:
        """Decode the op's answer and show it; a malformed one becomes a message, not a crash."""
        try:
            episode = parse_episode(answer)
        except LanternError as exc:
            self.show_error(exc)
            return None
        self.show_episode(episode)
        return episode

    def show_episode(self, episode: Episode) -> None:
        self.episode = episode
        self.cell = None
        self._show_attention_controls()
        outcome = "solved" if episode.solved else "not solved"
        total = sum(episode.rewards)
        self.status.setText(
            f"{episode.agent or 'agent'} · {episode.steps} steps · return {total:+.2f} · {outcome} · "
            f"{episode.frames.shape[1]}×{episode.frames.shape[2]} grid"
        )
        self.transport.set_length(episode.steps)
        self._show_step()

    def _show_attention_controls(self) -> None:
        episode = self.episode
        has = episode is not None and episode.attention is not None
        for box, count, name in (
            (self.block_box, episode.blocks if has else 0, "block"),
            (self.head_box, episode.heads if has else 0, "head"),
        ):
            chosen = box.currentData()
            box.blockSignals(True)
            box.clear()
            for index in range(count):
                box.addItem(f"{name} {index + 1}", index)
            if box is self.head_box and count:
                box.addItem("mean of heads", MEAN)
            box.setCurrentIndex(max(0, box.findData(chosen)))
            box.blockSignals(False)
        for widget in (self.block_box, self.head_box, self.top_k_spin, self.invert_check):
            widget.setEnabled(has)
        if episode is not None and not has:
            self.cell_label.setText("This agent has no attention to show (a convolutional baseline).")

    # the step and the overlay
    @property
    def step(self) -> int:
        return self.transport.step

    def set_step(self, step: int) -> None:
        self.transport.set_step(step)

    def block(self) -> int:
        return int(self.block_box.currentData() if self.block_box.count() else 0)

    def head(self) -> int:
        return int(self.head_box.currentData() if self.head_box.count() else MEAN)

    def select_cell(self, cell: int | None) -> None:
        """The cell whose attention is drawn (a click on the grid)."""
        self.cell = cell
        self._show_step()

    def _attention_changed(self) -> None:
        self._show_step()
        self._show_statistic()

    def current_overlay(self) -> Overlay | None:
        episode = self.episode
        if episode is None or episode.attention is None or self.cell is None:
            return None
        matrix = attention_matrix(episode.attention[self.step], self.block(), self.head())
        vector = attention_vector(matrix, self.cell, self.invert_check.isChecked())
        return Overlay(
            self.cell, vector, top_targets(vector, self.top_k_spin.value()), self.invert_check.isChecked()
        )

    def _show_step(self) -> None:
        episode = self.episode
        if episode is None:
            self.grid.set_frame(None)
            return
        step = self.step
        self.grid.set_frame(episode.frames[step])
        pairs = episode.key_lock_pairs(step) if self.pairs_check.isChecked() else []
        self.grid.set_outlines(
            [((k, lock), QColor(PAIR_COLOURS[i % len(PAIR_COLOURS)])) for i, (k, lock) in enumerate(pairs)]
        )
        overlay = self.current_overlay()
        self.grid.set_overlay(overlay)
        self.grid.set_selected(self.cell)
        if step < episode.steps:
            action = episode.actions[step]
            name = episode.action_names[action] if action < len(episode.action_names) else str(action)
            self.action_label.setText(f"{name} ({action})")
            self.reward_label.setText(f"{episode.rewards[step]:+.2f}")
            policy = (
                episode.policies[step] if episode.policies.ndim == 2 and step < len(episode.policies) else []
            )
            self.policy.set_policy(episode.action_names, list(policy), action)
        else:
            self.action_label.setText("– (last frame)")
            self.reward_label.setText("–")
            self.policy.set_policy(episode.action_names, episode.final_policy, None)
        value = episode.values[step] if step < len(episode.values) else None
        self.value_label.setText("–" if value is None else f"{value:.3f}")
        done = sum(episode.rewards[:step])
        self.outcome_label.setText(
            f"return so far {done:+.2f} · {'solved' if episode.solved else 'not solved'}"
        )
        if overlay is not None:
            _rows, cols = episode.frames.shape[1:3]
            row, col = divmod(overlay.source, cols)
            what = "attend to" if overlay.invert else "attends to"
            who = "Who" if overlay.invert else "Where"
            top = ", ".join(f"({t // cols}, {t % cols}) {w:.3f}" for t, w in overlay.targets)
            self.cell_label.setText(
                f"{who} cell (row {row}, col {col}) {what}" + (" it" if overlay.invert else "") + f": {top}"
            )
        elif episode.attention is not None:
            self.cell_label.setText("Click a cell of the grid to see where it attends.")
        self._show_statistic()

    def _show_statistic(self) -> None:
        episode = self.episode
        if episode is None or episode.attention is None:
            self.key_lock_label.setText("")
            self.table_label.setText("")
            return
        stat = key_lock_statistic(episode, self.block(), self.head())
        head = "mean of heads" if self.head() == MEAN else f"head {self.head() + 1}"
        if stat.cases == 0:
            self.key_lock_label.setText("No key → lock pair in this episode: nothing to measure.")
            self.table_label.setText("")
            return
        self.key_lock_label.setText(
            f"<b>Key → lock attention</b> (block {self.block() + 1}, {head}), this episode: "
            f"<b>{stat.mass:.4f}</b> vs chance 1/{episode.cells} = {stat.chance:.4f}: "
            f"<b>{stat.ratio:.1f}×</b> chance over {stat.cases} key–lock cases."
        )
        table = key_lock_table(episode)
        header = "".join(f"<th>&nbsp;h{h + 1}&nbsp;</th>" for h in range(episode.heads))
        rows = "".join(
            f"<tr><td>block {b + 1}&nbsp;</td>"
            + "".join(f"<td align='right'>&nbsp;{table[b, h]:.1f}×</td>" for h in range(episode.heads))
            + "</tr>"
            for b in range(episode.blocks)
        )
        self.table_label.setText(
            f"<table cellspacing='0' cellpadding='3'><tr><th></th>{header}</tr>{rows}</table>"
        )

    def shutdown(self) -> None:
        self._shut_down = True
        self.transport.pause()
        if self.interactive is not None:
            disconnect_all(
                ((self.interactive.answered, self._answered), (self.interactive.failed, self._failed))
            )
