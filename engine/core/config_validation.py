"""Checking config documents (pydantic models, settings dicts), with one wording for every config's problems.

Each problem names its key ("unknown key 'ssl.epoch'", "'seeds': list should have at least 1 item");
a problem of the whole document (a model validator) is its message alone. Torch-free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from engine.core.errors import LanternError

ModelT = TypeVar("ModelT", bound=BaseModel)


def refuse_unknown_keys(data: Mapping[str, Any], known: Iterable[str], what: str, where: str) -> None:
    """A LanternError "unknown {what}: a, b" listing the known keys when `data` has keys outside `known`."""
    names = set(known)
    unknown = sorted(set(data) - names)
    if unknown:
        raise LanternError(
            f"unknown {what}: {', '.join(unknown)}", where, f"known settings: {', '.join(sorted(names))}"
        )


def config_problems(
    exc: ValidationError, prefix: str = "", relocate: Callable[[list[str]], list[str]] | None = None
) -> list[str]:
    """One line per problem of `exc`, each naming its key (dotted, under `prefix` when given).

    relocate rewrites a problem's location parts first (e.g. to drop a discriminated union's tag)."""
    problems = []
    for problem in exc.errors():
        parts = [str(part) for part in problem["loc"]]
        if relocate is not None:
            parts = relocate(parts)
        field = ".".join([prefix, *parts] if prefix else parts) or "config"
        if problem["type"] == "extra_forbidden":
            problems.append(f"unknown key '{field}'")
        else:
            message = str(problem["msg"]).removeprefix("Value error, ")
            problems.append(f"'{field}': {message}" if problem["loc"] else message)
    return problems


def parse_config_document(
    model: type[ModelT],
    document: Any,
    *,
    what: str,
    where: str,
    see: str,
    relocate: Callable[[list[str]], list[str]] | None = None,
) -> ModelT:
    """`document` (a dict) validated as `model`; anything else, and every problem, is a LanternError
    naming `what` ("SSL experiment config"), `where` it came from and the keys the model has."""
    if not isinstance(document, dict):
        raise LanternError(f"an {what} must be a JSON object / TOML table", where, f"see {see}")
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise LanternError(
            f"invalid {what}: " + "; ".join(config_problems(exc, relocate=relocate)),
            where,
            f"keys of an {what}: {', '.join(model.model_fields)}; see {see}",
        ) from exc
