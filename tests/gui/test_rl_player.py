"""The episode player: decodes an "rl.episode" answer in the contract's JSON format with numpy; scrubs and
steps (slider, buttons, Space/Left/Right/Home/End); shows the step's action, reward, value and policy; draws
the chosen block's / head's / mean attention of a clicked cell (its row, or its column when inverted) with
its top-k; computes the episode's key->lock attention against chance exactly as a hand computation does.
Also renders the player with an overlay to /tmp/rl_player_fake.png for a look."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest
from gui_fakes import FakeInteractive
from PySide6.QtCore import Qt

from engine.core.errors import LanternError
from gui.widgets.rl_player import (
    MEAN,
    PlayerPanel,
    key_lock_statistic,
    parse_checkpoints,
    parse_episode,
)

SIDE = 6  # the observation grid (border included) is 6 x 6: 36 entities
N = SIDE * SIDE
STEPS = 3
BLOCKS, HEADS = 2, 2
AGENT_CELLS = (25, 19, 13, 14)  # the agent's cell at frames 0..3: up, up, right
PAIRS = {0: [[7, 21], [20, 16]], 1: [[7, 21], [20, 16]], 2: [[7, 21]], 3: []}
# Hand-set key->lock attention of block 0 (frame, key, lock) -> (head 0, head 1); exact in float16.
KEY_LOCK = {
    (0, 7, 21): (0.5, 0.75),
    (0, 20, 16): (0.25, 0.5),
    (1, 7, 21): (0.125, 0.25),
    (1, 20, 16): (0.375, 0.5),
    (2, 7, 21): (0.25, 0.5),
}
# Block 1: where the agent's cell 25 attends at frame 0, per head (the rest of the row shared evenly).
AGENT_ROW = {0: {15: 0.4, 7: 0.3, 21: 0.2}, 1: {16: 0.6}}


def _row(peaks: dict[int, float]) -> np.ndarray:
    row = np.full(N, (1.0 - sum(peaks.values())) / (N - len(peaks)))
    for cell, value in peaks.items():
        row[cell] = value
    return row


def fake_frames() -> np.ndarray:
    """Box-World-like frames: black border, grey floor, keys/locks, the white gem, the dark grey agent."""
    frames = np.zeros((STEPS + 1, SIDE, SIDE, 3), np.uint8)
    frames[:, 1:-1, 1:-1] = 220
    colours = {7: (230, 40, 40), 21: (230, 40, 40), 20: (40, 200, 60), 16: (40, 200, 60), 15: (255, 255, 255)}
    for t in range(STEPS + 1):
        for cell, rgb in colours.items():
            frames[t, cell // SIDE, cell % SIDE] = rgb
        agent = AGENT_CELLS[t]
        frames[t, agent // SIDE, agent % SIDE] = (80, 80, 80)
    return frames


def fake_attention() -> np.ndarray:
    """[T+1, blocks, heads, N, N] rows near uniform, with the hand-set entries above."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 0.05, size=(STEPS + 1, BLOCKS, HEADS, N, N))
    attention = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    for (t, key, lock), values in KEY_LOCK.items():
        for head, value in enumerate(values):
            attention[t, 0, head, key] = _row({lock: value})
    for head, peaks in AGENT_ROW.items():
        attention[0, 1, head, 25] = _row(peaks)
    return attention.astype(np.float16)


def fake_answer(*, agent: str = "relational", attention: bool = True) -> dict[str, Any]:
    """An "rl.episode" answer as engine.rl.ops writes it: arrays as {"data": base64, "shape", "dtype"}, values
    and policies of the T frames an action was taken in, the last frame's as final_value / final_policy."""
    frames = fake_frames()
    answer: dict[str, Any] = {
        "frames": {
            "data": base64.b64encode(frames.tobytes()).decode("ascii"),
            "shape": list(frames.shape),
            "dtype": "uint8",
        },
        "actions": [0, 0, 3],
        "rewards": [0.0, 0.0, 1.0],
        "values": [0.5, 0.75, 1.25],
        "policies": [[0.7, 0.1, 0.1, 0.1], [0.6, 0.2, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7]],
        "final_value": 2.0,
        "final_policy": [0.25, 0.25, 0.25, 0.25],
        "roles": [{"keys": PAIRS[t], "agent": AGENT_CELLS[t], "gem": 15} for t in range(STEPS + 1)],
        "solved": False,
        "agent": agent,
        "config": {"size": 4},
        "action_names": ["up", "down", "left", "right"],
    }
    if attention:
        array = fake_attention().astype("<f2")
        answer["attention"] = {
            "data": base64.b64encode(array.tobytes()).decode("ascii"),
            "shape": list(array.shape),
            "dtype": array.dtype.str,
        }
    else:
        answer["attention"] = None
    return answer


