"""Attribution experiments in the store: replicates and their scores, the leaderboard, pass rates, CSV.

A replicate and its scores are written in one transaction (add_replicate(..., scores=rows)), so an
experiment that dies between two replicates leaves only whole replicates behind and resumes after the last
one. Torch-free: the GUI reads leaderboards through this module.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.exc import IntegrityError

from engine.attribution.records import (
    ExperimentRecord,
    LeaderboardRow,
    PassRate,
    ReplicateRecord,
    ScoreRow,
)
from engine.core.errors import ArtifactMissing, LanternError
from engine.store.models import AttributionReplicate, AttributionScore, Run, utcnow

if TYPE_CHECKING:
    from engine.store.database import Store

__all__ = [
    "EXPERIMENT_KIND",
    "GALLERY_KIND",
    "AttributionRepository",
    "ExperimentRecord",
    "LeaderboardRow",
    "PassRate",
    "ReplicateRecord",
    "ScoreRow",
    "aggregate",
]

EXPERIMENT_KIND = "attribution.experiment"  # the kind of the run an experiment records into
GALLERY_KIND = "attribution-gallery"  # the artifact holding all galleries of an experiment
WHERE = "attribution experiments in the store"
CONDITIONS = ("presence", "absence", "all")
CSV_COLUMNS = (
    "manipulation",
    "strength",
    "r",
    "method",
    "metric",
    "condition",
    "mean",
    "std",
    "n_runs",
    "region_share",
    "bound",
)


def _bound(metric: str, r: float) -> float | None:
    if metric != "attr_pct":
        return None
    from engine.attribution.scores import bound

    return bound(r)


def _replicate_record(row: AttributionReplicate) -> ReplicateRecord:
    return ReplicateRecord(
        id=row.id,
        run_id=row.run_id,
        manipulation=row.manipulation,
        strength=row.strength,
        r=row.r,
        replicate=row.replicate,
        model=row.model,
        val_accuracy=row.val_accuracy,
        test_accuracy=row.test_accuracy,
        p_star=row.p_star,
        passed=row.passed,
        epochs=row.epochs,
        dropped=row.dropped,
        created_at=row.created_at,
    )


def _finite(value: float) -> bool:
    return value is not None and math.isfinite(value)


def aggregate(
    replicates: Sequence[ReplicateRecord],
    scores: Iterable[tuple[int, ScoreRow]],
    metric: str = "attr_pct",
    condition: str = "all",
) -> list[LeaderboardRow]:
    """Leaderboard rows from replicates and their (replicate_id, score) pairs, without a store.

    Only passing replicates count; a replicate's score with n == 0 or a NaN mean (no sample of that
    condition, or empty regions) is left out. Rows are ordered by manipulation, sweep point and method
    (in the order each was first seen).
    """
    passing = {rep.id: rep for rep in replicates if rep.passed}
    groups: dict[tuple[str, float, float, str], list[tuple[float, float]]] = defaultdict(list)
    for replicate_id, score in scores:
        rep = passing.get(replicate_id)
        if rep is None or score.metric != metric or score.condition != condition:
            continue
        if score.n <= 0 or not _finite(score.mean):
            continue
        groups[(rep.manipulation, rep.strength, rep.r, score.method)].append((score.mean, score.region_share))
    rows = []
    for (manipulation, strength, r, method), values in groups.items():
        means = [v for v, _ in values]
        shares = [s for _, s in values if _finite(s)]
        n = len(means)
        mean = sum(means) / n
        std = math.sqrt(sum((v - mean) ** 2 for v in means) / (n - 1)) if n > 1 else 0.0
        rows.append(
            LeaderboardRow(
                manipulation=manipulation,
                method=method,
                mean=mean,
                std=std,
                n_runs=n,
                region_share=sum(shares) / len(shares) if shares else float("nan"),
                bound=_bound(metric, r),
                strength=strength,
                r=r,
                metric=metric,
                condition=condition,
            )
        )
    return rows


class AttributionRepository:
    """The [experiment] part of ATTRIBUTION-CONTRACT.md over a Store (SQLite or PostgreSQL)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # writing

    def add_replicate(
        self,
        run_id: int,
        *,
        manipulation: str,
        strength: float,
        r: float,
        replicate: int,
        model: str,
        val_accuracy: float,
        p_star: float,
        passed: bool,
        epochs: int,
        dropped: int = 0,
        test_accuracy: float | None = None,
        scores: Iterable[ScoreRow] = (),
    ) -> int:
        """Store one replicate (and its scores, in the same transaction); returns its id.

        The key (run, manipulation, strength, r, replicate) is unique: storing it twice is a LanternError
        and changes nothing.
        """
        rows = list(scores)
        self._check_scores(rows, f"{WHERE}: replicate {replicate} of '{manipulation}'")
        if self._store.runs.get(run_id) is None:
            raise LanternError(f"there is no run #{run_id}", WHERE, "start the experiment's run first")
        try:
            with self._store.session() as session:
                row = AttributionReplicate(
                    run_id=run_id,
                    manipulation=manipulation,
                    strength=float(strength),
                    r=float(r),
                    replicate=int(replicate),
                    model=model,
                    val_accuracy=float(val_accuracy),
                    test_accuracy=None if test_accuracy is None else float(test_accuracy),
                    p_star=float(p_star),
                    passed=bool(passed),
                    epochs=int(epochs),
                    dropped=int(dropped),
                    created_at=utcnow(),
                )
                session.add(row)
                session.flush()
                session.add_all(self._score_models(run_id, row.id, rows))
                return row.id
        except IntegrityError as exc:
            raise LanternError(
                f"replicate {replicate} of '{manipulation}' (strength {strength:g}, r {r:g}) is stored "
                "already",
                f"run #{run_id}",
                "a resumed experiment skips the replicates it has; start a new experiment to redo them",
            ) from exc

    def add_scores(self, replicate_id: int, rows: Iterable[ScoreRow]) -> None:
        """Add score rows to a stored replicate, in one transaction."""
        rows = list(rows)
        self._check_scores(rows, f"{WHERE}: replicate #{replicate_id}")
        with self._store.session() as session:
            replicate = session.get(AttributionReplicate, replicate_id)
            if replicate is None:
                raise LanternError(f"there is no replicate #{replicate_id}", WHERE, "add the replicate first")
            session.add_all(self._score_models(replicate.run_id, replicate_id, rows))

    @staticmethod
    def _check_scores(rows: Sequence[ScoreRow], where: str) -> None:
        for row in rows:
            if row.condition not in CONDITIONS:
                raise LanternError(
                    f"unknown condition '{row.condition}'", where, f"use one of {', '.join(CONDITIONS)}"
                )
            if row.n < 0:
                raise LanternError(f"a score over {row.n} samples", where, "n counts samples (>= 0)")

    @staticmethod
    def _score_models(run_id: int, replicate_id: int, rows: Sequence[ScoreRow]) -> list[AttributionScore]:
        return [
            AttributionScore(
                run_id=run_id,
                replicate_id=replicate_id,
                method=row.method,
                metric=row.metric,
                condition=row.condition,
                mean=float(row.mean),
                n=int(row.n),
                region_share=float(row.region_share),
                aggregation=row.aggregation,
            )
            for row in rows
        ]

    # reading

    def replicates(self, run_id: int) -> list[ReplicateRecord]:
        """The run's replicates in the order they were stored."""
        with self._store.session() as session:
            rows = session.scalars(
                select(AttributionReplicate)
                .where(AttributionReplicate.run_id == run_id)
                .order_by(AttributionReplicate.id)
            )
            return [_replicate_record(row) for row in rows]

    def scores(
        self, run_id: int, metric: str | None = None, condition: str | None = None
    ) -> list[tuple[int, ScoreRow]]:
        """(replicate_id, score) pairs of a run, optionally of one metric and condition."""
        statement = select(AttributionScore).where(AttributionScore.run_id == run_id)
        if metric is not None:
            statement = statement.where(AttributionScore.metric == metric)
        if condition is not None:
            statement = statement.where(AttributionScore.condition == condition)
        with self._store.session() as session:
            return [
                (
                    row.replicate_id,
                    ScoreRow(
                        method=row.method,
                        metric=row.metric,
                        condition=row.condition,
                        mean=row.mean,
                        n=row.n,
                        region_share=row.region_share,
                        aggregation=row.aggregation,
                    ),
                )
                for row in session.scalars(statement.order_by(AttributionScore.id))
            ]

    def metrics(self, run_id: int) -> list[tuple[str, str]]:
        """The (metric, condition) pairs the run has scores for, sorted."""
        with self._store.session() as session:
            rows = session.execute(
                select(AttributionScore.metric, AttributionScore.condition)
                .where(AttributionScore.run_id == run_id)
                .distinct()
            )
            return sorted((metric, condition) for metric, condition in rows)

    def _check_run(self, run_id: int) -> None:
        if self._store.runs.get(run_id) is None:
            raise LanternError(
                f"there is no run #{run_id}", WHERE, "list experiments with 'lantern attribution leaderboard'"
            )

    def leaderboard(
        self, run_id: int, metric: str = "attr_pct", condition: str = "all"
    ) -> list[LeaderboardRow]:
        """Method x manipulation (x sweep point): mean and std over passing replicates of their mean score."""
        if condition not in CONDITIONS:
            raise LanternError(
                f"unknown condition '{condition}'", WHERE, f"use one of {', '.join(CONDITIONS)}"
            )
        self._check_run(run_id)
        rows = aggregate(self.replicates(run_id), self.scores(run_id, metric, condition), metric, condition)
        if not rows:
            known = sorted({m for m, _ in self.metrics(run_id)})
            if known and metric not in known:
                raise LanternError(
                    f"run #{run_id} has no scores for metric '{metric}'",
                    WHERE,
                    f"its metrics: {', '.join(known)}",
                )
        return rows

    def pass_rates(self, run_id: int) -> list[PassRate]:
        """Passed / trained replicates per manipulation and sweep point, in the order first stored."""
        counts: dict[tuple[str, float, float], list[int]] = {}
        for rep in self.replicates(run_id):
            entry = counts.setdefault((rep.manipulation, rep.strength, rep.r), [0, 0])
            entry[0] += int(rep.passed)
            entry[1] += 1
        return [PassRate(m, s, r, passed, total) for (m, s, r), (passed, total) in counts.items()]

    def gallery_path(self, run_id: int) -> Path | None:
        """The newest galleries file of the run; None when there is none or its file is gone."""
        artifacts = self._store.artifacts.for_run(run_id, kind=GALLERY_KIND)
        if not artifacts:
            return None
        try:
            return self._store.artifacts.path(artifacts[-1])
        except ArtifactMissing:
            return None

    def experiments(self) -> list[ExperimentRecord]:
        """Every attribution experiment, newest first."""
        with self._store.session() as session:
            runs = list(
                session.scalars(select(Run).where(Run.kind == EXPERIMENT_KIND).order_by(Run.id.desc()))
            )
            counts: dict[int, tuple[int, int]] = {}
            if runs:
                passed = func.sum(cast(AttributionReplicate.passed, Integer))
                for run_id, total, n_passed in session.execute(
                    select(AttributionReplicate.run_id, func.count(), passed)
                    .where(AttributionReplicate.run_id.in_([run.id for run in runs]))
                    .group_by(AttributionReplicate.run_id)
                ):
                    counts[run_id] = (int(total), int(n_passed or 0))
        records = []
        for run in runs:
            total, n_passed = counts.get(run.id, (0, 0))
            records.append(
                ExperimentRecord(
                    run_id=run.id,
                    name=run.name,
                    status=run.status,
                    config=dict(run.config or {}),
                    pass_rate=n_passed / total if total else 0.0,
                    created_at=run.created_at,
                    gallery_path=self.gallery_path(run.id),
                    replicates=total,
                    passed=n_passed,
                    job_id=run.job_id,
                    finished_at=run.finished_at,
                )
            )
        return records

    def experiment(self, run_id: int) -> ExperimentRecord:
        for record in self.experiments():
            if record.run_id == run_id:
                return record
        raise LanternError(
            f"run #{run_id} is not an attribution experiment", WHERE, "pick an attribution experiment's run"
        )

    # export

    def leaderboard_csv(self, run_id: int, metric: str | None = None, condition: str | None = None) -> str:
        """The leaderboard as CSV text: every (metric, condition) of the run unless one is named."""
        self._check_run(run_id)
        pairs = [
            (m, c)
            for m, c in self.metrics(run_id)
            if (metric is None or m == metric) and (condition is None or c == condition)
        ]
        replicates = self.replicates(run_id)
        scores = self.scores(run_id)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for m, c in pairs:
            for row in aggregate(replicates, scores, m, c):
                writer.writerow(
                    [
                        row.manipulation,
                        repr(row.strength),
                        repr(row.r),
                        row.method,
                        row.metric,
                        row.condition,
                        repr(row.mean),
                        repr(row.std),
                        row.n_runs,
                        repr(row.region_share),
                        "" if row.bound is None else repr(row.bound),
                    ]
                )
        return buffer.getvalue()

    def export_csv(
        self, run_id: int, path: Path | str, metric: str | None = None, condition: str | None = None
    ) -> int:
        """Write leaderboard_csv to `path` (whole or not at all); returns the number of data rows."""
        text = self.leaderboard_csv(run_id, metric, condition)
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise LanternError(
                f"cannot write the CSV file ({exc.strerror or exc})", str(target), "choose a writable folder"
            ) from exc
        return text.count("\n") - 1

    def replicate_keys(self, run_id: int) -> set[tuple[str, float, float, int]]:
        """(manipulation, strength, r, replicate) of every stored replicate: what a resumed run skips."""
        return {rep.key for rep in self.replicates(run_id)}

    def summary(self, run_id: int, metric: str = "attr_pct") -> dict[str, Any]:
        """A JSON-ready digest: pass rates and the leaderboard of every condition for one metric."""
        return {
            "run_id": run_id,
            "pass_rates": [
                {
                    "manipulation": p.manipulation,
                    "strength": p.strength,
                    "r": p.r,
                    "passed": p.passed,
                    "total": p.total,
                    "rate": p.rate,
                }
                for p in self.pass_rates(run_id)
            ],
            "leaderboard": {
                condition: [_row_dict(row) for row in self.leaderboard(run_id, metric, condition)]
                for condition in CONDITIONS
            },
        }


