"""Screenshots of the Relational page on episodes the real engine plays, for the README and the issue's note.

    LANTERN_HOME=/path QT_QPA_PLATFORM=offscreen .venv/bin/python docs/relational_screenshots.py \\
        [--checkpoint bundled] [--baseline bundled:baseline] [--seed N] [--step K] [--out docs]

Every frame, policy and attention weight comes from the interactive engine process answering "rl.episode"
(the same op the page calls when you press Load episode); nothing here is made up. Writes
relational-player.png (a key selected, its attention with arrows to the top 3 targets and the key -> lock
pairs outlined), relational-player-inverted.png (the lock selected, "invert" on: who attends to the lock),
relational-compare.png (--checkpoint against --baseline on the same level and step) and relational-train.png
(the curves of the store's rl-train runs; skipped when there are none).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication, QComboBox

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from screenshot_support import close_page, grab, open_page, wait_for  # noqa: E402

from engine.rl.boxworld.level import AGENT, BORDER, FLOOR  # noqa: E402  (numpy only, no torch)
from engine.rl.boxworld.palette import PALETTE  # noqa: E402
from gui.app import shutdown  # noqa: E402
from gui.pages.relational import RelationalPage  # noqa: E402
from gui.widgets.rl_player import (  # noqa: E402
    BUNDLED,
    Episode,
    key_lock_statistic,
    parse_checkpoints,
)
from gui.widgets.rl_train import TrainPanel, load_run_curves  # noqa: E402

PAGE_SIZE = QSize(1400, 900)
TIMEOUT_S = 60.0


class Answers:
    """Every answer and failure of the interactive engine by request id (the page's slots see them too)."""

    def __init__(self, services: Any) -> None:
        self.bridge = services.interactive
        self.answers: dict[int, Any] = {}
        self.failures: dict[int, Any] = {}
        self.bridge.answered.connect(self._answered)
        self.bridge.failed.connect(self._failed)

    def _answered(self, request_id: int, answer: Any) -> None:
        self.answers[request_id] = answer

    def _failed(self, request_id: int, error: Any) -> None:
        self.failures[request_id] = error

    def wait(self, app: QApplication, request_ids: list[int], what: str) -> list[Any]:
        """The answers to `request_ids`, polling the event loop; a failure or TIMEOUT_S ends the script."""
        wait_for(
            app,
            lambda: all(r in self.answers or r in self.failures for r in request_ids),
            what,
            timeout_s=TIMEOUT_S,
        )  # the page's own slots for the same answers have run by now
        for request_id in request_ids:
            if request_id in self.failures:
                error = self.failures[request_id]
                hint = getattr(error, "hint", "")
                raise SystemExit(
                    f"{what} failed: {getattr(error, 'what', error)}" + (f" ({hint})" if hint else "")
                )
        return [self.answers[r] for r in request_ids]

    def close(self) -> None:
        for signal, slot in ((self.bridge.answered, self._answered), (self.bridge.failed, self._failed)):
            with contextlib.suppress(RuntimeError, TypeError):
                signal.disconnect(slot)


def header_meta(path: str) -> dict[str, Any]:
    """A checkpoint file's Lantern meta, read from the safetensors header alone (no torch in this process)."""
    try:
        with open(path, "rb") as handle:
            size = struct.unpack("<Q", handle.read(8))[0]
            header = json.loads(handle.read(size))
        return dict(json.loads(header.get("__metadata__", {}).get("lantern.meta", "{}")))
    except (OSError, ValueError, struct.error):
        return {}


def offer(page: RelationalPage, listed: dict[str, Any], chosen: list[str]) -> None:
    """Give the page the engine's checkpoint list plus the chosen files it does not hold (e.g. under /tmp),
    labelled the way the page labels listed ones."""
    items = list(listed.get("checkpoints", [])) if isinstance(listed, dict) else []
    known = {str(i.get("checkpoint") or i.get("path")) for i in items if isinstance(i, dict)}
    for path in chosen:
        if path in known or path in BUNDLED:
            continue
        meta = header_meta(path)
        items.append(
            {
                "name": Path(path).name,
                "checkpoint": path,
                "agent": meta.get("agent"),
                "env_steps": meta.get("env_steps"),
                "eval": meta.get("eval", meta.get("evaluation")),
            }
        )
    page.show_checkpoints({"checkpoints": items})


def choose(box: QComboBox, path: str) -> None:
    index = box.findData(path)
    if index < 0:
        raise SystemExit(f"the checkpoint {path} is not offered by the page")
    box.setCurrentIndex(index)


def first_opening(episode: Episode) -> int | None:
    """The step whose action opens the episode's first box: the first reward that is neither the per-step
    reward nor the gem's, or else (rewards all zero) the first step after which the held key is gone."""
    step_reward = float((episode.config.get("rewards") or {}).get("step", 0.0))
    for t, reward in enumerate(episode.rewards):
        gem = episode.solved and t == episode.steps - 1
        if abs(reward - step_reward) > 1e-9 and not gem:
            return t
    for t in range(min(episode.steps, len(episode.roles) - 1)):
        held_now = any(k == 0 for k, _ in episode.key_lock_pairs(t))
        held_next = any(k == 0 for k, _ in episode.key_lock_pairs(t + 1))
        if held_now and not held_next and (episode.frames[t + 1][0, 0] != episode.frames[t][0, 0]).any():
            return t
    return None


@dataclass(frozen=True)
class Choice:
    key: int
    lock: int
    block: int
    head: int
    weight: float


def free_keys(episode: Episode, step: int) -> list[tuple[int, int]]:
    """The frame's key -> lock pairs whose key the agent can use now: the held one at (0, 0) and loose ones
    (a key inside a closed box has a coloured right neighbour, its box's lock)."""
    frame = episode.frames[step]
    cols = frame.shape[1]
    uncoloured = {tuple(int(v) for v in PALETTE[i]) for i in (FLOOR, BORDER, AGENT)}
    pairs = []
    for key, lock in episode.key_lock_pairs(step):
        row, col = divmod(key, cols)
        if key == 0 or col + 1 >= cols or tuple(int(v) for v in frame[row, col + 1]) in uncoloured:
            pairs.append((key, lock))
    return pairs


def strongest_pair(episode: Episode, step: int) -> Choice | None:
    """Of the frame's held or loose keys (any key when none is free) and every (block, head), the key whose
    lock gets the most attention from it (the held key wins ties)."""
    assert episode.attention is not None
    pairs = free_keys(episode, step) or episode.key_lock_pairs(step)
    best: Choice | None = None
    for key, lock in sorted(pairs):
        for block in range(episode.blocks):
            for head in range(episode.heads):
                weight = float(episode.attention[step, block, head, key, lock])
                if best is None or weight > best.weight:
                    best = Choice(key, lock, block, head, weight)
    return best


def cell_name(episode: Episode, cell: int) -> str:
    row, col = divmod(cell, episode.frames.shape[2])
    return f"({row}, {col})" + (" (the held key)" if cell == 0 else "")


def load_episode(
    app: QApplication, page: RelationalPage, answers: Answers, args: argparse.Namespace
) -> Episode:
    player = page.player
    choose(player.checkpoint_box, args.checkpoint)
    player.seed_spin.setValue(args.seed)
    player.greedy_check.setChecked(args.greedy)
    request = player.load()
    if request is None:
        raise SystemExit("the player has no engine to ask")
    answers.wait(app, [request], f"rl.episode ({args.checkpoint}, level seed {args.seed})")
    if player.episode is None:
        raise SystemExit(f"the player could not show the episode: {player.status.text()}")
    return player.episode


def player_shots(
    app: QApplication, page: RelationalPage, episode: Episode, args: argparse.Namespace
) -> tuple[int, Choice]:
    """relational-player.png and relational-player-inverted.png; returns the step and the key shown."""
    player = page.player
    step = args.step
    if step is None:
        opened = first_opening(episode)
        if opened is None:
            step = 0
            print(f"the agent opens no box in this episode ({episode.steps} steps): showing step 0")
        else:
            step = opened
            print(f"the agent opens its first box with the action of step {opened}: showing step {step}")
    if not 0 <= step <= episode.steps:
        raise SystemExit(f"--step {step} is outside the episode's frames 0..{episode.steps}")
    player.set_step(step)
    if episode.attention is None:
        raise SystemExit(f"{args.checkpoint} has no attention (a baseline?): pass a relational --checkpoint")
    choice = strongest_pair(episode, step)
    if choice is None:
        raise SystemExit(f"step {step} has no key whose lock is on the grid: pass another --step or --seed")
    player.block_box.setCurrentIndex(player.block_box.findData(choice.block))
    player.head_box.setCurrentIndex(player.head_box.findData(choice.head))
    player.top_k_spin.setValue(3)
    player.pairs_check.setChecked(True)
    player.invert_check.setChecked(False)
    player.select_cell(choice.key)
    stat = key_lock_statistic(episode, choice.block, choice.head)
    print(
        f"step {step}: key {cell_name(episode, choice.key)} -> lock {cell_name(episode, choice.lock)}, "
        f"block {choice.block + 1} head {choice.head + 1} (the largest key->lock weight of this frame: "
        f"{choice.weight:.4f}, chance {1 / episode.cells:.4f}); over the episode this head gives "
        f"{stat.mass:.4f} = {stat.ratio:.1f}x chance in {stat.cases} key-lock cases"
    )
    grab(app, page, args.out / "relational-player.png")
    player.invert_check.setChecked(True)
    player.select_cell(choice.lock)
    print(f"inverted: who attends to the lock {cell_name(episode, choice.lock)} (same block and head)")
    grab(app, page, args.out / "relational-player-inverted.png")
    player.invert_check.setChecked(False)
    return step, choice


def compare_shot(
    app: QApplication, page: RelationalPage, answers: Answers, args: argparse.Namespace, step: int, cell: int
) -> None:
    compare = page.compare
    page.show_tab("Compare")
    choose(compare.checkpoint_boxes[0], args.checkpoint)
    choose(compare.checkpoint_boxes[1], args.baseline)
    compare.seed_spin.setValue(args.seed)
    compare.greedy_check.setChecked(args.greedy)
    requests = compare.load()
    answers.wait(app, requests, f"rl.episode for Compare A ({args.checkpoint})")
    answers.wait(app, compare.pending, f"rl.episode for Compare B ({args.baseline}, on A's level)")
    if any(e is None for e in compare.episodes):
        raise SystemExit(f"the Compare tab could not show both episodes: {compare.status.text()}")
    first, second = compare.episodes
    if first is not None and second is not None and first.config != second.config:
        print(
            "warning: the two checkpoints carry different Box-World level families, so the same seed gives "
            "them different levels (each side plays its own checkpoint's family)"
        )
    compare.transport.set_step(step)
    compare.select_cell(cell)
    row, col = divmod(cell, compare.grids[0].grid_shape[1] or 1)
    print(
        f"compare: step {compare.step}, cell ({row}, {col}) selected on both sides: {compare.status.text()}"
    )
    grab(app, page, args.out / "relational-compare.png")


def show_run_config(train: TrainPanel, config: dict[str, Any]) -> None:
    """Fill the Train form with a stored run's settings, so the figure's form describes the curves beside it
    rather than the form's defaults (a value the form cannot hold is left as it is)."""
    level = (config.get("env") or {}).get("boxworld") or {}
    ppo = config.get("ppo") or {}

    def span(value: Any) -> tuple[int, int]:
        return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))

    with contextlib.suppress(TypeError, ValueError, IndexError, KeyError):
        train.size_spin.setValue(int(level["size"]))
        for (low, high), key in (
            ((train.solution_min, train.solution_max), "solution_length"),
            ((train.distractor_min, train.distractor_max), "distractors"),
        ):
            first, last = span(level[key])
            low.setValue(first)
            high.setValue(last)
        train.distractor_length.setValue(int(level["distractor_length"]))
        train.colours_spin.setValue(int(level["colours"]))
        train.max_steps_spin.setValue(int(level["max_steps"]))
        train.withheld_edit.setText(", ".join(f"{k}:{lock}" for k, lock in level.get("withheld_pairs", [])))
    train.name_edit.setText(str(config.get("name", train.name_edit.text())))
    train.agent_box.setCurrentIndex(max(0, train.agent_box.findData(config.get("agent"))))
    for spin, value in (
        (train.total_steps_spin, ppo.get("total_steps")),
        (train.n_envs_spin, ppo.get("n_envs")),
        (train.eval_episodes_spin, config.get("eval_episodes")),
        (train.eval_every_spin, config.get("eval_every")),
        (train.seed_spin, config.get("seed")),
    ):
        if isinstance(value, int):
            spin.setValue(value)
    if isinstance(ppo.get("lr"), int | float):
        train.lr_spin.setValue(float(ppo["lr"]))
    train.device_box.setCurrentIndex(max(0, train.device_box.findText(str(config.get("device")))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="bundled", help="the relational agent: 'bundled' or a path")
    parser.add_argument("--baseline", default="bundled:baseline", help="Compare's side B: a name or a path")
    parser.add_argument("--seed", type=int, default=0, help="the level seed")
    parser.add_argument(
        "--step",
        type=int,
        help="the step shown (default: the step just before the agent opens its first box)",
    )
    parser.add_argument("--greedy", action="store_true", help="greedy play instead of the sampled policy")
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    for name in ("checkpoint", "baseline"):
        value = getattr(args, name)
        if value == "bundled:relational":  # the same file as "bundled", which is what the page offers
            setattr(args, name, "bundled")
        elif not value.startswith("bundled"):
            setattr(args, name, str(Path(value).expanduser().resolve()))
    args.out.mkdir(parents=True, exist_ok=True)

    app, services, page = open_page(RelationalPage)
    answers = Answers(services)
    try:
        page.resize(PAGE_SIZE)
        page.show_tab("Player")
        page.show()
        # Ask through the page, so that its own answer slot fills the combos before offer() adds to them.
        request = page.list_checkpoints(again=True)
        listed = answers.wait(app, [request] if request is not None else [], "rl.checkpoints")
        listed = listed[0] if listed else {}
        offer(page, listed, [args.checkpoint, args.baseline])
        stored = [e for e in parse_checkpoints(listed) if e.path not in BUNDLED]
        print(f"the engine lists {len(stored)} stored checkpoint(s) besides the bundled names")
        episode = load_episode(app, page, answers, args)
        print(f"episode: {page.player.status.text()}")
        step, choice = player_shots(app, page, episode, args)
        compare_shot(app, page, answers, args, step, choice.key)

        runs = load_run_curves(services.store)
        if runs:
            page.show_tab("Train")
            page.refresh_runs()
            newest = services.store.runs.get(runs[0].run_id)
            if newest is not None:
                show_run_config(page.train, dict(newest.config or {}))
                print(f"train: {len(runs)} rl-train run(s); the form shows run #{newest.id} ({newest.name})")
            grab(app, page, args.out / "relational-train.png")
        else:
            print("no rl-train runs in the store: relational-train.png not written")
    finally:
        answers.close()
        close_page(app, page)
        shutdown(services)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
