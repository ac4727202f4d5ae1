"""PPO: GAE by hand (termination and truncation), learning a tiny batched task, and a Box-World smoke run."""

from __future__ import annotations

import math

import pytest
import torch

from engine.core.errors import LanternError
from engine.rl.agents import build_agent
from engine.rl.ppo import PPOConfig, compute_gae, evaluate, train_ppo


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class MarkedSide:
    """A corridor of WIDTH cells in a 3 x WIDTH RGB image; the agent starts in the middle, a green goal sits
    at one end (random per episode), the other end is red. Actions: 0/1 stay, 2 left, 3 right. Reaching
    the goal: reward 1, terminated, solved; the red end: terminated with 0; after MAX_STEPS: truncated
    (the observation it was truncated in is reported as info["final_obs"]). Auto-resets like BoxWorld."""

    WIDTH, MAX_STEPS = 7, 8

    def __init__(self, batch: int, seed: int) -> None:
        self.batch = batch
        self.gen = torch.Generator().manual_seed(seed)
        self.pos = torch.zeros(batch, dtype=torch.long)
        self.goal_right = torch.zeros(batch, dtype=torch.bool)
        self.steps = torch.zeros(batch, dtype=torch.long)

    def _new(self, rows: torch.Tensor) -> None:
        self.pos[rows] = self.WIDTH // 2
        self.goal_right[rows] = torch.rand(int(rows.sum()), generator=self.gen) < 0.5
        self.steps[rows] = 0

    def _obs(self) -> torch.Tensor:
        obs = torch.zeros((self.batch, 3, self.WIDTH, 3), dtype=torch.uint8)
        ends = torch.where(self.goal_right, self.WIDTH - 1, 0)
        rows = torch.arange(self.batch)
        obs[rows, 1, ends, 1] = 255
        obs[rows, 1, self.WIDTH - 1 - ends, 0] = 255
        obs[rows, 1, self.pos] = 128
        return obs

    def reset(self) -> torch.Tensor:
        self._new(torch.ones(self.batch, dtype=torch.bool))
        return self._obs()

    def step(self, actions: torch.Tensor):
        move = torch.where(actions == 2, -1, torch.where(actions == 3, 1, 0))
        self.pos = (self.pos + move).clamp(0, self.WIDTH - 1)
        self.steps += 1
        at_end = (self.pos == 0) | (self.pos == self.WIDTH - 1)
        solved = at_end & ((self.pos == self.WIDTH - 1) == self.goal_right)
        terminated = at_end
        truncated = ~terminated & (self.steps >= self.MAX_STEPS)
        final_obs = self._obs()
        self._new(terminated | truncated)
        return self._obs(), solved.float(), terminated, truncated, {"solved": solved, "final_obs": final_obs}


def test_gae_matches_hand_computation_with_termination_and_truncation():
    gamma, lam = 0.9, 0.5
    # one env, T = 5: steps 0-1 one episode ending in termination at t=1; steps 2-3 a second episode
    # truncated at t=3 (final observation's value 4.0); step 4 starts a third, cut by the rollout.
    rewards = torch.tensor([[1.0], [2.0], [0.0], [1.0], [3.0]])
    values = torch.tensor([[0.5], [1.0], [2.0], [1.5], [0.2]])
    terminated = torch.tensor([[False], [True], [False], [False], [False]])
    truncated = torch.tensor([[False], [False], [False], [True], [False]])
    last = torch.tensor([0.7])
    trunc_values = torch.tensor([[0.0], [0.0], [0.0], [4.0], [0.0]])

    d4 = 3.0 + gamma * 0.7 - 0.2
    d3 = 1.0 + gamma * 4.0 - 1.5
    d2 = 0.0 + gamma * 1.5 - 2.0
    d1 = 2.0 + 0.0 - 1.0
    d0 = 1.0 + gamma * 1.0 - 0.5
    a4, a3 = d4, d3
    a2 = d2 + gamma * lam * a3
    a1 = d1
    a0 = d0 + gamma * lam * a1
    expected = torch.tensor([[a0], [a1], [a2], [a3], [a4]])

    adv, ret = compute_gae(
        rewards, values, last, terminated, truncated, gamma=gamma, lam=lam, truncation_values=trunc_values
    )
    torch.testing.assert_close(adv, expected)
    torch.testing.assert_close(ret, expected + values)

    # Without the final observation's value, truncation is treated like termination (bootstrap 0).
    adv_done, _ = compute_gae(rewards, values, last, terminated, truncated, gamma=gamma, lam=lam)
    d3_done = 1.0 - 1.5
    torch.testing.assert_close(adv_done[3, 0], torch.tensor(d3_done))
    torch.testing.assert_close(adv_done[2, 0], torch.tensor(d2 + gamma * lam * d3_done))
    torch.testing.assert_close(adv_done[[0, 1, 4]], expected[[0, 1, 4]])


