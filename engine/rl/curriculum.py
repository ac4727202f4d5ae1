"""Curriculum training on Box-World: easier level families first, each until its held-out target, then the
config's own levels. The bundled agents were trained with it (scripts/train_bundled_agent.py), and
bench/rl.py --learning measures steps to 90 % solved with it.

A recipe (JSON beside the config, e.g. assets/rl/boxworld-small/curriculum.json) is
    {"curriculum": [{"boxworld": {overrides of the config's BoxWorldConfig}, "until": 0.8,
                     "max_env_steps": 1500000}, ...],
     "stop_at": 0.95}
Every stage trains with the config's PPO settings (one Adam optimiser carried across stages) until the
agent solves `until` of that stage's held-out levels, or `max_env_steps` pass; the final stage (the config's
own levels) until `stop_at`, or until ppo.total_steps (all stages together) are spent. Held-out levels
come from a pool seeded apart from training's; the policy is sampled, as it acts, unless the config says
eval_greedy.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.core.errors import LanternError
from engine.rl.boxworld.config import BoxWorldConfig
from engine.rl.train_config import BoxWorldEnvSpec, RLTrainConfig

if TYPE_CHECKING:
    from engine.rl.agents.common import Agent

HELD_OUT_SEED = 1_000_003  # the held-out levels' pool seed (training uses the config's seed + stage)
_STAGE_KEYS = {"boxworld", "until", "max_env_steps"}


@dataclass(frozen=True)
class Stage:
    levels: BoxWorldConfig
    until: float
    max_env_steps: int | None
    final: bool


@dataclass
class CurriculumResult:
    agent: Agent
    curve: list[dict[str, float]] = field(default_factory=list)  # one entry per update, env steps cumulative
    best: float = -math.inf  # best held-out fraction solved on the final stage
    env_steps: int = 0
    reached_at: float | None = None  # env steps when the final stage first reached `stop_at`


def load_recipe(path: Path | str) -> dict[str, Any]:
    """A curriculum recipe file (JSON or TOML); stages() checks its contents."""
    from engine.core.config_files import read_config_document

    recipe = read_config_document(path)
    if not isinstance(recipe, dict):
        raise LanternError(
            "a curriculum recipe must be an object", str(path), 'write {"curriculum": [...], "stop_at": 0.95}'
        )
    return recipe


def stages(config: RLTrainConfig, recipe: dict[str, Any]) -> list[Stage]:
    """The recipe's stages, each a full BoxWorldConfig (the config's with the stage's overrides), then the
    config's own levels as the final stage."""
    where = "curriculum recipe"
    if not isinstance(config.env, BoxWorldEnvSpec):
        raise LanternError(
            "a curriculum needs Box-World levels", where, "use a config with env kind boxworld"
        )
    unknown = sorted(set(recipe) - {"curriculum", "stop_at"})
    if unknown:
        raise LanternError(f"unknown key(s) {', '.join(unknown)}", where, "use 'curriculum' and 'stop_at'")
    base = config.env.boxworld.model_dump()
    found: list[Stage] = []
    for index, stage in enumerate(recipe.get("curriculum", [])):
        spot = f"{where}: curriculum[{index}]"
        if not isinstance(stage, dict) or set(stage) - _STAGE_KEYS or "boxworld" not in stage:
            raise LanternError(
                'a stage is {"boxworld": {...}, "until": f, "max_env_steps": n}',
                spot,
                f"use only the keys {', '.join(sorted(_STAGE_KEYS))}",
            )
        until = _fraction(stage.get("until", 1.0), f"{spot}.until")
        limit = stage.get("max_env_steps")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise LanternError(
                f"max_env_steps must be a positive whole number, got {limit!r}",
                f"{spot}.max_env_steps",
                "e.g. 1500000, or leave it out",
            )
        levels = BoxWorldConfig.model_validate({**base, **stage["boxworld"]})
        if levels.size != config.env.boxworld.size:
            raise LanternError(
                f"a stage's size {levels.size} differs from the config's {config.env.boxworld.size}",
                f"{spot}.boxworld.size",
                "keep the grid size: the agent's observation shape must not change",
            )
        found.append(Stage(levels, until, limit, final=False))
    stop_at = _fraction(recipe.get("stop_at", 1.0), f"{where}.stop_at")
    return [*found, Stage(config.env.boxworld, stop_at, None, final=True)]


