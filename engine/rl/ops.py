"""Interactive ops for the Relational page's player: `rl.episode` (one recorded episode of a checkpoint on a
level, as JSON with base64 arrays) and `rl.checkpoints` (bundled and stored agent checkpoints).

Arrays travel as {"data": base64 of the little-endian bytes, "shape": [...], "dtype": numpy dtype string},
so the GUI decodes them with `np.frombuffer(base64.b64decode(data), dtype).reshape(shape)` (see
engine.jobs.arrays). Loaded agents stay in the server's cache, keyed by file path, modification time and size,
so a checkpoint rewritten by a running training job is loaded afresh.

"bundled" is assets/rl/boxworld-small/relational.safetensors and "bundled:baseline" the baseline beside it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.errors import LanternError
from engine.jobs.arrays import encode_array
from engine.jobs.interactive import cached_store, register_op

EPISODE_OP = "rl.episode"
CHECKPOINTS_OP = "rl.checkpoints"
CHECKPOINT_KIND = "rl-checkpoint"
BOXWORLD_ACTIONS = ["up", "down", "left", "right"]
_CACHE_PREFIX = "rl.agent/"
_MAX_CACHED = 8


def resolve_checkpoint(checkpoint: Any) -> Path:
    """A request's checkpoint (a path, "bundled" or "bundled:baseline") as an existing file."""
    from engine.rl.checkpoints import resolve_checkpoint as resolve

    return resolve(checkpoint, f"{EPISODE_OP}: checkpoint")


def load_cached_agent(cache: dict[str, Any], path: Path) -> tuple[Any, dict[str, Any]]:
    """(agent on CPU, meta) for `path`, loaded once per (path, mtime, size) and kept in the op cache."""
    from engine.rl.checkpoints import load_agent_checkpoint

    stat = path.stat()
    key = f"{_CACHE_PREFIX}{path.resolve()}/{stat.st_mtime_ns}/{stat.st_size}"
    if key not in cache:
        stale = [k for k in cache if k.startswith(_CACHE_PREFIX)]
        for old in stale[: max(0, len(stale) + 1 - _MAX_CACHED)]:  # keep memory bounded
            del cache[old]
        cache[key] = load_agent_checkpoint(path, device="cpu")
    return cache[key]


def _boxworld_config(meta: dict[str, Any], override: Any, where: str) -> Any:
    from pydantic import ValidationError

    from engine.rl.boxworld.config import BoxWorldConfig

    env = meta.get("env") if isinstance(meta.get("env"), dict) else {}
    if override is None:
        if env.get("kind") != "boxworld" or not isinstance(env.get("boxworld"), dict):
            raise LanternError(
                "the checkpoint does not record the Box-World config it was trained on",
                where,
                "pass a Box-World config with the request",
            )
        override, where = env["boxworld"], f"{where} (the checkpoint's env)"
    if not isinstance(override, dict):
        raise LanternError(
            f"config must be a Box-World config object, got {type(override).__name__}",
            where,
            "pass a dict of BoxWorldConfig fields or leave it out",
        )
    try:
        return BoxWorldConfig.model_validate(override)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors())
        raise LanternError(
            f"the Box-World config is invalid ({problems})",
            where,
            "fix the named fields (see BoxWorldConfig)",
        ) from exc


class _OneGridEnv:
    """One gymnasium grid env (engine.rl.grid_env.GymGridEnv with a batch of 1) seen as a plain env that
    does not auto-reset, so the episode's last frame is its own. It uses GymGridEnv's per-env conversion."""

    def __init__(self, env_id: str, seed: int, max_steps: int | None) -> None:
        from engine.rl.grid_env import GymGridEnv

        self.grid = GymGridEnv(env_id, 1, seed=seed, max_steps=max_steps)
        self.env = self.grid.envs[0]
        self.n_actions = self.grid.n_actions

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed)
        return self.grid.convert(0, obs), info

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        start = int(getattr(self.env.action_space, "start", 0))
        obs, reward, terminated, truncated, _ = self.env.step(int(action) + start)
        solved = bool(terminated) and float(reward) > 0
        return (
            self.grid.convert(0, obs),
            float(reward),
            bool(terminated),
            bool(truncated) and not terminated,
            {"solved": solved},
        )

    def action_names(self) -> list[str]:
        if self.grid.is_minigrid:
            from minigrid.core.actions import Actions

            names = [a.name for a in Actions]
            if len(names) == self.n_actions:
                return names
        return [f"action {i}" for i in range(self.n_actions)]