@pytest.fixture
def player(qtbot):  # type: ignore[no-untyped-def]
    bridge = FakeInteractive()
    panel = PlayerPanel(bridge)  # type: ignore[arg-type]
    qtbot.addWidget(panel)
    panel.resize(1000, 620)
    panel.show()
    qtbot.waitExposed(panel)
    yield panel
    panel.shutdown()
    panel.close()
    panel.deleteLater()


def test_the_answer_decodes_with_numpy_to_the_arrays_sent() -> None:
    episode = parse_episode(fake_answer())
    assert episode.frames.dtype == np.uint8 and episode.frames.shape == (4, 6, 6, 3)
    assert np.array_equal(episode.frames, fake_frames())
    assert episode.attention is not None and episode.attention.shape == (4, 2, 2, 36, 36)
    assert np.array_equal(episode.attention, fake_attention().astype(np.float32))
    assert (episode.steps, episode.blocks, episode.heads, episode.cells) == (3, 2, 2, 36)
    assert episode.key_lock_pairs(1) == [(7, 21), (20, 16)] and episode.key_lock_pairs(3) == []
    assert episode.values == [0.5, 0.75, 1.25, 2.0] and episode.final_policy == [0.25] * 4
    baseline = parse_episode(fake_answer(agent="baseline", attention=False))
    assert baseline.attention is None and baseline.blocks == 0
    # The contract's other spelling, base64 text with its shape beside it, decodes the same.
    answer = fake_answer()
    answer["attention_shape"] = answer["attention"]["shape"]
    answer["attention"] = answer["attention"]["data"]
    assert np.array_equal(parse_episode(answer).attention, episode.attention)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"frames": "not base64!"}, "frames cannot be decoded"),
        ({"rewards": [0.0]}, "4 frames, 3 actions and 1 rewards"),
        ({"attention": {"data": "AAAA", "shape": [4, 2, 2, 36, 35], "dtype": "<f2"}}, "attention cannot be"),
    ],
)
def test_a_malformed_answer_is_a_clear_error(change: dict[str, Any], message: str) -> None:
    with pytest.raises(LanternError, match=message):
        parse_episode({**fake_answer(), **change})


def test_the_key_lock_statistic_equals_the_hand_computation() -> None:
    episode = parse_episode(fake_answer())
    # Block 0, over the five (frame, key, lock) cases: head 0 (0.5 + 0.25 + 0.125 + 0.375 + 0.25) / 5 = 0.3,
    # head 1 (0.75 + 0.5 + 0.25 + 0.5 + 0.5) / 5 = 0.5, the mean of the heads 0.4; chance 1/36.
    head0 = key_lock_statistic(episode, 0, 0)
    assert (head0.mass, head0.cases, head0.chance) == (pytest.approx(0.3), 5, pytest.approx(1 / 36))
    assert head0.ratio == pytest.approx(0.3 * 36)
    assert key_lock_statistic(episode, 0, 1).mass == pytest.approx(0.5)
    assert key_lock_statistic(episode, 0, MEAN).ratio == pytest.approx(0.4 * 36)
    baseline = parse_episode(fake_answer(attention=False))
    assert key_lock_statistic(baseline, 0, 0).cases == 0


