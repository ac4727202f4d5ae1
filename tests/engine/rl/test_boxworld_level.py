"""Box-World config checks and level generator properties (solvable, distractor counts, withheld pairs)."""

import numpy as np
import pytest

from engine.core.errors import LanternError
from engine.rl.boxworld import GEM, KEY0, BoxWorldConfig, generate_level
from engine.rl.boxworld.config import capacity
from engine.rl.boxworld.env import BoxWorldEnv
from engine.rl.boxworld.level import solution_actions


def test_paper_defaults() -> None:
    cfg = BoxWorldConfig()
    assert (cfg.size, cfg.solution_range, cfg.distractor_range, cfg.colours, cfg.max_steps) == (
        12,
        (1, 4),
        (0, 4),
        20,
        120,
    )
    assert (cfg.rewards.gem, cfg.rewards.box, cfg.rewards.distractor) == (10.0, 1.0, -1.0)


def test_solution_too_long_names_field_and_largest() -> None:
    with pytest.raises(LanternError) as err:
        BoxWorldConfig(size=5, solution_length=[1, 9], distractors=0)
    assert err.value.where == "BoxWorldConfig.solution_length"
    assert f"largest solution_length that fits is {capacity(5)}" in err.value.hint
    assert capacity(5) == 3


def test_solution_too_long_with_default_distractors_suggests_a_length_that_fits() -> None:
    with pytest.raises(LanternError) as err:
        BoxWorldConfig(size=4, solution_length=[1, 5])  # default distractors [0, 4]
    assert err.value.where == "BoxWorldConfig.solution_length"
    assert f"largest solution_length that fits is {capacity(4)}" in err.value.hint and capacity(4) >= 1


def test_too_many_distractors_names_field() -> None:
    with pytest.raises(LanternError) as err:
        BoxWorldConfig(size=6, solution_length=2, distractors=[0, 9])
    assert err.value.where == "BoxWorldConfig.distractors"
    assert "largest distractors that fits with solution_length up to 2 is 3" in err.value.hint


def test_bad_inputs_are_lantern_errors() -> None:
    with pytest.raises(LanternError, match="colours"):
        BoxWorldConfig(size=12, solution_length=4, distractors=4, colours=5)
    with pytest.raises(LanternError, match="withheld pair"):
        BoxWorldConfig(colours=20, withheld_pairs=[[3, 25]])
    with pytest.raises(LanternError, match="min <= max"):
        BoxWorldConfig(solution_length=[3, 1])


def _boxes(level):
    return [*level.solution, *level.distractors]


def test_generated_levels_follow_the_paper_structure_and_are_solvable() -> None:
    cfg = BoxWorldConfig(
        size=8, solution_length=[1, 3], distractors=[0, 2], distractor_length=2, max_steps=400
    )
    rng = np.random.default_rng(0)
    env = BoxWorldEnv(cfg)
    seen_branches = set()
    for _ in range(150):
        lv = generate_level(cfg, rng)
        n, boxes = len(lv.solution), _boxes(lv)
        assert 1 <= n <= 3 and len(lv.distractors) % 2 == 0
        seen_branches.add(len(lv.distractors) // 2)
        # the chain: loose key opens box 0, each content opens the next, the last holds the gem
        assert lv.grid[lv.key] == lv.solution[0].lock_colour
        for a, b in zip(lv.solution, lv.solution[1:], strict=False):
            assert a.content == b.lock_colour
        assert lv.solution[-1].content == GEM
        # box = lock on the right, content on the left, in the grid
        for box in boxes:
            r, c = box.lock
            assert lv.grid[r, c] == box.lock_colour and lv.grid[r, c - 1] == box.content
        # each branch starts at a solution key, and its last key opens nothing
        solution_locks = {b.lock_colour for b in lv.solution}
        for j in range(0, len(lv.distractors), 2):
            first, second = lv.distractors[j], lv.distractors[j + 1]
            assert first.lock_colour in solution_locks and second.lock_colour == first.content
            assert second.content not in {b.lock_colour for b in boxes}
        assert (lv.grid >= KEY0).sum() + (lv.grid == GEM).sum() == 2 * len(boxes) + 1
        # following the solution path solves it: +1 per box, +10 for the gem
        env.reset(options={"level": lv})
        total = 0.0
        for a in solution_actions(lv):
            _, r, term, trunc, info = env.step(a)
            total += r
        assert term and info["solved"] and not trunc and total == 10 + n
    assert seen_branches == {0, 1, 2}


def test_withheld_pairs_never_appear_and_pairs_force_them() -> None:
    withheld = [[a, b] for a in range(4) for b in range(4) if a != b]
    cfg = BoxWorldConfig(
        size=8, solution_length=[2, 3], distractors=[0, 1], colours=6, withheld_pairs=withheld
    )
    rng = np.random.default_rng(1)
    banned = {(a, b) for a, b in withheld}
    for _ in range(200):
        lv = generate_level(cfg, rng)
        pairs = {(b.content - KEY0, b.lock_colour - KEY0) for b in _boxes(lv) if b.content != GEM}
        assert not pairs & banned
    forced = [(1, 2)]
    for _ in range(50):
        lv = generate_level(cfg, rng, pairs=forced)
        pairs = [(b.content - KEY0, b.lock_colour - KEY0) for b in lv.solution]
        assert (1, 2) in pairs and solution_actions(lv) is not None


def test_forced_pairs_need_a_key_in_a_box() -> None:
    with pytest.raises(LanternError, match="solution_length >= 2"):
        generate_level(
            BoxWorldConfig(size=6, solution_length=1, distractors=0), np.random.default_rng(0), pairs=[(0, 1)]
        )
