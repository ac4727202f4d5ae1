"""RL agent checkpoints: an agent's weights, optionally its optimiser state, and JSON meta in one safetensors
file (engine.core.checkpoint; never pickle).

The meta holds what rebuilds the agent (agent, config, obs_shape, n_actions, parameters: see
engine.rl.agents.common.agent_state) plus the caller's extra meta (training writes the env spec, env_steps,
evaluation results and history), and "format": "lantern-rl-agent". Every problem with a file -- absent,
damaged, not a Lantern checkpoint, a Lantern checkpoint of something else, weights of another agent shape --
is a LanternError whose `where` is the file's path.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.core.errors import LanternError

if TYPE_CHECKING:
    from engine.rl.agents.common import Agent

RL_FORMAT = "lantern-rl-agent"
BUNDLED_DIR = ("rl", "boxworld-small")  # under assets/
# Names that stand for the agents shipped with Lantern (scripts/train_bundled_agent.py made them).
BUNDLED = {
    "bundled": "relational.safetensors",
    "bundled:relational": "relational.safetensors",
    "bundled:baseline": "baseline.safetensors",
}
_AGENT_KEYS = ("agent", "config", "obs_shape", "n_actions")


def save_agent_checkpoint(
    path: Path | str,
    agent: Agent,
    *,
    extra_meta: dict[str, Any] | None = None,
    optimizer_state: dict[str, Any] | None = None,
) -> Path:
    """Write `agent` (and `optimizer_state`, for resuming training) to `path`, atomically."""
    from engine.core.checkpoint import save_checkpoint
    from engine.rl.agents.common import agent_state

    tensors, meta = agent_state(agent)
    reserved = sorted(set(extra_meta or {}) & {*meta, "format"})
    if reserved:
        raise LanternError(
            f"extra_meta may not override {', '.join(reserved)}",
            str(path),
            "keep the agent's own description; put other facts under other keys",
        )
    return save_checkpoint(
        path, tensors, optimizer_state, {**(extra_meta or {}), **meta, "format": RL_FORMAT}
    )


def load_training_checkpoint(
    path: Path | str, device: str = "cpu"
) -> tuple[Agent, dict[str, Any] | None, dict[str, Any]]:
    """(agent on `device`, optimiser state or None, meta) from a checkpoint save_agent_checkpoint wrote."""
    from engine.core.checkpoint import load_checkpoint
    from engine.rl.agents.common import load_agent

    path = Path(path)
    where = str(path)
    checkpoint = load_checkpoint(path)  # absent, damaged or foreign files raise here, naming the path
    meta = checkpoint.meta
    if not isinstance(meta, dict) or (
        meta.get("format") != RL_FORMAT and not all(k in meta for k in _AGENT_KEYS)
    ):
        raise LanternError(
            "the file is a Lantern checkpoint, but not of an RL agent",
            where,
            "pick a checkpoint written by RL training (lantern rl train) or bundled with Lantern",
        )
    try:
        agent = load_agent(checkpoint.model_state, meta, where=where)
    except LanternError as exc:
        if where in exc.where:
            raise
        # build_agent's own refusals (an unknown agent name, bad settings) name no file: add it.
        raise LanternError(
            f"the checkpoint describes an agent that cannot be built: {exc.what}", where, exc.hint
        ) from exc
    except (TypeError, ValueError, RuntimeError) as exc:
        raise LanternError(
            f"the checkpoint's agent cannot be rebuilt ({exc})",
            where,
            "the file is damaged or from an incompatible version: use another checkpoint",
        ) from exc
    return agent.to(device), checkpoint.optimizer_state, meta


def load_agent_checkpoint(path: Path | str, device: str = "cpu") -> tuple[Agent, dict[str, Any]]:
    """(agent on `device`, in eval mode; meta) from a checkpoint save_agent_checkpoint wrote."""
    agent, _, meta = load_training_checkpoint(path, device)
    agent.eval()
    return agent, meta


def bundled_path(name: str) -> Path:
    """The file of a bundled checkpoint ("bundled", "bundled:relational" or "bundled:baseline")."""
    from engine.core.paths import assets_dir

    return assets_dir().joinpath(*BUNDLED_DIR, BUNDLED[name])


def resolve_checkpoint(text: object, where: str = "checkpoint") -> Path:
    """A checkpoint named by a path, or by 'bundled' / 'bundled:baseline', as an existing file."""
    if not isinstance(text, str) or not text:
        raise LanternError(
            f"a checkpoint must be a path or 'bundled', got {text!r}",
            where,
            "pass a checkpoint file's path, 'bundled' or 'bundled:baseline'",
        )
    if text.startswith("bundled"):
        if text not in BUNDLED:
            raise LanternError(
                f"there is no bundled checkpoint '{text}'",
                where,
                f"use one of: {', '.join(BUNDLED)}, or a path",
            )
        path = bundled_path(text)
        if not path.is_file():
            raise LanternError(
                f"the bundled checkpoint '{text}' is not installed",
                str(path),
                "train one with 'lantern rl train --config examples/rl/boxworld-small.json' and pass its "
                "checkpoint path, or reinstall Lantern with its assets",
            )
        return path
    path = Path(text).expanduser()
    if not path.is_file():
        raise LanternError(
            "the checkpoint file does not exist",
            str(path),
            "pass a checkpoint's path (see 'lantern rl list')",
        )
    return path
