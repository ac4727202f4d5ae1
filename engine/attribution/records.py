"""Plain, frozen records of attribution experiments: replicates, score rows, leaderboard rows, experiments.

The repository returns them and the experiment hands ScoreRow to it; numpy-free and torch-free, so the GUI
holds them across threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ScoreRow:
    """One metric's mean over a replicate's explained samples of one condition (presence/absence/all).

    region_share is the mean share of the input the region covers over the same samples: the random
    baseline of Attr%, or the manipulated tokens' frequency for attention mass.
    """

    method: str
    metric: str
    condition: str
    mean: float
    n: int
    region_share: float
    aggregation: str = ""


@dataclass(frozen=True)
class ReplicateRecord:
    """One trained model: the key (manipulation, strength, r, replicate) and how it fared."""

    id: int
    run_id: int
    manipulation: str
    strength: float
    r: float
    replicate: int
    model: str
    val_accuracy: float
    test_accuracy: float | None
    p_star: float
    passed: bool
    epochs: int
    dropped: int
    created_at: datetime

    @property
    def key(self) -> tuple[str, float, float, int]:
        return (self.manipulation, self.strength, self.r, self.replicate)


@dataclass(frozen=True)
class LeaderboardRow:
    """A method on a manipulation (at one sweep point) over the passing replicates.

    mean/std: over replicates of each replicate's mean score (std with ddof 1; 0.0 for one replicate).
    n_runs: replicates that passed and have this score. region_share: its mean over the same replicates
    (the random baseline). bound: for attr_pct, 1.5 - max(r, 1 - r) (SCIENCE D: for r > 0.5 only
    v(F_M) >= bound holds; r = 0.5 gives 1.0); None for the other metrics.
    """

    manipulation: str
    method: str
    mean: float
    std: float
    n_runs: int
    region_share: float
    bound: float | None
    strength: float = 0.0
    r: float = 0.5
    metric: str = "attr_pct"
    condition: str = "all"


@dataclass(frozen=True)
class PassRate:
    """How many replicates of a manipulation (at one sweep point) beat the accuracy threshold."""

    manipulation: str
    strength: float
    r: float
    passed: int
    total: int

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


@dataclass(frozen=True)
class ExperimentRecord:
    """An attribution experiment (a run of kind 'attribution.experiment').

    config: the ExperimentConfig as stored with the run. pass_rate: passed / replicates so far (0.0 with
    none). gallery_path: the experiment's galleries file (engine.attribution.gallery.load_galleries reads
    it), None until the experiment finished writing it or when its file is missing.
    """

    run_id: int
    name: str
    status: str
    config: dict[str, Any]
    pass_rate: float
    created_at: datetime
    gallery_path: Path | None
    replicates: int = 0
    passed: int = 0
    job_id: int | None = None
    finished_at: datetime | None = None
