"""PPOConfig: PPO hyper-parameters and their checks, torch-free (the GUI and config files use it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from engine.core.errors import LanternError

PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyper-parameters. One update collects n_envs * rollout_steps env steps (the env decides n_envs:
    it must equal the env's batch), then runs `epochs` passes of `minibatches` minibatches over them."""

    n_envs: int = 64
    rollout_steps: int = 32
    epochs: int = 4
    minibatches: int = 4
    lr: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    entropy_coef: float = 0.01
    value_coef: float = 0.5
    max_grad_norm: float = 0.5
    # Rewards are multiplied by this for learning only (returns are reported unscaled). Box-World's +10 gem
    # would otherwise make the value loss dominate the clipped gradient norm and starve the policy.
    reward_scale: float = 1.0
    total_steps: int = 100_000
    seed: int = 0
    # "bf16" runs the agent's forward passes under torch.autocast with bfloat16 (losses, log-probabilities
    # and advantages stay float32): about 1.6x faster on CPUs with AMX and the usual choice on GPUs.
    precision: str = "fp32"

    def __post_init__(self) -> None:
        where = "PPOConfig"
        for name in ("n_envs", "rollout_steps", "epochs", "minibatches", "total_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LanternError(
                    f"{name} must be a whole number of at least 1, got {value!r}",
                    f"{where}.{name}",
                    f"set {name} to a positive integer",
                )
        for name in ("lr", "clip", "max_grad_norm", "reward_scale"):
            if not getattr(self, name) > 0:
                raise LanternError(
                    f"{name} must be positive, got {getattr(self, name)!r}",
                    f"{where}.{name}",
                    f"set {name} above 0",
                )
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise LanternError(
                    f"{name} must lie in [0, 1], got {getattr(self, name)!r}",
                    f"{where}.{name}",
                    f"set {name} between 0 and 1 (e.g. 0.99 / 0.95)",
                )
        for name in ("entropy_coef", "value_coef"):
            if not getattr(self, name) >= 0:
                raise LanternError(
                    f"{name} must be at least 0, got {getattr(self, name)!r}",
                    f"{where}.{name}",
                    f"set {name} to 0 or more",
                )
        if self.precision not in PRECISIONS:
            raise LanternError(
                f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}",
                f"{where}.precision",
                'use "fp32", or "bf16" for bfloat16 autocast',
            )
        if self.minibatches > self.n_envs * self.rollout_steps:
            raise LanternError(
                f"{self.minibatches} minibatches cannot split a rollout of "
                f"{self.n_envs * self.rollout_steps} steps",
                f"{where}.minibatches",
                "use at most n_envs * rollout_steps minibatches",
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
