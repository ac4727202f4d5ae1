"""GymGridEnv: MiniGrid palette, shapes, auto-reset, seeding, a scripted DoorKey solve, errors, PPO smoke."""

from __future__ import annotations

import itertools
import math
from collections import deque

import gymnasium
import numpy as np
import pytest
import torch
from minigrid.core.constants import DIR_TO_VEC, OBJECT_TO_IDX
from minigrid.wrappers import FullyObsWrapper

from engine.core.errors import LanternError
from engine.rl.agents import build_agent
from engine.rl.grid_env import (
    GymGridEnv,
    minigrid_to_rgb,
    palette_cell_states,
    palette_rgb,
)
from engine.rl.ppo import PPOConfig, evaluate, train_ppo

DOORKEY = "MiniGrid-DoorKey-5x5-v0"
LEFT, RIGHT, FORWARD, PICKUP, TOGGLE = 0, 1, 2, 3, 5


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _inner(env: GymGridEnv, i: int = 0):
    return env.envs[i].unwrapped


def _plan_to_face(inner, target: tuple[int, int]) -> list[int]:
    """Shortest left/right/forward sequence after which the agent faces `target` (BFS over (x, y, dir) on
    the env's own grid; cells are passable when empty or overlappable, e.g. an open door)."""

    def free(x: int, y: int) -> bool:
        cell = inner.grid.get(x, y)
        return cell is None or cell.can_overlap()

    start = (int(inner.agent_pos[0]), int(inner.agent_pos[1]), int(inner.agent_dir))
    parent: dict[tuple[int, int, int], tuple[tuple[int, int, int], int] | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        x, y, d = state
        dx, dy = DIR_TO_VEC[d]
        if (x + dx, y + dy) == target:
            plan: list[int] = []
            while parent[state] is not None:
                state, action = parent[state]  # type: ignore[misc]
                plan.append(action)
            return plan[::-1]
        moves = [((x, y, (d - 1) % 4), LEFT), ((x, y, (d + 1) % 4), RIGHT)]
        if free(x + dx, y + dy):
            moves.append(((x + dx, y + dy, d), FORWARD))
        for nxt, action in moves:
            if nxt not in parent:
                parent[nxt] = (state, action)
                queue.append(nxt)
    raise AssertionError(f"no path to face {target}")


def _find(inner, kind: str) -> tuple[int, int]:
    for x, y in itertools.product(range(inner.width), range(inner.height)):
        cell = inner.grid.get(x, y)
        if cell is not None and cell.type == kind:
            return x, y
    raise AssertionError(f"no {kind} in the grid")


def _act(env: GymGridEnv, action: int):
    return env.step(torch.tensor([action]))


def test_palette_is_injective_and_well_separated():
    states = palette_cell_states()
    pixels = [palette_rgb(*s) for s in states]
    assert len(set(pixels)) == len(states) == 66
    gaps = [max(abs(a - b) for a, b in zip(p, q, strict=True)) for p, q in itertools.combinations(pixels, 2)]
    assert min(gaps) >= 10
    agents = {palette_rgb("agent", None, d) for d in ("right", "down", "left", "up")}
    assert len(agents) == 4
    doors = {palette_rgb("door", "yellow", s) for s in ("open", "closed", "locked")}
    assert len(doors) == 3
    assert palette_rgb("key", "yellow") == (255, 255, 0)
    assert palette_rgb("empty") == (220, 220, 220)


def test_palette_is_injective_over_the_cell_states_doorkey_produces():
    """Every (object, colour, state) seen in DoorKey episodes (random play plus a scripted pickup and door
    toggling, so key, locked / open / closed door, wall, goal, floor and all four agent directions) maps to
    one pixel and distinct states to distinct pixels; the observation is that mapping of FullyObsWrapper's
    grid."""
    env = GymGridEnv(DOORKEY, 4, seed=3)
    seen: dict[tuple[int, int, int], tuple[int, int, int]] = {}

    def collect(source: GymGridEnv, rgb: torch.Tensor, i: int) -> None:
        image = source.envs[i].observation({})["image"]  # FullyObsWrapper's own full grid, indexed [x, y]
        expected = minigrid_to_rgb(image)
        if _inner(source, i).carrying is None:
            np.testing.assert_array_equal(rgb.numpy(), expected)
        for x, y in itertools.product(range(image.shape[0]), range(image.shape[1])):
            if (y, x) == (0, 0):
                continue
            triple = tuple(int(v) for v in image[x, y])
            pixel = tuple(int(v) for v in rgb[y, x])
            assert seen.setdefault(triple, pixel) == pixel

    gen = torch.Generator().manual_seed(0)
    obs = env.reset()
    for _ in range(60):
        obs, *_ = env.step(torch.randint(7, (4,), generator=gen))
        for i in range(4):
            collect(env, obs[i], i)
    solver = GymGridEnv(DOORKEY, 1, seed=11)
    solver.reset()
    inner = _inner(solver)
    for target, finish in (("key", PICKUP), ("door", TOGGLE)):
        for action in [*_plan_to_face(inner, _find(inner, target)), finish]:
            collect(solver, _act(solver, action)[0][0], 0)
    for action in (TOGGLE, TOGGLE):  # the unlocked door: open -> closed -> open
        collect(solver, _act(solver, action)[0][0], 0)
    kinds = {OBJECT_TO_IDX[k] for k in ("wall", "empty", "key", "door", "goal", "agent")}
    assert kinds <= {t[0] for t in seen}
    assert {t[2] for t in seen if t[0] == OBJECT_TO_IDX["agent"]} == {0, 1, 2, 3}
    assert {t[2] for t in seen if t[0] == OBJECT_TO_IDX["door"]} == {0, 1, 2}
    assert len(set(seen.values())) == len(seen)


def test_shapes_dtypes_and_attributes():
    env = GymGridEnv(DOORKEY, 3, seed=0)
    assert (env.obs_shape, env.n_actions, env.batch) == ((5, 5, 3), 7, 3)
    obs = env.reset()
    assert obs.shape == (3, 5, 5, 3) and obs.dtype == torch.uint8
    obs, reward, terminated, truncated, info = env.step(torch.tensor([0, 1, 2]))
    assert obs.shape == (3, 5, 5, 3) and obs.dtype == torch.uint8
    assert reward.dtype == torch.float32 and reward.shape == (3,)
    assert terminated.dtype == truncated.dtype == info["solved"].dtype == torch.bool
    assert terminated.shape == truncated.shape == info["solved"].shape == (3,)
    # the grid's outer ring is wall, except pixel (0, 0), which shows a carried object (none yet)
    wall = torch.tensor(palette_rgb("wall", "grey"), dtype=torch.uint8)
    assert bool((obs[:, 0] == wall).all()) and bool((obs[:, :, -1] == wall).all())
    big = GymGridEnv("MiniGrid-DoorKey-6x6-v0", 1)
    assert big.obs_shape == (6, 6, 3) and big.reset().shape == (1, 6, 6, 3)


def _reference(seed: int, max_steps: int | None = None):
    kwargs = {} if max_steps is None else {"max_steps": max_steps}
    return FullyObsWrapper(gymnasium.make(DOORKEY, disable_env_checker=True, **kwargs))


def test_truncation_auto_resets_to_the_next_episode_and_reports_the_final_obs():
    env = GymGridEnv(DOORKEY, 2, seed=5, max_steps=3)
    refs = [_reference(5 + i, 3) for i in range(2)]
    first = env.reset()
    for i, ref in enumerate(refs):
        np.testing.assert_array_equal(first[i].numpy(), minigrid_to_rgb(ref.reset(seed=5 + i)[0]["image"]))
    actions = [torch.tensor([LEFT, RIGHT]), torch.tensor([LEFT, LEFT]), torch.tensor([RIGHT, LEFT])]
    for t, action in enumerate(actions):
        obs, reward, terminated, truncated, info = env.step(action)
        ref_obs = [ref.step(int(a))[0]["image"] for ref, a in zip(refs, action, strict=True)]
        if t < 2:
            assert not truncated.any() and "final_obs" not in info
            for i in range(2):
                np.testing.assert_array_equal(obs[i].numpy(), minigrid_to_rgb(ref_obs[i]))
    assert truncated.tolist() == [True, True] and terminated.tolist() == [False, False]
    assert info["solved"].tolist() == [False, False] and reward.tolist() == [0.0, 0.0]
    for i, ref in enumerate(refs):
        np.testing.assert_array_equal(info["final_obs"][i].numpy(), minigrid_to_rgb(ref_obs[i]))
        # the returned observation is the next episode's first (the env's RNG continues: reset() unseeded)
        np.testing.assert_array_equal(obs[i].numpy(), minigrid_to_rgb(ref.reset()[0]["image"]))
    assert not np.array_equal(obs.numpy(), first.numpy())
    # the step counter restarted: three more steps truncate again, not earlier
    for t in range(3):
        _, _, _, truncated, _ = env.step(torch.tensor([LEFT, LEFT]))
        assert truncated.tolist() == [t == 2] * 2


def test_seed_reproducibility():
    def run(seed: int) -> list[torch.Tensor]:
        env = GymGridEnv(DOORKEY, 4, seed=seed, max_steps=6)
        gen = torch.Generator().manual_seed(1)
        frames = [env.reset()]
        for _ in range(20):
            frames.append(env.step(torch.randint(7, (4,), generator=gen))[0])
        return frames

    a, b, c = run(7), run(7), run(8)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True))
    # envs i differ from each other (seed + i), and a second reset() draws new levels
    env = GymGridEnv(DOORKEY, 4, seed=7)
    first, second = env.reset(), env.reset()
    assert torch.equal(first, a[0]) and len({bytes(o.numpy()) for o in first}) > 1
    assert not torch.equal(first, second)


