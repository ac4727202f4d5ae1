"""Start jobs in spawned worker processes, relay their events, cancel them, and notice when they die.

Qt-free and torch-free: the GUI (through a thin bridge), the CLI and the tests drive jobs with the same
code. Events arrive on a reader thread per job; the callback runs there, never on the caller's thread
(except the "cancelling" notice that `cancel` delivers itself).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from engine.core.errors import LanternError, SpecError
from engine.core.paths import HOME_ENV
from engine.jobs import events
from engine.jobs.events import Event, ProtocolError
from engine.jobs.registry import get_job_type, validate_spec
from engine.jobs.worker import run_job_process
from engine.store.database import Store
from engine.store.jobs import FINAL_JOB_STATES
from engine.store.records import JobRecord

log = logging.getLogger(__name__)

EventCallback = Callable[[Event], None]

EXIT_WAIT_S = 30.0  # how long a worker that closed its pipe may take to exit before it is stopped
RESUMABLE_STATES = ("interrupted", "failed", "cancelled")


def describe_exit(code: int | None) -> str:
    """A process exit code in words: 'exit code 1', 'killed by signal SIGKILL (exit code -9)'."""
    if code is None:
        return "exit code unknown"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        text = f"killed by signal {name} (exit code {code})"
        if -code == signal.SIGKILL:
            text += "; the system may have run out of memory, or someone ran kill -9"
        return text
    return f"exit code {code}"


class JobHandle:
    """One started job: wait for it, ask whether it still runs."""

    def __init__(
        self, runner: JobRunner, job_id: int, process: Any, cancel_event: Any, on_event: EventCallback | None
    ) -> None:
        self.job_id = job_id
        self._runner = runner
        self._on_event = on_event
        self._process = process
        self._cancel_event = cancel_event
        self._finished = threading.Event()
        self._deliver_lock = threading.RLock()  # the callback may itself call runner.cancel
        self._final_delivered = False
        self._cancel_requested = False
        self._forced: str | None = None  # how the cancel watchdog stopped the process, if it had to

    @property
    def pid(self) -> int | None:
        """The worker's process id (for diagnostics; the store also records it once the job runs)."""
        return self._process.pid

    def wait(self, timeout: float | None = None) -> JobRecord | None:
        """Wait for the worker process and its event reader; the job's final record, None on timeout."""
        if not self._finished.wait(timeout):
            return None
        return self._runner.store.jobs.get(self.job_id)

    def is_running(self) -> bool:
        return not self._finished.is_set()


