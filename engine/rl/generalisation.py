"""Zero-shot generalisation of a Box-World agent (Zambaldi et al. 2018): the fraction of levels solved
on the training distribution (held-out levels), on solution paths longer than trained on, and on levels
that contain a withheld key-lock pair on their solution path.

Conditions (each records the exact BoxWorldConfig its levels were generated with):
- "training": the training config itself, on levels of a level stream the training never drew from.
- "longer+1", "longer+2": solution_length fixed at the trained maximum + 1 and + 2 (size and everything
  else unchanged; the distractor branches too, unless the grid cannot hold them beside the longer path:
  then as many as fit, which the description says); not applicable when BoxWorldConfig refuses even that
  (the grid is too small or there are too few colours), with its reason.
- "withheld": generate_level(cfg, rng, pairs=withheld_pairs): every level has exactly one box on its
  solution path that is a withheld pair (a lock of colour `lock` holding a key of colour `key`); the other
  withheld pairs still never appear. Such a box needs a solution of at least 2 boxes, so solution_length's
  minimum is raised to 2 (the recorded config says so). Not applicable when the config withholds no pairs.

Levels come from numpy generators seeded with (seed, condition index) -- streams distinct from
BatchedBoxWorld's (seeded with a plain integer) -- and reach engine.rl.ppo.evaluate through a
BatchedBoxWorld `level_source`, so the evaluation is reproducible from `seed`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.core.errors import LanternError
from engine.rl.boxworld.config import BoxWorldConfig
from engine.rl.boxworld.level import Level, generate_level

if TYPE_CHECKING:
    from engine.rl.agents.common import Agent

MAX_BATCH = 64


@dataclass(frozen=True)
class Condition:
    """One test condition: its levels' config and forced pairs, or why it does not apply."""

    name: str
    description: str
    config: BoxWorldConfig | None
    pairs: tuple[tuple[int, int], ...] | None = None
    reason: str | None = None


def _with(cfg: BoxWorldConfig, **changes: Any) -> BoxWorldConfig:
    """cfg with `changes`, validated (LanternError when the level family cannot be generated)."""
    return BoxWorldConfig.model_validate({**cfg.model_dump(), **changes})


def generalisation_conditions(cfg: BoxWorldConfig) -> list[Condition]:
    """The conditions of the module docstring for a training config `cfg`."""
    s_lo, s_hi = cfg.solution_range
    conditions = [Condition("training", "the training distribution, held-out levels", cfg)]
    d_lo, d_hi = cfg.distractor_range
    for extra in (1, 2):
        name = f"longer+{extra}"
        what = f"solution paths of {s_hi + extra} boxes (trained on {s_lo}..{s_hi})"
        try:
            conditions.append(Condition(name, what, _with(cfg, solution_length=s_hi + extra)))
            continue
        except LanternError as exc:
            reason = f"{exc.what} ({exc.hint})"
        # A small grid may hold the longer path only with fewer distractor branches: keep as many as fit.
        for most in range(d_hi - 1, -1, -1):
            try:
                fewer = _with(cfg, solution_length=s_hi + extra, distractors=[min(d_lo, most), most])
            except LanternError:
                continue
            plural = "es" if most != 1 else ""
            what += f", with at most {most} distractor branch{plural} (trained on up to {d_hi})"
            conditions.append(Condition(name, what, fewer))
            break
        else:
            conditions.append(Condition(name, what, None, reason=reason))
    what = "levels with a withheld key-lock pair on the solution path"
    pairs = tuple((int(k), int(lk)) for k, lk in cfg.withheld_pairs)
    if not pairs:
        conditions.append(
            Condition("withheld", what, None, reason="the training config withholds no key-lock pairs")
        )
    else:
        try:
            span = [max(s_lo, 2), max(s_hi, 2)]
            config = _with(cfg, solution_length=span[0] if span[0] == span[1] else span)
            conditions.append(Condition("withheld", what, config, pairs))
        except LanternError as exc:
            conditions.append(
                Condition(
                    "withheld",
                    what,
                    None,
                    pairs,
                    reason=f"a withheld pair needs solution_length >= 2: {exc.what}",
                )
            )
    return conditions


def level_maker(condition: Condition, seed: int, index: int) -> Callable[[int], list[Level]]:
    """`n -> n levels` of the condition, from a generator seeded with (seed, index)."""
    if condition.config is None:
        raise LanternError(
            f"condition '{condition.name}' is not applicable: {condition.reason}",
            "generalisation",
            "pick an applicable condition",
        )
    rng = np.random.default_rng([seed, index])
    cfg = condition.config
    pairs = list(condition.pairs) if condition.pairs else None
    return lambda n: [generate_level(cfg, rng, pairs=pairs) for _ in range(n)]


def generalisation(
    agent: Agent,
    boxworld_cfg: BoxWorldConfig,
    *,
    episodes: int,
    seed: int,
    batch: int | None = None,
    greedy: bool = False,
) -> dict[str, Any]:
    """Fraction solved (the policy sampled as it acts, seeded by `seed`; or greedy), mean return and
    length of `agent` under every condition; see the module docstring. Answers {"agent", "seed", "episodes",
    "trained_config", "conditions": {name: {"name", "description", "applicable", "reason", "config",
    "pairs", "episodes", "fraction_solved", "mean_return", "mean_length"} keyed by name, in the order of
    generalisation_conditions}}; a condition that does not apply has null results and its reason."""
    from engine.rl.boxworld.batched import BatchedBoxWorld
    from engine.rl.ppo import evaluate

    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise LanternError(
            f"episodes must be a whole number of at least 1, got {episodes!r}",
            "generalisation",
            "evaluate at least one episode per condition",
        )
    side = boxworld_cfg.size + 2
    if tuple(agent.obs_shape) != (side, side, 3):
        raise LanternError(
            f"the agent sees {tuple(agent.obs_shape)} observations, Box-World of size "
            f"{boxworld_cfg.size} gives ({side}, {side}, 3)",
            "generalisation",
            "evaluate with the config the agent was trained on",
        )
    device = next(agent.parameters()).device
    width = min(episodes, batch or MAX_BATCH)
    rows: dict[str, dict[str, Any]] = {}
    for index, condition in enumerate(generalisation_conditions(boxworld_cfg)):
        row: dict[str, Any] = {
            "name": condition.name,
            "description": condition.description,
            "applicable": condition.config is not None,
            "reason": condition.reason,
            "config": None if condition.config is None else condition.config.model_dump(),
            "pairs": None if condition.pairs is None else [list(p) for p in condition.pairs],
            "episodes": episodes if condition.config is not None else 0,
            "fraction_solved": None,
            "mean_return": None,
            "mean_length": None,
        }
        if condition.config is not None:
            env = BatchedBoxWorld(
                condition.config, width, device, seed=seed, level_source=level_maker(condition, seed, index)
            )
            try:
                result = evaluate(agent, env, episodes, greedy=greedy, seed=seed)
            except LanternError as exc:  # the generator could not place the boxes, for instance
                row.update(applicable=False, episodes=0, reason=f"{exc.what} ({exc.where})")
            else:
                row.update(
                    fraction_solved=result["fraction_solved"],
                    mean_return=result["mean_return"],
                    mean_length=result["mean_length"],
                )
        rows[condition.name] = row
    return {
        "agent": getattr(agent, "name", type(agent).__name__),
        "seed": seed,
        "episodes": episodes,
        "trained_config": boxworld_cfg.model_dump(),
        "conditions": rows,
    }
