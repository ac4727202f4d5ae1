"""BoxWorldEnv: Box-World as a gymnasium environment (one level at a time, clear rules, renderable).

Rules (Zambaldi et al. 2018, as decided here):
- Actions 0 up, 1 down, 2 left, 3 right. The border, a closed box's content and a lock without the matching
  held key block the move (the agent stays, the step still counts).
- Walking onto a loose key picks it up (it shows at pixel (0, 0)); a key already held is replaced.
- Walking into a lock while holding its colour opens the box: the key is consumed (single use), the agent
  moves onto the lock's cell and the content, now loose, lies to the agent's left; the agent collects it
  by stepping onto it. Opening a solution box gives rewards.box; opening a distractor box gives
  rewards.distractor and ends the episode (terminated, not solved).
- Stepping onto the loose gem gives rewards.gem and ends the episode (terminated, solved).
- rewards.step is added on every step; after max_steps steps an unfinished episode is truncated.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from engine.core.errors import LanternError
from engine.rl.boxworld.config import BoxWorldConfig
from engine.rl.boxworld.level import AGENT, FLOOR, GEM, MOVES, Level, generate_level
from engine.rl.boxworld.palette import render


class BoxWorldEnv(gym.Env):
    """One Box-World level; `reset(options={"level": Level})` plays a given level, else a generated one."""

    metadata = {"render_modes": ["rgb_array"]}  # noqa: RUF012 (gymnasium's class attribute)

    def __init__(self, cfg: BoxWorldConfig | None = None) -> None:
        self.cfg = cfg or BoxWorldConfig()
        side = self.cfg.size + 2
        self.observation_space = gym.spaces.Box(0, 255, (side, side, 3), np.uint8)
        self.action_space = gym.spaces.Discrete(4)
        self.render_mode = "rgb_array"
        self.level: Level | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        level = (options or {}).get("level")
        if level is None:
            level = generate_level(self.cfg, self.np_random)
        if level.grid.shape != (self.cfg.size, self.cfg.size):
            side = self.cfg.size
            raise LanternError(
                f"level grid is {level.grid.shape}, the env expects {side}x{side}",
                "BoxWorldEnv.reset(options={'level': ...})",
                "generate the level with this config",
            )
        self.level = level
        self.grid = level.grid.copy()
        self.agent = level.agent
        self.held = int(level.held)
        self.steps = 0
        self._bad = set(level.distractor_locks)
        return self._obs(), {"solved": False}

    def _obs(self) -> np.ndarray:
        return render(self.grid, self.held)

    def render(self) -> np.ndarray:
        return self._obs()

    def _coloured(self, r: int, c: int) -> bool:
        return 0 <= c < self.cfg.size and self.grid[r, c] >= GEM

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.level is None:
            raise LanternError("step() before reset()", "BoxWorldEnv.step", "call reset() first")
        rw = self.cfg.rewards
        reward, terminated, solved = rw.step, False, False
        dr, dc = MOVES[int(action)]
        r, c = self.agent[0] + dr, self.agent[1] + dc
        size = self.cfg.size
        if 0 <= r < size and 0 <= c < size:
            cell = int(self.grid[r, c])
            lock = cell >= GEM and self._coloured(r, c - 1)
            content = cell >= GEM and self._coloured(r, c + 1)
            move = False
            if cell == FLOOR:
                move = True
            elif lock:
                if self.held == cell:
                    move, self.held = True, 0
                    if (r, c) in self._bad:
                        reward, terminated = reward + rw.distractor, True
                    else:
                        reward += rw.box
            elif not content:  # loose: a key or the gem
                move = True
                if cell == GEM:
                    reward, terminated, solved = reward + rw.gem, True, True
                else:
                    self.held = cell
            if move:
                self.grid[self.agent] = FLOOR
                self.grid[r, c] = AGENT
                self.agent = (r, c)
        self.steps += 1
        truncated = not terminated and self.steps >= self.cfg.max_steps
        return self._obs(), float(reward), terminated, truncated, {"solved": solved}
