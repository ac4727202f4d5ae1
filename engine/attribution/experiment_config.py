"""What an attribution experiment does: base data, manipulations, r, model, runs, training, methods, sweep.

`ExperimentConfig` is both the file format of `lantern attribution run --config FILE` (JSON or TOML) and the
parameters of the "attribution.experiment" job. Every name it holds (manipulation, model, method) is checked
against the registries' torch-free catalogues, and min_accuracy against p*, so a bad config fails before
anything is trained or stored. Torch-free: the GUI imports this module to build and validate configs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.core.errors import LanternError
from engine.jobs.registry import JobSpec

Modality = Literal["image", "text"]
SettingValue = int | float | str | bool
SWEEP_KEYS = ("r", "strength")
IMAGE_BASES = ("fashion_pair", "image_folder")
TEXT_BASES = ("rotten_tomatoes",)
DEFAULT_MODEL = {"image": "small_cnn", "text": "bilstm_attention"}
DEFAULT_BASE = {"image": "fashion_pair", "text": "rotten_tomatoes"}
DEFAULT_TEXT_MANIPULATIONS = ("article_substitution",)
# Text methods that read the model's own token importance: they exist only for models that have one.
IMPORTANCE_METHODS = ("attention", "rationale")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BaseData(_Strict):
    """The data before modification. kind None: fashion_pair for images, rotten_tomatoes for text."""

    kind: str | None = Field(None, description="fashion_pair, image_folder or rotten_tomatoes")
    classes: tuple[int, int] = Field((0, 6), description="fashion_pair: the two Fashion-MNIST classes")
    colour: bool | None = Field(
        None, description="fashion_pair: tint garments with random hues (None: when a manipulation needs it)"
    )
    path: str | None = Field(None, description="image_folder: one subfolder per class")
    size: int | None = Field(None, ge=8, le=1024, description="image_folder: resize to size x size")
    limit: int | None = Field(None, ge=10, description="use at most this many samples")


class ManipulationSpec(_Strict):
    name: str
    strength: float | None = Field(None, description="None: the manipulation's default")


class ModelSettings(_Strict):
    name: str | None = Field(None, description="small_cnn, resnet; bilstm_attention, bert, rationale")
    width: int = Field(32, ge=4, le=512, description="image models: channels of the first block")
    depth: int = Field(2, ge=1, le=8, description="image models: conv blocks")
    options: dict[str, SettingValue] = Field(
        default_factory=dict, description="other settings of the model builder (e.g. text model sizes)"
    )


class TrainSettings(_Strict):
    max_epochs: int = Field(15, ge=1, le=1000)
    batch_size: int = Field(64, ge=1, le=4096)
    lr: float = Field(2e-3, gt=0, le=10)
    weight_decay: float = Field(0.0, ge=0, le=1)
    min_accuracy: float = Field(0.97, gt=0, le=1, description="validation accuracy a run must reach")
    patience: int = Field(5, ge=1, le=1000, description="epochs without improvement before stopping")


class ExperimentConfig(JobSpec):
    """One experiment: for each sweep point x manipulation x replicate, modify, train, filter, attribute.

    Nested sections default to {} validated into their models, so the defaults stay plain JSON (the job
    listing prints them).
    """

    name: str = Field("attribution experiment", min_length=1, max_length=200)
    modality: Modality = "image"
    base: BaseData = Field(default_factory=dict, validate_default=True)
    manipulations: list[ManipulationSpec] = Field(
        default_factory=list, description="empty: all five image manipulations, or article substitution"
    )
    r: float = Field(0.5, description="probability that a label is kept; p* = max(r, 1 - r)")
    matrix: list[list[float]] | None = Field(
        None,
        description="2 x 2 label reassignment (row: original label, column: new label, rows sum to 1); "
        "replaces r, e.g. [[0.9, 0.1], [0.3, 0.7]]",
    )
    model: ModelSettings = Field(default_factory=dict, validate_default=True)
    runs: int = Field(3, ge=1, le=100, description="replicates per manipulation (seed + replicate)")
    train: TrainSettings = Field(default_factory=dict, validate_default=True)
    methods: list[str] = Field(default_factory=list, description="empty: every method for the modality")
    method_settings: dict[str, dict[str, SettingValue]] = Field(
        default_factory=dict, description="per method, e.g. {'smoothgrad': {'n_samples': 20}}"
    )
    n_explain: int = Field(32, ge=1, le=100_000, description="test samples attributed per run")
    n_gallery: int = Field(8, ge=0, le=256, description="samples kept with their maps per run")
    val_fraction: float = Field(0.15, gt=0, lt=0.5)
    test_fraction: float = Field(0.15, gt=0, lt=0.5)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    attribution_batch_size: int = Field(64, ge=1, le=4096)
    sweep: dict[str, list[float]] | None = Field(
        None, description="{'r': [...]} or {'strength': [...]}: one experiment per value"
    )

    @field_validator("r")
    @classmethod
    def _r_in_unit_interval(cls, value: float) -> float:
        _check_r(value)
        return value

    @field_validator("matrix")
    @classmethod
    def _stochastic_two_by_two(cls, value: list[list[float]] | None) -> list[list[float]] | None:
        if value is None:
            return None
        from engine.attribution.relabel import validate_matrix

        try:
            checked = validate_matrix(value)
        except LanternError as exc:
            raise ValueError(f"{exc.what} ({exc.hint})" if exc.hint else exc.what) from exc
        if checked.shape != (2, 2):
            rows, cols = checked.shape
            raise ValueError(f"the matrix must be 2 x 2 (two classes), not {rows} x {cols}")
        return checked.tolist()

    @field_validator("sweep")
    @classmethod
    def _one_sweep(cls, value: dict[str, list[float]] | None) -> dict[str, list[float]] | None:
        if value is None:
            return None
        if len(value) != 1 or next(iter(value)) not in SWEEP_KEYS:
            raise ValueError(f"a sweep is {{'r': [...]}} or {{'strength': [...]}}, not {sorted(value)}")
        key, values = next(iter(value.items()))
        if not values:
            raise ValueError(f"the sweep over {key} has no values")
        if key == "r":
            for r in values:
                _check_r(r)
        return {key: [float(v) for v in values]}

    @model_validator(mode="after")
    def _resolve_and_check(self) -> ExperimentConfig:
        self.base.kind = self.base.kind or DEFAULT_BASE[self.modality]
        self.model.name = self.model.name or DEFAULT_MODEL[self.modality]
        _check_base(self)
        _check_manipulations(self)
        _check_model(self)
        _check_methods(self)
        _check_threshold(self)
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ValueError("val_fraction + test_fraction must leave at least 10% for training")
        return self

    # derived values
    def sweep_points(self) -> list[dict[str, float | None]]:
        """The (r, strength) of each point: one point without a sweep (strength None: per manipulation)."""
        if not self.sweep:
            return [{"r": self.r, "strength": None}]
        key, values = next(iter(self.sweep.items()))
        if key == "r":
            return [{"r": value, "strength": None} for value in values]
        return [{"r": self.r, "strength": value} for value in values]

    def r_values(self) -> list[float]:
        return [float(point["r"]) for point in self.sweep_points()]  # type: ignore[arg-type]

    def replicate_count(self) -> int:
        return len(self.sweep_points()) * len(self.manipulations) * self.runs


def _check_r(value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"r must lie in [0, 1], got {value} (r is the probability that a label is kept)")


def p_star_binary(r: float) -> float:
    """The best accuracy any function of the original input reaches with balanced binary labels."""
    return max(r, 1.0 - r)


def _check_base(cfg: ExperimentConfig) -> None:
    kinds = IMAGE_BASES if cfg.modality == "image" else TEXT_BASES
    if cfg.base.kind not in kinds:
        raise ValueError(
            f"base kind '{cfg.base.kind}' is not {cfg.modality} data (for {cfg.modality}: {', '.join(kinds)})"
        )
    if cfg.base.kind == "image_folder" and not cfg.base.path:
        raise ValueError("base kind image_folder needs base.path (a folder with one subfolder per class)")
    if cfg.base.kind == "fashion_pair":
        low, high = cfg.base.classes
        if low == high or not (0 <= low <= 9 and 0 <= high <= 9):
            raise ValueError(f"base.classes must be two different classes in 0..9, not {low}, {high}")


def _check_manipulations(cfg: ExperimentConfig) -> None:
    from engine.attribution.manipulations import IMAGE_MANIPULATIONS, TEXT_MANIPULATIONS

    registry: dict[str, Any] = IMAGE_MANIPULATIONS if cfg.modality == "image" else TEXT_MANIPULATIONS
    if not cfg.manipulations:
        names = list(registry) if cfg.modality == "image" else list(DEFAULT_TEXT_MANIPULATIONS)
        cfg.manipulations = [ManipulationSpec(name=name) for name in names]
    seen: set[str] = set()
    for spec in cfg.manipulations:
        if spec.name not in registry:
            raise ValueError(
                f"unknown {cfg.modality} manipulation '{spec.name}' (known: {', '.join(registry)})"
            )
        if spec.name in seen:
            raise ValueError(f"manipulation '{spec.name}' is listed twice")
        seen.add(spec.name)
        manipulation = registry[spec.name]
        strengths = [spec.strength]
        if cfg.sweep and "strength" in cfg.sweep:
            strengths = list(cfg.sweep["strength"])
        low, high = getattr(manipulation, "min_strength", None), getattr(manipulation, "max_strength", None)
        for strength in strengths:
            if strength is not None and low is not None and high is not None and not low <= strength <= high:
                raise ValueError(f"strength {strength} of '{spec.name}' is outside [{low}, {high}]")
    if cfg.modality == "image":
        needs_colour = [s.name for s in cfg.manipulations if registry[s.name].needs_colour]
        if cfg.base.colour is None:
            cfg.base.colour = bool(needs_colour) and cfg.base.kind == "fashion_pair"
        elif not cfg.base.colour and needs_colour and cfg.base.kind == "fashion_pair":
            raise ValueError(
                f"{', '.join(needs_colour)} needs colour images, and base.colour is false: set it true"
            )


def _check_model(cfg: ExperimentConfig) -> None:
    from engine.attribution.models.catalog import IMAGE_MODEL_CATALOG, TEXT_MODEL_CATALOG

    catalog = IMAGE_MODEL_CATALOG if cfg.modality == "image" else TEXT_MODEL_CATALOG
    if cfg.model.name not in catalog:
        raise ValueError(f"unknown {cfg.modality} model '{cfg.model.name}' (known: {', '.join(catalog)})")


def methods_for(modality: str) -> list[str]:
    """Every registered method that works on this modality, in catalogue order."""
    from engine.attribution.methods.catalog import METHOD_CATALOG

    return [name for name, info in METHOD_CATALOG.items() if modality in info.modalities]


def _check_methods(cfg: ExperimentConfig) -> None:
    from engine.attribution.methods.catalog import METHOD_CATALOG

    known = methods_for(cfg.modality)
    if not cfg.methods:
        cfg.methods = known
        return
    for name in cfg.methods:
        if name not in METHOD_CATALOG:
            raise ValueError(f"unknown attribution method '{name}' (known: {', '.join(METHOD_CATALOG)})")
        if name not in known:
            raise ValueError(f"method '{name}' does not work on {cfg.modality} data (those that do: {known})")
    if len(set(cfg.methods)) != len(cfg.methods):
        raise ValueError("a method is listed twice in methods")
    for name in cfg.method_settings:
        if name not in cfg.methods:
            raise ValueError(f"method_settings names '{name}', which is not one of the methods")


def _check_threshold(cfg: ExperimentConfig) -> None:
    if cfg.matrix is not None:
        if cfg.sweep and "r" in cfg.sweep:
            raise ValueError("a sweep over r and a reassignment matrix exclude each other: give one")
        from engine.attribution.relabel import p_star

        bound = p_star(np.asarray(cfg.matrix))
        if cfg.train.min_accuracy <= bound:
            raise ValueError(
                f"train.min_accuracy {cfg.train.min_accuracy} must exceed p* = {bound:.3f} of the matrix: "
                "a model that does not beat p* need not use the manipulation"
            )
        return
    for r in cfg.r_values():
        p_star = p_star_binary(r)
        if cfg.train.min_accuracy <= p_star:
            raise ValueError(
                f"train.min_accuracy {cfg.train.min_accuracy} must exceed p* = {p_star:.3f} (r = {r}): "
                "a model that does not beat p* need not use the manipulation"
            )


# files


def _problems(exc: ValidationError) -> list[str]:
    problems = []
    for problem in exc.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "config"
        if problem["type"] == "extra_forbidden":
            problems.append(f"unknown key '{field}'")
        else:
            message = str(problem["msg"]).removeprefix("Value error, ")
            problems.append(f"'{field}': {message}")
    return problems


def parse_config(document: Any, where: str = "experiment config") -> ExperimentConfig:
    """Validate a config document (a dict); any problem is a LanternError naming the key and `where`."""
    if not isinstance(document, dict):
        raise LanternError("an experiment config must be a JSON object / TOML table", where, "see --help")
    try:
        return ExperimentConfig.model_validate(document)
    except ValidationError as exc:
        raise LanternError(
            "invalid experiment config: " + "; ".join(_problems(exc)),
            where,
            f"keys of an experiment config: {', '.join(ExperimentConfig.model_fields)}; "
            "see examples/attribution/fashion.json",
        ) from exc


def load_config(path: Path | str) -> ExperimentConfig:
    """Read an ExperimentConfig from a .json or .toml file."""
    from engine.core.config_files import read_config_document

    document = read_config_document(path)
    return parse_config(document, str(path))
