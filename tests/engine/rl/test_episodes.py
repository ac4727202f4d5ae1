"""Recorded episodes: frames replay the level, attention is the forward pass's own, roles mark keys and
locks, a scripted solver's episode is solved with the paper's rewards, and the per-episode statistic."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from engine.core.errors import LanternError
from engine.rl.agents import build_agent
from engine.rl.agents.common import AgentOutput
from engine.rl.boxworld.config import BoxWorldConfig
from engine.rl.boxworld.env import BoxWorldEnv
from engine.rl.boxworld.level import KEY0, generate_level, solution_actions
from engine.rl.boxworld.palette import render
from engine.rl.episodes import episode_attention_stats, record_episode, roles_json

CFG = BoxWorldConfig(size=5, solution_length=[1, 2], distractors=[0, 1], max_steps=12)
TINY = {"blocks": 2, "heads": 2, "key_dim": 8, "mlp_width": 16, "head_width": 16}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_agent(name: str = "relational", seed: int = 0):
    torch.manual_seed(seed)
    config = TINY if name == "relational" else {"blocks": 1, "width": 8, "head_width": 16}
    return build_agent(name, obs_shape=(CFG.size + 2, CFG.size + 2, 3), n_actions=4, **config)


class Scripted(nn.Module):
    """Plays a fixed action list (then 'up'), with a real relational agent's value and attention."""

    name = "scripted"

    def __init__(self, actions: list[int]) -> None:
        super().__init__()
        self.inner = tiny_agent()
        self.obs_shape = self.inner.obs_shape
        self.actions, self.t = actions, 0

    def forward(self, obs: torch.Tensor, *, return_attention: bool = False) -> AgentOutput:
        out = self.inner(obs, return_attention=return_attention)
        action = self.actions[self.t] if self.t < len(self.actions) else 0
        self.t += 1
        return AgentOutput(
            nn.functional.one_hot(torch.tensor([action]), 4).float() * 10, out.value, out.attention
        )


def entity(r: int, c: int) -> int:
    return (r + 1) * (CFG.size + 2) + c + 1


def test_frames_replay_the_level_and_attention_is_the_forward_pass_own() -> None:
    level = generate_level(CFG, np.random.default_rng(3))
    agent = tiny_agent()
    episode = record_episode(agent, level, config=CFG)
    steps = episode.steps
    assert 1 <= steps <= CFG.max_steps
    assert episode.frames.shape == (steps + 1, 7, 7, 3) and episode.frames.dtype == np.uint8
    assert np.array_equal(episode.frames[0], render(level.grid, 0))
    assert np.array_equal(episode.grids[0], level.grid)
    assert episode.attention.shape == (steps + 1, 2, 2, 49, 49) and episode.attention.dtype == np.float16
    assert episode.policies.shape == (steps + 1, 4) and episode.values.shape == (steps + 1,)
    assert episode.actions.shape == (steps,) and episode.rewards.shape == (steps,)
    with torch.no_grad():
        fresh = agent(torch.as_tensor(episode.frames), return_attention=True)
    expected = torch.stack(fresh.attention, 1).numpy()  # [T+1, blocks, heads, N, N]
    np.testing.assert_allclose(episode.attention.astype(np.float32), expected, atol=2e-3)
    np.testing.assert_allclose(episode.attention.astype(np.float32).sum(-1), 1.0, atol=1e-2)
    probs = torch.softmax(fresh.logits, -1).numpy()
    np.testing.assert_allclose(episode.policies, probs, atol=1e-5)
    np.testing.assert_allclose(episode.values, fresh.value.numpy(), atol=1e-5)
    assert np.array_equal(episode.actions, probs[:-1].argmax(-1))  # greedy
    # the same actions replayed in the env give the same frames and rewards
    env = BoxWorldEnv(CFG)
    env.reset(options={"level": level})
    for t, action in enumerate(episode.actions):
        obs, reward, *_ = env.step(int(action))
        assert np.array_equal(obs, episode.frames[t + 1]) and reward == episode.rewards[t]
    assert episode.solved is False or episode.rewards[-1] == CFG.rewards.gem


