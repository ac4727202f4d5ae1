"""Job `augment.bank`: build (or resume, or reuse) a bank of K generated views per train image.

The job records a run of kind "augment-bank" and the bank row points at it. Shards are written and
recorded one at a time, so cancelling keeps what is written; `lantern jobs resume` (a resumed job adopts
the interrupted job's run and so finds its bank), `--resume BANK` or a job with `bank_id` continues at the
first missing shard. Importing this module stays torch-free (the GUI lists and validates jobs).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pydantic import Field

from engine.core.errors import JobCancelled, LanternError
from engine.jobs.registry import JobSpec, register_job

if TYPE_CHECKING:
    from engine.jobs.context import JobContext

BANK_JOB = "augment.bank"
RUN_KIND = "augment-bank"
# Fields a bank is made of; with bank_id they come from the stored bank.
BANK_FIELDS = ("dataset", "limit", "generator", "checkpoint", "settings", "k", "seed")


class BankSpec(JobSpec):
    """What bank to build: K views per train image of `dataset` (capped at `limit`) by `generator`."""

    dataset: str = "fashion-mnist-demo"
    limit: int | None = Field(default=None, ge=1)
    generator: str = "lantern"
    checkpoint: str | None = "bundled"
    settings: dict[str, Any] = Field(default_factory=dict)
    k: int = Field(default=4, ge=1, le=64)
    seed: int = Field(default=0, ge=0)
    name: str | None = None
    bank_id: int | None = Field(default=None, ge=1)


def bank_parameters(store: Any, spec: BankSpec) -> dict[str, Any]:
    """The bank's parameters: the spec's, or with bank_id the stored bank's own (a field the spec sets
    explicitly to something else is refused rather than silently ignored)."""
    from engine.augment.bank import normalise_checkpoint
    from engine.augment.repository import BankRepository

    asked = {field: getattr(spec, field) for field in BANK_FIELDS}
    if spec.bank_id is None:
        return asked
    bank = BankRepository(store).require(spec.bank_id, f"{BANK_JOB}: bank_id")
    stored = bank.parameters()
    conflicts = []
    for field in sorted(set(BANK_FIELDS) & spec.model_fields_set):
        value = asked[field]
        if field == "checkpoint":
            value = normalise_checkpoint(stored["generator"], value)
        if field == "settings":
            # Stored settings have the defaults filled in; only the ones the spec names must agree.
            if any(stored[field].get(name) != setting for name, setting in value.items()):
                conflicts.append(f"settings {value!r} (the bank has {stored[field]!r})")
            continue
        if value != stored[field]:
            conflicts.append(f"{field} {asked[field]!r} (the bank has {stored[field]!r})")
    if conflicts:
        raise LanternError(
            f"bank #{spec.bank_id} was built with other parameters: " + ", ".join(conflicts),
            f"{BANK_JOB}: bank_id",
            "give only the bank id to resume it, or leave bank_id out to build a new bank",
        )
    return stored


@register_job(
    BANK_JOB,
    BankSpec,
    "Augmentation bank: K generated views per training image, scored for faithfulness",
    resumable=True,
)
def bank_job(ctx: JobContext, spec: BankSpec) -> dict[str, Any]:
    from engine.augment.bank import bank_progress, build_bank
    from engine.augment.repository import BankRepository

    started = time.perf_counter()
    repo = BankRepository(ctx.store)
    bank_id = spec.bank_id
    run_id = ctx.adopt_run(RUN_KIND)
    if run_id is not None and bank_id is None:
        adopted = repo.for_run(run_id)
        if adopted is not None:
            bank_id = adopted.id
            ctx.log(f"resuming bank #{bank_id} of run #{run_id}")
    resumed = spec.model_copy(update={"bank_id": bank_id}) if bank_id != spec.bank_id else spec
    params = bank_parameters(ctx.store, resumed)
    if run_id is None:
        name = spec.name or f"bank: {params['generator']} x{params['k']} on {params['dataset']}"
        run_id = ctx.start_run(name=name, kind=RUN_KIND, config=dict(params), seed=params["seed"])

    try:
        bank_id = build_bank(
            ctx.store,
            **params,
            name=spec.name,
            bank_id=bank_id,
            device=ctx.device.device,
            progress=ctx.progress,
            check_cancelled=ctx.check_cancelled,
            run_id=run_id,
            log=ctx.log,
            reuse=True,
        )
    except JobCancelled:
        ctx.finish_run("cancelled")
        raise
    except Exception:
        ctx.finish_run("failed")
        raise
    bank = repo.require(bank_id)
    if bank.run_id is None:
        repo.set_status(bank_id, bank.status, run_id=run_id)
    summary = bank.summary
    ctx.finish_run("done", summary={"bank_id": bank_id, **summary})
    views = bank.image_count * bank.k
    ctx.log(
        f"bank #{bank_id}: {views} views of {bank.image_count} images; similarity "
        f"{summary.get('similarity_mean', float('nan')):.3f}, label kept "
        f"{summary.get('label_kept_rate', float('nan')):.1%}"
    )
    return {
        "bank_id": bank_id,
        "run_id": run_id,
        "name": bank.name,
        "views": views,
        "images": bank.image_count,
        "k": bank.k,
        "summary": summary,
        "progress": bank_progress(ctx.store, bank),
        "seconds": time.perf_counter() - started,
    }
