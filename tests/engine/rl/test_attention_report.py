"""The attention report: chance is 1 / N, uniform attention scores exactly chance, the masses equal a hand
computation over the same episodes, and the table holds every head plus the mean over heads."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from engine.core.errors import LanternError
from engine.rl.agents import build_agent
from engine.rl.agents.common import AgentOutput
from engine.rl.attention_report import attention_report, report_levels
from engine.rl.boxworld.config import BoxWorldConfig
from engine.rl.episodes import record_episode

CFG = BoxWorldConfig(size=5, solution_length=[1, 2], distractors=[0, 1], max_steps=6)
N = (CFG.size + 2) ** 2


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny(name: str = "relational"):
    torch.manual_seed(1)
    relational = {"blocks": 2, "heads": 2, "key_dim": 8, "mlp_width": 16, "head_width": 16}
    config = relational if name == "relational" else {"blocks": 1, "width": 8, "head_width": 16}
    return build_agent(name, obs_shape=(CFG.size + 2, CFG.size + 2, 3), n_actions=4, **config)


class Uniform(nn.Module):
    """Attends uniformly (1 block, 3 heads) and always moves right."""

    name = "uniform"

    def __init__(self) -> None:
        super().__init__()
        self.obs_shape = (CFG.size + 2, CFG.size + 2, 3)
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, obs: torch.Tensor, *, return_attention: bool = False) -> AgentOutput:
        batch = len(obs)
        logits = torch.tensor([[0.0, 0.0, 0.0, 1.0]]).expand(batch, 4)
        return AgentOutput(logits, torch.zeros(batch), [torch.full((batch, 3, N, N), 1.0 / N)])


def test_uniform_attention_is_exactly_chance() -> None:
    report = attention_report(Uniform(), CFG, episodes=3, seed=0)
    assert report["chance"] == pytest.approx(1 / N) and report["entities"] == N
    assert (report["blocks"], report["heads"]) == (1, 3)
    for key in ("key_to_lock_vs_chance", "to_agent_vs_chance", "to_gem_vs_chance"):
        np.testing.assert_allclose(report[key], 1.0, rtol=1e-3)
        np.testing.assert_allclose(report["mean_over_heads"][key], 1.0, rtol=1e-3)
    assert report["key_lock_pairs"] > 0 and report["steps"] == 3 * (CFG.max_steps + 1)


def test_masses_match_a_hand_computation_over_the_same_episodes() -> None:
    agent = tiny()
    report = attention_report(agent, CFG, episodes=3, seed=4)
    masses, agent_mass, steps, solved = [], [], 0, 0
    for index, level in enumerate(report_levels(CFG, 3, 4)):  # sampled play, seeded seed + episode index
        episode = record_episode(agent, level, greedy=False, seed=4 + index, config=CFG)
        att = episode.attention.astype(np.float64)
        solved += episode.solved
        for t, roles in enumerate(episode.roles):
            steps += 1
            masses += [att[t, 1, 1, k, roles.locks[c]] for k, c in roles.keys if c in roles.locks]
            agent_mass.append(att[t, 0, 0, :, roles.agent].mean())
    assert report["steps"] == steps and report["solved_fraction"] == solved / 3
    assert report["key_to_lock"][1][1] == pytest.approx(np.mean(masses), rel=1e-5)
    assert report["key_to_lock_vs_chance"][1][1] == pytest.approx(np.mean(masses) * N, rel=1e-5)
    assert report["to_agent"][0][0] == pytest.approx(np.mean(agent_mass), rel=1e-5)
    table = report["table"]
    expected = [(0, 0), (0, 1), (0, "mean"), (1, 0), (1, 1), (1, "mean")]
    assert [(r["block"], r["head"]) for r in table] == expected
    mean_row = table[5]
    assert mean_row["key_to_lock"] == pytest.approx((table[3]["key_to_lock"] + table[4]["key_to_lock"]) / 2)


def test_agents_without_attention_and_bad_requests_are_refused() -> None:
    with pytest.raises(LanternError, match="no attention"):
        attention_report(tiny("baseline"), CFG, episodes=1, seed=0)
    with pytest.raises(LanternError, match="episodes"):
        attention_report(tiny(), CFG, episodes=0, seed=0)
    with pytest.raises(LanternError, match="size"):
        attention_report(tiny(), BoxWorldConfig(size=6, solution_length=1, distractors=0), episodes=1, seed=0)