def test_scripted_doorkey_solve():
    env = GymGridEnv(DOORKEY, 1, seed=2)
    obs = env.reset()
    inner = _inner(env)
    door = _find(inner, "door")
    steps = 0
    for target, finish in (("key", PICKUP), ("door", TOGGLE), ("goal", FORWARD)):
        plan = [*_plan_to_face(inner, _find(inner, target)), finish]
        for action in plan:
            obs, reward, terminated, truncated, info = _act(env, action)
            steps += 1
            if target != "goal":
                assert not terminated.any() and reward.item() == 0.0
        if target == "key":
            assert inner.carrying is not None and inner.carrying.type == "key"
            assert tuple(obs[0, 0, 0].tolist()) == palette_rgb("key", "yellow")  # the carried key, at (0, 0)
            assert tuple(obs[0, door[1], door[0]].tolist()) == palette_rgb("door", "yellow", "locked")
        if target == "door":
            assert tuple(obs[0, door[1], door[0]].tolist()) == palette_rgb("door", "yellow", "open")
    assert terminated.tolist() == [True] and info["solved"].tolist() == [True] and not truncated.any()
    assert math.isclose(reward.item(), 1 - 0.9 * steps / inner.max_steps, rel_tol=1e-6) and reward.item() > 0
    # convert() gives the same frame for an env stepped by hand (here: a fresh episode, carried key shown)
    solo = GymGridEnv(DOORKEY, 1, seed=2)
    frame = solo.convert(0, solo.envs[0].reset(seed=2)[0])
    solo_inner = _inner(solo)
    for action in [*_plan_to_face(solo_inner, _find(solo_inner, "key")), PICKUP]:
        frame = solo.convert(0, solo.envs[0].step(action)[0])
    assert frame.shape == (5, 5, 3) and tuple(frame[0, 0]) == palette_rgb("key", "yellow")
    # auto-reset: the observation after the terminal step is the next episode's first
    ref = _reference(2)
    ref.reset(seed=2)
    np.testing.assert_array_equal(obs[0].numpy(), minigrid_to_rgb(ref.reset()[0]["image"]))
    assert inner.step_count == 0 and inner.carrying is None


