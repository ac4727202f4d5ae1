"""A long-lived engine process for interactive requests (one forward pass, one attribution map).

Ops are registered with `register_op(name)`: `fn(cache, **args) -> dict`, where `cache` is a dict that
lives as long as the server process, so models loaded by the first call answer the next ones at once.
`cache["store_url"]` holds the URL the engine was opened with, and `cached_store(cache)` opens that
store once. Requests and answers are JSON, so no tensor (and no torch import) ever reaches the caller.

The caller (`InteractiveEngine`) starts the server lazily with `spawn`, restarts it once when it died,
and turns op failures into LanternError.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import json
import logging
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any

from engine.core import errors
from engine.core.errors import LanternError
from engine.core.paths import HOME_ENV

log = logging.getLogger(__name__)

# Modules that register ops; imported inside the server process only.
OP_MODULES = ("engine.demo.ops", "engine.attribution.ops", "engine.rl.ops", "engine.augment.ops")
STORE_URL_KEY = "store_url"
_STORE_KEY = "_store"
SHUTDOWN_OP = "__shutdown__"
CLOSE_WAIT_S = 3.0

OpFunction = Callable[..., dict[str, Any]]
_OPS: dict[str, OpFunction] = {}


def register_op(name: str) -> Callable[[OpFunction], OpFunction]:
    """Decorator: make `fn(cache, **args) -> dict` callable as `InteractiveEngine.call(name, **args)`."""

    def decorate(function: OpFunction) -> OpFunction:
        if name in _OPS and _OPS[name] is not function:
            raise ValueError(f"interactive op {name!r} is registered twice")
        _OPS[name] = function
        return function

    return decorate


def cached_store(cache: dict[str, Any]) -> Any:
    """The store named by the engine's store URL, opened once per server process."""
    if _STORE_KEY not in cache:
        from engine.store import open_store

        cache[_STORE_KEY] = open_store(url=cache.get(STORE_URL_KEY))
    return cache[_STORE_KEY]


# the server process


def _error_payload(request_id: Any, exc: BaseException, op: str) -> dict[str, Any]:
    if isinstance(exc, LanternError):
        error = exc.to_dict()
    else:
        error = {
            "what": f"'{op}' failed: {type(exc).__name__}: {exc}",
            "where": f"interactive operation '{op}'",
            "hint": "this is a bug in the operation: report it with the traceback (also in engine.log)",
            "type": type(exc).__name__,
            "traceback": traceback.format_exc(),
        }
    return {"id": request_id, "ok": False, "error": error}


def _answer(request: dict[str, Any], cache: dict[str, Any], load_errors: dict[str, str]) -> dict[str, Any]:
    request_id, op, args = request.get("id"), str(request.get("op")), request.get("args") or {}
    try:
        function = _OPS.get(op)
        if function is None:
            broken = "; ".join(f"{module}: {error}" for module, error in load_errors.items())
            raise LanternError(
                f"unknown interactive operation '{op}'",
                "interactive engine",
                f"known operations: {', '.join(sorted(_OPS)) or 'none'}"
                + (f" (modules that failed to load: {broken})" if broken else ""),
            )
        value = function(cache, **args)
        if not isinstance(value, dict):
            raise LanternError(
                f"'{op}' answered with a {type(value).__name__}, not a dict",
                f"interactive operation '{op}'",
                "return a dict of plain values",
            )
        json.dumps(value)  # fail here, inside the op's error handling, rather than in the send
        return {"id": request_id, "ok": True, "value": value}
    except Exception as exc:
        log.warning("interactive op %s failed: %s", op, exc)
        return _error_payload(request_id, exc, op)


def serve(conn: Any, op_modules: tuple[str, ...], store_url: str | None, home: str | None) -> None:
    """The server loop: one JSON request in, one JSON answer out, until the caller hangs up."""
    if home:
        os.environ[HOME_ENV] = home
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller decides when this process ends
    from engine.core.logging_setup import configure_logging
    from engine.jobs.worker import limit_torch_threads

    configure_logging("engine.log")
    limit_torch_threads()
    load_errors: dict[str, str] = {}
    for module in op_modules:
        try:
            importlib.import_module(module)
        except Exception as exc:
            # Reported with every unknown-op answer instead of killing the server, so ops from
            # the other modules keep working.
            log.exception("cannot import interactive op module %s", module)
            load_errors[module] = f"{type(exc).__name__}: {exc}"
    cache: dict[str, Any] = {STORE_URL_KEY: store_url}
    log.info("interactive engine %s serving %d ops", os.getpid(), len(_OPS))
    try:
        while True:
            try:
                request = json.loads(conn.recv_bytes())
            except (EOFError, OSError):
                break
            if request.get("op") == SHUTDOWN_OP:
                break
            conn.send_bytes(json.dumps(_answer(request, cache, load_errors)).encode("utf-8"))
    finally:
        store = cache.get(_STORE_KEY)
        if store is not None:
            store.close()
        conn.close()


# the caller's side


