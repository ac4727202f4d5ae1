"""RLTrainConfig: what an RL training run does (environment, agent, PPO, evaluation), and its file loader.

It is both the file format of `lantern rl train --config FILE` (JSON or TOML) and the parameters of the
"rl.train" job. The agent settings are checked with the torch-free agent catalogue, the PPO settings by
building engine.rl.ppo_config.PPOConfig, and a Box-World level family by BoxWorldConfig, so a bad config
fails before anything is trained or stored. Torch-free: the GUI imports it to build and validate configs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from engine.core.errors import LanternError
from engine.jobs.registry import JobSpec
from engine.rl.agents.catalog import AGENT_CATALOG, resolve_agent_config
from engine.rl.boxworld.config import BoxWorldConfig
from engine.rl.ppo_config import PPOConfig

EXAMPLE = "examples/rl/boxworld-small.json"


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class BoxWorldEnvSpec(_Strict):
    """Box-World levels drawn from a level family (BoxWorldConfig)."""

    kind: Literal["boxworld"] = "boxworld"
    boxworld: BoxWorldConfig = Field(default_factory=BoxWorldConfig)

    def describe(self) -> str:
        cfg = self.boxworld
        return (
            f"Box-World {cfg.size}x{cfg.size}, solution length {cfg.solution_length}, "
            f"distractors {cfg.distractors}"
        )


class GymEnvSpec(_Strict):
    """A gymnasium environment with a grid observation (e.g. MiniGrid), via engine.rl.grid_env.GymGridEnv."""

    kind: Literal["gym"] = "gym"
    id: str = Field(min_length=1)
    max_steps: int | None = Field(None, ge=1, description="None: the environment's own step limit")

    def describe(self) -> str:
        return self.id


EnvSpec = Annotated[BoxWorldEnvSpec | GymEnvSpec, Field(discriminator="kind")]


class RLTrainConfig(JobSpec):
    """One training run of one agent with PPO, evaluated on held-out levels every `eval_every`
    updates (each evaluation also writes the latest and best checkpoints)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field("rl training", min_length=1, max_length=200)
    # A plain default (validated into BoxWorldEnvSpec), so that job listings print it as JSON.
    env: EnvSpec = Field(
        default_factory=lambda: {"kind": "boxworld"},
        validate_default=True,
        description="{'kind': 'boxworld', 'boxworld': {BoxWorldConfig}} or "
        "{'kind': 'gym', 'id': 'MiniGrid-DoorKey-5x5-v0', 'max_steps': null}",
    )
    agent: str = Field("relational", description="relational or baseline")
    agent_config: dict[str, int | bool] = Field(
        default_factory=dict, description="overrides of the agent's defaults, e.g. {'blocks': 1}"
    )
    ppo: dict[str, int | float | str] = Field(
        default_factory=dict, description="PPOConfig fields, e.g. {'total_steps': 200000, 'n_envs': 64}"
    )
    eval_episodes: int = Field(200, ge=1, le=100_000, description="held-out episodes per evaluation")
    eval_every: int = Field(20, ge=1, le=1_000_000, description="updates between evaluations")
    # The policy is stochastic: evaluating it as trained (sampled) is the default; a greedy argmax policy
    # can loop forever in a level, since the agent has no memory.
    eval_greedy: bool = Field(False, description="evaluate the argmax action instead of sampling")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    device: str = Field("auto", description="auto, cpu, cuda, cuda:N or mps")

    @field_validator("agent")
    @classmethod
    def _known_agent(cls, value: str) -> str:
        if value not in AGENT_CATALOG:
            raise ValueError(f"unknown agent '{value}' (known: {', '.join(sorted(AGENT_CATALOG))})")
        return value

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        want = value.strip().lower()
        index = want.removeprefix("cuda:") if want.startswith("cuda:") else "0"
        if not (want in {"auto", "cpu", "cuda", "mps"} or want.startswith("cuda:")) or not index.isdigit():
            raise ValueError(f"unknown device '{value}' (use auto, cpu, cuda, cuda:N or mps)")
        return want

    @field_validator("agent_config")
    @classmethod
    def _agent_settings(cls, value: dict[str, int | bool], info: ValidationInfo) -> dict[str, int | bool]:
        agent = info.data.get("agent")
        if agent is None:  # the agent name itself was refused; that error says enough
            return value
        try:
            resolve_agent_config(agent, value)
        except LanternError as exc:
            raise ValueError(f"{exc.what} ({exc.hint})") from exc
        return value

    @field_validator("ppo")
    @classmethod
    def _ppo_settings(cls, value: dict[str, int | float | str]) -> dict[str, int | float | str]:
        _build_ppo(value, seed=0)
        return value

    def ppo_config(self) -> PPOConfig:
        """The PPO settings; PPOConfig's seed defaults to the run's seed."""
        return _build_ppo(self.ppo, seed=self.seed)

    def resolved_agent_config(self) -> dict[str, int | bool]:
        return resolve_agent_config(self.agent, self.agent_config)


# files


def _problems(exc: ValidationError) -> list[str]:
    problems = []
    for problem in exc.errors():
        # Discriminated unions put the tag in the location ("env.boxworld.boxworld.size"): drop it.
        parts = [str(part) for part in problem["loc"]]
        if len(parts) >= 2 and parts[0] == "env" and parts[1] in ("boxworld", "gym"):
            del parts[1]
        field = ".".join(parts) or "config"
        if problem["type"] == "extra_forbidden":
            problems.append(f"unknown key '{field}'")
        else:
            message = str(problem["msg"]).removeprefix("Value error, ")
            problems.append(f"'{field}': {message}")
    return problems


def parse_train_config(document: Any, where: str = "RL training config") -> RLTrainConfig:
    """Validate a config document (a dict); any problem is a LanternError naming the key and `where`."""
    if not isinstance(document, dict):
        raise LanternError(
            "an RL training config must be a JSON object / TOML table", where, f"see {EXAMPLE}"
        )
    try:
        return RLTrainConfig.model_validate(document)
    except ValidationError as exc:
        raise LanternError(
            "invalid RL training config: " + "; ".join(_problems(exc)),
            where,
            f"keys of an RL training config: {', '.join(RLTrainConfig.model_fields)}; see {EXAMPLE}",
        ) from exc
    except LanternError as exc:  # BoxWorldConfig's own checks (a level family that cannot be generated)
        field = "env.boxworld." + exc.where.removeprefix("BoxWorldConfig.")
        raise LanternError(f"invalid RL training config: '{field}': {exc.what}", where, exc.hint) from exc


def load_train_config(path: Path | str) -> RLTrainConfig:
    """Read an RLTrainConfig from a .json or .toml file."""
    from engine.core.config_files import read_config_document

    document = read_config_document(path)
    return parse_train_config(document, str(path))


def _build_ppo(settings: dict[str, int | float | str], *, seed: int) -> PPOConfig:
    fields = PPOConfig.__dataclass_fields__
    unknown = sorted(set(settings) - set(fields))
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(unknown)} (PPO takes: {', '.join(fields)})")
    for key, value in settings.items():
        kind = fields[key].type
        if kind in ("int", int) and isinstance(value, float):
            raise ValueError(f"{key} must be a whole number, got {value!r}")
        if (kind in ("str", str)) != isinstance(value, str):
            raise ValueError(f"{key} must be {'text' if kind in ('str', str) else 'a number'}, got {value!r}")
    try:
        return PPOConfig(**{"seed": seed, **settings})
    except LanternError as exc:
        raise ValueError(f"{exc.what} ({exc.hint})") from exc