class JobRunner:
    """Runs registered jobs in `spawn`ed processes against one store."""

    def __init__(self, store: Store, *, grace_s: float = 5.0, kill_after_s: float = 5.0) -> None:
        self.store = store
        self.grace_s = grace_s
        self.kill_after_s = kill_after_s
        self._handles: dict[int, JobHandle] = {}
        self._lock = threading.Lock()
        self._context = multiprocessing.get_context("spawn")

    # starting
    def submit(
        self, document: dict[str, Any], on_event: EventCallback | None = None, *, resume_of: int | None = None
    ) -> JobHandle:
        """Validate the spec (SpecError before anything is stored), record the job, start its process."""
        job_type, params = validate_spec(document)
        job_id = self.store.jobs.create(job_type.name, params.model_dump(mode="json"), resume_of=resume_of)
        receiver, sender = self._context.Pipe(duplex=False)
        cancel_event = self._context.Event()
        process = self._context.Process(
            target=run_job_process,
            args=(
                job_id,
                self.store.url,
                str(self.store.artifacts_dir),
                os.environ.get(HOME_ENV),
                sender,
                cancel_event,
            ),
            name=f"lantern-job-{job_id}",
            daemon=False,  # a daemonic process may not start children (data loader workers)
        )
        try:
            process.start()
        except Exception as exc:
            receiver.close()
            sender.close()
            reason = f"the engine process could not be started ({type(exc).__name__}: {exc})"
            self.store.jobs.set_status(job_id, "failed", error=reason, message=reason)
            raise LanternError(
                reason, f"job #{job_id} ({job_type.name})", "check free memory and the log file"
            ) from exc
        # Our copy of the sending end must go, or the reader would never see the worker hang up.
        sender.close()
        self._record_pid(job_id, process.pid)
        handle = JobHandle(self, job_id, process, cancel_event, on_event)
        with self._lock:
            self._handles[job_id] = handle
        log.info("job %s (%s) started in process %s", job_id, job_type.name, process.pid)
        reader = threading.Thread(
            target=self._read, args=(handle, receiver), name=f"lantern-job-{job_id}-events", daemon=True
        )
        reader.start()
        return handle

    def _record_pid(self, job_id: int, pid: int | None) -> None:
        """Store the worker's pid at once: a queued job without one looks abandoned to recover_dead
        (run by any other Lantern process meanwhile) during the seconds the worker takes to start."""
        from sqlalchemy import update

        from engine.store.models import Job

        try:
            with self.store.session() as session:
                session.execute(
                    update(Job).where(Job.id == job_id, Job.status == "queued").values(pid=pid),
                    execution_options={"synchronize_session": False},
                )
        except Exception:  # the worker records its pid itself moments later; never orphan it over this
            log.exception("job %s: could not record the worker's pid", job_id)

    def resume(self, job_id: int, on_event: EventCallback | None = None) -> JobHandle:
        """Start a new job with the spec of an interrupted/failed/cancelled one, from its last checkpoint."""
        record = self.store.jobs.get(job_id)
        if record is None:
            raise LanternError(
                f"there is no job #{job_id}", self.store.display_url, "list the jobs with 'lantern jobs list'"
            )
        if record.status not in RESUMABLE_STATES:
            raise LanternError(
                f"job #{job_id} is {record.status}; only interrupted, failed or cancelled jobs resume",
                f"job #{job_id} ({record.name})",
                "wait for it to end, or cancel it first" if record.is_active else "start a new job instead",
            )
        job_type = get_job_type(record.name)
        if not job_type.resumable:
            raise LanternError(
                f"jobs of type '{record.name}' cannot be resumed (they keep no checkpoints)",
                f"job #{job_id}",
                "run the job again instead",
            )
        for other in self.store.jobs.list(active_only=True):
            if other.resume_of == job_id:
                raise LanternError(
                    f"job #{job_id} is already being resumed by job #{other.id}",
                    f"job #{other.id}",
                    "wait for that job, or cancel it first",
                )
        return self.submit({"job": record.name, "params": record.spec}, on_event, resume_of=job_id)

    # stopping
    def cancel(self, job_id: int) -> bool:
        """Ask a job to stop at its next step; terminate it after grace_s, kill it kill_after_s later."""
        requested = self.store.jobs.request_cancel(job_id)
        with self._lock:
            handle = self._handles.get(job_id)
        if handle is None or not handle.is_running():
            return requested
        with handle._deliver_lock:
            if handle._cancel_requested:
                return True
            handle._cancel_requested = True
        handle._cancel_event.set()
        self._deliver(handle, events.status(job_id, "cancelling", "stopping at the next step"))
        threading.Thread(
            target=self._enforce_cancel, args=(handle,), name=f"lantern-job-{job_id}-cancel", daemon=True
        ).start()
        return True

    def active(self) -> list[JobHandle]:
        with self._lock:
            return [handle for handle in self._handles.values() if handle.is_running()]

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel every active job and wait for them; whatever still runs at the deadline is killed."""
        handles = self.active()
        for handle in handles:
            self.cancel(handle.job_id)
        deadline = time.monotonic() + timeout
        for handle in handles:
            if handle._finished.wait(max(0.0, deadline - time.monotonic())):
                continue
            log.warning("job %s did not stop within %.1f s of shutdown; killing it", handle.job_id, timeout)
            handle._forced = f"killed when the app shut down ({timeout:g} s after the cancel request)"
            handle._process.kill()
            handle._finished.wait(5.0)

    def _enforce_cancel(self, handle: JobHandle) -> None:
        sentinel = handle._process.sentinel
        if wait([sentinel], self.grace_s):
            return
        log.warning("job %s ignored the cancel request for %.1f s; terminating", handle.job_id, self.grace_s)
        handle._forced = f"terminated {self.grace_s:g} s after the cancel request"
        handle._process.terminate()
        if wait([sentinel], self.kill_after_s):
            return
        log.warning("job %s survived SIGTERM for %.1f s; killing it", handle.job_id, self.kill_after_s)
        handle._forced = f"killed {self.grace_s + self.kill_after_s:g} s after the cancel request"
        handle._process.kill()

    # events
    def _deliver(self, handle: JobHandle, event: Event) -> None:
        on_event = handle._on_event
        with handle._deliver_lock:
            if event.type == "status":
                state = event.get("status")
                if handle._final_delivered and state not in FINAL_JOB_STATES:
                    return  # a late "cancelling" after the verdict would only confuse the listener
                if state in FINAL_JOB_STATES:
                    handle._final_delivered = True
            if on_event is None:
                return
            try:
                on_event(event)
            except Exception:
                log.exception("job %s: the event callback failed on a %s event", handle.job_id, event.type)

    def _read(self, handle: JobHandle, conn: Connection) -> None:
        sentinel = handle._process.sentinel
        try:
            self._deliver(handle, events.status(handle.job_id, "queued", "starting the engine process"))
            while True:
                ready = wait([conn, sentinel])
                if conn in ready:
                    try:
                        data = conn.recv_bytes()
                    except (EOFError, OSError):
                        break
                    self._receive(handle, data)
                    continue
                # The process ended, yet a process it forked may still hold the pipe open:
                # take what is already there and stop reading.
                while True:
                    try:
                        if not conn.poll(0):
                            break
                        data = conn.recv_bytes()
                    except (EOFError, OSError):
                        break
                    self._receive(handle, data)
                break
        except Exception:
            log.exception("job %s: the event reader failed", handle.job_id)
        finally:
            conn.close()
            try:
                self._conclude(handle)
            except Exception:
                log.exception("job %s: could not conclude the job", handle.job_id)
            finally:
                with self._lock:
                    self._handles.pop(handle.job_id, None)
                handle._finished.set()

    def _receive(self, handle: JobHandle, data: bytes) -> None:
        try:
            event = Event.from_json(data)
        except ProtocolError as exc:
            log.warning("job %s sent a malformed event: %s", handle.job_id, exc)
            return
        self._deliver(handle, event)

    def _conclude(self, handle: JobHandle) -> None:
        """After the pipe closed: reap the process and make sure the store and the listener have a verdict."""
        process, job_id = handle._process, handle.job_id
        process.join(EXIT_WAIT_S)
        if process.is_alive():
            log.warning("job %s closed its pipe but did not exit within %.0f s", job_id, EXIT_WAIT_S)
            process.terminate()
            process.join(5.0)
            if process.is_alive():
                process.kill()
                process.join()
        how = describe_exit(process.exitcode)
        try:
            record = self.store.jobs.get(job_id)
        except Exception as exc:
            log.exception("job %s: cannot read its record after the process ended", job_id)
            reason = f"the engine process ended ({how}) and the store cannot be read ({exc})"
            self._deliver(handle, events.status(job_id, "interrupted", reason))
            return
        if record is None:
            self._deliver(handle, events.status(job_id, "interrupted", "the job record is gone"))
            return
        if record.status in FINAL_JOB_STATES:
            if not handle._final_delivered:
                # The worker recorded its verdict but could not tell us (its pipe broke first).
                message = record.error or record.message or record.status
                self._deliver(handle, events.status(job_id, record.status, message))
            return
        if handle._cancel_requested or record.status == "cancelling":
            if handle._forced:
                message = f"stopped forcibly: the job did not stop by itself and was {handle._forced}"
            else:
                message = f"cancelled; the engine process ended before recording it ({how})"
            self.store.jobs.set_status(job_id, "cancelled", message=message, error=message)
            for run in self.store.runs.for_job(job_id):
                if run.status == "running":
                    self.store.runs.finish(run.id, "cancelled")
            log.warning("job %s: %s", job_id, message)
            self._deliver(handle, events.status(job_id, "cancelled", message))
            return
        reason = f"the engine process ended without finishing the job ({how})"
        self.store.jobs.mark_interrupted(job_id, reason)
        log.warning("job %s interrupted: %s", job_id, reason)
        hint = "resume it (lantern jobs resume ID) or run it again; the log file engine.log may say more"
        self._deliver(
            handle, events.error(job_id, reason, f"job #{job_id} ({record.name})", hint, "JobInterrupted")
        )
        self._deliver(handle, events.status(job_id, "interrupted", reason))


def run_spec_file(path: Path) -> dict[str, Any]:
    """Read a JSON job spec; SpecError with the file, line and column when it cannot be parsed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SpecError("the spec file does not exist", str(path), "check the path") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"the spec file cannot be read ({exc})", str(path), "save it as UTF-8 text") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"the spec file is not valid JSON: {exc.msg}",
            f"{path}, line {exc.lineno}, column {exc.colno}",
            'a spec looks like {"job": "NAME", "params": {...}}',
        ) from exc
    if not isinstance(document, dict):
        raise SpecError(
            f"the spec file holds a JSON {type(document).__name__}, not an object",
            str(path),
            'write {"job": "NAME", "params": {...}}',
        )
    return document
