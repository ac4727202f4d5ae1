"""BoxWorldConfig: the validated description of a family of Box-World levels."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator

from engine.core.errors import LanternError


class Rewards(BaseModel):
    """Rewards of the paper: gem +10, box on the solution path +1, distractor box -1, nothing per step."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    gem: float = 10.0
    box: float = 1.0
    distractor: float = -1.0
    step: float = 0.0


def _span(value: int | list[int], field: str) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    if len(value) != 2 or value[0] > value[1]:
        raise LanternError(
            f"{field} must be an int or [min, max] with min <= max, got {value}",
            f"BoxWorldConfig.{field}",
            "write e.g. 2 or [1, 3]",
        )
    return value[0], value[1]


class BoxWorldConfig(BaseModel):
    """Level family. `size` is the inner grid side (the paper: 12); colours are indexed 0..colours-1.

    A withheld pair [key, lock] (colour indices) is a box whose lock has colour `lock` and whose
    content is a key of colour `key`; generated training levels never contain such a box.
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    size: int = 12
    solution_length: int | list[int] = [1, 4]
    distractors: int | list[int] = [0, 4]
    distractor_length: int = 1
    colours: int = 20
    max_steps: int = 120
    withheld_pairs: list[list[int]] = []
    rewards: Rewards = Rewards()

    @property
    def solution_range(self) -> tuple[int, int]:
        return _span(self.solution_length, "solution_length")

    @property
    def distractor_range(self) -> tuple[int, int]:
        return _span(self.distractors, "distractors")

    @model_validator(mode="after")
    def _fits(self) -> BoxWorldConfig:
        where = "BoxWorldConfig"
        for name, low in (("size", 3), ("distractor_length", 1), ("colours", 1), ("max_steps", 1)):
            if getattr(self, name) < low:
                raise LanternError(
                    f"{name} must be at least {low}, got {getattr(self, name)}",
                    f"{where}.{name}",
                    f"set {name} >= {low}",
                )
        s_lo, s_hi = self.solution_range
        d_lo, d_hi = self.distractor_range
        if s_lo < 1:
            raise LanternError(
                "solution_length must be at least 1",
                f"{where}.solution_length",
                "every level needs at least the box holding the gem",
            )
        if d_lo < 0:
            raise LanternError("distractors must be at least 0", f"{where}.distractors", "use 0 for none")
        if self.colours > 250:
            raise LanternError(
                f"colours must be at most 250, got {self.colours}",
                f"{where}.colours",
                "use at most 250 colours",
            )
        for pair in self.withheld_pairs:
            if len(pair) != 2 or not all(0 <= c < self.colours for c in pair):
                raise LanternError(
                    f"withheld pair {pair} is not [key, lock] in [0, {self.colours})",
                    f"{where}.withheld_pairs",
                    "name colours by index 0..colours-1",
                )
        budget = capacity(self.size)
        dl = self.distractor_length
        if s_lo > budget:
            raise LanternError(
                f"a {self.size}x{self.size} grid cannot hold {s_lo} solution boxes",
                f"{where}.solution_length",
                f"the largest solution_length that fits is {budget}; or enlarge size",
            )
        if s_lo + d_lo * dl > budget:
            largest = max(0, (budget - s_lo) // dl)
            raise LanternError(
                f"a {self.size}x{self.size} grid cannot hold {s_lo} solution boxes and {d_lo} distractor "
                f"branches of length {dl}",
                f"{where}.distractors",
                f"the largest that fits with solution_length {s_lo} is {largest}; or enlarge size",
            )
        if s_hi + d_lo * dl > budget:
            largest = budget - d_lo * dl
            raise LanternError(
                f"a {self.size}x{self.size} grid has room for {budget} boxes, but the config asks up to "
                f"{s_hi} solution boxes and at least {d_lo}x{dl} distractor boxes",
                f"{where}.solution_length",
                f"the largest solution_length that fits is {largest}; or enlarge size",
            )
        if s_hi + d_hi * dl > budget:
            largest = (budget - s_hi) // dl
            raise LanternError(
                f"a {self.size}x{self.size} grid has room for {budget} boxes, but the config asks up to "
                f"{s_hi} solution boxes and {d_hi}x{dl} distractor boxes",
                f"{where}.distractors",
                f"the largest distractors that fits with solution_length up to {s_hi} is {largest}; "
                "or enlarge size",
            )
        if s_hi + d_hi * dl > self.colours:
            need = s_hi + d_hi * dl
            raise LanternError(
                f"levels need up to {need} distinct colours, only {self.colours} given",
                f"{where}.colours",
                f"set colours >= {need}",
            )
        return self


def capacity(size: int) -> int:
    """Largest number of boxes a size x size grid holds: boxes + one gap each, the loose key with its gap
    and the agent take at most half the cells, so that paths stay open."""
    return max(0, (size * size // 2 - 3) // 3)
