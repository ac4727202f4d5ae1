"""The Relational page's Compare tab: two checkpoints play the same level side by side (B is asked once A has
answered, with A's Box-World config, so the seed gives both the same level), one scrub slider (and Space,
Left/Right, Home/End) driving both; a clicked cell shows where it attends on both sides (the last block, mean
of heads) for agents that have attention."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import LanternError
from gui.interactive_bridge import InteractiveBridge
from gui.signals import disconnect_all
from gui.widgets.figure_export import ExportButton
from gui.widgets.rl_grid_view import GridView, Overlay
from gui.widgets.rl_player import (
    EPISODE_OP,
    MAX_SEED,
    MEAN,
    CheckpointEntry,
    Episode,
    Transport,
    attention_matrix,
    attention_vector,
    fill_checkpoints,
    install_step_shortcuts,
    parse_checkpoints,
    parse_episode,
    top_targets,
)

SIDES = ("A", "B")


class ComparePanel(QWidget):
    """Side A and side B: `show_answer(side, answer)` runs when the op answers for that side."""

    failed = Signal(object)  # LanternError

    def __init__(self, interactive: InteractiveBridge | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.interactive = interactive
        self.episodes: list[Episode | None] = [None, None]
        self.cell: int | None = None
        self._requests: dict[int, int] = {}  # request id -> side
        # Each answer's level config and env, to tell whether both sides really played one level.
        self._levels: list[tuple[Any, Any] | None] = [None, None]
        self._b_args: dict[str, Any] = {}
        self._shut_down = False
        self._build()
        self.shortcuts = install_step_shortcuts(self, self.transport)
        if interactive is not None:
            interactive.answered.connect(self._answered)
            interactive.failed.connect(self._failed)

    def _build(self) -> None:
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.checkpoint_boxes = [QComboBox(self), QComboBox(self)]
        for box in self.checkpoint_boxes:
            box.setMinimumWidth(220)
            fill_checkpoints(box, parse_checkpoints([]))
        self.checkpoint_boxes[1].setCurrentIndex(
            max(0, self.checkpoint_boxes[1].findData("bundled:baseline"))
        )
        self.seed_spin = QSpinBox(self)
        self.seed_spin.setRange(0, MAX_SEED)
        self.seed_spin.setToolTip("Both agents play this level")
        self.greedy_check = QCheckBox("Greedy", self)
        # Unticked by default: the agent was trained and evaluated acting on its sampled policy (seeded by
        # the level seed, so an episode replays identically); a memoryless argmax policy can loop forever.
        self.greedy_check.setChecked(False)
        self.load_button = QPushButton("Load both", self)
        self.load_button.setObjectName("primaryAction")
        self.load_button.clicked.connect(self.load)
        self.views = QWidget(self)
        self.grids = [GridView(self.views, caption="A"), GridView(self.views, caption="B")]
        for grid in self.grids:
            grid.cell_clicked.connect(self.select_cell)
        self.export_button = ExportButton(lambda: self.views, name="rl-compare", parent=self)
        self.infos = [QLabel("–", self), QLabel("–", self)]
        for info in self.infos:
            info.setAlignment(Qt.AlignmentFlag.AlignCenter)
            info.setWordWrap(True)
        self.transport = Transport(self)
        self.transport.step_changed.connect(lambda _s: self._show_step())
        self.status = QLabel(
            "Pick two checkpoints and a level seed, then Load both. Click a cell to see where it attends on"
            " both sides (last block, mean of heads).",
            self,
        )
        self.status.setProperty("role", "muted")
        self.status.setWordWrap(True)

        bar = QHBoxLayout()
        bar.setSpacing(8)
        for name, box in zip(SIDES, self.checkpoint_boxes, strict=True):
            bar.addWidget(QLabel(name, self))
            bar.addWidget(box, 1)
        bar.addWidget(QLabel("Level seed", self))
        bar.addWidget(self.seed_spin)
        bar.addWidget(self.greedy_check)
        bar.addWidget(self.load_button)
        bar.addWidget(self.export_button)
        pair = QHBoxLayout(self.views)
        pair.setContentsMargins(0, 0, 0, 0)
        pair.setSpacing(16)
        for grid in self.grids:
            pair.addWidget(grid, 1)
        info_row = QHBoxLayout()
        for info in self.infos:
            info_row.addWidget(info, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(bar)
        layout.addWidget(self.views, 1)
        layout.addLayout(info_row)
        layout.addWidget(self.transport)
        layout.addWidget(self.status)

    def set_checkpoints(self, entries: list[CheckpointEntry]) -> None:
        for box in self.checkpoint_boxes:
            fill_checkpoints(box, entries)

    def request_args(self, side: int, config: dict[str, Any] | None = None) -> dict[str, Any]:
        """The rl.episode arguments of one side; `config` (a Box-World config) overrides its checkpoint's."""
        args: dict[str, Any] = {
            "checkpoint": str(self.checkpoint_boxes[side].currentData() or "bundled"),
            "level_seed": int(self.seed_spin.value()),
            "greedy": bool(self.greedy_check.isChecked()),
        }
        if config is not None:
            args["config"] = dict(config)
        return args

    def load(self) -> list[int]:
        """Ask for side A's episode; B is asked once A answers (see _request_b). Returns the ids asked."""
        if self.interactive is None:
            return []
        self._levels = [None, None]
        self._b_args = self.request_args(1)  # B's choices as they were at Load, not when A answers
        self._requests = {self.interactive.request(EPISODE_OP, **self.request_args(0)): 0}
        self.load_button.setEnabled(False)
        self.status.setText(f"Playing level {self.seed_spin.value()} with A…")
        return list(self._requests)

    @property
    def pending(self) -> list[int]:
        """The request ids still in flight (after A answers, B's)."""
        return list(self._requests)

    def _request_b(self, config: dict[str, Any] | None) -> None:
        """Each checkpoint plays its own level family by default, so one seed can give two levels: B plays A's
        Box-World config. With none (A failed, or plays a gym env), B plays its own and a warning tells when
        the two differ."""
        if self.interactive is None:
            return
        args = {**self._b_args, **({} if config is None else {"config": dict(config)})}
        self._requests[self.interactive.request(EPISODE_OP, **args)] = 1
        self.status.setText(
            f"Playing level {args['level_seed']} with B"
            + (" on A's level family…" if config is not None else "…")
        )

    def _answered(self, request_id: int, answer: Any) -> None:
        if request_id not in self._requests or self._shut_down:
            return
        side = self._requests.pop(request_id)
        episode = self.show_answer(side, answer)
        if side == 0:
            config = answer.get("config") if episode is not None and isinstance(answer, dict) else None
            self._request_b(config if isinstance(config, dict) else None)
        self.load_button.setEnabled(not self._requests)

    def _failed(self, request_id: int, error: Any) -> None:
        if request_id not in self._requests or self._shut_down:
            return
        side = self._requests.pop(request_id)
        self.show_error(side, error)
        if side == 0:
            self._request_b(None)
        self.load_button.setEnabled(not self._requests)

    def show_error(self, side: int, error: Any) -> None:
        error = error if isinstance(error, LanternError) else LanternError(str(error), EPISODE_OP)
        self.episodes[side] = None
        self._levels[side] = None
        self.infos[side].setText(f"{SIDES[side]}: could not be loaded: {error.what}")
        self._relength()
        self.failed.emit(error)

    def show_answer(self, side: int, answer: Any) -> Episode | None:
        try:
            episode = parse_episode(answer)
        except LanternError as exc:
            self.show_error(side, exc)
            return None
        self.episodes[side] = episode
        self._levels[side] = (answer.get("config"), answer.get("env"))
        self.grids[side].caption = f"{SIDES[side]} · {episode.agent or 'agent'}"
        self._relength()
        return episode

    def _relength(self) -> None:
        """One slider over the longer episode; the shorter one holds its last frame."""
        lengths = [e.steps for e in self.episodes if e is not None]
        self.transport.set_length(max(lengths, default=0))
        shown = [e for e in self.episodes if e is not None]
        if len(shown) == 2:
            a, b = shown
            self.status.setText(
                f"Level {self.seed_spin.value()}: A {a.steps} steps, {'solved' if a.solved else 'not solved'}"
                f" · B {b.steps} steps, {'solved' if b.solved else 'not solved'}" + self._level_warning()
            )
        self._show_step()

    def _level_warning(self) -> str:
        """A warning when the two answers say they played different levels (configs, or gym envs)."""
        a, b = self._levels
        if a is None or b is None:
            return ""
        (config_a, env_a), (config_b, env_b) = a, b
        if config_a != config_b or (config_a is None and env_a != env_b):
            why = " (A is not a Box-World agent)" if config_a is None else ""
            return (
                f" · Warning: A and B play different level families{why}, so this seed gives each its own"
                " level."
            )
        return ""

    @property
    def step(self) -> int:
        return self.transport.step

    def side_step(self, side: int) -> int | None:
        """The frame side `side` shows at the slider's step (its last when its episode is shorter)."""
        episode = self.episodes[side]
        return None if episode is None else min(self.step, episode.steps)

    def select_cell(self, cell: int) -> None:
        self.cell = cell
        self._show_step()

    def _show_step(self) -> None:
        for side, (episode, grid, info) in enumerate(zip(self.episodes, self.grids, self.infos, strict=True)):
            if episode is None:
                grid.set_frame(None)
                grid.set_overlay(None)
                continue
            step = self.side_step(side) or 0
            grid.set_frame(episode.frames[step])
            overlay = None
            cell = self.cell if self.cell is not None and self.cell < episode.cells else None
            if cell is not None and episode.attention is not None:
                vector = attention_vector(
                    attention_matrix(episode.attention[step], episode.blocks - 1, MEAN), cell, invert=False
                )
                overlay = Overlay(cell, vector, top_targets(vector, 3))
            grid.set_overlay(overlay)
            grid.set_selected(cell)
            if step < episode.steps:
                action = episode.actions[step]
                name = episode.action_names[action] if action < len(episode.action_names) else str(action)
                value = f" · value {episode.values[step]:.3f}" if step < len(episode.values) else ""
                info.setText(
                    f"{SIDES[side]}: step {step} · {name} · reward {episode.rewards[step]:+.2f}{value}"
                )
            else:
                info.setText(
                    f"{SIDES[side]}: finished after {episode.steps} steps · "
                    f"{'solved' if episode.solved else 'not solved'}"
                )

    def shutdown(self) -> None:
        self._shut_down = True
        self.transport.pause()
        if self.interactive is not None:
            disconnect_all(
                ((self.interactive.answered, self._answered), (self.interactive.failed, self._failed))
            )