class _ServerDied(Exception):  # internal control flow, never leaves this module
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _remote_error(error: dict[str, Any]) -> LanternError:
    """Rebuild the op's error, keeping its LanternError subclass when it is one of engine.core.errors."""
    kind = getattr(errors, str(error.get("type", "")), None)
    cls = kind if isinstance(kind, type) and issubclass(kind, LanternError) else LanternError
    exc = cls(str(error.get("what", "")), str(error.get("where", "")), str(error.get("hint", "")))
    exc.remote_traceback = error.get("traceback")  # type: ignore[attr-defined]
    return exc


class InteractiveEngine:
    """The caller's handle on the interactive engine process; `call` is thread-safe and blocking."""

    def __init__(
        self,
        store_url: str | None = None,
        home: str | None = None,
        on_restart: Callable[[str], None] | None = None,
        op_modules: tuple[str, ...] | None = None,
    ) -> None:
        self.store_url = store_url
        self.home = home if home is not None else os.environ.get(HOME_ENV)
        self.on_restart = on_restart
        self.op_modules = tuple(op_modules) if op_modules is not None else OP_MODULES
        self.restarts = 0
        self._lock = threading.Lock()
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._conn: Any = None
        self._ids = itertools.count(1)
        self._death: str | None = None  # why the last server ended, until the next one starts

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.is_alive() else None

    def call(self, op: str, timeout: float = 120.0, **args: Any) -> dict[str, Any]:
        """Run `op(**args)` in the engine process and return its answer (a dict)."""
        with self._lock:
            try:
                return self._call_once(op, timeout, args)
            except _ServerDied as died:
                first = died.reason
            try:
                return self._call_once(op, timeout, args)
            except _ServerDied as died:
                raise LanternError(
                    f"the interactive engine stopped twice while running '{op}' ({died.reason})",
                    f"interactive operation '{op}'",
                    f"first time: {first}. The operation may crash the engine (out of memory?): try a "
                    "smaller input. The next request starts the engine afresh.",
                ) from None

    def close(self) -> None:
        """Stop the engine process (politely first)."""
        with self._lock:
            self._stop(polite=True)

    # internals (called with the lock held)
    def _call_once(self, op: str, timeout: float, args: dict[str, Any]) -> dict[str, Any]:
        self._ensure_started()
        request_id = next(self._ids)
        try:
            payload = json.dumps({"id": request_id, "op": op, "args": args})
        except (TypeError, ValueError) as exc:
            raise LanternError(
                f"the arguments of '{op}' are not plain values ({exc})",
                f"interactive operation '{op}'",
                "pass numbers, strings, lists and dicts",
            ) from exc
        try:
            self._conn.send_bytes(payload.encode("utf-8"))
        except (BrokenPipeError, EOFError, OSError) as exc:
            raise self._died(f"it could not be reached ({exc})") from None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._stop(polite=False)
                raise LanternError(
                    f"'{op}' did not answer within {timeout:g} s",
                    f"interactive operation '{op}'",
                    "the engine was stopped and starts afresh with the next request; "
                    "try a smaller input or allow a longer timeout",
                )
            ready = wait([self._conn, self._process.sentinel], remaining)
            if self._conn in ready:
                try:
                    answer = json.loads(self._conn.recv_bytes())
                except (EOFError, OSError):
                    raise self._died("it hung up") from None
                if answer.get("id") != request_id:
                    continue  # a late answer to a request that timed out
                if answer.get("ok"):
                    return answer["value"]
                raise _remote_error(answer.get("error") or {})
            if self._process.sentinel in ready:
                raise self._died("it ended")

    def _died(self, how: str) -> _ServerDied:
        from engine.jobs.runner import describe_exit

        process = self._process
        process.join(CLOSE_WAIT_S)
        if process.is_alive():
            process.kill()
            process.join()
        reason = f"the interactive engine process {process.pid} {how}: {describe_exit(process.exitcode)}"
        log.warning(reason)
        self._discard()
        self._death = reason
        return _ServerDied(reason)

    def _ensure_started(self) -> None:
        if self._process is not None and self._process.is_alive():
            return
        if self._process is not None:
            self._died("ended while idle")
        receiver, sender = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=serve,
            args=(sender, self.op_modules, self.store_url, self.home),
            name="lantern-interactive",
            daemon=True,  # never outlives the app; holds nothing that must be saved
        )
        process.start()
        sender.close()
        self._process, self._conn = process, receiver
        log.info("interactive engine started in process %s", process.pid)
        if self._death is not None:
            reason, self._death = self._death, None
            self.restarts += 1
            if self.on_restart is not None:
                try:
                    self.on_restart(reason)
                except Exception:
                    log.exception("the on_restart callback failed")

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None

    def _stop(self, polite: bool) -> None:
        process = self._process
        if process is None:
            return
        if polite and process.is_alive():
            with contextlib.suppress(OSError):
                self._conn.send_bytes(json.dumps({"op": SHUTDOWN_OP}).encode("utf-8"))
            process.join(CLOSE_WAIT_S)
        if process.is_alive():
            process.terminate()
            process.join(CLOSE_WAIT_S)
        if process.is_alive():
            process.kill()
            process.join()
        self._discard()
