"""BoxWorldEnv rules, one by one, on hand-made tiny levels."""

import numpy as np

from engine.rl.boxworld import AGENT, BORDER, FLOOR, GEM, Box, BoxWorldConfig, Level
from engine.rl.boxworld.env import BoxWorldEnv
from engine.rl.boxworld.palette import PALETTE, render

UP, DOWN, LEFT, RIGHT = 0, 1, 2, 3
A, B, C = 4, 5, 6  # three key/lock colours


def _env(
    grid: list[list[int]],
    agent: tuple[int, int],
    held: int = 0,
    distractors: tuple[Box, ...] = (),
    max_steps: int = 50,
) -> BoxWorldEnv:
    small = np.array(grid, np.uint8)
    g = np.zeros((5, 5), np.uint8)  # padded with floor to the smallest generatable size
    g[: small.shape[0], : small.shape[1]] = small
    g[agent] = AGENT
    env = BoxWorldEnv(BoxWorldConfig(size=g.shape[0], solution_length=1, distractors=0, max_steps=max_steps))
    env.reset(options={"level": Level(g, agent, held, (), distractors)})
    return env


def _agent_pixel(obs: np.ndarray) -> tuple[int, int]:
    hits = np.argwhere((obs == PALETTE[AGENT]).all(-1))
    assert len(hits) == 1
    return int(hits[0][0]), int(hits[0][1])


def test_render_draws_border_and_held_key() -> None:
    g = np.zeros((3, 3), np.uint8)
    obs = render(g, 0)
    assert obs.shape == (5, 5, 3) and (obs[0, 0] == PALETTE[BORDER]).all()
    assert (obs[2, 2] == PALETTE[FLOOR]).all()
    assert (render(g, A)[0, 0] == PALETTE[A]).all()
    assert len({tuple(c) for c in PALETTE[:24]}) == 24  # gem, agent, floor, border and 20 colours distinct


def test_walking_onto_a_loose_key_picks_it_up_and_shows_it_at_0_0() -> None:
    env = _env([[0, 0, 0], [0, A, 0], [0, 0, 0]], (1, 0))
    obs, r, term, trunc, _ = env.step(RIGHT)
    assert (obs[0, 0] == PALETTE[A]).all() and env.held == A
    assert _agent_pixel(obs) == (2, 2) and r == 0 and not term and not trunc


def test_a_second_key_replaces_the_held_one() -> None:
    env = _env([[0, 0, 0], [0, A, 0], [0, 0, 0]], (1, 0), held=B)
    obs, *_ = env.step(RIGHT)
    assert env.held == A and (obs[0, 0] == PALETTE[A]).all()


def test_walls_closed_content_and_locks_without_the_key_block() -> None:
    grid = [[0, 0, 0], [GEM, A, 0], [0, 0, 0]]
    env = _env(grid, (0, 1))
    before = env.render()
    for action in (UP, DOWN):  # the border; then the lock without a key
        obs, r, term, _, _ = env.step(action)
        assert (obs == before).all() and r == 0 and not term
    env = _env(grid, (0, 1), held=B)  # the wrong key
    obs, r, *_ = env.step(DOWN)
    assert _agent_pixel(obs) == (1, 2) and env.held == B and r == 0
    env = _env(grid, (0, 0), held=A)  # a closed box's content
    obs, r, *_ = env.step(DOWN)
    assert _agent_pixel(obs) == (1, 1) and env.held == A


def test_opening_a_solution_box_then_collecting_the_gem() -> None:
    env = _env([[0, 0, 0], [GEM, A, 0], [0, 0, 0]], (0, 1), held=A)
    obs, r, term, trunc, info = env.step(DOWN)
    assert r == 1.0 and not term and env.held == 0 and (obs[0, 0] == PALETTE[BORDER]).all()
    assert _agent_pixel(obs) == (2, 2) and (obs[2, 1] == PALETTE[GEM]).all()
    obs, r, term, trunc, info = env.step(LEFT)
    assert r == 10.0 and term and not trunc and info["solved"]


def test_an_opened_box_content_key_is_collected_by_stepping_onto_it() -> None:
    env = _env([[0, 0, 0], [B, A, 0], [0, 0, 0]], (1, 2), held=A)
    assert env.step(LEFT)[1] == 1.0  # into the lock from the right
    obs, r, *_ = env.step(LEFT)
    assert env.held == B and (obs[0, 0] == PALETTE[B]).all() and r == 0


def test_opening_a_distractor_box_costs_one_and_ends() -> None:
    env = _env([[0, 0, 0], [C, A, 0], [0, 0, 0]], (2, 1), held=A, distractors=(Box((1, 1), A, C),))
    _, r, term, trunc, info = env.step(UP)
    assert r == -1.0 and term and not trunc and not info["solved"]


def test_keys_are_single_use() -> None:
    grid = [[0, 0, 0, 0], [B, A, 0, 0], [0, 0, 0, 0], [C, A, 0, 0]]
    env = _env(grid, (0, 1), held=A)
    assert env.step(DOWN)[1] == 1.0
    env.step(RIGHT)
    env.step(DOWN)
    env.step(LEFT)  # now at (2, 1), above the second lock of the same colour
    obs, r, *_ = env.step(DOWN)
    assert _agent_pixel(obs) == (3, 2) and r == 0 and env.held == 0


def test_step_limit_truncates() -> None:
    env = _env([[0, 0], [0, 0]], (0, 0), max_steps=5)
    for i in range(5):
        _, _, term, trunc, _ = env.step(UP)
        assert not term and trunc == (i == 4)
