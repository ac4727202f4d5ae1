"""Attention statistics on hand-made grids and attention maps with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from engine.rl.attention_stats import AttentionStats, entity_roles
from engine.rl.boxworld.level import AGENT, GEM

SIZE = 6
WIDTH = SIZE + 2
N = WIDTH * WIDTH


def entity(r: int, c: int) -> int:
    return (r + 1) * WIDTH + (c + 1)


def level_grid() -> np.ndarray:
    grid = np.zeros((SIZE, SIZE), dtype=np.uint8)
    grid[1, 1] = 5  # a loose key of colour 5
    grid[3, 2], grid[3, 3] = 6, 5  # a box: content 6 (left), lock 5 (right)
    grid[5, 1], grid[5, 2] = GEM, 6  # the gem's box: content gem, lock 6
    grid[0, 4] = AGENT
    return grid


def test_roles_find_keys_locks_agent_and_gem() -> None:
    roles = entity_roles(level_grid(), held=0)
    assert set(roles.keys) == {(entity(1, 1), 5), (entity(3, 2), 6)}
    assert roles.locks == {5: entity(3, 3), 6: entity(5, 2)}
    assert roles.agent == entity(0, 4) and roles.gem == entity(5, 1) and roles.entities == N
    held = entity_roles(level_grid(), held=7)
    assert (0, 7) in held.keys  # drawn at pixel (0, 0)


def test_keys_that_look_only_at_their_locks_score_one_and_n_times_chance() -> None:
    roles = entity_roles(level_grid(), held=0)
    attention = np.full((2, 3, N, N), 1.0 / N)
    for key, colour in roles.keys:  # block 1, head 2 sends each key's whole attention to its lock
        attention[1, 2, key] = 0.0
        attention[1, 2, key, roles.locks[colour]] = 1.0
    stats = AttentionStats(blocks=2, heads=3)
    stats.add(attention, roles)
    summary = stats.summary()
    assert summary["chance"] == pytest.approx(1 / N)
    assert summary["key_to_lock"][1][2] == pytest.approx(1.0)
    assert summary["key_to_lock_vs_chance"][1][2] == pytest.approx(N)
    assert summary["key_to_lock_vs_chance"][0][0] == pytest.approx(1.0)  # uniform attention is chance
    assert summary["to_agent_vs_chance"][0][0] == pytest.approx(1.0)
    assert summary["key_lock_pairs"] == 2


def test_attention_to_the_agent_and_gem_averages_over_steps() -> None:
    roles = entity_roles(level_grid(), held=0)
    stats = AttentionStats(blocks=1, heads=1)
    everyone_on_agent = np.zeros((1, 1, N, N))
    everyone_on_agent[..., roles.agent] = 1.0
    stats.add(everyone_on_agent, roles)
    stats.add(np.full((1, 1, N, N), 1.0 / N), roles)
    summary = stats.summary()
    assert summary["to_agent"][0][0] == pytest.approx((1.0 + 1.0 / N) / 2)
    assert summary["to_gem"][0][0] == pytest.approx((0.0 + 1.0 / N) / 2)


def test_attention_of_the_wrong_shape_is_refused() -> None:
    stats = AttentionStats(blocks=1, heads=2)
    with pytest.raises(ValueError, match="does not fit 1 blocks x 2 heads"):
        stats.add(np.zeros((1, 1, N, N)), entity_roles(level_grid(), held=0))


def test_a_relational_agent_on_box_world_feeds_the_statistics() -> None:
    import torch

    from engine.rl.agents import build_agent
    from engine.rl.boxworld import BoxWorldConfig
    from engine.rl.boxworld.env import BoxWorldEnv

    cfg = BoxWorldConfig(size=6, solution_length=2, distractors=1, colours=8)
    env = BoxWorldEnv(cfg)
    obs, _ = env.reset(seed=3)
    agent = build_agent("relational", obs_shape=obs.shape, n_actions=4, blocks=2, heads=2)
    stats = AttentionStats(blocks=2, heads=2)
    for _ in range(5):
        with torch.no_grad():
            out = agent(torch.as_tensor(obs[None]), return_attention=True)
        attention = torch.stack([block[0] for block in out.attention]).numpy()
        stats.add(attention, entity_roles(env.grid, env.held))
        obs, *_ = env.step(int(out.logits.argmax()))
    summary = stats.summary()
    assert summary["steps"] == 5 and summary["entities"] == obs.shape[0] * obs.shape[1]
    assert summary["key_lock_pairs"] > 0
    assert np.isfinite(np.array(summary["key_to_lock"])).all()