def test_gae_is_batched_per_env():
    rewards = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    values = torch.zeros(2, 2)
    terminated = torch.tensor([[True, False], [False, True]])
    truncated = torch.zeros(2, 2, dtype=torch.bool)
    adv, _ = compute_gae(rewards, values, torch.tensor([5.0, 5.0]), terminated, truncated, gamma=0.5, lam=1.0)
    # env 0: terminated at 0 (A=1), then step 1 bootstraps 0.5 * 5; env 1: A1 = 1, A0 = 0.5 * 1
    torch.testing.assert_close(adv, torch.tensor([[1.0, 0.5], [2.5, 1.0]]))


def _small_baseline(obs_shape):
    torch.manual_seed(0)
    return build_agent("baseline", obs_shape=obs_shape, n_actions=4, blocks=1, width=16, head_width=32)


def test_ppo_learns_marked_side_quickly_and_deterministically():
    cfg = PPOConfig(
        n_envs=32, rollout_steps=16, epochs=4, minibatches=4, lr=1e-3, total_steps=32 * 16 * 25, seed=3
    )
    shape = (3, MarkedSide.WIDTH, 3)
    before = evaluate(_small_baseline(shape), MarkedSide(64, seed=99), 128)
    assert before["fraction_solved"] < 0.8

    agent = _small_baseline(shape)
    calls = {"progress": [], "metrics": [], "eval": 0}

    def eval_fn(a):
        calls["eval"] += 1
        return evaluate(a, lambda: MarkedSide(64, seed=7), 64)

    history = train_ppo(
        agent,
        MarkedSide(32, seed=1),
        cfg,
        device="cpu",
        progress=lambda d, t, m: calls["progress"].append((d, t)),
        metrics=lambda s, v: calls["metrics"].append((s, v)),
        eval_fn=eval_fn,
        eval_every=10,
    )
    assert len(history) == 25 and history[-1]["env_steps"] == 32 * 16 * 25
    assert calls["eval"] == 3
    assert "eval_fraction_solved" in history[9] and "eval_fraction_solved" in history[-1]
    assert calls["progress"][-1] == (12800.0, 12800.0)
    assert all(math.isfinite(v) for _, values in calls["metrics"] for v in values.values())
    for key in (
        "loss",
        "policy_loss",
        "value_loss",
        "entropy",
        "approx_kl",
        "clip_fraction",
        "steps_per_second",
    ):
        assert math.isfinite(history[-1][key])
    assert history[-1]["episodes"] > history[0]["episodes"] > 0
    assert history[-1]["fraction_solved"] > 0.9
    after = evaluate(agent, MarkedSide(64, seed=99), 128)
    assert after["fraction_solved"] > 0.9
    assert after["mean_length"] == pytest.approx(3.0, abs=0.3)  # the goal is 3 cells away

    again = train_ppo(
        _small_baseline(shape),
        MarkedSide(32, seed=1),
        PPOConfig(**{**cfg.to_dict(), "total_steps": 32 * 16 * 3}),
        device="cpu",
    )
    for a, b in zip(again, history[:3], strict=True):
        assert {k: v for k, v in a.items() if k != "steps_per_second"} == pytest.approx(
            {k: v for k, v in b.items() if k != "steps_per_second"}, nan_ok=True
        )