def test_scrubbing_buttons_and_shortcuts_move_the_step(qtbot, player: PlayerPanel) -> None:  # type: ignore[no-untyped-def]
    player.show_answer(fake_answer())
    assert player.step == 0 and player.transport.slider.maximum() == 3
    assert np.array_equal(player.grid._frame, fake_frames()[0])
    player.transport.slider.setValue(2)
    assert player.step == 2 and np.array_equal(player.grid._frame, fake_frames()[2])
    assert player.action_label.text() == "right (3)"
    assert (player.reward_label.text(), player.value_label.text()) == ("+1.00", "1.250")
    assert player.policy.probabilities == [0.1, 0.1, 0.1, 0.7] and player.policy.taken == 3
    assert player.transport.label.text() == "step 2 / 3"
    player.transport.back_button.click()
    assert player.step == 1
    player.transport.last_button.click()
    assert player.step == 3 and player.action_label.text() == "– (last frame)"
    assert player.policy.probabilities == [0.25] * 4 and player.policy.taken is None
    assert player.value_label.text() == "2.000"

    player.activateWindow()
    player.setFocus()
    qtbot.waitUntil(player.hasFocus, timeout=2000)
    qtbot.keyClick(player, Qt.Key.Key_Home)
    assert player.step == 0
    qtbot.keyClick(player, Qt.Key.Key_Right)
    qtbot.keyClick(player, Qt.Key.Key_Right)
    assert player.step == 2
    qtbot.keyClick(player, Qt.Key.Key_Left)
    assert player.step == 1
    qtbot.keyClick(player, Qt.Key.Key_End)
    assert player.step == 3
    qtbot.keyClick(player, Qt.Key.Key_Right)  # stays on the last frame
    assert player.step == 3
    qtbot.keyClick(player, Qt.Key.Key_Space)  # from the end, play starts over
    assert player.transport.playing and player.step == 0
    qtbot.waitUntil(lambda: player.step == 3 and not player.transport.playing, timeout=5000)
    qtbot.keyClick(player, Qt.Key.Key_Home)
    qtbot.keyClick(player, Qt.Key.Key_Space)
    qtbot.keyClick(player, Qt.Key.Key_Space)
    assert not player.transport.playing


def test_the_overlay_follows_block_head_mean_and_invert(player: PlayerPanel) -> None:
    player.show_answer(fake_answer())
    attention = fake_attention().astype(np.float32)
    assert [player.block_box.itemText(i) for i in range(player.block_box.count())] == ["block 1", "block 2"]
    assert [player.head_box.itemText(i) for i in range(player.head_box.count())] == [
        "head 1",
        "head 2",
        "mean of heads",
    ]
    assert player.grid.overlay is None
    player.grid.cell_clicked.emit(25)  # the agent's cell
    player.block_box.setCurrentIndex(1)
    player.head_box.setCurrentIndex(0)
    overlay = player.grid.overlay
    assert overlay is not None and overlay.source == 25 and not overlay.invert
    assert np.allclose(overlay.heat, attention[0, 1, 0, 25])
    assert [cell for cell, _ in overlay.targets] == [15, 7, 21]
    assert [w for _, w in overlay.targets] == pytest.approx([0.4, 0.3, 0.2], abs=1e-3)

    player.head_box.setCurrentIndex(player.head_box.findData(MEAN))
    overlay = player.grid.overlay
    assert np.allclose(overlay.heat, attention[0, 1, :, 25].mean(axis=0))
    assert [cell for cell, _ in overlay.targets] == [16, 15, 7]

    player.head_box.setCurrentIndex(1)
    player.top_k_spin.setValue(1)
    assert [cell for cell, _ in player.grid.overlay.targets] == [16]

    player.grid.cell_clicked.emit(15)  # the gem: who attends to it?
    player.head_box.setCurrentIndex(0)
    player.invert_check.setChecked(True)
    overlay = player.grid.overlay
    assert overlay.invert and np.allclose(overlay.heat, attention[0, 1, 0, :, 15])
    assert overlay.targets[0][0] == 25 and overlay.targets[0][1] == pytest.approx(0.4, abs=1e-3)
    assert "Who cell (row 2, col 3) attend to it" in player.cell_label.text()

    player.block_box.setCurrentIndex(0)
    assert np.allclose(player.grid.overlay.heat, attention[0, 0, 0, :, 15])
    player.set_step(1)  # the overlay follows the step
    assert np.allclose(player.grid.overlay.heat, attention[1, 0, 0, :, 15])


