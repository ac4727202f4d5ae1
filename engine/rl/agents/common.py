"""What every RL agent shares: the output type, the base class, the conv stem, the policy/value head, and
saving/rebuilding an agent from checkpoint tensors plus meta."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from engine.core.errors import LanternError

STEM_CHANNELS = (12, 24)  # the paper's two 2x2 conv layers


class AgentOutput(NamedTuple):
    logits: torch.Tensor  # [B, A] unnormalised policy logits
    value: torch.Tensor  # [B] state-value estimate
    attention: list[torch.Tensor] | None  # per block [B, heads, N, N], rows sum to 1; None unless asked


class Agent(nn.Module):
    """Base of the agents: remembers how it was built (for checkpoints) and checks its observations.

    Subclasses define forward(obs uint8 [B, H, W, C], *, return_attention=False) -> AgentOutput.
    """

    name: str = ""

    def __init__(self, obs_shape: tuple[int, int, int], n_actions: int, config: dict[str, Any]) -> None:
        super().__init__()
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in obs_shape) or (
            len(obs_shape) != 3 or min(obs_shape) < 1
        ):
            raise LanternError(
                f"observation shape {obs_shape} is not (height, width, channels)",
                f"{self.name} agent",
                "pass obs_shape as (H, W, 3) for RGB grid observations",
            )
        if isinstance(n_actions, bool) or not isinstance(n_actions, int) or n_actions < 1:
            raise LanternError(
                f"number of actions {n_actions!r} is not a positive integer",
                f"{self.name} agent",
                "pass the size of the environment's Discrete action space",
            )
        self.obs_shape: tuple[int, int, int] = tuple(obs_shape)  # type: ignore[assignment]
        self.n_actions = n_actions
        self.config = dict(config)

    def check_obs(self, obs: torch.Tensor) -> torch.Tensor:
        """uint8 [B, H, W, C] -> float [B, C, H, W] in [0, 1]; anything else raises LanternError."""
        if obs.dtype != torch.uint8 or obs.dim() != 4 or tuple(obs.shape[1:]) != self.obs_shape:
            raise LanternError(
                f"observations of dtype {obs.dtype} and shape {tuple(obs.shape)} do not fit this agent",
                f"{self.name} agent (built for uint8 [B, {', '.join(map(str, self.obs_shape))}])",
                "feed the environment's uint8 observations, batched, of the shape the agent was built for",
            )
        return obs.permute(0, 3, 1, 2).float().div_(255.0)


def coordinate_planes(height: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """[2, H, W]: x (column) then y (row), each spaced evenly in [-1, 1] (0 for a side of one pixel)."""

    def axis(n: int) -> torch.Tensor:
        if n == 1:
            return torch.zeros(1, device=device, dtype=dtype)
        return torch.linspace(-1.0, 1.0, n, device=device, dtype=dtype)

    xs, ys = axis(width), axis(height)
    return torch.stack([xs.expand(height, width), ys[:, None].expand(height, width)])


class ConvStem(nn.Module):
    """Two 2x2 stride-1 conv layers (12 and 24 kernels, ReLU), then the (x, y) coordinate planes appended.

    Why the padding: a 2x2 kernel shrinks each side by one, so every layer pads one zero (black) row at the
    bottom and one zero column at the right first. The feature at (r, c) then sees pixels (r..r+2, c..c+2)
    after both layers, and the output keeps the H x W grid, one entity per observation pixel, so attention
    maps line up with the grid (a box's content pixel sees its lock, which sits to its right).
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, STEM_CHANNELS[0], kernel_size=2, stride=1)
        self.conv2 = nn.Conv2d(STEM_CHANNELS[0], STEM_CHANNELS[1], kernel_size=2, stride=1)
        self.out_channels = STEM_CHANNELS[1] + 2

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """float [B, C, H, W] -> [B, 24 + 2, H, W]."""
        x = F.relu(self.conv1(F.pad(image, (0, 1, 0, 1))))
        x = F.relu(self.conv2(F.pad(x, (0, 1, 0, 1))))
        batch, _, height, width = x.shape
        coords = coordinate_planes(height, width, x.device, x.dtype).expand(batch, 2, height, width)
        return torch.cat([x, coords], dim=1)


class PolicyValueHead(nn.Module):
    """A two-layer ReLU MLP on the pooled features, then linear policy logits and a linear value."""

    def __init__(self, in_features: int, width: int, n_actions: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_features, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU())
        self.policy = nn.Linear(width, n_actions)
        self.value = nn.Linear(width, 1)

    def forward(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.mlp(pooled)
        return self.policy(hidden), self.value(hidden).squeeze(-1)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def agent_state(agent: Agent) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The agent's weights (detached CPU copies) and the JSON-able meta that `load_agent` rebuilds it from."""
    tensors = {key: value.detach().cpu().clone() for key, value in agent.state_dict().items()}
    meta = {
        "agent": agent.name,
        "config": dict(agent.config),
        "obs_shape": list(agent.obs_shape),
        "n_actions": agent.n_actions,
        "parameters": parameter_count(agent),
    }
    return tensors, meta


def load_agent(
    tensors: dict[str, torch.Tensor], meta: dict[str, Any], *, where: str = "agent checkpoint"
) -> Agent:
    """Rebuild the agent described by `meta` and load `tensors` into it, checking every key and shape."""
    from engine.rl.agents import build_agent

    missing_meta = [key for key in ("agent", "config", "obs_shape", "n_actions") if key not in meta]
    if missing_meta:
        raise LanternError(
            f"the checkpoint's meta lacks {', '.join(missing_meta)}, so the agent cannot be rebuilt",
            where,
            "use a checkpoint written by Lantern's RL training (it records agent, config, obs_shape, "
            "n_actions)",
        )
    if not isinstance(meta["config"], dict) or not isinstance(meta["obs_shape"], list | tuple):
        raise LanternError(
            "the checkpoint's meta has a config that is not a mapping or an obs_shape that is not a list",
            where,
            "use a checkpoint written by Lantern's RL training",
        )
    agent = build_agent(
        meta["agent"], obs_shape=tuple(meta["obs_shape"]), n_actions=meta["n_actions"], **meta["config"]
    )
    expected = agent.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong_shape = [
        f"{key} {tuple(tensors[key].shape)} (agent has {tuple(expected[key].shape)})"
        for key in sorted(set(expected) & set(tensors))
        if tuple(tensors[key].shape) != tuple(expected[key].shape)
    ]
    if missing or unexpected or wrong_shape:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensor(s): {', '.join(missing[:5])}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} tensor(s): {', '.join(unexpected[:5])}")
        if wrong_shape:
            parts.append(f"wrong shape: {'; '.join(wrong_shape[:5])}")
        raise LanternError(
            f"the checkpoint's weights do not fit a {meta['agent']} agent with config {meta['config']} "
            f"({'; '.join(parts)})",
            where,
            "the checkpoint holds an agent of another shape: load it with the meta it was saved with, "
            "or pick a checkpoint of this agent",
        )
    agent.load_state_dict(tensors, strict=True)
    return agent