def _fraction(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise LanternError(f"a target fraction solved must lie in [0, 1], got {value!r}", where, "e.g. 0.8")
    return float(value)


class _StageDone(Exception):
    """The stage's held-out target is reached (control flow inside train_curriculum only)."""


def train_curriculum(
    config: RLTrainConfig,
    recipe: dict[str, Any],
    *,
    agent_name: str | None = None,
    out: Path | None = None,
    total_steps: int | None = None,
    device: str = "cpu",
    on_eval: Callable[[dict[str, float]], None] | None = None,
) -> CurriculumResult:
    """Train config's agent (or `agent_name`) through the recipe's stages. With `out`, the final stage's
    latest and best checkpoints go to out/<agent>-latest.safetensors and out/<agent>.safetensors and the
    curve to out/<agent>-curve.json. on_eval gets every evaluated curve entry."""
    import torch

    from engine.rl.agents import build_agent
    from engine.rl.boxworld.batched import BatchedBoxWorld
    from engine.rl.checkpoints import save_agent_checkpoint
    from engine.rl.ppo import PPOConfig, evaluate, make_optimiser, train_ppo

    plan = stages(config, recipe)
    name = agent_name or config.agent
    ppo = config.ppo_config()
    if total_steps is not None:
        ppo = PPOConfig(**{**ppo.to_dict(), "total_steps": total_steps})
    torch.manual_seed(config.seed)
    side = config.env.boxworld.size + 2  # type: ignore[union-attr]
    agent_config = config.agent_config if name == config.agent else {}
    agent = build_agent(name, obs_shape=(side, side, 3), n_actions=4, **agent_config)
    optimiser = make_optimiser(agent, ppo)
    result = CurriculumResult(agent)
    started = time.perf_counter()
    episodes = config.eval_episodes
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)

    def save(role: str, entry: dict[str, float], stage_index: int) -> None:
        assert out is not None
        meta = {
            "env": config.env.model_dump(mode="json"),
            "env_steps": int(entry["env_steps"]),
            "ppo": ppo.to_dict(),
            "eval": {
                "fraction_solved": entry.get("eval_fraction_solved"),
                "episodes": episodes,
                "policy": "greedy" if config.eval_greedy else "sampled",
                "levels": f"held-out pool seed {HELD_OUT_SEED}",
            },
            "curriculum": recipe,
            "curriculum_stage": stage_index,
            "trained_by": "engine.rl.curriculum.train_curriculum",
            "wall_seconds": round(time.perf_counter() - started, 1),
        }
        save_agent_checkpoint(out / f"{name}{role}.safetensors", agent, extra_meta=meta)

    for index, stage in enumerate(plan):
        budget = ppo.total_steps - result.env_steps
        if not stage.final and stage.max_env_steps is not None:
            budget = min(budget, stage.max_env_steps)
        if budget <= 0:
            break
        env = BatchedBoxWorld(stage.levels, ppo.n_envs, device, seed=config.seed + index)
        offset = result.env_steps

        def held_out(trained: Agent, levels: BoxWorldConfig = stage.levels) -> dict[str, float]:
            # 100 envs over a pool of exactly `episodes` levels (the bundled agents were evaluated so).
            eval_env = BatchedBoxWorld(levels, 100, device, seed=HELD_OUT_SEED, pool_size=episodes)
            return evaluate(trained, eval_env, episodes, greedy=config.eval_greedy, seed=HELD_OUT_SEED)

        def on_metrics(
            steps: float,
            values: dict[str, float],
            stage: Stage = stage,
            index: int = index,
            offset: int = offset,
        ) -> None:
            entry = {
                k: values[k]
                for k in ("fraction_solved", "mean_return", "entropy", "eval_fraction_solved")
                if k in values
            }
            entry.update(
                env_steps=offset + steps, stage=float(index), seconds=round(time.perf_counter() - started, 1)
            )
            result.curve.append(entry)
            result.env_steps = int(entry["env_steps"])
            if "eval_fraction_solved" not in entry:
                return
            if on_eval is not None:
                on_eval(entry)
            solved = entry["eval_fraction_solved"]
            if stage.final and out is not None:
                save("-latest", entry, index)
                if solved > result.best:
                    save("", entry, index)
                (out / f"{name}-curve.json").write_text(json.dumps(result.curve))
            if stage.final:
                result.best = max(result.best, solved)
            if solved >= stage.until:
                if stage.final and result.reached_at is None:
                    result.reached_at = entry["env_steps"]
                raise _StageDone

        stage_ppo = PPOConfig(**{**ppo.to_dict(), "total_steps": budget, "seed": ppo.seed + index})
        with contextlib.suppress(_StageDone):
            train_ppo(
                agent,
                env,
                stage_ppo,
                device=device,
                metrics=on_metrics,
                eval_fn=held_out,
                eval_every=config.eval_every,
                optimiser=optimiser,
            )
    if out is not None:
        (out / f"{name}-curve.json").write_text(json.dumps(result.curve))
    return result
