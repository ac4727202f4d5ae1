"""train_agent: one RLTrainConfig trained with PPO, evaluated on held-out levels, checkpointed, resumable.

The environment comes from the config: Box-World as a BatchedBoxWorld seeded with the run's seed, a
gymnasium grid env through engine.rl.grid_env.GymGridEnv. Every `eval_every` updates (and after the last)
the agent plays `eval_episodes` episodes (its policy sampled, or greedy with `eval_greedy`) on HELD-OUT
levels -- a fresh environment seeded with seed + EVAL_SEED_OFFSET, so the same held-out levels at every
evaluation -- and two checkpoints are written: "latest" (always) and "best" (when the eval fraction solved
is the best so far). Both hold the weights, the optimiser state, env_steps, the updates done and the
history, so that a resumed run goes on from "latest" where it left off. Updates after the last evaluation
are lost on interruption. A resumed run draws actions from PPOConfig.seed + updates done and levels from
seed + updates done (not the first part's streams again), and its environments start afresh, so it is not
bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.core.errors import LanternError
from engine.rl.train_config import BoxWorldEnvSpec, RLTrainConfig

if TYPE_CHECKING:
    from engine.rl.agents.common import Agent

EVAL_SEED_OFFSET = 1_000_003  # held-out levels: a seed no training run of a nearby seed uses
LATEST, BEST = "latest", "best"


@dataclass
class TrainHooks:
    """What a caller (the job, a test) hears from training; every hook is optional."""

    progress: Callable[[float, float, str], None] | None = None
    metrics: Callable[[float, dict[str, float]], None] | None = None  # (env steps, values)
    log: Callable[[str], None] | None = None
    check_cancelled: Callable[[], None] | None = None  # may raise JobCancelled
    on_checkpoint: Callable[[Path, str, dict[str, Any]], None] | None = None  # (path, role, meta)


@dataclass
class TrainResult:
    agent: Agent
    history: list[dict[str, float]]
    env_steps: int
    updates: int
    resumed_from_steps: int
    latest_path: Path
    best_path: Path | None
    final_eval: dict[str, float] = field(default_factory=dict)
    best_eval_fraction_solved: float = math.nan


def make_env(cfg: RLTrainConfig, *, batch: int, device: str, seed: int) -> Any:
    """The batched environment of the config (BatchedBoxWorld or GymGridEnv) with `batch` copies."""
    if isinstance(cfg.env, BoxWorldEnvSpec):
        from engine.rl.boxworld.batched import BatchedBoxWorld

        return BatchedBoxWorld(cfg.env.boxworld, batch, device, seed)
    from engine.rl.grid_env import GymGridEnv  # written alongside; loaded only for gym envs

    return GymGridEnv(cfg.env.id, batch, device=device, seed=seed, max_steps=cfg.env.max_steps)


def make_eval_env(cfg: RLTrainConfig, *, device: str) -> Any:
    """The held-out evaluation environment: a fresh one per call, so every evaluation sees the same levels."""
    batch = min(cfg.eval_episodes, cfg.ppo_config().n_envs)
    seed = cfg.seed + EVAL_SEED_OFFSET
    if isinstance(cfg.env, BoxWorldEnvSpec):
        from engine.rl.boxworld.batched import BatchedBoxWorld

        # A pool about as large as the episodes played, each level drawn about once.
        pool = max(64, 2 * cfg.eval_episodes)
        return BatchedBoxWorld(cfg.env.boxworld, batch, device, seed, pool_size=pool, pool_reuse=1)
    from engine.rl.grid_env import GymGridEnv

    return GymGridEnv(cfg.env.id, batch, device=device, seed=seed, max_steps=cfg.env.max_steps)


def env_shape(env: Any, cfg: RLTrainConfig) -> tuple[tuple[int, int, int], int]:
    """(obs_shape (H, W, 3), n_actions) of a built environment."""
    if isinstance(cfg.env, BoxWorldEnvSpec):
        side = cfg.env.boxworld.size + 2
        return (side, side, 3), 4
    return tuple(env.obs_shape), int(env.n_actions)  # type: ignore[return-value]


def _check_resumable(cfg: RLTrainConfig, meta: dict[str, Any], path: Path) -> None:
    """The checkpoint must hold this config's agent on this config's environment, with its rollout size."""
    wanted = cfg.resolved_agent_config()
    if meta.get("agent") != cfg.agent or meta.get("config") != wanted:
        raise LanternError(
            f"the checkpoint holds a {meta.get('agent')} agent with {meta.get('config')}, but the config "
            f"asks for a {cfg.agent} agent with {wanted}",
            str(path),
            "resume with the config the run was started with, or start a new run",
        )
    ppo = cfg.ppo_config()
    if meta.get("env_steps") != meta.get("updates", 0) * ppo.n_envs * ppo.rollout_steps:
        raise LanternError(
            f"the checkpoint's {meta.get('env_steps')} env steps in {meta.get('updates')} updates do not fit "
            f"the config's rollouts of {ppo.n_envs} x {ppo.rollout_steps} steps",
            str(path),
            "resume with the PPO settings the run was started with, or start a new run",
        )
    if meta.get("env") != cfg.env.model_dump(mode="json"):
        raise LanternError(
            "the checkpoint was trained on another environment than the config's",
            str(path),
            "resume with the config the run was started with, or start a new run",
        )


def train_agent(
    cfg: RLTrainConfig,
    *,
    device: str,
    workdir: Path,
    hooks: TrainHooks | None = None,
    resume_from: Path | None = None,
) -> TrainResult:
    """Train cfg's agent on cfg's environment (continuing the checkpoint `resume_from` when given)."""
    from engine.core.seeding import seed_everything
    from engine.rl.agents import build_agent
    from engine.rl.checkpoints import load_training_checkpoint, save_agent_checkpoint
    from engine.rl.ppo import evaluate, make_optimiser, train_ppo

    hooks = hooks or TrainHooks()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ppo = cfg.ppo_config()
    steps_per_update = ppo.n_envs * ppo.rollout_steps
    total_updates = math.ceil(ppo.total_steps / steps_per_update)
    seed_everything(cfg.seed)
    optimiser_state: dict[str, Any] | None = None
    history: list[dict[str, float]] = []
    updates_done = episodes_done = 0
    best = -math.inf
    last_eval: dict[str, float] = {}
    if resume_from is not None:
        agent, optimiser_state, meta = load_training_checkpoint(resume_from, device)
        _check_resumable(cfg, meta, Path(resume_from))
        updates_done = int(meta.get("updates", 0))
        history = list(meta.get("history", []))
        episodes_done = int(history[-1].get("episodes", 0)) if history else 0
        best = float(meta.get("best_eval_fraction_solved", -math.inf))
        last_eval = dict(meta.get("eval", {}))
        if hooks.log:
            hooks.log(f"resuming from {updates_done * steps_per_update} env steps ({updates_done} updates)")
    # A resumed run's environment gets a seed of its own, so it does not replay the first part's levels.
    env = make_env(cfg, batch=ppo.n_envs, device=device, seed=cfg.seed + updates_done)
    obs_shape, n_actions = env_shape(env, cfg)
    if resume_from is None:
        agent = build_agent(cfg.agent, obs_shape=obs_shape, n_actions=n_actions, **cfg.agent_config)
    start_steps = updates_done * steps_per_update
    latest_path, best_path = workdir / f"{LATEST}.safetensors", workdir / f"{BEST}.safetensors"
    remaining = total_updates - updates_done
    if remaining <= 0:  # the checkpoint is of a finished run: nothing left to do
        return TrainResult(
            agent,
            history,
            start_steps,
            updates_done,
            start_steps,
            Path(resume_from or ""),
            None,
            last_eval,
            best,
        )
    optimiser = make_optimiser(agent, ppo)
    if optimiser_state is not None:
        try:
            optimiser.load_state_dict(optimiser_state)
        except (ValueError, KeyError, RuntimeError) as exc:
            raise LanternError(
                f"the checkpoint's optimiser state does not fit the optimiser ({exc})",
                str(resume_from),
                "resume with the config the run was started with, or start a new run",
            ) from exc
    state: dict[str, Any] = {"best_path": None}

    def eval_fn(trained: Agent) -> dict[str, float]:
        return evaluate(
            trained,
            lambda: make_eval_env(cfg, device=device),
            cfg.eval_episodes,
            greedy=cfg.eval_greedy,
            seed=cfg.seed,
        )

    def save(role: str, path: Path, entry: dict[str, float], env_steps: int, updates: int) -> None:
        meta = {
            "role": role,
            "name": cfg.name,
            "env": cfg.env.model_dump(mode="json"),
            "train_config": cfg.model_dump(mode="json"),
            "env_steps": env_steps,
            "updates": updates,
            "eval": {k.removeprefix("eval_"): v for k, v in entry.items() if k.startswith("eval_")},
            "best_eval_fraction_solved": best,
            "history": history,
        }
        save_agent_checkpoint(
            path,
            agent,
            extra_meta=meta,
            optimizer_state=optimiser.state_dict(),
        )
        if hooks.on_checkpoint:
            hooks.on_checkpoint(path, role, meta)

    def on_metrics(local_steps: float, values: dict[str, float]) -> None:
        nonlocal best, last_eval
        env_steps = start_steps + int(local_steps)
        updates = updates_done + int(values.get("update", 0))
        entry = {**values, "update": float(updates), "env_steps": float(env_steps)}
        if "episodes" in entry:
            entry["episodes"] += episodes_done
        history.append(entry)
        if hooks.metrics:
            hooks.metrics(float(env_steps), {k: v for k, v in entry.items() if k != "env_steps"})
        if "eval_fraction_solved" in entry:
            last_eval = {k.removeprefix("eval_"): v for k, v in entry.items() if k.startswith("eval_")}
            improved = entry["eval_fraction_solved"] > best
            best = max(best, entry["eval_fraction_solved"])
            if improved:
                save(BEST, best_path, entry, env_steps, updates)
                state["best_path"] = best_path
            save(LATEST, latest_path, entry, env_steps, updates)

    def on_progress(done: float, total: float, message: str) -> None:
        if hooks.progress:
            hooks.progress(start_steps + done, float(total_updates * steps_per_update), message)

    run_ppo = replace(ppo, total_steps=remaining * steps_per_update, seed=ppo.seed + updates_done)
    train_ppo(
        agent,
        env,
        run_ppo,
        device=device,
        progress=on_progress,
        metrics=on_metrics,
        check_cancelled=hooks.check_cancelled,
        eval_fn=eval_fn,
        eval_every=cfg.eval_every,
        optimiser=optimiser,
    )
    return TrainResult(
        agent,
        history,
        total_updates * steps_per_update,
        total_updates,
        start_steps,
        latest_path,
        state["best_path"] or (best_path if best_path.exists() else None),
        last_eval,
        best,
    )
