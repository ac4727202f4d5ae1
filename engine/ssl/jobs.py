"""Job `ssl.experiment`: run an SSL ExperimentConfig with one store run per (method, arm, seed), resumable.

Each run is recorded as it trains (kind "ssl", named like "simclr p=0.5 seed 1"): its config says which
experiment, method, arm, p, seed, draw and bank it belongs to; "ssl_loss" is stored per epoch and
"linear_top1" and "knn_top1" at the end, with the run's scores in its summary. The experiment's id is the
job that started it: a resumed job (and a resume of that) keeps it, finds the runs already finished under
the jobs it continues, reports them without training them again, and trains only the rest. Importing this
module stays torch-free (the GUI lists and validates jobs); torch loads when the job runs.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from engine.core.errors import JobCancelled, LanternError
from engine.jobs.registry import JobSpec, register_job
from engine.ssl.experiment_config import parse_experiment_config

if TYPE_CHECKING:
    from engine.jobs.context import JobContext
    from engine.ssl.experiment import ExperimentRow, RunKey, RunPlan

EXPERIMENT_JOB = "ssl.experiment"
RUN_KIND = "ssl"


class SSLExperimentSpec(JobSpec):
    """The parameters of job `ssl.experiment`: an ExperimentConfig document, and a name for the experiment."""

    config: dict[str, Any] = Field(
        default_factory=dict, validate_default=True, description="an SSL ExperimentConfig document"
    )
    experiment_name: str | None = Field(None, max_length=200, description="None: the config's name")

    @field_validator("config")
    @classmethod
    def _valid_config(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            return parse_experiment_config(value, "config").model_dump(mode="json")
        except LanternError as exc:
            raise ValueError(exc.what) from None


def resume_chain(store: Any, job_id: int) -> list[int]:
    """The job and the jobs it resumes, newest first; the last one started the experiment."""
    chain = [job_id]
    record = store.jobs.get(job_id)
    while record is not None and record.resume_of is not None and record.resume_of not in chain:
        chain.append(record.resume_of)
        record = store.jobs.get(record.resume_of)
    return chain


def row_from_run(store: Any, run: Any) -> ExperimentRow:
    """The ExperimentRow of a finished run in the store (its config, summary and loss curve)."""
    from engine.ssl.experiment import ExperimentRow

    config, summary = run.config, run.summary
    series = store.runs.metrics(run.id, ["ssl_loss"]).get("ssl_loss")
    losses = [float(v) for v in series.values] if series is not None else []
    return ExperimentRow(
        method=str(config["method"]),
        arm=str(config["arm"]),
        p=float(config["p"]),
        seed=int(config["seed"]),
        linear_top1=float(summary["linear_top1"]),
        knn_top1=float(summary["knn_top1"]),
        final_loss=float(summary.get("final_loss", math.nan)),
        images_per_second=float(summary.get("images_per_second", 0.0)),
        control=config.get("control"),
        bank_id=config.get("bank_id"),
        epoch_losses=losses,
        seconds=float(summary.get("seconds", 0.0)),
    )


def finished_runs(store: Any, experiment: int, jobs: list[int]) -> dict[RunKey, tuple[int, ExperimentRow]]:
    """The runs of `experiment` finished under `jobs`, by (method, arm, seed): (run id, row)."""
    finished: dict[RunKey, tuple[int, ExperimentRow]] = {}
    for job_id in jobs:
        for run in store.runs.for_job(job_id):
            if run.kind != RUN_KIND or run.status != "done" or run.config.get("experiment") != experiment:
                continue
            if "linear_top1" not in run.summary:
                continue
            row = row_from_run(store, run)
            finished.setdefault(row.key, (run.id, row))
    return finished


def _run_config(
    plan: RunPlan, experiment: int, name: str, spec_config: dict[str, Any], ssl: dict[str, Any]
) -> dict[str, Any]:
    return {
        "experiment": experiment,
        "experiment_name": name,
        "method": plan.method,
        "arm": plan.arm,
        "p": plan.p,
        "control": plan.control,
        "seed": plan.seed,
        "draw": spec_config["draw"],
        "bank_id": plan.bank_id,
        "dataset": spec_config["dataset"],
        "limit": spec_config["limit"],
        # The generator behind view 2's bank: None at p = 0, the control's own for a control arm.
        "generator": None if plan.bank_id is None else plan.control or spec_config["generator"]["name"],
        "probe_epochs": spec_config["probe_epochs"],
        "ssl": ssl,
    }


@register_job(
    EXPERIMENT_JOB,
    SSLExperimentSpec,
    "SSL experiment: linear-probe top-1 with and without generated views, per arm, method and seed",
    resumable=True,
)
def experiment_job(ctx: JobContext, spec: SSLExperimentSpec) -> dict[str, Any]:
    from engine.ssl.experiment import format_table, run_experiment

    started = time.perf_counter()
    config = parse_experiment_config(spec.config, f"job #{ctx.job_id}: config")
    document = config.model_dump(mode="json")
    name = spec.experiment_name or config.name
    chain = resume_chain(ctx.store, ctx.job_id)
    experiment = chain[-1]
    done = finished_runs(ctx.store, experiment, chain[1:])
    if ctx.resume_of is not None:
        ctx.log(f"resuming experiment #{experiment}: {len(done)} of {config.run_count()} runs are finished")
    run_ids = {key: run_id for key, (run_id, _) in done.items()}
    device = ctx.device.device
    epoch_of: dict[str, int] = {}
    training: list[RunPlan] = []  # the run in progress: the only one an error may mark

    def on_run_started(plan: RunPlan) -> None:
        ssl = config.ssl_config(plan.method, plan.seed).to_dict()
        run_ids[plan.key] = ctx.start_run(
            name=plan.name,
            kind=RUN_KIND,
            config=_run_config(plan, experiment, name, document, ssl),
            seed=plan.seed,
        )
        training[:] = [plan]

    def on_epoch(plan: RunPlan, epoch: int, loss: float) -> None:
        epoch_of[plan.name] = epoch
        ctx.metrics(epoch, {"ssl_loss": loss}, run_id=run_ids[plan.key])

    def on_run_finished(plan: RunPlan, row: ExperimentRow) -> None:
        scores = {"linear_top1": row.linear_top1, "knn_top1": row.knn_top1}
        ctx.metrics(epoch_of.get(plan.name, len(row.epoch_losses)), scores, run_id=run_ids[plan.key])
        ctx.finish_run(
            "done",
            summary={
                **scores,
                "final_loss": row.final_loss,
                "images_per_second": row.images_per_second,
                "seconds": row.seconds,
            },
        )
        training.clear()
        ctx.log(f"{plan.name}: linear top-1 {row.linear_top1:.1%}, kNN top-1 {row.knn_top1:.1%}")

    try:
        result = run_experiment(
            ctx.store,
            config,
            device=device,
            progress=lambda done_, total, message: ctx.progress(done_, total, message),
            check_cancelled=ctx.check_cancelled,
            on_run_started=on_run_started,
            on_epoch=on_epoch,
            on_run_finished=on_run_finished,
            finished={key: row for key, (_, row) in done.items()},
            log=ctx.log,
        )
    except JobCancelled:
        if training:
            ctx.finish_run("cancelled")
        raise
    except Exception:
        if training:
            ctx.finish_run("failed")
        raise
    summary = result.summary
    table = format_table(summary)
    for line in table.splitlines():
        ctx.log(line)
    return {
        "experiment": experiment,
        "name": name,
        "runs": len(result.rows),
        "trained": result.trained,
        "skipped": result.skipped,
        "draw": config.draw,
        "banks": result.banks,
        "rows": [{**row.to_dict(), "run_id": run_ids.get(row.key)} for row in result.rows],
        "summary": [row.to_dict() for row in summary],
        "table": table,
        "seconds": time.perf_counter() - started,
    }
