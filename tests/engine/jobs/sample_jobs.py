"""Test-only jobs and interactive ops, importable as `sample_jobs` in spawned engine processes too.

`enable(monkeypatch)` puts this folder on PYTHONPATH (spawned children inherit the environment) and
names this module in LANTERN_EXTRA_JOB_MODULES, so runners, workers and the CLI all see `test.count`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from engine.core.errors import LanternError
from engine.jobs.interactive import register_op
from engine.jobs.registry import EXTRA_JOB_MODULES_ENV, JobSpec, register_job

HERE = Path(__file__).resolve().parent
MODULE = "sample_jobs"


def enable(monkeypatch: Any) -> None:
    """Make this module's jobs and ops visible to this process and to every process it spawns."""
    monkeypatch.syspath_prepend(str(HERE))
    paths = [str(HERE), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    monkeypatch.setenv(EXTRA_JOB_MODULES_ENV, MODULE)


class CountSpec(JobSpec):
    n: int = Field(10, ge=1, description="count up to this")
    step_s: float = Field(0.0, ge=0, description="seconds to sleep per step")
    checkpoint_every: int = Field(5, ge=1, description="store a checkpoint every k steps")
    ignore_cancel: bool = Field(False, description="never look at the cancel flag")
    ignore_sigterm: bool = Field(False, description="survive SIGTERM (only SIGKILL stops it)")
    fail_at: int | None = Field(
        None, description="fail at this step (first attempt only: a resumed job goes on)"
    )
    fail_with: str = Field("bug", description="'bug' (a ValueError) or 'lantern' (a LanternError)")
    chatter: bool = Field(False, description="print to stdout, which must not reach the caller's stdout")


@register_job("test.count", CountSpec, "Count (test job)", resumable=True)
def count(ctx: Any, spec: CountSpec) -> dict[str, Any]:
    if spec.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if spec.chatter:
        print("chatter from the job on stdout", flush=True)
    point = ctx.resume_point()
    if point is None:
        ctx.start_run(name="count", kind="test.count", config=spec.model_dump(), seed=0)
        start = 0
    else:
        start = json.loads(point.path.read_text())["step"]
    for step in range(start + 1, spec.n + 1):
        if not spec.ignore_cancel:
            ctx.check_cancelled()
        if spec.step_s:
            time.sleep(spec.step_s)
        if spec.fail_at == step and ctx.resume_of is None:
            if spec.fail_with == "lantern":
                raise LanternError(
                    f"step {step} is cursed", f"test.count step {step}", "pick another fail_at"
                )
            raise ValueError(f"boom at step {step}")
        ctx.metrics(step, {"value": 2.0 * step})
        ctx.progress(step, spec.n, f"step {step}")
        if step % spec.checkpoint_every == 0:
            path = ctx.workdir / f"count-{step}.json"
            path.write_text(json.dumps({"step": step}))
            ctx.add_artifact(path, kind="checkpoint", name=f"count-{step}", meta={"step": step})
    ctx.log(f"counted from {start} to {spec.n}")
    ctx.finish_run("done", summary={"count": spec.n})
    torch = sys.modules.get("torch")  # imported by the worker's device choice
    threads = torch.get_num_threads() if torch is not None else None
    return {
        "count": spec.n,
        "resumed_from": start,
        "run_id": ctx.run_id,
        "pid": os.getpid(),
        "torch_threads": threads,
    }


class OnceSpec(JobSpec):
    word: str = Field("hello", description="echoed back")


@register_job("test.once", OnceSpec, "Echo once (test job, not resumable)")
def once(ctx: Any, spec: OnceSpec) -> dict[str, Any]:
    return {"word": spec.word, "device": ctx.device.device}


@register_op("test.echo")
def echo(cache: dict[str, Any], **args: Any) -> dict[str, Any]:
    cache["echoes"] = cache.get("echoes", 0) + 1
    return {"args": args, "pid": os.getpid(), "echoes": cache["echoes"]}


@register_op("test.slow_load")
def slow_load(cache: dict[str, Any], x: float = 1.0) -> dict[str, Any]:
    if "model" not in cache:
        time.sleep(1.0)  # stands in for loading a model
        cache["model"] = 3.0
    return {"y": cache["model"] * x, "pid": os.getpid()}


@register_op("test.crash")
def crash(cache: dict[str, Any]) -> dict[str, Any]:
    sys.stderr.flush()
    os._exit(3)


@register_op("test.fail")
def fail(cache: dict[str, Any], bug: bool = False) -> dict[str, Any]:
    if bug:
        raise ZeroDivisionError("division by zero in test.fail")
    raise LanternError("the sample is empty", "test.fail: sample", "choose a sample with pixels")
