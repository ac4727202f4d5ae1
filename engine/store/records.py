"""Plain, detached records the repositories return, safe to hand across threads and to the GUI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class RunRecord:
    id: int
    name: str
    kind: str
    status: str
    config: dict[str, Any]
    summary: dict[str, Any]
    device: str
    device_name: str
    dtype: str
    seed: int | None
    job_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None


@dataclass(frozen=True)
class MetricSeries:
    run_id: int
    name: str
    steps: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class ArtifactRecord:
    id: int
    run_id: int | None
    kind: str
    name: str
    sha256: str
    size: int
    relpath: str
    meta: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class JobRecord:
    id: int
    name: str
    spec: dict[str, Any]
    status: str
    pid: int | None
    progress_done: float
    progress_total: float
    message: str
    error: str | None
    traceback: str | None
    result: dict[str, Any] | None
    resume_of: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def is_active(self) -> bool:
        return self.status in ("queued", "running", "cancelling")
