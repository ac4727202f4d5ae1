"""The job registry: job name -> engine function + its spec model, and spec validation."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from engine.core.errors import SpecError

if TYPE_CHECKING:
    from engine.jobs.context import JobContext

# Modules that register jobs; imported on first lookup so that importing the registry stays cheap
# (and torch-free) for the GUI. A new capability adds its module here: one line.
JOB_MODULES = (
    "engine.demo.jobs",
    "engine.ner.jobs",
    "engine.attribution.jobs",
    "engine.rl.jobs",
    "engine.augment.jobs",
    "engine.augment.generator_jobs",
    "engine.ssl.jobs",
)
# Extra job modules (comma-separated import names) for plug-ins and tests; read on every lookup, and
# inherited by spawned workers through the environment, so the parent and its workers agree.
EXTRA_JOB_MODULES_ENV = "LANTERN_EXTRA_JOB_MODULES"

log = logging.getLogger(__name__)


class JobSpec(BaseModel):
    """Base for every job's parameters: unknown fields are errors, values are type-checked."""

    model_config = ConfigDict(extra="forbid")


JobFunction = Callable[["JobContext", Any], dict[str, Any]]


@dataclass(frozen=True)
class JobType:
    name: str
    function: JobFunction
    spec: type[JobSpec]
    title: str
    resumable: bool


_JOBS: dict[str, JobType] = {}
_loaded_modules: set[str] = set()


def register_job(
    name: str, spec: type[JobSpec], title: str, resumable: bool = False
) -> Callable[[JobFunction], JobFunction]:
    """Decorator: make `function(context, spec) -> result dict` runnable as job `name`."""

    def decorate(function: JobFunction) -> JobFunction:
        if name in _JOBS and _JOBS[name].function is not function:
            raise ValueError(f"job {name!r} is registered twice")
        _JOBS[name] = JobType(name, function, spec, title, resumable)
        return function

    return decorate


def job_modules() -> tuple[str, ...]:
    """The modules that register jobs: JOB_MODULES plus those named in LANTERN_EXTRA_JOB_MODULES."""
    extra = [name.strip() for name in os.environ.get(EXTRA_JOB_MODULES_ENV, "").split(",")]
    return JOB_MODULES + tuple(name for name in extra if name and name not in JOB_MODULES)


def _load() -> None:
    for module in job_modules():
        if module in _loaded_modules:
            continue
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # Only the module itself being absent is tolerated (a slim install, a plug-in removed);
            # a module that exists but fails to import is a bug and must surface.
            parents = {module.rsplit(".", depth)[0] for depth in range(module.count(".") + 1)}
            if exc.name not in parents:
                raise
            log.warning("job module %s is not installed; its jobs are unavailable", module)
        _loaded_modules.add(module)


def job_types() -> dict[str, JobType]:
    _load()
    return dict(_JOBS)


def get_job_type(name: str) -> JobType:
    _load()
    if name not in _JOBS:
        known = ", ".join(sorted(_JOBS)) or "none"
        raise SpecError(f"unknown job '{name}'", "spec: job", f"use one of: {known}")
    return _JOBS[name]


def validate_spec(document: Any, where: str = "spec") -> tuple[JobType, JobSpec]:
    """Check a spec document `{"job": NAME, "params": {...}}` and return its job type and parameters."""
    if not isinstance(document, dict):
        raise SpecError("a job spec must be a JSON object", where, 'write {"job": "NAME", "params": {...}}')
    unknown = sorted(set(document) - {"job", "params"})
    if unknown:
        raise SpecError(
            f"unknown top-level field(s): {', '.join(unknown)}", where, "a spec has only 'job' and 'params'"
        )
    name = document.get("job")
    if not isinstance(name, str):
        raise SpecError("the spec names no job", f"{where}: job", 'add "job": "NAME"')
    job_type = get_job_type(name)
    params = document.get("params", {})
    if not isinstance(params, dict):
        raise SpecError("'params' must be a JSON object", f"{where}: params", "write params as {...}")
    try:
        return job_type, job_type.spec.model_validate(params)
    except ValidationError as exc:
        problems = []
        for problem in exc.errors():
            field = ".".join(str(part) for part in problem["loc"]) or "params"
            if problem["type"] == "extra_forbidden":
                problems.append(f"unknown field '{field}'")
            else:
                problems.append(f"'{field}': {problem['msg']} (got {problem.get('input')!r})")
        allowed = ", ".join(job_type.spec.model_fields)
        raise SpecError(
            f"invalid parameters for job '{name}': " + "; ".join(problems),
            f"{where}: params",
            f"fields of '{name}' are: {allowed}",
        ) from exc