def test_bad_inputs_raise_lantern_errors():
    with pytest.raises(LanternError) as err:
        GymGridEnv("MiniGrid-NoSuchThing-v0", 2)
    assert "does not exist" in err.value.what and err.value.where == "env id"
    assert DOORKEY in err.value.hint and "MiniGrid-DoorKey-8x8-v0" in err.value.hint
    with pytest.raises(LanternError) as err:
        GymGridEnv("CartPole-v1", 2)
    assert "grid observation" in err.value.what and "MiniGrid" in err.value.hint
    with pytest.raises(LanternError, match="batch"):
        GymGridEnv(DOORKEY, 0)
    with pytest.raises(LanternError, match="max_steps"):
        GymGridEnv(DOORKEY, 1, max_steps=0)
    env = GymGridEnv(DOORKEY, 2)
    env.reset()
    with pytest.raises(LanternError, match="shape"):
        env.step(torch.tensor([0, 1, 2]))
    with pytest.raises(LanternError, match="actions must lie"):
        env.step(torch.tensor([0, 7]))


class _Pixels(gymnasium.Env):
    """A 2 x 3 RGB image whose pixel (0, 0) counts steps; terminates with reward 1 on action 1."""

    observation_space = gymnasium.spaces.Box(0, 255, (2, 3, 3), np.uint8)
    action_space = gymnasium.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def _obs(self):
        obs = np.zeros((2, 3, 3), np.uint8)
        obs[0, 0, 0] = self.t
        obs[1, 2] = int(self.np_random.integers(1, 256))
        return obs

    def step(self, action):
        self.t += 1
        return self._obs(), float(action == 1), bool(action == 1), False, {}


