"""Config documents checked against their model: problems name their keys; non-dicts and bad documents are
LanternErrors naming the config, where it came from and its keys."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from engine.core.config_validation import config_problems, parse_config_document, refuse_unknown_keys
from engine.core.errors import LanternError


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = Field(4, ge=1)


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    inner: Inner = Field(default_factory=Inner)

    @model_validator(mode="after")
    def _check(self) -> Config:
        if len(self.seeds) > 3:
            raise ValueError("at most 3 seeds")
        return self


def _errors(document: dict) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Config.model_validate(document)
    return caught.value


def test_problems_name_keys_under_a_prefix_and_model_errors_stand_alone() -> None:
    problems = config_problems(_errors({"seed": 1, "inner": {"size": 0}}))
    assert problems[0] == "'inner.size': Input should be greater than or equal to 1"
    assert problems[1] == "unknown key 'seed'"
    assert config_problems(_errors({"seed": 1}), prefix="ssl") == ["unknown key 'ssl.seed'"]
    assert config_problems(_errors({"seeds": [1, 2, 3, 4]})) == ["at most 3 seeds"]


def test_relocate_rewrites_locations() -> None:
    problems = config_problems(_errors({"inner": {"size": 0}}), relocate=lambda parts: parts[1:])
    assert problems == ["'size': Input should be greater than or equal to 1"]


def test_parse_config_document_returns_the_model_or_a_clear_error() -> None:
    parsed = parse_config_document(Config, {"seeds": [1, 2]}, what="example config", where="f.json", see="x")
    assert parsed.seeds == [1, 2]
    with pytest.raises(LanternError, match="an example config must be a JSON object") as caught:
        parse_config_document(Config, [1], what="example config", where="f.json", see="docs")
    assert caught.value.where == "f.json" and caught.value.hint == "see docs"
    with pytest.raises(LanternError, match="invalid example config: unknown key 'x'") as caught:
        parse_config_document(Config, {"x": 1}, what="example config", where="f.json", see="docs")
    assert caught.value.hint == "keys of an example config: seeds, inner; see docs"


def test_refuse_unknown_keys_names_them_and_the_known_ones() -> None:
    refuse_unknown_keys({"a": 1}, ["a", "b"], "widget settings", "widget config")
    with pytest.raises(LanternError, match="unknown widget settings: c, d") as caught:
        refuse_unknown_keys({"d": 1, "a": 2, "c": 3}, iter(["b", "a"]), "widget settings", "widget config")
    assert caught.value.where == "widget config" and caught.value.hint == "known settings: a, b"
