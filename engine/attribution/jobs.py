"""Job `attribution.experiment`: run an ExperimentConfig, store every replicate as it finishes, resumable.

Each replicate (with its scores) is stored in one transaction as soon as it is done, and its gallery as a
small artifact; a resumed job adopts the interrupted job's run and skips the replicates stored there. At
the end all galleries of the run go into one file (artifact kind 'attribution-gallery'), which
ExperimentRecord.gallery_path names. Importing this module stays torch-free (the GUI lists and validates
jobs); torch loads when the job runs.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from engine.attribution.experiment_config import ExperimentConfig
from engine.attribution.repository import EXPERIMENT_KIND, GALLERY_KIND, unproven
from engine.core.errors import JobCancelled
from engine.jobs.registry import register_job

if TYPE_CHECKING:
    from engine.attribution.experiment import ReplicateOutcome
    from engine.jobs.context import JobContext

EXPERIMENT_JOB = "attribution.experiment"
GALLERY_PART_KIND = "attribution-gallery-part"  # one replicate's gallery, kept so a resume loses none


def _previous_galleries(ctx: JobContext, run_id: int) -> list[Any]:
    """The galleries of replicates stored before an interruption, in the order they were stored."""
    from engine.attribution.gallery import load_galleries
    from engine.core.errors import LanternError

    galleries = []
    for artifact in ctx.store.artifacts.for_run(run_id, kind=GALLERY_PART_KIND):
        try:
            galleries += load_galleries(ctx.store.artifacts.path(artifact))
        except LanternError as exc:
            ctx.log(f"the gallery of an earlier replicate cannot be read ({exc.what}): left out", "warning")
    return galleries


@register_job(
    EXPERIMENT_JOB,
    ExperimentConfig,
    "Attribution experiment: modify data, train, score attribution methods against the region",
    resumable=True,
)
def experiment_job(ctx: JobContext, spec: ExperimentConfig) -> dict[str, Any]:
    from engine.attribution.experiment import ExperimentHooks, run_experiment
    from engine.attribution.gallery import save_galleries
    from engine.attribution.repository import AttributionRepository

    started = time.perf_counter()
    repo = AttributionRepository(ctx.store)
    run_id = ctx.adopt_run(EXPERIMENT_KIND)
    if run_id is None:
        run_id = ctx.start_run(
            name=spec.name, kind=EXPERIMENT_KIND, config=spec.model_dump(mode="json"), seed=spec.seed
        )
        done: set[Any] = set()
    else:
        done = repo.replicate_keys(run_id)
        ctx.log(f"resuming experiment run #{run_id}: {len(done)} of {spec.replicate_count()} runs are stored")
    galleries = _previous_galleries(ctx, run_id) if done else []

    def store(outcome: ReplicateOutcome) -> None:
        replicate_id = repo.add_replicate(
            run_id,
            manipulation=outcome.manipulation,
            strength=outcome.strength,
            r=outcome.r,
            replicate=outcome.replicate,
            model=outcome.model,
            val_accuracy=outcome.val_accuracy,
            test_accuracy=outcome.test_accuracy,
            p_star=outcome.p_star,
            passed=outcome.passed,
            epochs=outcome.epochs,
            dropped=outcome.dropped,
            scores=outcome.scores,
        )
        if outcome.gallery is not None:
            path = ctx.workdir / f"gallery-{replicate_id}.npz"
            save_galleries([outcome.gallery], path)
            ctx.store.artifacts.add(
                path,
                kind=GALLERY_PART_KIND,
                name=f"gallery {outcome.manipulation} run {outcome.replicate}",
                run_id=run_id,
                meta={"replicate_id": replicate_id},
            )
            path.unlink(missing_ok=True)
            galleries.append(outcome.gallery)

    hooks = ExperimentHooks(
        progress=lambda done_, total, message: ctx.progress(done_, total, message),
        metrics=lambda step, values: ctx.metrics(step, values, run_id=run_id),
        log=ctx.log,
        check_cancelled=ctx.check_cancelled,
        skip=lambda key: key in done,
        on_replicate=store,
    )
    try:
        result = run_experiment(spec, hooks, device=ctx.device.device)
    except JobCancelled:
        ctx.finish_run("cancelled")
        raise
    except Exception:
        ctx.finish_run("failed")
        raise
    gallery_artifact = None
    if galleries:
        path = save_galleries(galleries, ctx.workdir / "galleries.npz")
        record = ctx.add_artifact(
            path, kind=GALLERY_KIND, name="galleries.npz", meta={"count": len(galleries)}
        )
        gallery_artifact = record.id
    summary = repo.summary(run_id)
    replicates = repo.replicates(run_id)
    passed = sum(rep.passed for rep in replicates)
    pass_rate = passed / len(replicates) if replicates else 0.0
    ctx.finish_run(
        "done",
        summary={"pass_rate": pass_rate, "passed": passed, "replicates": len(replicates)},
    )
    ctx.log(f"{passed} of {len(replicates)} runs passed the accuracy filter ({pass_rate:.0%})")
    warnings = unproven(replicates, spec.train.min_accuracy)
    for warning in warnings:
        ctx.log(warning)
    gallery_path = repo.gallery_path(run_id)
    return {
        "run_id": run_id,
        "name": spec.name,
        "modality": spec.modality,
        "model": spec.model.name,
        "manipulations": [m.name for m in spec.manipulations],
        "methods": list(spec.methods),
        "sweep": spec.sweep,
        "replicates": len(replicates),
        "passed": passed,
        "pass_rate": pass_rate,
        "skipped": result.skipped,
        "metric": "attr_pct",
        "pass_rates": summary["pass_rates"],
        "leaderboard": summary["leaderboard"],
        "warnings": warnings,
        "gallery_artifact": gallery_artifact,
        "gallery_path": str(gallery_path) if gallery_path else None,
        "seconds": time.perf_counter() - started,
    }