@register_op(EPISODE_OP)
def episode_op(
    cache: dict[str, Any],
    checkpoint: str = "bundled",
    level_seed: int = 0,
    config: dict[str, Any] | None = None,
    greedy: bool = True,
) -> dict[str, Any]:
    """Play the checkpoint's agent on the level generated from `level_seed` (with `config`, by default the
    checkpoint's Box-World config) and answer the episode. Sampled play (greedy false) is seeded by
    level_seed. For a checkpoint trained on a gym grid env, `level_seed` seeds the env's reset.

    Answer: {"frames": uint8 [T+1, H, W, 3], "actions" [T], "rewards" [T], "values" [T], "policies" [T][A]
    (value and policy of the frame each action was taken in), "final_value", "final_policy" (of the last
    frame), "attention": float16 [T+1, blocks, heads, N, N] or null (the baseline has none), "roles": per
    frame {"keys": [[key cell, lock cell], ...], "agent", "gem"} (Box-World; [] otherwise), "stats":
    the episode's attention statistics (or null), "solved", "steps", "agent", "config", "env",
    "action_names", "checkpoint", "level_seed", "greedy"}. Arrays as in encode_array.
    """
    from engine.rl.episodes import episode_attention_stats, record_episode, roles_json

    where = f"{EPISODE_OP}"
    if isinstance(level_seed, bool) or not isinstance(level_seed, int) or level_seed < 0:
        raise LanternError(
            f"level_seed must be a whole number >= 0, got {level_seed!r}",
            f"{where}: level_seed",
            "pass e.g. 0, 1, 2, ...",
        )
    if not isinstance(greedy, bool):
        raise LanternError(
            f"greedy must be true or false, got {greedy!r}",
            f"{where}: greedy",
            "pass true (most likely action) or false (sampled)",
        )
    path = resolve_checkpoint(checkpoint)
    agent, meta = load_cached_agent(cache, path)
    env_spec = meta.get("env") if isinstance(meta.get("env"), dict) else {}
    if env_spec.get("kind") == "gym" and config is None:
        env = _OneGridEnv(str(env_spec.get("id")), level_seed, env_spec.get("max_steps"))
        episode = record_episode(agent, env, greedy=greedy, seed=level_seed)
        cfg_json: dict[str, Any] | None = None
        action_names = env.action_names()
    else:
        import numpy.random as npr

        from engine.rl.boxworld.level import generate_level

        cfg = _boxworld_config(meta, config, f"{where}: config")
        side = cfg.size + 2
        if tuple(agent.obs_shape) != (side, side, 3):
            raise LanternError(
                f"the agent sees {agent.obs_shape[0]}x{agent.obs_shape[1]} observations, but Box-World of "
                f"size {cfg.size} gives {side}x{side}",
                f"{where}: config.size",
                f"use size {agent.obs_shape[0] - 2} with this checkpoint",
            )
        level = generate_level(cfg, npr.default_rng(level_seed))
        episode = record_episode(agent, level, greedy=greedy, seed=level_seed, config=cfg)
        cfg_json = cfg.model_dump()
        action_names = list(BOXWORLD_ACTIONS)
    steps = episode.steps
    return {
        "checkpoint": str(path),
        "level_seed": level_seed,
        "greedy": greedy,
        "agent": episode.agent,
        "config": cfg_json,
        "env": env_spec or {"kind": "boxworld", "boxworld": cfg_json},
        "action_names": action_names,
        "steps": steps,
        "solved": episode.solved,
        "frames": encode_array(episode.frames),
        "actions": episode.actions.tolist(),
        "rewards": episode.rewards.tolist(),
        "values": episode.values[:steps].tolist(),
        "policies": episode.policies[:steps].tolist(),
        "final_value": float(episode.values[steps]),
        "final_policy": episode.policies[steps].tolist(),
        "attention": None if episode.attention is None else encode_array(episode.attention),
        "roles": [] if episode.roles is None else [roles_json(r) for r in episode.roles],
        "stats": (
            episode_attention_stats(episode) if episode.attention is not None and episode.roles else None
        ),
    }


