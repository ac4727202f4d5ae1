"""The headless `lantern` commands: info, jobs, runs and db, over the same engine code the GUI uses.

Every user error is a LanternError, printed as `error: <message>` with exit code 2 (no traceback).
Jobs run through JobRunner exactly as they do from the GUI. torch is imported only by commands that
need it (info's device line, and the job processes themselves).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from engine import __version__
from engine.core.errors import LanternError

EXIT_OK, EXIT_JOB_NOT_DONE, EXIT_BAD_INPUT = 0, 1, 2

DESCRIPTION = """\
Lantern: a desktop workbench for interpretable model exploration.

With no arguments, `lantern` opens the desktop app. With a command it runs headless: the same
engine, store and jobs as the app, with no window. To run the app itself on a machine without a
display, use the offscreen platform: QT_QPA_PLATFORM=offscreen lantern"""

EPILOG = """\
examples:
  lantern info                        version, device, database, folders
  lantern jobs types                  the jobs you can run and their parameters
  lantern jobs run spec.json --json   run a job (Ctrl+C cancels it); print the result as JSON
  lantern jobs resume 12              continue an interrupted job from its last checkpoint
  lantern runs export 3 --csv m.csv   a run's metrics as CSV
  lantern ner simulate --json         active learning for NER: words needed per acquisition function