def test_uint8_rgb_envs_pass_through():
    gymnasium.register("LanternTestPixels-v0", entry_point=_Pixels)
    try:
        env = GymGridEnv("LanternTestPixels-v0", 2, seed=4, max_steps=2)
        assert (env.obs_shape, env.n_actions) == ((2, 3, 3), 2)
        obs = env.reset()
        ref = _Pixels()
        np.testing.assert_array_equal(obs[1].numpy(), ref.reset(seed=5)[0])
        obs, reward, terminated, truncated, info = env.step(torch.tensor([0, 1]))
        assert terminated.tolist() == [False, True] and not truncated.any()
        assert reward.tolist() == [0.0, 1.0] and info["solved"].tolist() == [False, True]
        assert obs[0, 0, 0, 0] == 1 and obs[1, 0, 0, 0] == 0  # env 1 auto-reset
        obs, reward, _, truncated, info = env.step(torch.tensor([0, 0]))
        assert truncated.tolist() == [True, False] and info["final_obs"][0, 0, 0, 0] == 2
        assert obs[0, 0, 0, 0] == 0
    finally:
        gymnasium.registry.pop("LanternTestPixels-v0")


def test_ppo_runs_end_to_end_on_doorkey():
    env = GymGridEnv(DOORKEY, 8, seed=0)
    torch.manual_seed(0)
    agent = build_agent(
        "relational",
        obs_shape=env.obs_shape,
        n_actions=env.n_actions,
        blocks=1,
        heads=1,
        key_dim=8,
        mlp_width=16,
        head_width=16,
    )
    cfg = PPOConfig(n_envs=8, rollout_steps=32, epochs=2, minibatches=4, total_steps=2048, seed=0)
    held_out = lambda: GymGridEnv(DOORKEY, 4, seed=1000, max_steps=30)  # noqa: E731
    history = train_ppo(agent, env, cfg, device="cpu", eval_fn=lambda a: evaluate(a, held_out, 8))
    assert len(history) == 8 and history[-1]["env_steps"] == 2048
    for entry in history:
        for key in ("loss", "policy_loss", "value_loss", "entropy", "approx_kl"):
            assert math.isfinite(entry[key])
    assert 0.0 <= history[-1]["eval_fraction_solved"] <= 1.0 and history[-1]["eval_episodes"] == 8
    assert sum(e["window_episodes"] for e in history) > 0  # 250-step limit: some episodes ended


class _Broken(_Pixels):
    """Fails where asked: at construction, at reset, or by having continuous actions."""

    def __init__(self, fail: str = "") -> None:
        if fail == "build":
            raise RuntimeError("no such pattern file")
        if fail == "actions":
            self.action_space = gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.fail = fail

    def reset(self, *, seed=None, options=None):
        if self.fail == "reset":
            raise FileNotFoundError("pattern.png")
        return super().reset(seed=seed, options=options)


@pytest.mark.parametrize(
    ("fail", "message"),
    [("build", "could not be built"), ("reset", "could not be reset"), ("actions", "Box actions")],
)
def test_envs_that_cannot_serve_raise_lantern_errors(fail: str, message: str):
    gymnasium.register("LanternTestBroken-v0", entry_point=_Broken, kwargs={"fail": fail})
    try:
        with pytest.raises(LanternError, match=message) as err:
            GymGridEnv("LanternTestBroken-v0", 2).reset()
        assert "LanternTestBroken-v0" in err.value.what
    finally:
        gymnasium.registry.pop("LanternTestBroken-v0")
