"""Runs and their metric series: create, finish, list, filter, read curves."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from engine.core.device import DeviceChoice
from engine.store.models import MetricPoint, Run, utcnow
from engine.store.records import MetricSeries, RunRecord

if TYPE_CHECKING:
    from engine.store.database import Store


def _record(run: Run) -> RunRecord:
    return RunRecord(
        id=run.id,
        name=run.name,
        kind=run.kind,
        status=run.status,
        config=dict(run.config or {}),
        summary=dict(run.summary or {}),
        device=run.device,
        device_name=run.device_name,
        dtype=run.dtype,
        seed=run.seed,
        job_id=run.job_id,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_s=run.duration_s,
    )


class RunRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    def create(
        self,
        *,
        name: str,
        kind: str,
        config: dict[str, Any],
        device: DeviceChoice,
        seed: int | None = None,
        job_id: int | None = None,
        dataset_id: int | None = None,
        workspace_id: int | None = None,
    ) -> int:
        now = utcnow()
        with self._store.session() as session:
            run = Run(
                name=name,
                kind=kind,
                config=config,
                device=device.device,
                device_name=device.name,
                dtype=device.dtype,
                seed=seed,
                job_id=job_id,
                dataset_id=dataset_id,
                workspace_id=workspace_id,
                status="running",
                created_at=now,
                started_at=now,
            )
            session.add(run)
            session.flush()
            return run.id

    def finish(self, run_id: int, status: str, summary: dict[str, Any] | None = None) -> None:
        with self._store.session() as session:
            run = session.get(Run, run_id)
            if run is None:
                return
            run.status = status
            if summary is not None:
                run.summary = {**(run.summary or {}), **summary}
            run.finished_at = utcnow()
            if run.started_at is not None:
                run.duration_s = (run.finished_at - run.started_at).total_seconds()

    def reopen(self, run_id: int) -> None:
        """Mark an interrupted run as running again when its job resumes."""
        with self._store.session() as session:
            run = session.get(Run, run_id)
            if run is not None:
                run.status = "running"
                run.finished_at = None

    def add_metrics(self, run_id: int, points: Iterable[tuple[str, float, float]]) -> None:
        """Append (name, step, value) points in one transaction."""
        rows = [MetricPoint(run_id=run_id, name=n, step=float(s), value=float(v)) for n, s, v in points]
        if not rows:
            return
        with self._store.session() as session:
            session.add_all(rows)

    def get(self, run_id: int) -> RunRecord | None:
        with self._store.session() as session:
            run = session.get(Run, run_id)
            return _record(run) if run else None

    def list(self, text: str = "", status: str | None = None, limit: int = 1000) -> list[RunRecord]:
        """Newest first; `text` matches the run's name, kind or status (case-insensitive)."""
        query = select(Run).order_by(Run.id.desc()).limit(limit)
        needle = text.strip()
        if needle:
            # autoescape: a '%' or '_' the user types is a character to find, not a wildcard.
            columns = (Run.name, Run.kind, Run.status)
            query = query.where(or_(*(column.icontains(needle, autoescape=True) for column in columns)))
        if status:
            query = query.where(Run.status == status)
        with self._store.session() as session:
            return [_record(run) for run in session.scalars(query)]

    def for_job(self, job_id: int) -> list[RunRecord]:
        with self._store.session() as session:
            query = select(Run).where(Run.job_id == job_id).order_by(Run.id)
            return [_record(r) for r in session.scalars(query)]

    def metrics(self, run_id: int, names: Iterable[str] | None = None) -> dict[str, MetricSeries]:
        """Every series of a run, keyed by metric name, points in step order."""
        query = select(MetricPoint.name, MetricPoint.step, MetricPoint.value)
        query = query.where(MetricPoint.run_id == run_id)
        wanted = list(names) if names is not None else None
        if wanted is not None:
            query = query.where(MetricPoint.name.in_(wanted))
        query = query.order_by(MetricPoint.name, MetricPoint.step, MetricPoint.id)
        series: dict[str, MetricSeries] = {}
        with self._store.session() as session:
            for name, step, value in session.execute(query):
                entry = series.setdefault(name, MetricSeries(run_id=run_id, name=name))
                entry.steps.append(step)
                entry.values.append(value)
        return series

    def mark_interrupted(self, job_id: int) -> None:
        """A job's process died: its unfinished runs are interrupted, not running forever."""
        with self._store.session() as session:
            for run in session.scalars(select(Run).where(Run.job_id == job_id, Run.status == "running")):
                run.status = "interrupted"
                run.finished_at = utcnow()
