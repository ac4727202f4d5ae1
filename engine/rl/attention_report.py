"""The attention report of a relational Box-World agent: AttentionStats over its episodes (its policy
sampled, or greedy) on held-out levels -- per block and head the mean attention a key pays to the lock it
opens, the mean attention every entity pays to the agent and to the gem, chance (1 / N entities) and each
as a multiple of chance -- plus the mean over heads per block (Zambaldi et al. 2018 report keys
attending to their locks).

Every observation of every episode counts (the first to the last, as in the player). Levels come from a
numpy generator seeded with (seed, 1000), a stream distinct from training's BatchedBoxWorld (plain-int
seed) and from engine.rl.generalisation's (seed, condition index).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.core.errors import LanternError
from engine.rl.attention_stats import AttentionStats
from engine.rl.boxworld.config import BoxWorldConfig
from engine.rl.boxworld.level import Level, generate_level
from engine.rl.episodes import add_episode, heads_mean, record_episode

if TYPE_CHECKING:
    from engine.rl.agents.common import Agent

LEVEL_STREAM = 1000
_MASSES = (
    "key_to_lock",
    "key_to_lock_vs_chance",
    "to_agent",
    "to_agent_vs_chance",
    "to_gem",
    "to_gem_vs_chance",
)


def report_levels(boxworld_cfg: BoxWorldConfig, episodes: int, seed: int) -> list[Level]:
    """The held-out levels attention_report plays."""
    rng = np.random.default_rng([seed, LEVEL_STREAM])
    return [generate_level(boxworld_cfg, rng) for _ in range(episodes)]


def attention_report(
    agent: Agent, boxworld_cfg: BoxWorldConfig, *, episodes: int, seed: int, greedy: bool = False
) -> dict[str, Any]:
    """Answer {"agent", "config", "seed", "episodes", "solved_fraction", "steps" (observations counted),
    "blocks", "heads", "entities", "chance", "key_lock_pairs", per block and head lists [blocks][heads]
    "key_to_lock", "to_agent", "to_gem" and their "..._vs_chance", "mean_over_heads" (per block), and
    "table": rows {"block", "head" (int or "mean"), each mass and ratio} for printing}."""
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise LanternError(
            f"episodes must be a whole number of at least 1, got {episodes!r}",
            "attention_report",
            "play at least one episode",
        )
    side = boxworld_cfg.size + 2
    if tuple(agent.obs_shape) != (side, side, 3):
        raise LanternError(
            f"the agent sees {tuple(agent.obs_shape)} observations, Box-World of size "
            f"{boxworld_cfg.size} gives ({side}, {side}, 3)",
            "attention_report",
            "report with the config the agent was trained on",
        )
    stats: AttentionStats | None = None
    solved = 0
    for index, level in enumerate(report_levels(boxworld_cfg, episodes, seed)):
        episode = record_episode(agent, level, greedy=greedy, seed=seed + index, config=boxworld_cfg)
        if episode.attention is None:
            raise LanternError(
                f"the {episode.agent} agent has no attention to report",
                "attention_report",
                "report on a relational agent (the baseline has no attention)",
            )
        if stats is None:
            stats = AttentionStats(int(episode.attention.shape[1]), int(episode.attention.shape[2]))
        add_episode(stats, episode)
        solved += episode.solved
    assert stats is not None  # episodes >= 1
    summary = stats.summary()
    mean = heads_mean(summary)
    table = []
    for block in range(stats.blocks):
        for head in range(stats.heads):
            table.append({"block": block, "head": head, **{k: summary[k][block][head] for k in _MASSES}})
        table.append({"block": block, "head": "mean", **{k: mean[k][block] for k in _MASSES}})
    return {
        "agent": getattr(agent, "name", type(agent).__name__),
        "config": boxworld_cfg.model_dump(),
        "seed": seed,
        "episodes": episodes,
        "solved_fraction": solved / episodes,
        "blocks": stats.blocks,
        "heads": stats.heads,
        **summary,
        "mean_over_heads": mean,
        "table": table,
    }
