"""BatchedBoxWorld: the BoxWorldEnv rules as torch tensor ops on B levels at once (CPU or CUDA).

State lives on the device as padded int32 id grids [B, (H+2)*(W+2)] (the border is part of the grid, so a
move off the inner grid simply meets a wall; a distractor lock carries +256 so one gather reads both).
The RGB observation is kept as flat uint8 pixels [B, (H+2)*(W+2)*3] and updated by scatters of the few
cells a step changes (scatters are far faster on CPU than advanced-index writes); step() returns a copy.
step() has no Python loop over the batch.
Finished levels are reset automatically: the observation returned for them is the first of their new level.

New levels come from a pool of `pool_size` levels generated in numpy and kept on the device; a reset
draws pool levels at random (a tensor gather). The pool is renewed in a rolling way, a chunk of
pool_size / 16 levels at a time, so that on average each pool level is drawn `pool_reuse` times before it
is replaced (level generation is Python, ~1 ms a level, and would otherwise dominate large batches).
Alternatively `level_source(n) -> list[Level]` supplies the next n levels for the finished envs, in
ascending env order (used by tests and evaluation for exact, reproducible levels).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from engine.core.errors import LanternError
from engine.rl.boxworld.config import BoxWorldConfig
from engine.rl.boxworld.level import AGENT, BORDER, FLOOR, GEM, MOVES, Level, generate_level
from engine.rl.boxworld.palette import PALETTE

_BAD = 256  # added to a distractor lock's id in the state grid
_ID = 255


class BatchedBoxWorld:
    """B Box-World levels stepped together; see the module docstring for resets."""

    def __init__(
        self,
        cfg: BoxWorldConfig,
        batch: int,
        device: str | torch.device = "cpu",
        seed: int = 0,
        *,
        pool_size: int = 4096,
        pool_reuse: int = 16,
        level_source: Callable[[int], list[Level]] | None = None,
    ) -> None:
        if batch < 1 or pool_size < 1 or pool_reuse < 1:
            raise LanternError(
                "batch, pool_size and pool_reuse must be at least 1", "BatchedBoxWorld", "pass positive sizes"
            )
        self.cfg, self.batch, self.device = cfg, batch, torch.device(device)
        self.side = d = cfg.size + 2
        self.rng = np.random.default_rng(seed)
        self.gen = torch.Generator(device=self.device).manual_seed(seed)
        self.pool_size, self.pool_reuse, self.level_source = pool_size, pool_reuse, level_source
        self.palette = torch.as_tensor(PALETTE, device=self.device)
        self.rgb = torch.arange(3, device=self.device)
        self.moves = torch.tensor([dr * d + dc for dr, dc in MOVES], device=self.device)
        self.grid = torch.full((batch, d * d), BORDER, dtype=torch.int32, device=self.device)
        self.pixels = torch.zeros((batch, d * d * 3), dtype=torch.uint8, device=self.device)
        self.pos = torch.zeros(batch, dtype=torch.long, device=self.device)
        self.held = torch.zeros(batch, dtype=torch.int32, device=self.device)
        self.steps = torch.zeros(batch, dtype=torch.long, device=self.device)
        self.rows = torch.arange(batch, device=self.device)
        self._pool: tuple[torch.Tensor, ...] | None = None
        self._chunk = max(1, pool_size // 16)
        self._cursor = 0
        self._credit = 0.0

    def _encode(self, levels: list[Level]) -> tuple[torch.Tensor, ...]:
        d, n = self.side, len(levels)
        grid = np.full((n, d, d), BORDER, np.int32)
        pos = np.zeros(n, np.int64)
        held = np.zeros(n, np.int32)
        for i, lv in enumerate(levels):
            if lv.grid.shape != (self.cfg.size, self.cfg.size):
                raise LanternError(
                    f"level {i} is {lv.grid.shape}, expected {self.cfg.size}x{self.cfg.size}",
                    "BatchedBoxWorld.reset_to",
                    "generate the levels with this config",
                )
            grid[i, 1:-1, 1:-1] = lv.grid
            for r, c in lv.distractor_locks:
                grid[i, r + 1, c + 1] += _BAD
            pos[i] = (lv.agent[0] + 1) * d + lv.agent[1] + 1
            held[i] = lv.held
        dev = self.device
        return (
            torch.as_tensor(grid.reshape(n, -1), device=dev),
            torch.as_tensor(pos, device=dev),
            torch.as_tensor(held, device=dev),
        )

    def _corner(self, held: torch.Tensor) -> torch.Tensor:
        return self.palette[torch.where(held > 0, held, BORDER).long()]

    def _load(self, idx: torch.Tensor, parts: tuple[torch.Tensor, ...]) -> None:
        grid, pos, held = parts
        self.grid[idx], self.pos[idx], self.held[idx] = grid, pos, held
        self.steps[idx] = 0
        pixels = self.palette[(grid & _ID).long()]
        pixels[:, 0] = self._corner(held)
        self.pixels[idx] = pixels.flatten(1)

    def _refill(self, idx: torch.Tensor) -> None:
        """Give the envs `idx` (ascending) new levels."""
        n = int(idx.numel())
        if n == 0:
            return
        if self.level_source is not None:
            self._load(idx, self._encode(self.level_source(n)))
            return
        if self._pool is None:
            self._pool = self._encode([generate_level(self.cfg, self.rng) for _ in range(self.pool_size)])
        else:
            self._credit += n / self.pool_reuse
            while self._credit >= self._chunk:
                start = self._cursor
                stop = min(start + self._chunk, self.pool_size)
                fresh = self._encode([generate_level(self.cfg, self.rng) for _ in range(stop - start)])
                for pool, part in zip(self._pool, fresh, strict=True):
                    pool[start:stop] = part
                self._cursor = stop % self.pool_size
                self._credit -= stop - start
        pick = torch.randint(self.pool_size, (n,), generator=self.gen, device=self.device)
        self._load(idx, tuple(t[pick] for t in self._pool))

    def observe(self) -> torch.Tensor:
        """RGB uint8 [B, H+2, W+2, 3] (a fresh copy); the held key (or the border) at pixel (0, 0)."""
        return self.pixels.view(self.batch, self.side, self.side, 3).clone()

    def reset(self) -> torch.Tensor:
        self._refill(self.rows)
        return self.observe()

    def reset_to(self, levels: list[Level]) -> torch.Tensor:
        if len(levels) != self.batch:
            raise LanternError(
                f"reset_to got {len(levels)} levels for a batch of {self.batch}",
                "BatchedBoxWorld.reset_to",
                "pass exactly one level per env",
            )
        self._load(self.rows, self._encode(levels))
        return self.observe()

    def step(
        self, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Apply one action per env (LongTensor [B]); returns (obs, reward, terminated, truncated, info)."""
        rw = self.cfg.rewards
        target = self.pos + self.moves[actions.to(self.device).long()]
        raw = self.grid.gather(1, torch.stack([target, target - 1, target + 1], 1))  # target, left, right
        ids = raw & _ID
        cell = ids[:, 0]
        coloured = ids >= GEM
        lock = coloured[:, 0] & coloured[:, 1]
        content = coloured[:, 0] & coloured[:, 2]
        loose = coloured[:, 0] & ~lock & ~content
        opened = lock & (self.held == cell)
        distractor = opened & (raw[:, 0] >= _BAD)
        gem = loose & (cell == GEM)
        pickup = loose & (cell > GEM)
        move = (cell == FLOOR) | loose | opened
        reward = (
            (opened & ~distractor).float() * rw.box
            + distractor.float() * rw.distractor
            + gem.float() * rw.gem
            + rw.step
        )
        new_pos = torch.where(move, target, self.pos)
        floor_or_agent = torch.where(move, FLOOR, AGENT).to(torch.int32)[:, None]
        self.grid.scatter_(1, self.pos[:, None], floor_or_agent)
        self.grid.scatter_(1, new_pos[:, None], torch.full_like(floor_or_agent, AGENT))
        self.pixels.scatter_(1, self.pos[:, None] * 3 + self.rgb, self.palette[floor_or_agent[:, 0].long()])
        self.pixels.scatter_(1, new_pos[:, None] * 3 + self.rgb, self.palette[AGENT].expand(self.batch, 3))
        self.pos = new_pos
        self.held = torch.where(opened, 0, torch.where(pickup, cell, self.held))
        self.pixels[:, :3] = self._corner(self.held)
        self.steps += 1
        terminated = gem | distractor
        truncated = ~terminated & (self.steps >= self.cfg.max_steps)
        done = terminated | truncated
        if bool(done.any()):
            self._refill(done.nonzero()[:, 0])
        return self.observe(), reward, terminated, truncated, {"solved": gem, "distractor": distractor}
