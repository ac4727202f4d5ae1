"""`lantern ssl experiment`: run the SSL experiment (arms p, controls, seeds) and print linear-probe top-1.

Hooked into engine/cli.py by `add_ssl_commands`. The experiment runs as an "ssl.experiment" job in this
process (no worker to spawn; progress on stderr): it is recorded in the store like any job, with one run
per (method, arm, seed), so Ctrl+C stops it at the next step and `lantern jobs resume ID` continues it
without training the finished runs again. A bad config is refused before anything is stored.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

EXAMPLE = "lantern ssl experiment --config examples/ssl/fashion-quick.json"


def _run_in_process(store: Any, spec: dict[str, Any]) -> Any:
    """Record the job, run it here with a progress bar on stderr (Ctrl+C cancels), return its record."""
    from engine.cli import _EventPrinter
    from engine.jobs.progressbar import ProgressBar
    from engine.jobs.registry import validate_spec
    from engine.jobs.worker import _run_stored_job

    job_type, params = validate_spec(spec, where="SSL experiment config")  # a bad config stores nothing
    job_id = store.jobs.create(job_type.name, params.model_dump(mode="json"))
    bar = ProgressBar(sys.stderr)
    printer = _EventPrinter(bar)
    cancel = threading.Event()

    def on_interrupt(*_: Any) -> None:
        if not cancel.is_set():
            bar.print_above(f"cancelling job #{job_id}; it stops at its next step")
        cancel.set()

    # Ctrl+C becomes a cooperative cancel: the job ends 'cancelled' with its finished runs kept.
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_interrupt) if in_main else None
    try:
        _run_stored_job(job_id, store, printer, cancel)
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
        printer.flush()
        bar.close()
    return store.jobs.get(job_id)


def _cmd_experiment(args: argparse.Namespace) -> int:
    import engine.ssl.jobs  # noqa: F401  (registers the job for validate_spec in this process)
    from engine.cli import EXIT_JOB_NOT_DONE, EXIT_OK, _err, _opened_store, _out, _print_json
    from engine.ssl.experiment_config import load_experiment_config
    from engine.ssl.jobs import EXPERIMENT_JOB

    config = load_experiment_config(args.config)
    params: dict[str, Any] = {"config": config.model_dump(mode="json")}
    if args.name:
        params["experiment_name"] = args.name
    with _opened_store() as store:
        record = _run_in_process(store, {"job": EXPERIMENT_JOB, "params": params})
    result = record.result or {}
    if record.status != "done":
        if args.json:
            _print_json({"job": record.id, "status": record.status, "error": record.error})
        else:
            _err(f"job #{record.id} {record.status}; continue it with: lantern jobs resume {record.id}")
        return EXIT_JOB_NOT_DONE
    if args.json:
        _print_json(
            {
                "job": record.id,
                "experiment": result.get("experiment"),
                "rows": result.get("rows", []),
                "summary": result.get("summary", []),
            }
        )
        return EXIT_OK
    _out(
        f"experiment #{result.get('experiment')} '{result.get('name')}': {result.get('runs')} runs "
        f"({result.get('trained')} trained, {result.get('skipped')} resumed), draw {result.get('draw')}"
    )
    _out(str(result.get("table", "")))
    _out(f"loss curves: lantern runs list --filter {config.methods[0]}")
    return EXIT_OK


def add_ssl_commands(commands: Any) -> None:
    """Add `ssl` and its actions to the top-level subparsers of `lantern`."""
    ssl = commands.add_parser("ssl", help="self-supervised learning with and without generated views")
    ssl.set_defaults(handler=None, parser=ssl)
    actions = ssl.add_subparsers(title="ssl commands", metavar="ACTION")
    experiment = actions.add_parser(
        "experiment",
        help="train SSL per arm p, control and seed; print linear-probe and kNN top-1 (a resumable job)",
        description=f"example: {EXAMPLE}",
    )
    experiment.add_argument(
        "--config", required=True, metavar="FILE", help="an SSL experiment config (.json or .toml)"
    )
    experiment.add_argument("--name", metavar="NAME", help="name of the experiment (default: the config's)")
    experiment.add_argument(
        "--json", action="store_true", help='print {"rows": [...], "summary": [...]} as JSON on stdout'
    )
    experiment.set_defaults(handler=_cmd_experiment)
