"""The relational agent of Zambaldi et al. (2018): pixels as entities, multi-head dot-product attention
blocks over them, feature-wise max pool, MLP to policy and value."""

from __future__ import annotations

import math

import torch
from torch import nn

from engine.rl.agents.common import Agent, AgentOutput, ConvStem, PolicyValueHead


class AttentionBlock(nn.Module):
    """One MHDPA block: A = LayerNorm(E + MHDPA(E)); E' = LayerNorm(A + MLP(A)), the MLP shared by entities.

    The softmax(QK^T / sqrt(key_dim)) weights are computed here, not by a fused kernel, so the forward pass
    that produces the policy also hands them back.
    """

    def __init__(self, d_model: int, heads: int, key_dim: int, mlp_width: int) -> None:
        super().__init__()
        self.heads, self.key_dim = heads, key_dim
        self.qkv = nn.Linear(d_model, 3 * heads * key_dim)
        self.out = nn.Linear(heads * key_dim, d_model)
        self.norm_attention = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, mlp_width), nn.ReLU(), nn.Linear(mlp_width, d_model))
        self.norm_mlp = nn.LayerNorm(d_model)

    def forward(self, entities: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, N, d] -> (updated entities [B, N, d], attention weights [B, heads, N, N])."""
        batch, n, _ = entities.shape
        qkv = self.qkv(entities).view(batch, n, 3, self.heads, self.key_dim).permute(2, 0, 3, 1, 4)
        query, key, value = qkv[0], qkv[1], qkv[2]  # each [B, heads, N, key_dim]
        # Scaling the queries rather than the [N, N] logits is the same product and a smaller tensor op.
        weights = torch.softmax((query * (1.0 / math.sqrt(self.key_dim))) @ key.transpose(-1, -2), dim=-1)
        mixed = (weights @ value).transpose(1, 2).reshape(batch, n, self.heads * self.key_dim)
        attended = self.norm_attention(entities + self.out(mixed))
        return self.norm_mlp(attended + self.mlp(attended)), weights


class RelationalAgent(Agent):
    """obs/255 -> ConvStem (H x W grid of 24 features + x, y) -> N = H*W entities (row-major) -> linear
    projection to d_model = heads * key_dim -> `blocks` attention blocks -> max over entities -> head.

    With `share_weights` every block applies the same parameters (the paper's recurrent-style stacking);
    otherwise each block has its own.
    """

    name = "relational"

    def __init__(
        self,
        obs_shape: tuple[int, int, int],
        n_actions: int,
        *,
        blocks: int,
        heads: int,
        key_dim: int,
        mlp_width: int,
        head_width: int,
        share_weights: bool,
    ) -> None:
        config = {
            "blocks": blocks,
            "heads": heads,
            "key_dim": key_dim,
            "mlp_width": mlp_width,
            "head_width": head_width,
            "share_weights": share_weights,
        }
        super().__init__(obs_shape, n_actions, config)
        d_model = heads * key_dim
        self.stem = ConvStem(self.obs_shape[2])
        self.project = nn.Linear(self.stem.out_channels, d_model)
        distinct = 1 if share_weights else blocks
        self.blocks = nn.ModuleList(
            AttentionBlock(d_model, heads, key_dim, mlp_width) for _ in range(distinct)
        )
        self.n_blocks = blocks
        self.head = PolicyValueHead(d_model, head_width, n_actions)

    def entities(self, obs: torch.Tensor) -> torch.Tensor:
        """uint8 [B, H, W, C] -> entity features [B, H*W, 24 + 2] (row-major; the last two are x and y)."""
        features = self.stem(self.check_obs(obs))
        return features.flatten(2).transpose(1, 2)

    def relate(self, entities: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Entity features [B, N, F] -> (max-pooled features [B, d_model], attention of each block).

        Permuting the entities permutes each attention map alike and leaves the pooled features unchanged:
        position enters only through the x, y features.
        """
        x = self.project(entities)
        attention = []
        for index in range(self.n_blocks):
            x, weights = self.blocks[0 if len(self.blocks) == 1 else index](x)
            attention.append(weights)
        return x.amax(dim=1), attention

    def forward(self, obs: torch.Tensor, *, return_attention: bool = False) -> AgentOutput:
        pooled, attention = self.relate(self.entities(obs))
        logits, value = self.head(pooled)
        return AgentOutput(logits, value, attention if return_attention else None)