def _row_dict(row: LeaderboardRow) -> dict[str, Any]:
    return {
        "manipulation": row.manipulation,
        "strength": row.strength,
        "r": row.r,
        "method": row.method,
        "mean": row.mean,
        "std": row.std,
        "n_runs": row.n_runs,
        "region_share": row.region_share,
        "bound": row.bound,
    }


def unproven(replicates: list[ReplicateRecord], min_accuracy: float) -> list[str]:
    """A message for each manipulation (and sweep point) none of whose runs passed the accuracy bar.

    Such a model never showed that it uses the manipulation, so its attributions have no ground truth and
    are left out of the leaderboard; the message says how close it came and what to change.
    """
    groups: dict[tuple[str, float, float], list[ReplicateRecord]] = {}
    for rep in replicates:
        groups.setdefault((rep.manipulation, rep.strength, rep.r), []).append(rep)
    messages = []
    for (manipulation, strength, r), reps in groups.items():
        if any(rep.passed for rep in reps):
            continue
        best = max(rep.val_accuracy for rep in reps)
        messages.append(
            f"no run of {manipulation} (strength {strength:g}, r {r:g}) reached the accuracy bar: best "
            f"validation accuracy {best:.3f} against {min_accuracy:g} (p* {reps[0].p_star:.3f}), so its "
            "model never proved it uses the manipulation and nothing of it is scored. Train longer "
            "(train.max_epochs), raise the strength, use a larger model, or lower train.min_accuracy "
            "(it must stay above p*)."
        )
    return messages
