"""Job `rl.train`: train one RLTrainConfig (engine.rl.training), store curves and checkpoints, resumable.

The job records a run of kind "rl-train"; its metrics are stored against env steps (MetricPoint step =
env steps): fraction_solved, mean_return, eval_fraction_solved, the loss terms, entropy and the rest of
train_ppo's history entry. Every evaluation stores the latest checkpoint (and the best so far) as artifacts
of kind "rl-checkpoint" (meta: role, env_steps, eval_fraction_solved). A resumed job adopts the interrupted
job's run and continues from its latest checkpoint: env steps go on from there, they do not restart.
Importing this module stays torch-free (the GUI lists and validates jobs); torch loads when the job runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.core.errors import JobCancelled
from engine.jobs.registry import register_job
from engine.rl.train_config import RLTrainConfig

if TYPE_CHECKING:
    from engine.jobs.context import JobContext
    from engine.store.records import ArtifactRecord

RL_TRAIN_JOB = "rl.train"
RUN_KIND = "rl-train"
CHECKPOINT_KIND = "rl-checkpoint"


def latest_checkpoint(store: Any, run_id: int) -> ArtifactRecord | None:
    """The run's "latest" checkpoint artifact with the most env steps (None when it has none)."""
    latest = [
        a for a in store.artifacts.for_run(run_id, kind=CHECKPOINT_KIND) if a.meta.get("role") == "latest"
    ]
    return max(latest, key=lambda a: (int(a.meta.get("env_steps", 0)), a.id)) if latest else None


def best_checkpoint(store: Any, run_id: int) -> ArtifactRecord | None:
    best = [a for a in store.artifacts.for_run(run_id, kind=CHECKPOINT_KIND) if a.meta.get("role") == "best"]
    return max(best, key=lambda a: (float(a.meta.get("eval_fraction_solved", 0.0)), a.id)) if best else None


def _adopt(ctx: JobContext) -> tuple[int | None, Path | None]:
    """For a resumed job: take over the interrupted job's run and find its latest checkpoint file."""
    run_id = ctx.adopt_run(RUN_KIND)
    if run_id is None:
        return None, None
    artifact = latest_checkpoint(ctx.store, run_id)
    if artifact is None:
        ctx.log(f"run #{run_id} has no checkpoint yet: training starts from the beginning")
        return run_id, None
    path = ctx.store.artifacts.path(artifact, verify=True)
    ctx.log(
        f"resuming run #{run_id} from checkpoint '{artifact.name}' "
        f"({artifact.meta.get('env_steps')} env steps)"
    )
    return run_id, path


def _device(ctx: JobContext, spec: RLTrainConfig) -> str:
    if spec.device == "auto":
        return ctx.device.device
    from engine.core.device import choose_device

    return choose_device(spec.device).device


@register_job(
    RL_TRAIN_JOB,
    RLTrainConfig,
    "RL training: PPO on Box-World or a grid environment, evaluated on held-out levels",
    resumable=True,
)
def train_job(ctx: JobContext, spec: RLTrainConfig) -> dict[str, Any]:
    from engine.rl.training import TrainHooks, train_agent

    started = time.perf_counter()
    run_id, resume_path = _adopt(ctx)
    if run_id is None:
        run_id = ctx.start_run(
            name=spec.name, kind=RUN_KIND, config=spec.model_dump(mode="json"), seed=spec.seed
        )
    stored: dict[str, ArtifactRecord] = {}

    def on_checkpoint(path: Path, role: str, meta: dict[str, Any]) -> None:
        evaluation = meta.get("eval", {})
        record = ctx.add_artifact(
            path,
            kind=CHECKPOINT_KIND,
            name=f"{role} checkpoint at {meta['env_steps']} env steps",
            meta={
                "role": role,
                "env_steps": meta["env_steps"],
                "updates": meta["updates"],
                "eval_fraction_solved": evaluation.get("fraction_solved"),
                "eval_mean_return": evaluation.get("mean_return"),
                "agent": spec.agent,
                "env": meta["env"],
            },
        )
        stored[role] = record

    hooks = TrainHooks(
        progress=lambda done, total, message: ctx.progress(done, total, message),
        metrics=lambda step, values: ctx.metrics(step, values, run_id=run_id),
        log=ctx.log,
        check_cancelled=ctx.check_cancelled,
        on_checkpoint=on_checkpoint,
    )
    device = _device(ctx, spec)
    ctx.log(f"training a {spec.agent} agent on {spec.env.describe()} ({device})")
    try:
        result = train_agent(spec, device=device, workdir=ctx.workdir, hooks=hooks, resume_from=resume_path)
    except JobCancelled:
        ctx.finish_run("cancelled")
        raise
    except Exception:
        ctx.finish_run("failed")
        raise
    latest = stored.get("latest") or latest_checkpoint(ctx.store, run_id)
    best = best_checkpoint(ctx.store, run_id)
    final = result.final_eval
    summary = {
        "env_steps": result.env_steps,
        "eval_fraction_solved": final.get("fraction_solved"),
        "eval_mean_return": final.get("mean_return"),
        "best_eval_fraction_solved": result.best_eval_fraction_solved,
        "agent": spec.agent,
        "env": spec.env.describe(),
    }
    ctx.finish_run("done", summary=summary)
    ctx.log(
        f"{result.env_steps} env steps; held-out levels solved: "
        f"{final.get('fraction_solved', float('nan')):.0%}"
    )
    return {
        "run_id": run_id,
        "name": spec.name,
        **summary,
        "resumed_from_steps": result.resumed_from_steps,
        "checkpoint": str(ctx.store.artifacts.path(latest)) if latest else None,
        "checkpoint_artifact": latest.id if latest else None,
        "best_checkpoint": str(ctx.store.artifacts.path(best)) if best else None,
        "seconds": time.perf_counter() - started,
    }
