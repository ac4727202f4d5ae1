"""Recording one episode of an agent for the player: frames, id grids, actions, rewards, values, policies and
the attention of every block and head, all from the same forward pass that chose each action.

Box-World is driven through BoxWorldEnv (`reset(options={"level": level})`), so every step also records the
inner id grid and the held key, from which `entity_roles` names the key, lock, agent and gem cells. Any other
gymnasium-like env (reset() -> (obs, info), step(a) -> (obs, reward, terminated, truncated, info), obs uint8
[H, W, 3]) records frames only (grids and roles are None).

Per observation t = 0..T (T steps, T + 1 observations) the agent runs once on frame t: its policy picks
action t (greedy: the most likely; otherwise sampled with a generator seeded by `seed`), and its value,
policy and attention of frame t are kept. The final frame gets a forward pass too, so the player can show the
attention on the last observation; `actions` and `rewards` have T entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.core.errors import LanternError
from engine.rl.attention_stats import AttentionStats, Roles, entity_roles
from engine.rl.boxworld.config import BoxWorldConfig
from engine.rl.boxworld.level import Level

if TYPE_CHECKING:
    from engine.rl.agents.common import Agent

_HARD_CAP = 100_000  # steps, for an env that never ends and no max_steps


@dataclass(frozen=True, eq=False)
class Episode:
    """One recorded episode (T steps). Arrays are numpy; `attention` is None for agents without attention.

    frames      uint8 [T+1, H, W, 3]      the observations, frames[0] the level's first
    grids       uint8 [T+1, size, size]   Box-World inner id grids (None for other envs)
    held        int64 [T+1]               the held key's colour id (0: none; all 0 for other envs)
    actions     int64 [T]                 action taken from frame t
    rewards     float32 [T]               reward of step t
    values      float32 [T+1]             value estimate of frame t
    policies    float32 [T+1, A]          policy probabilities at frame t
    attention   float16 [T+1, blocks, heads, N, N] or None, rows = who attends, N = H * W (row-major)
    roles       per frame `Roles` (Box-World) or None
    """

    frames: np.ndarray
    grids: np.ndarray | None
    held: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    values: np.ndarray
    policies: np.ndarray
    attention: np.ndarray | None
    roles: tuple[Roles, ...] | None
    level: Level | None
    solved: bool
    terminated: bool
    truncated: bool
    agent: str

    @property
    def steps(self) -> int:
        return int(self.actions.shape[0])


def _default_config(level: Level) -> BoxWorldConfig:
    """The rules for a level given without a config: its size, the default rewards and step limit."""
    return BoxWorldConfig(size=int(level.grid.shape[0]), solution_length=1, distractors=0)


def record_episode(
    agent: Agent,
    level_or_env: Level | Any,
    *,
    greedy: bool = True,
    seed: int = 0,
    max_steps: int | None = None,
    config: BoxWorldConfig | None = None,
) -> Episode:
    """Play one episode of `agent` on a Box-World `Level` (rules of `config`, by default the level's size
    with the default rewards and step limit) or on a gymnasium-like env (reset with `seed`); see the module
    docstring. `max_steps` stops earlier than the env's own limit (the episode then counts as truncated)."""
    import torch

    from engine.rl.boxworld.env import BoxWorldEnv

    if max_steps is not None and max_steps < 1:
        raise LanternError(
            f"max_steps must be at least 1, got {max_steps}",
            "record_episode",
            "pass a positive step limit or None",
        )
    level: Level | None = None
    if isinstance(level_or_env, Level):
        level = level_or_env
        cfg = config or _default_config(level)
        env: Any = BoxWorldEnv(cfg)
        obs, _ = env.reset(options={"level": level})
    elif hasattr(level_or_env, "reset") and hasattr(level_or_env, "step"):
        env = level_or_env
        obs, _ = env.reset(seed=seed)
        if isinstance(env, BoxWorldEnv):
            level = env.level
    else:
        raise LanternError(
            f"cannot play a {type(level_or_env).__name__}",
            "record_episode",
            "pass a Box-World Level or a gymnasium environment",
        )
    boxworld = isinstance(env, BoxWorldEnv)
    obs = np.asarray(obs)
    if obs.dtype != np.uint8 or tuple(obs.shape) != tuple(agent.obs_shape):
        raise LanternError(
            f"the environment's observations (dtype {obs.dtype}, shape {tuple(obs.shape)}) do not fit the "
            f"agent (uint8 {tuple(agent.obs_shape)})",
            "record_episode",
            "play the agent on the environment (and level size) it was trained for",
        )
    device = next(agent.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    limit = max_steps if max_steps is not None else _HARD_CAP
    frames, grids, held = [obs], [], []
    actions: list[int] = []
    rewards: list[float] = []
    values: list[float] = []
    policies: list[np.ndarray] = []
    attention: list[np.ndarray] = []
    has_attention = True
    terminated = truncated = solved = False
    was_training = agent.training
    agent.eval()
    try:
        with torch.no_grad():
            while True:
                if boxworld:
                    grids.append(env.grid.copy())
                    held.append(int(env.held))
                else:
                    held.append(0)
                out = agent(torch.as_tensor(frames[-1][None], device=device), return_attention=True)
                probs = torch.softmax(out.logits.float(), dim=-1)[0].cpu()
                values.append(float(out.value[0]))
                policies.append(probs.numpy())
                if out.attention is None:
                    has_attention = False
                else:
                    maps = torch.stack([a[0] for a in out.attention])  # [blocks, heads, N, N]
                    attention.append(maps.to(torch.float16).cpu().numpy())
                if terminated or truncated:
                    break
                if len(actions) >= limit:
                    truncated = True
                    break
                pick = probs.argmax() if greedy else torch.multinomial(probs, 1, generator=gen)[0]
                action = int(pick)
                obs, reward, terminated, truncated, info = env.step(action)
                actions.append(action)
                rewards.append(float(reward))
                frames.append(np.asarray(obs))
                solved = bool(info.get("solved", terminated and float(reward) > 0))
    finally:
        agent.train(was_training)
    n_actions = len(policies[0])
    return Episode(
        frames=np.stack(frames),
        grids=np.stack(grids) if boxworld else None,
        held=np.asarray(held, np.int64),
        actions=np.asarray(actions, np.int64),
        rewards=np.asarray(rewards, np.float32),
        values=np.asarray(values, np.float32),
        policies=np.asarray(policies, np.float32).reshape(-1, n_actions),
        attention=np.stack(attention) if has_attention else None,
        roles=tuple(entity_roles(g, h) for g, h in zip(grids, held, strict=True)) if boxworld else None,
        level=level,
        solved=solved,
        terminated=bool(terminated),
        truncated=bool(truncated),
        agent=str(getattr(agent, "name", type(agent).__name__)),
    )


def roles_json(roles: Roles) -> dict[str, Any]:
    """{"keys": [[key cell, lock cell], ...] (keys whose lock is on the grid), "agent", "gem"} as plain ints;
    cells are row-major indices into the observation grid (border included)."""
    return {
        "keys": [
            [int(cell), int(roles.locks[colour])] for cell, colour in roles.keys if colour in roles.locks
        ],
        "agent": None if roles.agent is None else int(roles.agent),
        "gem": None if roles.gem is None else int(roles.gem),
    }


def add_episode(stats: AttentionStats, episode: Episode) -> None:
    """Add every frame of a Box-World episode with attention to `stats`."""
    if episode.attention is None or episode.roles is None:
        raise LanternError(
            f"the episode has no {'attention' if episode.attention is None else 'Box-World roles'}",
            "attention statistics",
            "record a relational agent on Box-World (the baseline has no attention; other envs no roles)",
        )
    for attention, roles in zip(episode.attention, episode.roles, strict=True):
        stats.add(attention.astype(np.float32), roles)


def heads_mean(summary: dict[str, Any]) -> dict[str, Any]:
    """Per block the mean over heads of each mass and ratio in an AttentionStats summary (NaN-aware)."""
    keys = (
        "key_to_lock",
        "key_to_lock_vs_chance",
        "to_agent",
        "to_agent_vs_chance",
        "to_gem",
        "to_gem_vs_chance",
    )
    out: dict[str, Any] = {}
    with np.errstate(invalid="ignore"):
        for key in keys:
            values = np.asarray(summary[key], dtype=np.float64)
            mean = np.full(values.shape[0], np.nan)
            finite = np.isfinite(values).any(axis=1)
            mean[finite] = np.nanmean(values[finite], axis=1)
            out[key] = mean.tolist()
    return out


def episode_attention_stats(episode: Episode) -> dict[str, Any]:
    """AttentionStats over this one episode's frames: the summary (per block and head: key->lock mass,
    mass on the agent and on the gem, chance 1/N and ratios) plus "mean_over_heads" per block."""
    if episode.attention is None:
        raise LanternError(
            "the episode has no attention",
            "episode_attention_stats",
            "record a relational agent (the baseline has no attention)",
        )
    blocks, heads = episode.attention.shape[1:3]
    stats = AttentionStats(int(blocks), int(heads))
    add_episode(stats, episode)
    summary = stats.summary()
    summary["mean_over_heads"] = heads_mean(summary)
    return summary