def test_ppo_learns_marked_side_under_bf16_autocast():
    cfg = PPOConfig(
        n_envs=32,
        rollout_steps=16,
        epochs=4,
        minibatches=4,
        lr=1e-3,
        total_steps=32 * 16 * 25,
        seed=3,
        precision="bf16",
    )
    agent = _small_baseline((3, MarkedSide.WIDTH, 3))
    history = train_ppo(agent, MarkedSide(32, seed=1), cfg, device="cpu")
    assert all(math.isfinite(entry["loss"]) for entry in history)
    assert evaluate(agent, MarkedSide(64, seed=99), 128)["fraction_solved"] > 0.9
    with pytest.raises(LanternError, match="precision"):
        PPOConfig(precision="fp8")


def test_evaluate_counts_each_envs_first_episodes():
    class Fixed:
        """Env 0 finishes every step unsolved; env 1 every 4 steps solved (return 4)."""

        def __init__(self):
            self.t = 0

        def reset(self):
            self.t = 0
            return torch.zeros((2, 3, MarkedSide.WIDTH, 3), dtype=torch.uint8)

        def step(self, actions):
            self.t += 1
            done = torch.tensor([True, self.t % 4 == 0])
            return (
                torch.zeros((2, 3, MarkedSide.WIDTH, 3), dtype=torch.uint8),
                torch.tensor([0.0, 1.0]),
                done,
                torch.zeros(2, dtype=torch.bool),
                {"solved": torch.tensor([False, True]) & done},
            )

    result = evaluate(_small_baseline((3, MarkedSide.WIDTH, 3)), Fixed(), 4)
    # two episodes of each env, not the first four to finish (which would all be env 0's)
    assert result == {"fraction_solved": 0.5, "mean_return": 2.0, "mean_length": 2.5, "episodes": 4.0}


def test_bad_config_and_batch_mismatch_are_refused():
    with pytest.raises(LanternError, match="gamma"):
        PPOConfig(gamma=1.5)
    with pytest.raises(LanternError, match="n_envs"):
        PPOConfig(n_envs=0)
    with pytest.raises(LanternError, match="batch"):
        train_ppo(
            _small_baseline((3, MarkedSide.WIDTH, 3)),
            MarkedSide(8, seed=0),
            PPOConfig(n_envs=16, rollout_steps=4, total_steps=64),
            device="cpu",
        )


def test_ppo_runs_on_boxworld():
    from engine.rl.boxworld import BoxWorldConfig
    from engine.rl.boxworld.batched import BatchedBoxWorld

    world = BoxWorldConfig(size=6, solution_length=1, distractors=0, max_steps=30)
    env = BatchedBoxWorld(world, 16, "cpu", seed=0, pool_size=64)
    obs_shape = tuple(env.reset().shape[1:])
    for name in ("relational", "baseline"):
        torch.manual_seed(0)
        agent = build_agent(name, obs_shape=obs_shape, n_actions=4)
        history = train_ppo(
            agent,
            env,
            PPOConfig(n_envs=16, rollout_steps=32, epochs=2, minibatches=2, total_steps=16 * 32 * 2),
            device="cpu",
        )
        assert len(history) == 2
        for key in ("loss", "policy_loss", "value_loss", "entropy", "approx_kl"):
            assert math.isfinite(history[-1][key]), (name, key)
        assert history[-1]["entropy"] > 0.5  # close to log 4 after two updates
        result = evaluate(agent, env, 16, greedy=False)
        assert 0.0 <= result["fraction_solved"] <= 1.0 and 1 <= result["mean_length"] <= 30