def test_a_scripted_solver_solves_and_the_roles_mark_its_key_and_lock() -> None:
    level = generate_level(CFG.model_copy(update={"solution_length": 2}), np.random.default_rng(5))
    assert len(level.solution) == 2
    script = solution_actions(level)
    episode = record_episode(Scripted(script), level, config=CFG.model_copy(update={"max_steps": 60}))
    assert episode.solved and episode.terminated and not episode.truncated
    assert episode.steps == len(script)
    assert episode.rewards.sum() == pytest.approx(2 * CFG.rewards.box + CFG.rewards.gem)
    first = roles_json(episode.roles[0])
    loose_key = entity(*level.key)
    first_lock = entity(*level.solution[0].lock)
    assert [loose_key, first_lock] in first["keys"]
    # box 0's content is the key to box 1's lock
    r, c = level.solution[0].lock
    assert [entity(r, c - 1), entity(*level.solution[1].lock)] in first["keys"]
    assert first["agent"] == entity(*level.agent)
    gr, gc = level.solution[1].lock
    assert first["gem"] == entity(gr, gc - 1)  # the gem, still boxed, left of the last lock
    # once the loose key is picked up it is held, drawn at pixel 0, and points at the first lock
    picked = next(t for t in range(len(episode.held)) if episode.held[t] == level.grid[level.key])
    assert [0, first_lock] in roles_json(episode.roles[picked])["keys"]
    assert episode.held[picked] >= KEY0
    # the last frame: the agent stands on the gem's cell, which is now the agent's
    last = roles_json(episode.roles[-1])
    assert last["agent"] == entity(gr, gc - 1) and last["gem"] is None and last["keys"] == []


def test_sampling_is_seeded_and_max_steps_truncates() -> None:
    level = generate_level(CFG, np.random.default_rng(0))
    agent = tiny_agent()
    one = record_episode(agent, level, config=CFG, greedy=False, seed=7, max_steps=5)
    two = record_episode(agent, level, config=CFG, greedy=False, seed=7, max_steps=5)
    assert np.array_equal(one.actions, two.actions) and one.steps <= 5
    assert one.truncated or one.terminated


def test_baseline_has_no_attention_and_stats_say_so() -> None:
    level = generate_level(CFG, np.random.default_rng(1))
    episode = record_episode(tiny_agent("baseline"), level, config=CFG, max_steps=3)
    assert episode.attention is None and episode.frames.shape[0] == episode.steps + 1
    with pytest.raises(LanternError, match="no attention"):
        episode_attention_stats(episode)


def test_a_gymnasium_env_records_frames_without_roles() -> None:
    env = BoxWorldEnv(CFG)  # a BoxWorldEnv passed as an env generates its own level from the seed
    episode = record_episode(tiny_agent(), env, seed=4, max_steps=4)
    assert episode.level is env.level and episode.grids is not None
    assert np.array_equal(episode.frames[0], render(env.level.grid, 0))


def test_mismatched_observations_are_refused() -> None:
    level = generate_level(BoxWorldConfig(size=6, solution_length=1, distractors=0), np.random.default_rng(0))
    with pytest.raises(LanternError, match="do not fit the agent"):
        record_episode(tiny_agent(), level)


def test_episode_attention_stats_match_a_hand_computation() -> None:
    level = generate_level(CFG, np.random.default_rng(2))
    episode = record_episode(tiny_agent(), level, config=CFG, max_steps=6)
    stats = episode_attention_stats(episode)
    n = 49
    assert stats["chance"] == pytest.approx(1 / n) and stats["steps"] == episode.steps + 1
    att = episode.attention.astype(np.float64)
    masses = []
    for t, roles in enumerate(episode.roles):
        masses += [att[t, 1, 0, k, roles.locks[c]] for k, c in roles.keys if c in roles.locks]
    assert stats["key_to_lock"][1][0] == pytest.approx(np.mean(masses), rel=1e-5)
    agent_mass = np.mean([att[t, 0, 1, :, r.agent].mean() for t, r in enumerate(episode.roles)])
    assert stats["to_agent"][0][1] == pytest.approx(agent_mass, rel=1e-5)
    mean = stats["mean_over_heads"]["key_to_lock_vs_chance"]
    assert mean[0] == pytest.approx(np.mean(stats["key_to_lock_vs_chance"][0]))
