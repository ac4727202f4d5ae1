"""Job records: the persisted state machine of engine work (queued ... done / failed / interrupted)."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select, update

from engine.store.models import ACTIVE_JOB_STATES, JOB_STATES, Job, Run, utcnow
from engine.store.records import JobRecord

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.store.database import Store

FINAL_JOB_STATES = ("cancelled", "failed", "done", "interrupted")


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited but not been reaped: it is not running the job any more.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _record(job: Job) -> JobRecord:
    return JobRecord(
        id=job.id,
        name=job.name,
        spec=dict(job.spec or {}),
        status=job.status,
        pid=job.pid,
        progress_done=job.progress_done,
        progress_total=job.progress_total,
        message=job.message,
        error=job.error,
        traceback=job.traceback,
        result=job.result,
        resume_of=job.resume_of,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


class JobRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    def create(self, name: str, spec: dict[str, Any], resume_of: int | None = None) -> int:
        with self._store.session() as session:
            job = Job(name=name, spec=spec, status="queued", resume_of=resume_of, message="queued")
            session.add(job)
            session.flush()
            return job.id

    def get(self, job_id: int) -> JobRecord | None:
        with self._store.session() as session:
            job = session.get(Job, job_id)
            return _record(job) if job else None

    def list(self, limit: int = 200, active_only: bool = False) -> list[JobRecord]:
        query = select(Job).order_by(Job.id.desc()).limit(limit)
        if active_only:
            query = query.where(Job.status.in_(ACTIVE_JOB_STATES))
        with self._store.session() as session:
            return [_record(job) for job in session.scalars(query)]

    def set_status(self, job_id: int, status: str, **fields: Any) -> None:
        """Move a job to `status`; a job already in a final state keeps it (the first verdict wins)."""
        if status not in JOB_STATES:
            raise ValueError(f"unknown job state {status!r}")
        unknown = set(fields) - set(Job.__table__.columns.keys())
        if unknown:
            raise ValueError(f"jobs have no field(s) {sorted(unknown)}")
        values: dict[str, Any] = {**fields, "status": status}
        if status == "running":
            # A cancel requested before the worker got going must survive the worker's "running".
            values["status"] = case((Job.status == "cancelling", "cancelling"), else_="running")
            values["host"] = case((Job.started_at.is_(None), socket.gethostname()), else_=Job.host)
            values["started_at"] = func.coalesce(Job.started_at, utcnow())
        if status in FINAL_JOB_STATES:
            values["finished_at"] = utcnow()
        # One conditional UPDATE, not read-then-write: a verdict another process commits in between
        # (the worker's "done" against the GUI's cancel) is seen by the WHERE and never overwritten.
        with self._store.session() as session:
            session.execute(
                update(Job).where(Job.id == job_id, Job.status.not_in(FINAL_JOB_STATES)).values(values),
                execution_options={"synchronize_session": False},
            )

    def set_progress(self, job_id: int, done: float, total: float, message: str = "") -> None:
        with self._store.session() as session:
            job = session.get(Job, job_id)
            if job is not None:
                job.progress_done, job.progress_total = done, total
                if message:
                    job.message = message

    def request_cancel(self, job_id: int) -> bool:
        """Ask a job to stop; the worker sees this between steps (also from another process or host)."""
        with self._store.session() as session:
            result = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status.in_(ACTIVE_JOB_STATES))
                .values(status="cancelling"),
                execution_options={"synchronize_session": False},
            )
            return bool(result.rowcount)

    def cancel_requested(self, job_id: int) -> bool:
        with self._store.session() as session:
            return session.scalar(select(Job.status).where(Job.id == job_id)) == "cancelling"

    def mark_interrupted(self, job_id: int, reason: str) -> bool:
        """Record that a job's process died without a verdict; its running runs become interrupted too."""
        now = utcnow()
        with self._store.session() as session:
            result = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status.not_in(FINAL_JOB_STATES))
                .values(status="interrupted", error=reason, finished_at=now),
                execution_options={"synchronize_session": False},
            )
            if not result.rowcount:
                return False
            # Same transaction as the job, so a crash here never leaves its runs "running" forever.
            session.execute(
                update(Run)
                .where(Run.job_id == job_id, Run.status == "running")
                .values(status="interrupted", finished_at=now),
                execution_options={"synchronize_session": False},
            )
        return True

    def recover_dead(self, is_alive: Callable[[int | None], bool] = pid_alive) -> list[int]:
        """At start-up: jobs left active by a process that is gone are marked interrupted."""
        host = socket.gethostname()
        with self._store.session() as session:
            candidates = [
                (job.id, job.pid, job.host, job.status)
                for job in session.scalars(select(Job).where(Job.status.in_(ACTIVE_JOB_STATES)))
            ]
        recovered = []
        for job_id, pid, job_host, status in candidates:
            if job_host not in (None, host):
                continue  # another machine's worker on a shared store; not ours to judge
            if status == "queued" and pid is None:
                reason = "the app closed before this job started"
            elif is_alive(pid):
                continue
            else:
                reason = f"the engine process (pid {pid}) ended without finishing the job"
            if self.mark_interrupted(job_id, reason):
                recovered.append(job_id)
        return recovered
