"""Box-World levels: the Level record, the paper's level generator and the solution-path walker.

Grid ids: 0 floor, 1 border/wall, 2 agent, 3 gem, 4 + i colour index i. The grid is the inner
size x size area; the border is drawn by the renderer. A box is two horizontally adjacent coloured cells:
the lock on the RIGHT, its content on the LEFT. A coloured cell with no coloured horizontal neighbour is
loose (a key, or the gem once its box is open). The generator keeps one empty cell (or the border) on
both sides of every object, so an opened box's content is always loose.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from engine.core.errors import LanternError
from engine.rl.boxworld.config import BoxWorldConfig

FLOOR, BORDER, AGENT, GEM, KEY0 = 0, 1, 2, 3, 4
MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))  # action 0 up, 1 down, 2 left, 3 right
_TRIES = 200


@dataclass(frozen=True)
class Box:
    """A box: its lock's (row, col) in the inner grid, the lock's colour id and the content's id."""

    lock: tuple[int, int]
    lock_colour: int
    content: int


@dataclass(frozen=True, eq=False)
class Level:
    """One level. `solution` lists the boxes to open in order (the last holds the gem); `distractors`
    lists every box on a distractor branch; `key` is where the loose first key lies (None if absent)."""

    grid: np.ndarray
    agent: tuple[int, int]
    held: int = 0
    solution: tuple[Box, ...] = ()
    distractors: tuple[Box, ...] = ()
    key: tuple[int, int] | None = None

    @property
    def distractor_colours(self) -> tuple[int, ...]:
        """Colour ids of the keys inside distractor boxes (keys that lead nowhere)."""
        return tuple(b.content for b in self.distractors)

    @property
    def distractor_locks(self) -> tuple[tuple[int, int], ...]:
        return tuple(b.lock for b in self.distractors)


def _colours(
    cfg: BoxWorldConfig,
    rng: np.random.Generator,
    n: int,
    branches: list[int],
    pairs: list[tuple[int, int]] | None,
) -> tuple[list[int], list[list[int]]]:
    """Colour indices of the solution keys k[0..n-1] and each branch's contents; honours withheld pairs."""
    dl = cfg.distractor_length
    banned = {tuple(p) for p in cfg.withheld_pairs} | set(pairs or ())
    for _ in range(_TRIES):
        order = [int(c) for c in rng.permutation(cfg.colours)[: n + len(branches) * dl]]
        forced: tuple[int, int] | None = None
        if pairs:
            key, lock = pairs[int(rng.integers(len(pairs)))]
            at = int(rng.integers(n - 1))
            rest = [c for c in order if c not in (key, lock)]
            order = [*rest[:at], lock, key, *rest[at:]]
            order = order[: n + len(branches) * dl]
            forced = (key, lock)
        sol, rest = order[:n], order[n:]
        dis = [rest[j * dl : (j + 1) * dl] for j in range(len(branches))]
        boxes = [(sol[i + 1], sol[i]) for i in range(n - 1)]
        for j, at in enumerate(branches):
            chain = [sol[at], *dis[j]]
            boxes += [(chain[m + 1], chain[m]) for m in range(dl)]
        if forced is not None and boxes.count(forced) != 1:
            continue
        if all(b not in banned or b == forced for b in boxes):
            return sol, dis
    raise LanternError(
        "no colour assignment avoids the withheld pairs",
        "BoxWorldConfig.withheld_pairs",
        "withhold fewer pairs or raise colours",
    )


def _spots(occ: np.ndarray, width: int) -> np.ndarray:
    """(row, col) where an object `width` cells wide fits with a free cell (or the border) either side."""
    size = occ.shape[1]
    cs = np.zeros((occ.shape[0], size + 3), np.int32)  # row-wise prefix sums over [0, border, occ, border]
    cs[:, 2:-1] = occ.cumsum(1)
    cs[:, -1] = cs[:, -2]
    win = cs[:, width + 2 : size + 3] - cs[:, : size + 1 - width]
    return np.argwhere(win == 0)


