"""Box-World (Zambaldi et al. 2018): level generator, gymnasium environment and batched tensor environment."""

from engine.rl.boxworld.config import BoxWorldConfig, Rewards
from engine.rl.boxworld.level import AGENT, BORDER, FLOOR, GEM, KEY0, Box, Level, generate_level

__all__ = [
    "AGENT",
    "BORDER",
    "FLOOR",
    "GEM",
    "KEY0",
    "Box",
    "BoxWorldConfig",
    "Level",
    "Rewards",
    "generate_level",
]
