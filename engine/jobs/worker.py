"""The entry point of a spawned job process: run one stored job and persist its verdict in the store.

The worker, not its parent, writes the job's final state, so that a job survives the GUI (or CLI)
that started it: if the parent is gone, events are dropped and the work and the store writes go on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import Any

from engine.core.errors import JobCancelled, LanternError
from engine.core.paths import HOME_ENV
from engine.jobs import events
from engine.jobs.events import Event

log = logging.getLogger(__name__)

TORCH_THREADS_ENV = "LANTERN_TORCH_THREADS"


class _Emitter:
    """Sends events to the parent; after the first broken pipe it stops trying and the job goes on."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._lock = threading.Lock()  # a job may report from a helper thread
        self.parent_gone = False

    def __call__(self, event: Event) -> None:
        if self.parent_gone:
            return
        payload = event.to_json().encode("utf-8")
        with self._lock:
            try:
                self._conn.send_bytes(payload)
            except (BrokenPipeError, EOFError, OSError):
                self.parent_gone = True
                log.warning("job %s: the process that started it is gone; continuing without it", event.job)

    def close(self) -> None:
        with self._lock, contextlib.suppress(OSError):
            self._conn.close()


def limit_torch_threads() -> None:
    """Honour LANTERN_TORCH_THREADS (several workers sharing a machine); otherwise keep torch's default."""
    value = os.environ.get(TORCH_THREADS_ENV, "").strip()
    if not value:
        return
    try:
        threads = int(value)
        if threads < 1:
            raise ValueError(value)
    except ValueError:
        log.warning("ignoring %s=%r: it must be a positive whole number", TORCH_THREADS_ENV, value)
        return
    import torch

    torch.set_num_threads(threads)


def _json_value(value: Any) -> Any:
    """numpy and torch scalars/arrays become plain numbers and lists; anything else is refused."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _plain_result(name: str, result: Any) -> dict[str, Any]:
    if result is None:
        return {}
    if not isinstance(result, dict):
        raise LanternError(
            f"job '{name}' returned a {type(result).__name__}, not a dict",
            f"job function of '{name}'",
            "return a dict of plain values (numbers, strings, lists, dicts)",
        )
    try:
        return json.loads(json.dumps(result, default=_json_value))
    except (TypeError, ValueError) as exc:
        raise LanternError(
            f"job '{name}' returned a result that cannot be stored as JSON ({exc})",
            f"job function of '{name}'",
            "return plain numbers, strings, lists and dicts (store tensors as artifacts)",
        ) from exc


def _finish_open_run(context: Any, status: str) -> None:
    """Close the job's run if the job function left it running."""
    if context is None or context.run_id is None:
        return
    run = context.store.runs.get(context.run_id)
    if run is not None and run.status == "running":
        context.finish_run(status)


def run_job_process(
    job_id: int,
    store_url: str,
    artifacts_dir: str | None,
    home: str | None,
    conn: Any,
    cancel_event: Any,
) -> None:
    """Run stored job `job_id` to a verdict (done, cancelled or failed) and record it in the store."""
    if home:
        os.environ[HOME_ENV] = home
    # Ctrl+C in a terminal reaches the whole process group; the parent turns it into a cooperative
    # cancel, so the worker must not die of it half-way through a store write.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # stdout belongs to the parent (the CLI prints JSON there); whatever a job prints goes to stderr.
    try:
        sys.stdout.flush()
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        pass  # no console (a windowed, frozen app): nothing to protect

    from engine.core.logging_setup import configure_logging

    configure_logging("engine.log")
    emit = _Emitter(conn)
    try:
        _run(job_id, store_url, artifacts_dir, emit, cancel_event)
    finally:
        emit.close()


def _run(job_id: int, store_url: str, artifacts_dir: str | None, emit: _Emitter, cancel_event: Any) -> None:
    from engine.store import open_store

    try:
        store = open_store(url=store_url)
    except LanternError as exc:
        log.error("job %s: cannot open the store: %s", job_id, exc.message)
        emit(events.error(job_id, exc.what, exc.where, exc.hint, type(exc).__name__))
        emit(events.status(job_id, "failed", exc.what))
        return
    if artifacts_dir:
        store.artifacts_dir = Path(artifacts_dir)  # must be the parent's folder, whatever settings say
    try:
        _run_stored_job(job_id, store, emit, cancel_event)
    finally:
        store.close()


def _run_stored_job(job_id: int, store: Any, emit: _Emitter, cancel_event: Any) -> None:
    from engine.core.device import choose_device
    from engine.core.settings import load_settings
    from engine.jobs.context import JobContext
    from engine.jobs.registry import validate_spec

    record = store.jobs.get(job_id)
    if record is None:
        emit(events.error(job_id, f"job #{job_id} is not in the store", store.display_url, "", "StoreError"))
        emit(events.status(job_id, "failed", "job not found"))
        return
    context = None
    try:
        job_type, params = validate_spec({"job": record.name, "params": record.spec}, where=f"job #{job_id}")
        limit_torch_threads()
        settings = load_settings()
        device = choose_device(settings.device, settings.half_precision)
        store.jobs.set_status(job_id, "running", pid=os.getpid(), message=f"running on {device.device}")
        emit(events.status(job_id, "running", f"{job_type.title} on {device.device} ({device.name})"))
        log.info("job %s (%s) started on %s, pid %s", job_id, record.name, device.device, os.getpid())
        with tempfile.TemporaryDirectory(prefix=f"lantern-job-{job_id}-") as workdir:
            context = JobContext(
                job_id,
                store,
                emit,
                device,
                Path(workdir),
                cancel_flag=cancel_event.is_set,
                resume_of=record.resume_of,
            )
            context.check_cancelled()  # a cancel that came before the start
            result = _plain_result(record.name, job_type.function(context, params))
        _conclude(store, context, job_id, "done", emit, [events.result(job_id, result)], result=result)
        log.info("job %s done", job_id)
    except JobCancelled:
        _conclude(store, context, job_id, "cancelled", emit, [], message="cancelled by the user")
        log.info("job %s cancelled", job_id)
    except LanternError as exc:
        error = events.error(job_id, exc.what, exc.where, exc.hint, type(exc).__name__)
        _conclude(store, context, job_id, "failed", emit, [error], message=exc.what, error=exc.message)
        log.warning("job %s failed: %s", job_id, exc.message)
    except Exception as exc:
        text = traceback.format_exc()
        what = f"{type(exc).__name__}: {exc}"
        where = f"job '{record.name}' (#{job_id})"
        hint = "this is a bug in the job: report it with the traceback (also in engine.log)"
        error = events.error(job_id, what, where, hint, type(exc).__name__, text)
        _conclude(store, context, job_id, "failed", emit, [error], message=what, error=what, traceback=text)
        log.error("job %s crashed:\n%s", job_id, text)


def _conclude(
    store: Any, context: Any, job_id: int, status: str, emit: _Emitter, before: list[Event], **fields: Any
) -> None:
    """Persist the verdict first (it must outlive the parent), then tell the parent even if that failed."""
    try:
        _finish_open_run(context, status)
        store.jobs.set_status(job_id, status, **{"message": status, **fields})
    except Exception:
        log.exception("job %s: could not record its final state '%s' in the store", job_id, status)
    for event in before:
        emit(event)
    emit(events.status(job_id, status, str(fields.get("message", status))))