exit codes: 0 success, 1 the job did not finish 'done' (failed, cancelled, interrupted), 2 bad input."""


# output helpers


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _plain(value: Any) -> Any:
    """Records and datetimes as JSON-ready values."""
    if is_dataclass(value) and not isinstance(value, type):
        return {key: _plain(item) for key, item in asdict(value).items()}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _print_json(value: Any) -> None:
    _out(json.dumps(_plain(value), indent=2, default=str))


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    for row in [headers, *rows]:
        _out("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


# the store


@contextmanager
def _opened_store(migrate: bool = True) -> Iterator[Any]:
    """Open (and migrate) the configured store; jobs whose process is gone become interrupted."""
    from engine.store import open_store

    store = open_store(migrate=migrate)
    try:
        store.jobs.recover_dead()
        yield store
    finally:
        store.close()


def _revision(store: Any) -> str | None:
    from engine.store import migrations

    with store.engine.connect() as connection:
        return migrations.current_revision(connection)


# info


def _cmd_info(args: argparse.Namespace) -> int:
    from engine.core import paths
    from engine.core.device import choose_device
    from engine.core.settings import load_settings, settings_path
    from engine.store import migrations, open_store

    settings = load_settings()
    device = choose_device(settings.device, settings.half_precision)
    info: dict[str, Any] = {
        "version": __version__,
        "python": sys.version.split()[0],
        "settings_file": str(settings_path()),
        "settings_file_exists": settings_path().exists(),
        "database_url": None,
        "database_revision": None,
        "database_head": migrations.head_revision(),
        "database_error": None,
        "data_dir": str(settings.resolved_data_dir()),
        "artifacts_dir": None,
        "log_dir": str(paths.log_dir()),
        "config_dir": str(paths.config_dir()),
        "device": device.to_dict(),
    }
    try:
        store = open_store(settings)
    except LanternError as exc:
        # info is what one runs when the database is the problem: say so instead of failing.
        info["database_error"] = exc.message
        info["database_url"] = _hidden_url(settings.resolved_database_url())
    else:
        try:
            store.jobs.recover_dead()
            info["database_url"] = store.display_url
            info["database_revision"] = _revision(store)
            info["artifacts_dir"] = str(store.artifacts_dir)
        finally:
            store.close()
    if args.json:
        _print_json(info)
        return EXIT_OK
    dev = info["device"]
    settings_note = "" if info["settings_file_exists"] else " (not written yet: defaults in use)"
    lines = [
        ("version", f"Lantern {info['version']} (Python {info['python']})"),
        ("settings", info["settings_file"] + settings_note),
        ("database", info["database_url"]),
        ("schema", f"{info['database_revision']} (latest {info['database_head']})"),
        ("data folder", info["data_dir"]),
        ("artifacts", info["artifacts_dir"] or "-"),
        ("logs", info["log_dir"]),
        ("device", f"{dev['device']} ({dev['name']}, {dev['dtype']})"),
    ]
    for key, value in lines:
        _out(f"{key + ':':<13}{value}")
    if info["database_error"]:
        _out(f"{'database error:':<13} {info['database_error']}")
    return EXIT_OK


def _hidden_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a database URL)"


# jobs


def _job_row(record: Any) -> list[str]:
    progress = f"{record.progress_done:g}/{record.progress_total:g}" if record.progress_total else "-"
    message = (record.error or record.message or "").splitlines()[0:1]
    return [
        str(record.id),
        record.name,
        record.status,
        progress,
        _when(record.created_at),
        "".join(message)[:60],
    ]


def _cmd_jobs_list(args: argparse.Namespace) -> int:
    with _opened_store() as store:
        records = store.jobs.list(limit=args.limit)
    if args.json:
        _print_json(records)
    elif not records:
        _err("no jobs yet: start one with 'lantern jobs run SPEC.json'")
    else:
        _table(["ID", "JOB", "STATUS", "PROGRESS", "CREATED", "MESSAGE"], [_job_row(r) for r in records])
    return EXIT_OK


def _get_job(store: Any, job_id: int) -> Any:
    record = store.jobs.get(job_id)
    if record is None:
        raise LanternError(
            f"there is no job #{job_id}", store.display_url, "list the jobs with 'lantern jobs list'"
        )
    return record


def _cmd_jobs_show(args: argparse.Namespace) -> int:
    with _opened_store() as store:
        record = _get_job(store, args.id)
        runs = store.runs.for_job(args.id)
    if args.json:
        _print_json({**_plain(record), "runs": _plain(runs)})
        return EXIT_OK
    fields = [
        ("job", f"#{record.id} {record.name}"),
        ("status", record.status),
        ("progress", f"{record.progress_done:g}/{record.progress_total:g}" if record.progress_total else "-"),
        ("message", record.message or "-"),
        ("spec", json.dumps(record.spec)),
        ("pid", str(record.pid or "-")),
        ("resume of", f"#{record.resume_of}" if record.resume_of else "-"),
        ("created", _when(record.created_at)),
        ("started", _when(record.started_at)),
        ("finished", _when(record.finished_at)),
        ("runs", ", ".join(f"#{run.id} {run.name} ({run.status})" for run in runs) or "-"),
    ]
    for key, value in fields:
        _out(f"{key + ':':<11}{value}")
    if record.result is not None:
        _out("result:    " + json.dumps(record.result, indent=2).replace("\n", "\n           "))
    if record.error:
        _out("error:     " + record.error.replace("\n", "\n           "))
    if record.traceback:
        _out(record.traceback.rstrip())
    return EXIT_OK


def _cmd_jobs_run(args: argparse.Namespace) -> int:
    from engine.jobs.registry import validate_spec
    from engine.jobs.runner import run_spec_file

    path = Path(args.spec)
    document = run_spec_file(path)
    validate_spec(document, where=str(path))  # before the store is touched: a bad spec stores nothing
    with _opened_store() as store:
        return _follow(store, lambda runner, on_event: runner.submit(document, on_event), args.json)


def _cmd_jobs_resume(args: argparse.Namespace) -> int:
    with _opened_store() as store:
        return _follow(store, lambda runner, on_event: runner.resume(args.id, on_event), args.json)


def _cmd_jobs_cancel(args: argparse.Namespace) -> int:
    with _opened_store() as store:
        record = _get_job(store, args.id)
        if not store.jobs.request_cancel(args.id):
            _err(f"job #{args.id} is {record.status}; there is nothing to cancel")
            return EXIT_JOB_NOT_DONE
    _out(
        f"asked job #{args.id} to stop; it stops at its next step ('lantern jobs show {args.id}' tells when)"
    )
    return EXIT_OK


class _EventPrinter:
    """Turns job events into a progress bar plus metric and log lines, all on stderr.

    Metrics of one step arrive as separate events; they are printed together on one line.
    """

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self._lock = threading.RLock()  # the reader thread prints, and so does cancel() on Ctrl+C
        self._step: float | None = None
        self._values: dict[str, float] = {}

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def __call__(self, event: Any) -> None:
        with self._lock:
            self._print(event)

    def _flush(self) -> None:
        if self._values:
            values = "  ".join(f"{name}={value:.6g}" for name, value in self._values.items())
            self.bar.print_above(f"  step {self._step:g}: {values}")
        self._step, self._values = None, {}

    def _print(self, event: Any) -> None:
        data = event.data
        if event.type == "metric":
            step = float(data["step"])
            if step != self._step:
                self._flush()
                self._step = step
            self._values[str(data["name"])] = float(data["value"])
            return
        if event.type == "progress":
            self.bar.update(float(data["done"]), float(data["total"]), str(data.get("message", "")))
            return
        self._flush()
        if event.type == "log":
            level = data.get("level", "info")
            self.bar.print_above(f"  {'' if level == 'info' else level + ': '}{data.get('message', '')}")
        elif event.type == "artifact":
            self.bar.print_above(
                f"  stored {data.get('kind')} '{data.get('name')}' (artifact #{data.get('id')})"
            )
        elif event.type == "error":
            error = LanternError(
                str(data.get("what", "")), str(data.get("where", "")), str(data.get("hint", ""))
            )
            self.bar.print_above(f"error: {error.message}")
            if data.get("traceback"):
                self.bar.print_above(str(data["traceback"]).rstrip())
        elif event.type == "status":
            state, message = str(data["status"]), str(data.get("message", ""))
            self.bar.print_above(
                f"job #{event.job} {state}" + (f": {message}" if message and message != state else "")
            )


def _follow(
    store: Any,
    start: Callable[[Any, Callable[[Any], None]], Any],
    as_json: bool,
    present: Callable[[Any], None] | None = None,
) -> int:
    """Start a job, show its progress until it ends (Ctrl+C cancels it), and report the verdict;
    `present(record)`, when given, prints a job that ended done in place of the default report."""
    from engine.jobs.progressbar import ProgressBar
    from engine.jobs.runner import JobRunner

    runner = JobRunner(store)
    bar = ProgressBar(sys.stderr)
    started = time.monotonic()
    printer = _EventPrinter(bar)
    handle = start(runner, printer)
    # Ctrl+C is counted by a handler rather than caught as KeyboardInterrupt: the exception could land
    # anywhere (in a store query, in the printer), escape the loop and leave the process waiting on a
    # worker that was never asked to stop.
    requests: list[float] = []
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda *_: requests.append(time.monotonic())) if in_main else None
    handled = 0
    try:
        while handle.is_running():
            handle.wait(0.25)
            while handled < len(requests):
                handled += 1
                if handled == 1:
                    runner.cancel(handle.job_id)
                    bar.print_above(f"cancelling job #{handle.job_id}; it stops at its next step")
                else:
                    limit = runner.grace_s + runner.kill_after_s
                    bar.print_above(
                        f"still stopping; a job that ignores the request is stopped within {limit:g} s"
                    )
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
    bar.close()
    record = store.jobs.get(handle.job_id)
    elapsed = time.monotonic() - started
    if present is not None and record.status == "done":
        present(record)
    elif as_json:
        _print_json(
            {"job": record.id, "status": record.status, "result": record.result, "error": record.error}
        )
    elif record.status == "done":
        _out(f"job #{record.id} done in {elapsed:.1f} s")
        if record.result:
            _out(json.dumps(record.result, indent=2))
    else:
        _err(f"job #{record.id} {record.status} after {elapsed:.1f} s")
    return EXIT_OK if record.status == "done" else EXIT_JOB_NOT_DONE


def _schema_type(prop: dict[str, Any]) -> str:
    if "anyOf" in prop:
        return " | ".join(_schema_type(option) for option in prop["anyOf"])
    if "enum" in prop:
        return " | ".join(json.dumps(value) for value in prop["enum"])
    kind = prop.get("type")
    if kind == "array":
        items = prop.get("items") or (prop.get("prefixItems") or [{}])[0]
        return f"list of {_schema_type(items)}" if items else "list"
    names = {"integer": "int", "number": "float", "string": "str", "boolean": "bool", "null": "null"}
    return names.get(kind, kind or "object")


def _job_type_fields(job_type: Any) -> list[dict[str, Any]]:
    schema = job_type.spec.model_json_schema()
    properties = schema.get("properties", {})
    fields = []
    for name, info in job_type.spec.model_fields.items():
        prop = properties.get(name, {})
        limits = {
            key: prop[key]
            for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
            if key in prop
        }
        fields.append(
            {
                "name": name,
                "type": _schema_type(prop),
                "required": info.is_required(),
                "default": None
                if info.is_required()
                else _plain(info.get_default(call_default_factory=True)),
                "description": info.description or "",
                "limits": limits,
            }
        )
    return fields


def _cmd_jobs_types(args: argparse.Namespace) -> int:
    from engine.jobs.registry import job_types

    types = sorted(job_types().values(), key=lambda t: t.name)
    listing = [
        {"job": t.name, "title": t.title, "resumable": t.resumable, "fields": _job_type_fields(t)}
        for t in types
    ]
    if args.json:
        _print_json(listing)
        return EXIT_OK
    if not listing:
        _err("no job types are registered")
    for entry in listing:
        resumable = " (resumable)" if entry["resumable"] else ""
        _out(f"{entry['job']}: {entry['title']}{resumable}")
        for field in entry["fields"]:
            default = "required" if field["required"] else f"default {json.dumps(field['default'])}"
            limits = ", ".join(f"{key} {value}" for key, value in field["limits"].items())
            details = "; ".join(part for part in (default, limits, field["description"]) if part)
            _out(f"    {field['name']}: {field['type']}  ({details})")
    return EXIT_OK


# runs


def _cmd_runs_list(args: argparse.Namespace) -> int:
    with _opened_store() as store:
        runs = store.runs.list(text=args.filter or "", limit=args.limit)
    if args.json:
        _print_json(runs)
        return EXIT_OK
    if not runs:
        _err("no runs match" if args.filter else "no runs yet")
        return EXIT_OK
    rows = [
        [
            str(run.id),
            run.name,
            run.kind,
            run.status,
            f"{run.device} {run.dtype}",
            _when(run.created_at),
            f"{run.duration_s:.1f} s" if run.duration_s is not None else "-",
        ]
        for run in runs
    ]
    _table(["ID", "NAME", "KIND", "STATUS", "DEVICE", "CREATED", "DURATION"], rows)
    return EXIT_OK


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))


def _cmd_runs_export(args: argparse.Namespace) -> int:
    with _opened_store() as store:
        run = store.runs.get(args.id)
        if run is None:
            raise LanternError(
                f"there is no run #{args.id}", store.display_url, "list runs with 'lantern runs list'"
            )
        series = store.runs.metrics(args.id)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["run", "name", "step", "value"])
    points = 0
    for name, entry in sorted(series.items()):
        for step, value in zip(entry.steps, entry.values, strict=True):
            writer.writerow([run.id, name, _number(step), repr(float(value))])
            points += 1
    if args.csv == "-":
        sys.stdout.write(buffer.getvalue())
        sys.stdout.flush()
        return EXIT_OK
    target = Path(args.csv)
    tmp = target.with_name(target.name + ".tmp")
    try:
        tmp.write_text(buffer.getvalue(), encoding="utf-8")
        os.replace(tmp, target)  # a half-written CSV never replaces a good one
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise LanternError(
            f"cannot write the CSV file ({exc.strerror or exc})", str(target), "choose a writable folder"
        ) from exc
    _err(f"wrote {points} points of {len(series)} metric(s) of run #{run.id} to {target}")
    return EXIT_OK


# db


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from engine.store import migrations

    with _opened_store() as store:
        revision = _revision(store)
        shown = store.display_url
    head = migrations.head_revision()
    note = "the latest" if revision == head else f"latest is {head}"
    _out(f"database {shown} is at revision {revision} ({note})")
    return EXIT_OK


def _cmd_db_check(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from engine.store import migrations, open_store
    from engine.store.models import Artifact, Job, MetricPoint, Run

    store = open_store(migrate=False)  # a check must not change what it checks
    try:
        problems: list[str] = []
        revision, head = _revision(store), migrations.head_revision()
        _out(f"database:      {store.display_url}")
        _out(f"schema:        {revision or 'empty'} (latest {head})")
        if revision != head:
            problems.append(f"the schema is at {revision or 'nothing'}, not {head}: run 'lantern db upgrade'")
        if store.is_sqlite:
            with store.engine.connect() as connection:
                verdict = [row[0] for row in connection.exec_driver_sql("PRAGMA integrity_check")]
            _out(f"integrity:     {', '.join(verdict)}")
            if verdict != ["ok"]:
                problems.append("SQLite's integrity check failed: restore a backup (lantern.db.bak-*)")
        if revision == head:
            with store.session() as session:
                for label, model in (("jobs", Job), ("runs", Run), ("metric points", MetricPoint)):
                    _out(f"{label + ':':<15}{session.scalar(select(func.count()).select_from(model))}")
                artifacts = list(session.scalars(select(Artifact)))
            missing = [a for a in artifacts if not (store.artifacts_dir / a.relpath).is_file()]
            _out(f"artifacts:     {len(artifacts)} ({len(missing)} file(s) missing) in {store.artifacts_dir}")
            if missing:
                names = ", ".join(f"#{a.id} {a.name}" for a in missing[:5])
                problems.append(f"{len(missing)} artifact file(s) are missing ({names})")
    finally:
        store.close()
    for problem in problems:
        _err(f"problem: {problem}")
    _out("ok" if not problems else f"{len(problems)} problem(s)")
    return EXIT_OK if not problems else EXIT_JOB_NOT_DONE


# the parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lantern",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"Lantern {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    info = commands.add_parser("info", help="version, settings file, database, folders, device")
    info.add_argument("--json", action="store_true", help="print as JSON")
    info.set_defaults(handler=_cmd_info)

    jobs = commands.add_parser("jobs", help="run, resume, cancel and inspect engine jobs")
    jobs.set_defaults(handler=None, parser=jobs)
    job_commands = jobs.add_subparsers(title="job commands", metavar="ACTION")
    listing = job_commands.add_parser("list", help="recent jobs, newest first")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(handler=_cmd_jobs_list)
    show = job_commands.add_parser("show", help="one job: spec, status, result, error")
    show.add_argument("id", type=int, metavar="ID")
    show.add_argument("--json", action="store_true", help="print as JSON")
    show.set_defaults(handler=_cmd_jobs_show)
    run = job_commands.add_parser("run", help="run a job from a JSON spec file, with a progress bar")
    run.add_argument("spec", metavar="SPEC.json", help='{"job": "NAME", "params": {...}}')
    run.add_argument("--json", action="store_true", help="print the final result as JSON on stdout")
    run.set_defaults(handler=_cmd_jobs_run)
    resume = job_commands.add_parser("resume", help="continue an interrupted job from its last checkpoint")
    resume.add_argument("id", type=int, metavar="ID")
    resume.add_argument("--json", action="store_true", help="print the final result as JSON on stdout")
    resume.set_defaults(handler=_cmd_jobs_resume)
    cancel = job_commands.add_parser("cancel", help="ask a running job to stop (works across processes)")
    cancel.add_argument("id", type=int, metavar="ID")
    cancel.set_defaults(handler=_cmd_jobs_cancel)
    types = job_commands.add_parser("types", help="the jobs you can run, with their parameters")
    types.add_argument("--json", action="store_true", help="print as JSON")
    types.set_defaults(handler=_cmd_jobs_types)

    runs = commands.add_parser("runs", help="list runs and export their metrics")
    runs.set_defaults(handler=None, parser=runs)
    run_commands = runs.add_subparsers(title="run commands", metavar="ACTION")
    run_list = run_commands.add_parser("list", help="runs, newest first")
    run_list.add_argument(
        "--filter", metavar="TEXT", help="only runs whose name, kind or status contains TEXT"
    )
    run_list.add_argument("--limit", type=int, default=200, help="at most this many (default 200)")
    run_list.add_argument("--json", action="store_true", help="print as JSON")
    run_list.set_defaults(handler=_cmd_runs_list)
    export = run_commands.add_parser("export", help="a run's metrics as CSV (run,name,step,value)")
    export.add_argument("id", type=int, metavar="ID")
    export.add_argument("--csv", required=True, metavar="FILE", help="where to write; - for stdout")
    export.set_defaults(handler=_cmd_runs_export)

    db = commands.add_parser("db", help="upgrade or check the database")
    db.set_defaults(handler=None, parser=db)
    db_commands = db.add_subparsers(title="database commands", metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="back up and migrate the database to the latest schema")
    upgrade.set_defaults(handler=_cmd_db_upgrade)
    check = db_commands.add_parser("check", help="schema revision, integrity, counts, missing artifact files")
    check.set_defaults(handler=_cmd_db_check)

    from engine.ner.cli import add_ner_commands

    add_ner_commands(commands)
    from engine.attribution.cli import add_attribution_commands

    add_attribution_commands(commands)
    from engine.rl.cli import add_rl_commands

    add_rl_commands(commands)
    from engine.augment.cli import add_augment_commands

    add_augment_commands(commands)
    from engine.ssl.cli import add_ssl_commands

    add_ssl_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 1 job not done, 2 bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error argparse already printed
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    handler = getattr(args, "handler", None)
    if handler is None:
        (getattr(args, "parser", None) or parser).print_help(sys.stderr)
        return EXIT_BAD_INPUT
    from engine.core.logging_setup import configure_logging

    try:
        configure_logging("lantern.log")
        return handler(args)
    except LanternError as exc:
        _err(f"error: {exc.message}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _err("interrupted")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
