"""Generalisation conditions: each uses the config it claims (longer paths are longer, withheld levels hold a
withheld pair on the solution path, training levels hold none), a perfect planner solves every condition
with the exact rewards, inapplicable conditions say why, and a tiny agent's numbers are reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from engine.core.errors import LanternError
from engine.rl.agents import build_agent
from engine.rl.agents.common import AgentOutput
from engine.rl.boxworld.config import BoxWorldConfig
from engine.rl.boxworld.level import AGENT, FLOOR, GEM, KEY0, _walk
from engine.rl.boxworld.palette import PALETTE
from engine.rl.generalisation import generalisation, generalisation_conditions, level_maker

CFG = BoxWorldConfig(
    size=6, solution_length=[1, 2], distractors=[0, 1], max_steps=40, withheld_pairs=[[0, 1], [2, 3]]
)
_IDS = {tuple(int(v) for v in PALETTE[i]): i for i in range(KEY0 + CFG.colours - 1, -1, -1)}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def plan(obs: np.ndarray) -> int:
    """The first action of a shortest walk to the next useful object, read from the pixels alone."""
    ids = np.array([[_IDS[tuple(int(v) for v in px)] for px in row] for row in obs])
    inner, corner = ids[1:-1, 1:-1], int(ids[0, 0])
    held = corner if corner >= KEY0 else 0
    coloured = inner >= GEM
    size = inner.shape[0]

    def lock(r: int, c: int) -> bool:
        return bool(coloured[r, c] and c > 0 and coloured[r, c - 1])

    def content(r: int, c: int) -> bool:
        return bool(coloured[r, c] and c + 1 < size and coloured[r, c + 1])

    def leads_to_gem(r: int, c: int) -> bool:  # the box at lock (r, c)
        inside = int(inner[r, c - 1])
        where = zip(*np.nonzero(inner == inside), strict=True)
        return inside == GEM or any(leads_to_gem(int(a), int(b)) for a, b in where if lock(int(a), int(b)))

    cells = [(int(r), int(c)) for r, c in zip(*np.nonzero(coloured), strict=True)]
    if held:
        targets = [(p, (0, 1, 2)) for p in cells if inner[p] == held and lock(*p) and leads_to_gem(*p)]
    else:
        targets = [(p, (0, 1, 2, 3)) for p in cells if not lock(*p) and not content(*p)]
    start = tuple(int(v) for v in np.argwhere(inner == AGENT)[0])
    grid = inner.tolist()
    grid[start[0]][start[1]] = FLOOR
    for goal, sides in targets:
        path = _walk(grid, start, goal, sides)
        if path:
            return path[0]
    return 0


class Planner(nn.Module):
    """A perfect Box-World player (no attention): plans from the observation each step."""

    name = "planner"

    def __init__(self) -> None:
        super().__init__()
        self.obs_shape = (CFG.size + 2, CFG.size + 2, 3)
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, obs: torch.Tensor, *, return_attention: bool = False) -> AgentOutput:
        actions = torch.tensor([plan(o) for o in obs.numpy()])
        return AgentOutput(nn.functional.one_hot(actions, 4).float(), torch.zeros(len(obs)), None)


def boxes(level) -> set[tuple[int, int]]:
    """(key colour index, lock colour index) of every box in a level."""
    return {
        (b.content - KEY0, b.lock_colour - KEY0)
        for b in (*level.solution, *level.distractors)
        if b.content >= KEY0
    }


def test_each_condition_generates_the_levels_it_claims() -> None:
    conditions = {c.name: c for c in generalisation_conditions(CFG)}
    assert list(conditions) == ["training", "longer+1", "longer+2", "withheld"]
    assert conditions["training"].config == CFG
    withheld = {(0, 1), (2, 3)}
    for level in level_maker(conditions["training"], 0, 0)(30):
        assert not boxes(level) & withheld
        assert 1 <= len(level.solution) <= 2
    for extra in (1, 2):
        cond = conditions[f"longer+{extra}"]
        assert cond.config.solution_length == 2 + extra
        assert cond.config.model_dump() == {**CFG.model_dump(), "solution_length": 2 + extra}
        assert all(len(lv.solution) == 2 + extra for lv in level_maker(cond, 0, 1)(20))
    cond = conditions["withheld"]
    assert cond.pairs == ((0, 1), (2, 3)) and cond.config.solution_length == 2
    for level in level_maker(cond, 0, 3)(40):
        on_path = {(b.content - KEY0, b.lock_colour - KEY0) for b in level.solution} & withheld
        assert len(on_path) == 1 and len(boxes(level) & withheld) == 1


def test_a_perfect_planner_solves_every_condition_with_exact_rewards() -> None:
    result = generalisation(Planner(), CFG, episodes=12, seed=3, batch=6, greedy=True)
    rows = result["conditions"]
    for name, row in rows.items():
        assert row["applicable"] and row["episodes"] == 12, name
        assert row["fraction_solved"] == 1.0, name
    gem, box = CFG.rewards.gem, CFG.rewards.box
    assert rows["longer+1"]["mean_return"] == pytest.approx(gem + 3 * box)
    assert rows["longer+2"]["mean_return"] == pytest.approx(gem + 4 * box)
    assert rows["withheld"]["mean_return"] == pytest.approx(gem + 2 * box)
    assert gem + box <= rows["training"]["mean_return"] <= gem + 2 * box
    assert rows["longer+1"]["config"]["solution_length"] == 3 and result["trained_config"] == CFG.model_dump()


def test_conditions_that_do_not_fit_say_why() -> None:
    small = BoxWorldConfig(size=5, solution_length=[1, 2], distractors=1, max_steps=8)
    rows = generalisation(_tiny(small), small, episodes=3, seed=0)["conditions"]
    assert rows["training"]["applicable"] and rows["training"]["episodes"] == 3
    # a 5x5 grid holds 3 boxes: a 3-box path fits only without the distractor branch; 4 boxes never fit
    longer = rows["longer+1"]
    assert longer["applicable"] and longer["config"]["solution_length"] == 3
    assert (
        longer["config"]["distractors"] == [0, 0] and "at most 0 distractor branches" in longer["description"]
    )
    for name in ("longer+2", "withheld"):
        assert not rows[name]["applicable"] and rows[name]["fraction_solved"] is None
        assert rows[name]["episodes"] == 0 and rows[name]["reason"]
    assert "largest" in rows["longer+2"]["reason"]
    assert "withholds no" in rows["withheld"]["reason"]


def _tiny(cfg: BoxWorldConfig):
    torch.manual_seed(0)
    return build_agent(
        "relational",
        obs_shape=(cfg.size + 2, cfg.size + 2, 3),
        n_actions=4,
        blocks=1,
        heads=1,
        key_dim=8,
        mlp_width=16,
        head_width=16,
    )


def test_a_tiny_agent_gives_reproducible_fractions() -> None:
    cfg = CFG.model_copy(update={"max_steps": 10})
    one = generalisation(_tiny(cfg), cfg, episodes=5, seed=2)
    two = generalisation(_tiny(cfg), cfg, episodes=5, seed=2)
    assert one == two
    assert list(one["conditions"]) == ["training", "longer+1", "longer+2", "withheld"]
    for row in one["conditions"].values():
        assert 0.0 <= row["fraction_solved"] <= 1.0 and row["mean_length"] <= 10
    with pytest.raises(LanternError, match="episodes"):
        generalisation(_tiny(cfg), cfg, episodes=0, seed=0)
    with pytest.raises(LanternError, match="size"):
        generalisation(_tiny(cfg), CFG.model_copy(update={"size": 7}), episodes=2, seed=0)
