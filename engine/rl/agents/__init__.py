"""RL agents behind one registry: the relational agent and the residual conv baseline.

`build_agent` builds one by name; `agent_state` and `load_agent` turn an agent into checkpoint tensors plus
meta and back. Names, titles and defaults live in the torch-free `catalog` module; this package stays
importable without torch (the GUI imports engine.rl.agents.catalog): torch is loaded on first build.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from engine.core.errors import LanternError
from engine.rl.agents.catalog import AGENT_CATALOG, AGENT_DEFAULTS, resolve_agent_config

if TYPE_CHECKING:
    from engine.rl.agents.common import Agent, AgentOutput, agent_state, load_agent

# name -> "module:class", imported on first use so that listing agents needs no torch.
AGENTS: dict[str, str] = {
    "relational": "engine.rl.agents.relational:RelationalAgent",
    "baseline": "engine.rl.agents.baseline:BaselineAgent",
}

__all__ = [
    "AGENTS",
    "AGENT_CATALOG",
    "AGENT_DEFAULTS",
    "Agent",
    "AgentOutput",
    "agent_state",
    "build_agent",
    "load_agent",
    "resolve_agent_config",
]


def build_agent(name: str, *, obs_shape: tuple[int, int, int], n_actions: int, **cfg: Any) -> Agent:
    """A freshly initialised agent `name` for observations uint8 [B, *obs_shape] and `n_actions` actions;
    `cfg` overrides the catalogue's defaults (unknown names, keys or bad values raise LanternError)."""
    if name not in AGENTS:
        raise LanternError(
            f"unknown agent '{name}'", "agent name", f"choose one of: {', '.join(sorted(AGENTS))}"
        )
    config = resolve_agent_config(name, cfg)
    module_name, class_name = AGENTS[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(tuple(obs_shape), n_actions, **config)


def __getattr__(name: str) -> Any:
    if name in {"Agent", "AgentOutput", "agent_state", "load_agent"}:
        from engine.rl.agents import common

        return getattr(common, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
