"""The RL agents' catalogue (names, titles, descriptions, default settings) and config checks: torch-free.

The GUI lists agents and validates their settings from here; engine.rl.agents (torch) builds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.core.errors import LanternError

AGENT_CATALOG: dict[str, tuple[str, str]] = {
    "relational": (
        "Relational agent",
        "Two 2x2 conv layers (12 and 24 kernels) with (x, y) coordinates appended; every pixel vector is an "
        "entity; a stack of multi-head dot-product attention blocks with a shared per-entity MLP, "
        "feature-wise max pool, MLP to policy and value (Zambaldi et al., 2018).",
    ),
    "baseline": (
        "Residual conv baseline",
        "The same conv stem and coordinates, then residual 3x3 conv blocks instead of attention, "
        "feature-wise max pool, MLP to policy and value; a parameter count close to the relational "
        "agent's defaults.",
    ),
}

# Defaults sized for CPU training on small Box-World grids (a few thousand env steps per second on one
# core). The relational agent's attention uses d_model = heads * key_dim. The baseline's width was chosen
# so both defaults hold about 25k parameters (8x8 observations, 4 actions: relational 25,881, baseline
# 25,123).
AGENT_DEFAULTS: dict[str, dict[str, int | bool]] = {
    "relational": {
        "blocks": 2,
        "heads": 2,
        "key_dim": 16,
        "mlp_width": 64,
        "head_width": 64,
        "share_weights": False,
    },
    "baseline": {"blocks": 3, "width": 18, "head_width": 64},
}

# The settings that must be at least 1; every other integer setting likewise. Booleans are listed apart.
_BOOL_SETTINGS = frozenset({"share_weights"})


def resolve_agent_config(name: str, config: Mapping[str, Any] | None = None) -> dict[str, int | bool]:
    """The agent's defaults overridden by `config`; unknown agents, keys and bad values are refused."""
    if name not in AGENT_CATALOG:
        raise LanternError(
            f"unknown agent '{name}'", "agent name", f"choose one of: {', '.join(sorted(AGENT_CATALOG))}"
        )
    defaults = AGENT_DEFAULTS[name]
    config = dict(config or {})
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        raise LanternError(
            f"unknown setting(s) {', '.join(unknown)} for the {name} agent",
            f"agent config ({name})",
            f"the {name} agent takes: {', '.join(sorted(defaults))}",
        )
    resolved = dict(defaults)
    for key, value in config.items():
        if key in _BOOL_SETTINGS:
            if not isinstance(value, bool):
                raise LanternError(
                    f"setting '{key}' must be true or false, got {value!r}",
                    f"agent config ({name})",
                    f"set {key} to true or false",
                )
        elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise LanternError(
                f"setting '{key}' must be a whole number of at least 1, got {value!r}",
                f"agent config ({name})",
                f"set {key} to a positive integer (default {defaults[key]})",
            )
        resolved[key] = value
    return resolved
