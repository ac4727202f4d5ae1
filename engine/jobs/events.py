"""The one protocol between engine processes and their callers: structured events as JSON lines.

Every event is a JSON object with `type`, `job` (the job id) and `t` (seconds since the epoch),
plus the fields of its type:

    progress  done, total, message
    metric    run, name, step, value
    log       level, message
    artifact  id, run, kind, name, path
    status    status, message           (queued, running, cancelling, cancelled, failed, done, interrupted)
    result    value                     (a JSON object)
    error     what, where, hint, error_type, traceback
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

EVENT_TYPES = ("progress", "metric", "log", "artifact", "status", "result", "error")


class ProtocolError(ValueError):
    """A line that is not a well-formed event."""


@dataclass(frozen=True)
class Event:
    type: str
    job: int
    data: dict[str, Any] = field(default_factory=dict)
    t: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ProtocolError(f"unknown event type {self.type!r}")

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def to_json(self) -> str:
        return json.dumps({"type": self.type, "job": self.job, "t": self.t, **self.data}, default=str)

    @classmethod
    def from_json(cls, line: str | bytes) -> Event:
        try:
            document = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ProtocolError(f"not JSON: {line[:80]!r}") from exc
        if not isinstance(document, dict) or "type" not in document or "job" not in document:
            raise ProtocolError(f"not an event: {line[:80]!r}")
        kind = document.pop("type")
        job = document.pop("job")
        t = document.pop("t", time.time())
        return cls(type=kind, job=int(job), data=document, t=float(t))


def progress(job: int, done: float, total: float, message: str = "") -> Event:
    return Event("progress", job, {"done": done, "total": total, "message": message})


def metric(job: int, run: int | None, name: str, step: float, value: float) -> Event:
    return Event("metric", job, {"run": run, "name": name, "step": step, "value": value})


def log(job: int, message: str, level: str = "info") -> Event:
    return Event("log", job, {"level": level, "message": message})


def artifact(job: int, artifact_id: int, run: int | None, kind: str, name: str, path: str) -> Event:
    return Event("artifact", job, {"id": artifact_id, "run": run, "kind": kind, "name": name, "path": path})


def status(job: int, state: str, message: str = "") -> Event:
    return Event("status", job, {"status": state, "message": message})


def result(job: int, value: dict[str, Any]) -> Event:
    return Event("result", job, {"value": value})


def error(
    job: int, what: str, where: str = "", hint: str = "", error_type: str = "", traceback: str = ""
) -> Event:
    return Event(
        "error",
        job,
        {"what": what, "where": where, "hint": hint, "error_type": error_type, "traceback": traceback},
    )