def generate_level(
    cfg: BoxWorldConfig, rng: np.random.Generator, *, pairs: list[tuple[int, int]] | None = None
) -> Level:
    """A random level of the paper's kind: a loose first key, a chain of `solution_length` boxes whose last
    holds the gem, and distractor branches off the chain (their first box opens with a solution key, their
    last content opens nothing). With `pairs` ([key, lock] colour indices), one solution box is forced to
    be one of those pairs (for evaluating on withheld pairs); otherwise withheld pairs never appear."""
    s_lo, s_hi = cfg.solution_range
    d_lo, d_hi = cfg.distractor_range
    if pairs is not None:
        pairs = [(int(a), int(b)) for a, b in pairs]
        if s_hi < 2:
            raise LanternError(
                "levels with a given key-lock pair need solution_length >= 2",
                "generate_level(pairs=...)",
                "use solution_length of at least 2",
            )
        s_lo = max(s_lo, 2)
    n = int(rng.integers(s_lo, s_hi + 1))
    branches = [int(rng.integers(n)) for _ in range(int(rng.integers(d_lo, d_hi + 1)))]
    sol, dis = _colours(cfg, rng, n, branches, pairs)
    ids = [KEY0 + c for c in sol]
    plan = [(ids[i], ids[i + 1] if i + 1 < n else GEM, False) for i in range(n)]
    for j, at in enumerate(branches):
        chain = [ids[at], *(KEY0 + c for c in dis[j])]
        plan += [(chain[m], chain[m + 1], True) for m in range(cfg.distractor_length)]
    size = cfg.size
    for _ in range(_TRIES):
        grid = np.zeros((size, size), np.uint8)
        occ = np.zeros((size, size), bool)
        solution: list[Box] = []
        distractors: list[Box] = []
        ok = True
        for lock_colour, content, bad in plan:
            spots = _spots(occ, 2)
            if len(spots) == 0:
                ok = False
                break
            r, c = (int(v) for v in spots[rng.integers(len(spots))])
            grid[r, c], grid[r, c + 1] = content, lock_colour
            occ[r, c : c + 2] = True
            (distractors if bad else solution).append(Box((r, c + 1), lock_colour, content))
        spots = _spots(occ, 1)
        if not ok or len(spots) == 0:
            continue
        kr, kc = (int(v) for v in spots[rng.integers(len(spots))])
        grid[kr, kc] = ids[0]
        occ[kr, kc] = True
        free = np.argwhere(~occ)
        ar, ac = (int(v) for v in free[rng.integers(len(free))])
        grid[ar, ac] = AGENT
        level = Level(grid, (ar, ac), 0, tuple(solution), tuple(distractors), (kr, kc))
        if solution_actions(level) is not None:
            return level
    raise LanternError(
        f"could not place {len(plan)} boxes on a {size}x{size} grid in {_TRIES} tries",
        "BoxWorldConfig.size",
        "enlarge size or ask for fewer boxes",
    )


def _walk(
    grid: list[list[int]], start: tuple[int, int], goal: tuple[int, int], sides: tuple[int, ...]
) -> list[int] | None:
    """Actions over floor from start to a floor cell beside goal (entering from one of `sides`, indices
    into MOVES of the step that enters the goal), plus the step into goal."""
    size = len(grid)
    prev: dict[tuple[int, int], tuple[tuple[int, int], int] | None] = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        for a in sides:
            dr, dc = MOVES[a]
            if (cell[0] + dr, cell[1] + dc) == goal:
                path = [a]
                while prev[cell] is not None:
                    cell, step = prev[cell]
                    path.append(step)
                return path[::-1]
        for a, (dr, dc) in enumerate(MOVES):
            r, c = nxt = (cell[0] + dr, cell[1] + dc)
            if 0 <= r < size and 0 <= c < size and nxt not in prev and grid[r][c] == FLOOR:
                prev[nxt] = (cell, a)
                queue.append(nxt)
    return None


def solution_actions(level: Level) -> list[int] | None:
    """Shortest-per-leg actions that fetch the loose key and open the solution boxes in order, collecting
    each content (the last is the gem); None when some leg is walled in."""
    grid = level.grid.tolist()  # plain lists: the walk reads cells one at a time
    here = level.agent
    grid[here[0]][here[1]] = FLOOR
    actions: list[int] = []
    if level.key is not None:
        leg = _walk(grid, here, level.key, (0, 1, 2, 3))
        if leg is None:
            return None
        actions += leg
        grid[level.key[0]][level.key[1]] = FLOOR
        here = level.key
    for box in level.solution:
        leg = _walk(grid, here, box.lock, (0, 1, 2))  # a lock is entered from above, below or the right
        if leg is None:
            return None
        r, c = box.lock
        grid[r][c] = grid[r][c - 1] = FLOOR
        actions += [*leg, 2]  # then step left onto the content
        here = (r, c - 1)
    return actions
