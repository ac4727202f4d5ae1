"""The non-relational control agent: the relational agent with its attention blocks replaced by residual
3x3 conv blocks (as in Zambaldi et al.'s baseline), same stem, max pool and policy/value head."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from engine.rl.agents.common import Agent, AgentOutput, ConvStem, PolicyValueHead


class ResidualBlock(nn.Module):
    """x + conv3x3(relu(conv3x3(relu(x)))), padded so the grid keeps its size."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class BaselineAgent(Agent):
    """obs/255 -> ConvStem (24 features + x, y) -> 1x1 conv to `width` -> `blocks` residual blocks -> ReLU
    -> max over grid positions -> head. Has no attention: `return_attention=True` still gives None."""

    name = "baseline"

    def __init__(
        self, obs_shape: tuple[int, int, int], n_actions: int, *, blocks: int, width: int, head_width: int
    ) -> None:
        super().__init__(obs_shape, n_actions, {"blocks": blocks, "width": width, "head_width": head_width})
        self.stem = ConvStem(self.obs_shape[2])
        self.project = nn.Conv2d(self.stem.out_channels, width, kernel_size=1)
        self.blocks = nn.Sequential(*(ResidualBlock(width) for _ in range(blocks)))
        self.head = PolicyValueHead(width, head_width, n_actions)

    def forward(self, obs: torch.Tensor, *, return_attention: bool = False) -> AgentOutput:
        features = F.relu(self.blocks(self.project(self.stem(self.check_obs(obs)))))
        logits, value = self.head(features.flatten(2).amax(dim=2))
        return AgentOutput(logits, value, None)