def test_pairs_are_outlined_and_the_statistic_is_shown_beside_the_grid(player: PlayerPanel) -> None:
    player.show_answer(fake_answer())
    outlines = player.grid.outlines
    assert [cells for cells, _ in outlines] == [(7, 21), (20, 16)]
    assert outlines[0][1] != outlines[1][1]  # each pair its own colour, key and lock the same
    player.set_step(3)
    assert player.grid.outlines == []
    player.pairs_check.setChecked(False)
    player.set_step(0)
    assert player.grid.outlines == []
    player.block_box.setCurrentIndex(0)
    player.head_box.setCurrentIndex(0)
    text = player.key_lock_label.text()
    assert "0.3000" in text and "10.8×" in text and "1/36 = 0.0278" in text and "5 key–lock cases" in text
    assert "14.4" not in text
    player.head_box.setCurrentIndex(player.head_box.findData(MEAN))
    assert "14.4×" in player.key_lock_label.text()
    assert "10.8×" in player.table_label.text() and "18.0×" in player.table_label.text()
    # Padded, right-aligned cells with a leading space, so neighbouring ratios do not run together.
    assert "cellpadding='3'" in player.table_label.text()
    assert "<td align='right'>&nbsp;10.8×</td>" in player.table_label.text()


def test_load_sends_the_op_and_errors_are_messages(qtbot, player: PlayerPanel) -> None:  # type: ignore[no-untyped-def]
    player.set_checkpoints(
        parse_checkpoints(
            {
                "checkpoints": [
                    {
                        "name": "best.safetensors",
                        "checkpoint": "/runs/7/best.safetensors",
                        "path": "/runs/7/best.safetensors",
                        "role": "best",
                        "run_id": 7,
                        "agent": "baseline",
                        "env_steps": 50000,
                        "eval": {"fraction_solved": 0.5, "mean_return": 3.0},
                    },
                    {"name": "bundled", "checkpoint": "bundled", "path": "bundled", "agent": "relational"},
                    {"checkpoint": "/runs/8/latest.safetensors", "run_id": 8, "error": "the file is damaged"},
                ]
            }
        )
    )
    assert player.checkpoint_box.itemData(0) == "bundled"
    assert player.checkpoint_box.itemData(1) == "bundled:baseline"
    assert player.checkpoint_box.itemText(2) == "run #7 best · baseline · 50,000 steps · eval 50 % solved"
    assert player.checkpoint_box.itemText(3) == "run #8 latest.safetensors · unreadable: the file is damaged"
    player.checkpoint_box.setCurrentIndex(2)
    player.seed_spin.setValue(17)
    request = player.load()
    assert player.interactive.requests[-1] == (
        "rl.episode",
        {"checkpoint": "/runs/7/best.safetensors", "level_seed": 17, "greedy": False},
    )
    assert not player.load_button.isEnabled()
    with qtbot.waitSignal(player.failed) as caught:
        player.interactive.failed.emit(
            request, LanternError("checkpoint is corrupt", "x.safetensors", "retrain")
        )
    assert caught.args[0].what == "checkpoint is corrupt"
    assert "checkpoint is corrupt (retrain)" in player.status.text() and player.load_button.isEnabled()
    request = player.load()
    player.interactive.answered.emit(request, fake_answer(agent="baseline", attention=False))
    assert player.episode is not None and player.episode.agent == "baseline"
    assert not player.block_box.isEnabled() and "no attention" in player.cell_label.text()
    player.grid.cell_clicked.emit(7)
    assert player.grid.overlay is None
    with qtbot.waitSignal(player.failed):
        assert player.show_answer({"frames": None}) is None
    assert "could not be loaded" in player.status.text()


def test_render_the_player_with_an_overlay_for_a_look(qtbot, player: PlayerPanel) -> None:  # type: ignore[no-untyped-def]
    from gui.widgets.figure_export import export_widget_png

    player.resize(1100, 640)
    player.show_answer(fake_answer())
    player.block_box.setCurrentIndex(1)
    player.head_box.setCurrentIndex(0)
    player.grid.cell_clicked.emit(25)
    qtbot.wait(50)
    path = export_widget_png(player, "/tmp/rl_player_fake.png", scale=1.0)
    assert path.stat().st_size > 10_000
