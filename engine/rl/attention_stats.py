"""What a relational agent attends to in Box-World: key-to-lock attention, and attention to the agent and the
gem, per block and head, against chance (1 / number of entities), accumulated over many steps.

Entities are the pixels of the rendered observation (the inner grid plus its border, row-major), as the
relational agent sees them. Keys are loose keys, box contents and the held key (drawn at pixel (0, 0));
the lock a key opens is the lock of the same colour. Cell roles follow the environment's rule: a coloured
cell with a coloured left neighbour is a lock, one with a coloured right neighbour is box content.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.rl.boxworld.level import AGENT, GEM, KEY0


@dataclass(frozen=True)
class Roles:
    """Entity indices of one observation: (key entity, colour) pairs, lock entity by colour, agent, gem."""

    keys: tuple[tuple[int, int], ...]
    locks: dict[int, int]
    agent: int | None
    gem: int | None
    entities: int


def entity_roles(grid: np.ndarray, held: int) -> Roles:
    """Roles of the entities of `grid` (inner cells, ids as in engine.rl.boxworld) with `held` in hand."""
    size_r, size_c = grid.shape
    width = size_c + 2  # the rendered observation has a one-pixel border

    def index(r: int, c: int) -> int:
        return (r + 1) * width + (c + 1)

    coloured = grid >= GEM
    keys: list[tuple[int, int]] = []
    locks: dict[int, int] = {}
    agent = gem = None
    for r, c in zip(*np.nonzero(grid), strict=True):
        cell = int(grid[r, c])
        if cell == AGENT:
            agent = index(r, c)
            continue
        if cell == GEM:
            gem = index(r, c)
            continue
        if cell < KEY0:
            continue
        left = c > 0 and coloured[r, c - 1]
        if left:
            locks[cell] = index(r, c)
        else:  # box content (coloured right neighbour) or a loose key: either opens the lock of its colour
            keys.append((index(r, c), cell))
    if held >= KEY0:
        keys.append((0, int(held)))  # the held key is drawn at pixel (0, 0)
    return Roles(tuple(keys), locks, agent, gem, (size_r + 2) * width)


@dataclass
class AttentionStats:
    """Running sums per (block, head) of the three attention masses, and how many cases each holds."""

    blocks: int
    heads: int
    key_lock: np.ndarray = field(init=False)
    key_lock_n: np.ndarray = field(init=False)
    to_agent: np.ndarray = field(init=False)
    to_gem: np.ndarray = field(init=False)
    steps: int = 0
    gem_steps: int = 0
    entities: int = 0

    def __post_init__(self) -> None:
        shape = (self.blocks, self.heads)
        self.key_lock = np.zeros(shape)
        self.key_lock_n = np.zeros(shape)
        self.to_agent = np.zeros(shape)
        self.to_gem = np.zeros(shape)

    def add(self, attention: np.ndarray, roles: Roles) -> None:
        """One observation's attention [blocks, heads, N, N] (rows: who attends, columns: to whom)."""
        if attention.shape[:2] != (self.blocks, self.heads) or attention.shape[2] != roles.entities:
            raise ValueError(
                f"attention of shape {attention.shape} does not fit {self.blocks} blocks x "
                f"{self.heads} heads over {roles.entities} entities"
            )
        self.entities = roles.entities
        pairs = [(k, roles.locks[colour]) for k, colour in roles.keys if colour in roles.locks]
        if pairs:
            rows, cols = np.array(pairs).T
            self.key_lock += attention[:, :, rows, cols].sum(axis=2)
            self.key_lock_n += len(pairs)
        self.steps += 1
        if roles.agent is not None:
            self.to_agent += attention[:, :, :, roles.agent].mean(axis=2)
        if roles.gem is not None:
            self.to_gem += attention[:, :, :, roles.gem].mean(axis=2)
            self.gem_steps += 1

    def summary(self) -> dict[str, object]:
        """Mean masses per block and head, chance (1 / N), and each mass as a multiple of chance."""
        chance = 1.0 / self.entities if self.entities else float("nan")
        with np.errstate(invalid="ignore", divide="ignore"):
            key_lock = self.key_lock / self.key_lock_n
            agent = self.to_agent / self.steps if self.steps else np.full_like(self.to_agent, np.nan)
            gem = self.to_gem / self.gem_steps if self.gem_steps else np.full_like(self.to_gem, np.nan)
        return {
            "chance": chance,
            "entities": self.entities,
            "steps": self.steps,
            "key_lock_pairs": int(self.key_lock_n[0, 0]) if self.key_lock_n.size else 0,
            "key_to_lock": key_lock.tolist(),
            "key_to_lock_vs_chance": (key_lock / chance).tolist(),
            "to_agent": agent.tolist(),
            "to_agent_vs_chance": (agent / chance).tolist(),
            "to_gem": gem.tolist(),
            "to_gem_vs_chance": (gem / chance).tolist(),
        }
