"""What an SSL experiment runs: data, methods, arms p, controls, seeds, the bank's generator, SSL settings.

`ExperimentConfig` is the file format of `lantern ssl experiment --config FILE` (JSON or TOML) and the
`config` of the "ssl.experiment" job. Every run of an experiment shares the same data, epochs, classic
augmentations and seeds; only the method, the arm (p with the main generator's bank, or a control bank at
p = 1) and the seed vary. The SSL settings are checked by building the SSLConfig of every method here, so a
bad config fails before any bank is built or anything is stored. Torch-free: the GUI imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.core.config_validation import config_problems, parse_config_document
from engine.core.errors import LanternError

SettingValue = int | float | str | bool
CONTROLS: tuple[str, ...] = ("identity", "other_image")
CONTROL_HELP = {
    "identity": "the generator returns the source: must match the baseline p = 0",
    "other_image": "views of a random other image: semantically wrong views, expected to hurt",
}
# Set per run by the experiment, so they may not appear among the shared SSL settings.
PER_RUN_SSL_KEYS = ("method", "method_settings", "seed")
EXAMPLE = "examples/ssl/fashion-quick.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GeneratorChoice(_Strict):
    """The generator that fills the bank of the p arms (the controls use their own generators)."""

    name: str = Field("lantern", min_length=1, description="a generator of the registry, e.g. lantern")
    checkpoint: str | None = Field("bundled", description="the generator's checkpoint; bundled: shipped one")
    settings: dict[str, SettingValue] = Field(
        default_factory=lambda: {"steps": 10}, description="sampling settings, e.g. steps, guidance"
    )


class ExperimentConfig(_Strict):
    """One experiment: for each method x arm x seed, train SSL with view 2 from a bank, then probe it."""

    name: str = Field("ssl experiment", min_length=1, max_length=200)
    dataset: str = Field("fashion-mnist-demo", min_length=1, description="dataset name or image folder")
    # The subset a limit keeps is the one every bank uses (data seed 0), so bank rows line up with it.
    limit: int | None = Field(2000, ge=16, description="training images (None: the whole train split)")
    methods: list[str] = Field(default_factory=lambda: ["simclr"])
    method_settings: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per method, e.g. {'simclr': {'temperature': 0.5}}"
    )
    arms: list[float] = Field(
        default_factory=lambda: [0.0, 0.5, 1.0], description="p: chance that view 2 is a generated view"
    )
    controls: list[str] = Field(
        default_factory=lambda: list(CONTROLS), description="each run at p = 1 with its own bank"
    )
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], description="one run per seed and arm")
    draw: Literal["per_image", "per_sample"] = Field(
        "per_image", description="per_image: real/synthetic fixed per image for a run; per_sample: redrawn"
    )
    generator: GeneratorChoice = Field(default_factory=dict, validate_default=True)  # type: ignore[arg-type]
    k: int = Field(4, ge=1, le=64, description="generated views per training image")
    bank_seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the bank's generation")
    ssl: dict[str, Any] = Field(
        default_factory=dict,
        description="SSL settings every run shares: epochs, batch_size, lr, width, blocks, augment, ...",
    )
    probe_epochs: int = Field(100, ge=1, le=10_000, description="epochs of the linear probe")

    @field_validator("arms")
    @classmethod
    def _probabilities(cls, value: list[float]) -> list[float]:
        for p in value:
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"arm p = {p} is outside [0, 1] (p is the chance of a generated view 2)")
        if len(set(value)) != len(value):
            raise ValueError(f"an arm is listed twice in {value}")
        return [float(p) for p in value]

    @field_validator("controls")
    @classmethod
    def _known_controls(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in CONTROLS:
                raise ValueError(f"unknown control '{name}' (known: {', '.join(CONTROLS)})")
        if len(set(value)) != len(value):
            raise ValueError(f"a control is listed twice in {value}")
        return value

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("give at least 1 seed (3 or more to see the spread)")
        if len(set(value)) != len(value):
            raise ValueError(f"a seed is listed twice in {value}")
        if any(seed < 0 for seed in value):
            raise ValueError(f"seeds must be 0 or more, not {value}")
        return value

    @model_validator(mode="after")
    def _check(self) -> ExperimentConfig:
        if not self.arms and not self.controls:
            raise ValueError("give at least one arm or control")
        if not self.methods:
            raise ValueError("give at least one SSL method, e.g. ['simclr']")
        from engine.ssl.methods import SSL_METHODS

        for method in self.methods:
            if method not in SSL_METHODS:
                raise ValueError(f"unknown SSL method '{method}' (known: {', '.join(SSL_METHODS)})")
        if len(set(self.methods)) != len(self.methods):
            raise ValueError(f"a method is listed twice in {self.methods}")
        for name in self.method_settings:
            if name not in self.methods:
                raise ValueError(f"method_settings names '{name}', which is not one of the methods")
        shared = [key for key in PER_RUN_SSL_KEYS if key in self.ssl]
        if shared:
            raise ValueError(
                f"ssl may not set {', '.join(shared)}: the experiment sets them per run "
                "(use methods, method_settings and seeds)"
            )
        for method in self.methods:
            ssl = self.ssl_config(method, self.seeds[0])  # every method's settings must make an SSLConfig
            if self.limit is not None and self.limit < ssl.batch_size:
                raise ValueError(
                    f"limit {self.limit} images make no full batch of ssl.batch_size {ssl.batch_size}: "
                    "lower the batch size or raise the limit"
                )
        _check_generator(self.generator)
        return self

    # derived values
    def ssl_config(self, method: str, seed: int) -> Any:
        """The SSLConfig of one run: the shared settings with this method, its settings and this seed."""
        from engine.ssl.config import SSLConfig

        document = {
            **self.ssl,
            "method": method,
            "method_settings": dict(self.method_settings.get(method, {})),
            "seed": seed,
        }
        try:
            return SSLConfig.model_validate(document)
        except ValidationError as exc:
            problems = "; ".join(config_problems(exc, prefix="ssl"))
            raise ValueError(f"the SSL settings of method '{method}' are invalid: {problems}") from None

    def arm_list(self) -> list[tuple[str, float, str | None]]:
        """(label, p, control) of every arm, p arms first: ("p=0.5", 0.5, None), ("control: identity", 1,
        "identity")."""
        arms: list[tuple[str, float, str | None]] = [(arm_label(p, None), p, None) for p in self.arms]
        arms += [(arm_label(1.0, control), 1.0, control) for control in self.controls]
        return arms

    def run_count(self) -> int:
        return len(self.methods) * len(self.arm_list()) * len(self.seeds)


def _check_generator(choice: GeneratorChoice) -> None:
    """The generator must be in the catalogue and its settings among those it takes, in range."""
    from engine.augment.generators.base import CATALOGUE

    info = CATALOGUE.get(choice.name)
    if info is None:
        raise ValueError(f"unknown generator '{choice.name}' (known: {', '.join(CATALOGUE)})")
    known = {spec.name: spec for spec in info.settings}
    for name, value in choice.settings.items():
        if name not in known:
            takes = ", ".join(known) if known else "no settings (give settings {})"
            raise ValueError(f"generator '{choice.name}' has no setting '{name}'; it takes {takes}")
        try:
            known[name].check(value, "generator.settings")
        except LanternError as exc:
            raise ValueError(exc.what) from None


def arm_label(p: float, control: str | None) -> str:
    """How an arm is named in runs and tables: "p=0.5", or "control: identity"."""
    return f"control: {control}" if control else f"p={p:g}"


# files


def parse_experiment_config(document: Any, where: str = "SSL experiment config") -> ExperimentConfig:
    """Validate a config document (a dict); any problem is a LanternError naming the key and `where`."""
    return parse_config_document(
        ExperimentConfig, document, what="SSL experiment config", where=where, see=EXAMPLE
    )


def load_experiment_config(path: Path | str) -> ExperimentConfig:
    """Read an ExperimentConfig from a .json or .toml file."""
    from engine.core.config_files import read_config_document

    return parse_experiment_config(read_config_document(path), str(path))