def read_meta(path: Path) -> dict[str, Any]:
    """A checkpoint's meta from its header only (no tensors read); LanternError for unreadable files."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
        meta = json.loads(metadata.get("lantern.meta", "{}"))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise LanternError(
            f"the checkpoint cannot be read ({exc})", str(path), "the file is damaged: use another checkpoint"
        ) from exc
    if metadata.get("lantern.format") != "lantern-checkpoint" or not isinstance(meta, dict):
        raise LanternError(
            "the file is not a Lantern checkpoint", str(path), "pick a checkpoint Lantern wrote"
        )
    return meta


def _entry(path: Path, meta: dict[str, Any], **extra: Any) -> dict[str, Any]:
    evaluation = meta.get("eval", meta.get("evaluation"))
    return {
        "path": extra.get("checkpoint", str(path)),
        "file": str(path),
        "agent": meta.get("agent"),
        "env": meta.get("env"),
        "env_steps": meta.get("env_steps"),
        "eval": evaluation,
        "error": None,
        **extra,
    }


@register_op(CHECKPOINTS_OP)
def checkpoints_op(cache: dict[str, Any]) -> dict[str, Any]:
    """Answer {"checkpoints": [{"name", "source" ("bundled" | "store"), "path" and "checkpoint" (both what
    rl.episode takes: "bundled" / "bundled:baseline" or the stored file's path), "file" (the file itself),
    "role" (a training job's "latest" / "best"), "agent", "env", "env_steps", "eval", "run_id",
    "artifact_id", "error"}]}: the bundled files that exist, then the store's artifacts of kind
    "rl-checkpoint" (newest first). An unreadable file is listed with its error
    rather than failing the list."""
    from sqlalchemy import select

    from engine.core.errors import ArtifactMissing
    from engine.rl.checkpoints import bundled_path
    from engine.store.models import Artifact
    from engine.store.records import ArtifactRecord

    found: list[dict[str, Any]] = []
    for name in ("bundled", "bundled:baseline"):  # "bundled:relational" is the same file as "bundled"
        path = bundled_path(name)
        if not path.is_file():
            continue
        base = {
            "name": name,
            "source": "bundled",
            "checkpoint": name,
            "role": None,
            "run_id": None,
            "artifact_id": None,
        }
        try:
            found.append(_entry(path, read_meta(path), **base))
        except LanternError as exc:
            found.append({**_entry(path, {}, **base), "error": exc.what})
    store = cached_store(cache)
    with store.session() as session:
        rows = session.scalars(
            select(Artifact).where(Artifact.kind == CHECKPOINT_KIND).order_by(Artifact.id.desc())
        ).all()
        records = [
            ArtifactRecord(
                id=a.id,
                run_id=a.run_id,
                kind=a.kind,
                name=a.name,
                sha256=a.sha256,
                size=a.size,
                relpath=a.relpath,
                meta=dict(a.meta or {}),
                created_at=a.created_at,
            )
            for a in rows
        ]
    for record in records:
        base = {
            "name": record.name,
            "source": "store",
            "role": record.meta.get("role"),
            "run_id": record.run_id,
            "artifact_id": record.id,
        }
        try:
            path = store.artifacts.path(record)
        except ArtifactMissing as exc:
            path = store.artifacts.root / record.relpath
            found.append({**_entry(path, record.meta, checkpoint=str(path), **base), "error": exc.what})
            continue
        try:
            meta = {**record.meta, **read_meta(path)}
            found.append(_entry(path, meta, checkpoint=str(path), **base))
        except LanternError as exc:
            found.append({**_entry(path, record.meta, checkpoint=str(path), **base), "error": exc.what})
    return {"checkpoints": found}
