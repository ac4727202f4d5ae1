"""The job registry: job name -> engine function + its spec model, and spec validation."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from engine.core.errors import SpecError

if TYPE_CHECKING:
    from engine.jobs.context import JobContext

# Modules that register jobs; imported on first lookup so that importing the registry stays cheap
# (and torch-free) for the GUI. A new capability adds its module here: one line.
JOB_MODULES = ("engine.demo.jobs",)


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
_loaded = False


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


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in JOB_MODULES:
            importlib.import_module(module)
        _loaded = True


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
