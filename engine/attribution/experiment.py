"""Run an attribution experiment (Zhou et al. 2022): modify, train, filter, attribute, score, keep a gallery.

For each sweep point x manipulation x replicate: the base data is modified with seed = cfg.seed +
replicate (labels reassigned with r, the manipulation applied by the new label), split into train /
validation / test, a model is trained until its validation accuracy reaches min_accuracy (> p*), and the
verdict recorded. A model that passes must use the manipulation's region, so each method's maps on
`n_explain` test samples are scored against that region: every metric, for the samples with the
manipulation (presence), without it (absence) and all of them. Maps explain the model's predicted class.
Text models with their own token importance (attention weights, rationales) are also scored by attention
mass against the manipulated tokens' frequency, or by rationale precision and recall.

Callers see the work through `ExperimentHooks` (progress, metrics, log, cancel, skip, on_replicate): the job
stores each replicate as it finishes, and skips the ones a resumed job already has.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.attribution.experiment_config import IMPORTANCE_METHODS, ExperimentConfig
from engine.attribution.records import LeaderboardRow, ReplicateRecord, ScoreRow
from engine.attribution.types import CONDITIONS, Gallery, ImageSet, ModifiedImages, ModifiedTexts, TextSet
from engine.core.errors import LanternError

ReplicateKey = tuple[str, float, float, int]  # (manipulation, strength, r, replicate)
Modified = ModifiedImages | ModifiedTexts
WHERE = "attribution experiment"


@dataclass
class ExperimentHooks:
    """How a caller follows and steers an experiment; every hook is optional."""

    progress: Callable[[float, float, str], None] | None = None  # (done, total, message)
    metrics: Callable[[float, dict[str, float]], None] | None = None  # (step, values)
    log: Callable[[str], None] | None = None
    check_cancelled: Callable[[], None] | None = None  # raises JobCancelled
    skip: Callable[[ReplicateKey], bool] | None = None  # True: this replicate is done already
    on_replicate: Callable[[ReplicateOutcome], None] | None = None  # called as each replicate finishes


@dataclass(frozen=True)
class ReplicateOutcome:
    """One trained model: its key, accuracy and verdict, and (when it passed) its scores and gallery."""

    manipulation: str
    strength: float
    r: float
    replicate: int
    model: str
    val_accuracy: float
    test_accuracy: float | None
    p_star: float
    passed: bool
    epochs: int
    dropped: int
    scores: list[ScoreRow] = field(default_factory=list)
    gallery: Gallery | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # training, and each method

    @property
    def key(self) -> ReplicateKey:
        return (self.manipulation, self.strength, self.r, self.replicate)


@dataclass(frozen=True)
class ExperimentResult:
    """The replicates this call ran (resumed ones are counted in `skipped`) and their galleries."""

    replicates: list[ReplicateOutcome]
    skipped: int = 0

    @property
    def passed(self) -> int:
        return sum(outcome.passed for outcome in self.replicates)

    @property
    def pass_rate(self) -> float:
        return self.passed / len(self.replicates) if self.replicates else 0.0

    @property
    def galleries(self) -> list[Gallery]:
        return [o.gallery for o in self.replicates if o.gallery is not None]

    def leaderboard(self, metric: str = "attr_pct", condition: str = "all") -> list[LeaderboardRow]:
        """The same aggregation the repository does, over this call's replicates."""
        from datetime import datetime

        from engine.attribution.repository import aggregate

        records = [
            ReplicateRecord(
                i,
                0,
                o.manipulation,
                o.strength,
                o.r,
                o.replicate,
                o.model,
                o.val_accuracy,
                o.test_accuracy,
                o.p_star,
                o.passed,
                o.epochs,
                o.dropped,
                datetime.min,
            )
            for i, o in enumerate(self.replicates)
        ]
        scores = [(i, row) for i, o in enumerate(self.replicates) for row in o.scores]
        return aggregate(records, scores, metric, condition)


# data


def load_base(cfg: ExperimentConfig) -> ImageSet | TextSet:
    """The base data the config names, before modification."""
    from engine.attribution import datasets

    base = cfg.base
    if base.kind == "fashion_pair":
        return datasets.fashion_pair(
            tuple(base.classes), split="train", colour=bool(base.colour), limit=base.limit, seed=cfg.seed
        )
    if base.kind == "image_folder":
        images = datasets.image_folder(str(base.path), size=base.size)
        if base.limit is not None and base.limit < len(images.labels):
            keep = np.sort(
                np.random.default_rng(cfg.seed).choice(len(images.labels), base.limit, replace=False)
            )
            names = tuple(images.names[i] for i in keep) if images.names else ()
            images = ImageSet(
                images.images[keep], images.labels[keep], images.class_names, images.source, names
            )
        return images
    return datasets.rotten_tomatoes(limit=base.limit, seed=cfg.seed)


def modify(
    cfg: ExperimentConfig,
    base: ImageSet | TextSet,
    manipulation: str,
    strength: float | None,
    r: float,
    replicate: int,
) -> Modified:
    from engine.attribution.modify import modify_images, modify_texts

    seed = cfg.seed + replicate
    if isinstance(base, TextSet):
        return modify_texts(base, manipulation, strength=strength, r=r, matrix=cfg.matrix, seed=seed)
    return modify_images(base, manipulation, strength=strength, r=r, matrix=cfg.matrix, seed=seed)


def split_indices(n: int, cfg: ExperimentConfig, replicate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) indices of a seeded permutation; the test part is in random order too."""
    n_val = max(1, round(n * cfg.val_fraction))
    n_test = max(1, round(n * cfg.test_fraction))
    if n - n_val - n_test < 2:
        raise LanternError(
            f"{n} samples are too few to split into training, validation and test",
            f"{WHERE} '{cfg.name}'",
            "use more base data (base.limit) or smaller val_fraction / test_fraction",
        )
    order = np.random.default_rng([cfg.seed, replicate, 7]).permutation(n)
    return order[n_val + n_test :], order[:n_val], order[n_val : n_val + n_test]


def _take(data: Modified, index: np.ndarray) -> Any:
    if isinstance(data, ModifiedImages):
        return data.images[index]
    return [data.tokens[i] for i in index]


def _masks(data: Modified, index: np.ndarray) -> Any:
    if isinstance(data, ModifiedImages):
        return data.masks[index]
    return [data.masks[i] for i in index]


# scoring


def _score_rows(
    method: str,
    metric_scores: dict[tuple[str, str], np.ndarray],
    shares: np.ndarray,
    manipulated: np.ndarray,
    aggregation: str,
) -> list[ScoreRow]:
    """Per (metric, condition): the mean over the samples with a finite score, and their region share."""
    selections = {"presence": manipulated, "absence": ~manipulated, "all": np.ones_like(manipulated)}
    rows = []
    for (metric, condition), values in metric_scores.items():
        values = np.asarray(values, dtype=np.float64)
        share = shares[selections[condition]]
        finite = np.isfinite(values)
        if not finite.any():
            continue
        rows.append(
            ScoreRow(
                method=method,
                metric=metric,
                condition=condition,
                mean=float(values[finite].mean()),
                n=int(finite.sum()),
                region_share=float(np.nanmean(share[finite]))
                if np.isfinite(share[finite]).any()
                else math.nan,
                aggregation=aggregation,
            )
        )
    return rows


def _by_condition(values: np.ndarray, manipulated: np.ndarray) -> dict[str, np.ndarray]:
    selections = {"presence": manipulated, "absence": ~manipulated, "all": np.ones_like(manipulated)}
    return {c: np.asarray(values)[selections[c]] for c in CONDITIONS}


def importance_rows(
    kind: str, values: list[np.ndarray], masks: list[np.ndarray], manipulated: np.ndarray, aggregation: str
) -> list[ScoreRow]:
    """Attention mass against the manipulated tokens' frequency, or rationale precision and recall."""
    from engine.attribution.scores import attention_mass, rationale_precision_recall, region_share

    shares = region_share(masks)
    if kind == "attention":
        mass, frequency = attention_mass(values, masks)
        return _score_rows(
            "attention",
            {("attention_mass", c): v for c, v in _by_condition(mass, manipulated).items()},
            frequency,
            manipulated,
            aggregation,
        )
    precision, recall = rationale_precision_recall(values, masks)
    scores = {("rationale_precision", c): v for c, v in _by_condition(precision, manipulated).items()}
    scores |= {("rationale_recall", c): v for c, v in _by_condition(recall, manipulated).items()}
    return _score_rows("rationale", scores, shares, manipulated, aggregation)


def gallery_indices(manipulated: np.ndarray, count: int) -> np.ndarray:
    """Up to `count` positions, half with the manipulation and half without where both exist."""
    present = np.flatnonzero(manipulated)
    absent = np.flatnonzero(~manipulated)
    n_present = min(len(present), max(count - len(absent), (count + 1) // 2))
    chosen = np.concatenate([present[:n_present], absent[: count - n_present]])
    return np.sort(chosen)


# the experiment


class _Runner:
    def __init__(self, cfg: ExperimentConfig, hooks: ExperimentHooks, device: str) -> None:
        self.cfg = cfg
        self.hooks = hooks
        self.device = device
        self.total = cfg.replicate_count()
        self.done = 0
        self.passed = 0
        self.trained = 0
        self.warned: set[str] = set()

    def log(self, message: str) -> None:
        if self.hooks.log is not None:
            self.hooks.log(message)

    def progress(self, done: float, message: str) -> None:
        if self.hooks.progress is not None:
            self.hooks.progress(done, self.total, message)

    def metrics(self, step: float, values: dict[str, float]) -> None:
        if self.hooks.metrics is not None:
            self.hooks.metrics(step, {k: v for k, v in values.items() if math.isfinite(v)})

    def check_cancelled(self) -> None:
        if self.hooks.check_cancelled is not None:
            self.hooks.check_cancelled()

    def label(self, manipulation: str, point: dict[str, float | None], replicate: int) -> str:
        sweep = ""
        if self.cfg.sweep and "r" in self.cfg.sweep:
            sweep = f"/r={point['r']:g}"
        elif self.cfg.sweep:
            sweep = f"/strength={point['strength']:g}"
        return f"{manipulation}{sweep}/run{replicate}"

    def build_model(self, data: Modified, train_index: np.ndarray, seed: int) -> Any:
        from engine.attribution.models import build_image_model, build_text_model

        model_cfg = self.cfg.model
        num_classes = len(data.class_names)
        if isinstance(data, ModifiedImages):
            _, channels, height, width = data.images.shape
            return build_image_model(
                str(model_cfg.name),
                in_channels=channels,
                num_classes=num_classes,
                image_size=(height, width),
                width=model_cfg.width,
                depth=model_cfg.depth,
                seed=seed,
                **model_cfg.options,
            )
        return build_text_model(
            str(model_cfg.name),
            texts_for_vocab=_take(data, train_index),
            num_classes=num_classes,
            seed=seed,
            **model_cfg.options,
        )

    def methods_for(self, model: Any) -> list[str]:
        kind = getattr(model, "importance_kind", None)
        methods = []
        for method in self.cfg.methods:
            if method in IMPORTANCE_METHODS and method != kind:
                if method not in self.warned:
                    self.warned.add(method)
                    self.log(
                        f"'{method}' needs a model with {method} ({self.cfg.model.name} has none): skipped"
                    )
                continue
            methods.append(method)
        return methods

    def replicate(
        self,
        base: ImageSet | TextSet,
        manipulation: str,
        strength: float | None,
        point: dict[str, Any],
        replicate: int,
    ) -> ReplicateOutcome | None:
        from engine.attribution.methods import AGGREGATION, attribute_images, attribute_texts
        from engine.attribution.scores import region_share, score_maps
        from engine.attribution.training import TrainConfig, check_threshold, predict, train_model

        cfg = self.cfg
        r = float(point["r"])
        data = modify(cfg, base, manipulation, strength, r, replicate)
        key = (manipulation, float(data.strength), r, replicate)
        if self.hooks.skip is not None and self.hooks.skip(key):
            return None
        seed = cfg.seed + replicate
        label = self.label(manipulation, point, replicate)
        check_threshold(cfg.train.min_accuracy, data.p_star)
        train_index, val_index, test_index = split_indices(len(data), cfg, replicate)
        model = self.build_model(data, train_index, seed)
        methods = self.methods_for(model)
        train_cfg = TrainConfig(
            max_epochs=cfg.train.max_epochs,
            batch_size=cfg.train.batch_size,
            lr=cfg.train.lr,
            weight_decay=cfg.train.weight_decay,
            min_accuracy=cfg.train.min_accuracy,
            patience=cfg.train.patience,
            seed=seed,
        )
        started = time.perf_counter()
        done_before = self.done

        def on_batches(done: int, total: int) -> None:
            self.progress(done_before + 0.8 * done / max(total, 1), f"{label}: training")

        def on_epoch(epoch: float, values: dict[str, float]) -> None:
            self.metrics(
                epoch, {f"{key_}/{label}": value for key_, value in values.items() if key_ != "seconds"}
            )

        result = train_model(
            model,
            _take(data, train_index),
            data.labels[train_index],
            _take(data, val_index),
            data.labels[val_index],
            train_cfg,
            device=self.device,
            progress=on_batches,
            check_cancelled=self.hooks.check_cancelled,
            metrics=on_epoch,
        )
        seconds = {"training": time.perf_counter() - started}
        test_inputs = _take(data, test_index)
        predictions = predict(
            model, test_inputs, device=self.device, batch_size=cfg.attribution_batch_size * 4
        )
        test_accuracy = float((predictions == data.labels[test_index]).mean())
        self.log(
            f"{label}: validation accuracy {result.val_accuracy:.3f} after {result.epochs} epochs "
            f"(threshold {cfg.train.min_accuracy:g}, p* {data.p_star:.3f}): "
            + ("passed" if result.passed else "not passed, dropped")
            + f"; test accuracy {test_accuracy:.3f}"
        )
        outcome = dict(
            manipulation=manipulation,
            strength=float(data.strength),
            r=r,
            replicate=replicate,
            model=str(cfg.model.name),
            val_accuracy=float(result.val_accuracy),
            test_accuracy=test_accuracy,
            p_star=float(data.p_star),
            passed=bool(result.passed),
            epochs=int(result.epochs),
            dropped=int(getattr(data, "dropped", 0)),
        )
        if not result.passed:
            return ReplicateOutcome(**outcome, seconds=seconds)

        explain = test_index[: cfg.n_explain]
        inputs = _take(data, explain)
        masks = _masks(data, explain)
        targets = predictions[: len(explain)]
        manipulated = np.asarray(data.manipulated[explain], dtype=bool)
        shares = region_share(masks)
        rows: list[ScoreRow] = []
        maps: dict[str, Any] = {}
        for position, method in enumerate(methods):
            self.check_cancelled()
            self.progress(self.done + 0.8 + 0.2 * position / max(len(methods), 1), f"{label}: {method}")
            started = time.perf_counter()
            settings = cfg.method_settings.get(method)
            if isinstance(data, ModifiedImages):
                maps[method] = attribute_images(
                    model,
                    inputs,
                    targets,
                    method,
                    device=self.device,
                    batch_size=cfg.attribution_batch_size,
                    seed=seed,
                    settings=settings,
                )
            else:
                maps[method] = attribute_texts(
                    model,
                    inputs,
                    targets,
                    method,
                    device=self.device,
                    batch_size=cfg.attribution_batch_size,
                    seed=seed,
                    settings=settings,
                )
            seconds[method] = time.perf_counter() - started
            rows += _score_rows(
                method, score_maps(maps[method], masks, manipulated), shares, manipulated, AGGREGATION
            )
            if method in IMPORTANCE_METHODS:
                rows += importance_rows(method, maps[method], masks, manipulated, AGGREGATION)
        timings = ", ".join(f"{m} {seconds[m]:.1f} s" for m in methods)
        self.log(f"{label}: {len(explain)} samples attributed ({timings})")
        chosen = gallery_indices(manipulated, cfg.n_gallery)
        gallery = None
        if len(chosen):
            meta = {
                "strength": float(data.strength),
                "r": r,
                "p_star": float(data.p_star),
                "val_accuracy": float(result.val_accuracy),
                "test_accuracy": test_accuracy,
                "class_names": list(data.class_names),
                "source": data.source,
            }
            common = dict(
                manipulation=manipulation,
                replicate=replicate,
                labels=data.labels[explain][chosen],
                predictions=targets[chosen],
                manipulated=manipulated[chosen],
                model=str(cfg.model.name),
                meta=meta,
            )
            if isinstance(data, ModifiedImages):
                gallery = Gallery(
                    modality="image",
                    masks=masks[chosen],
                    maps={m: v[chosen] for m, v in maps.items()},
                    inputs=inputs[chosen],
                    **common,
                )
            else:
                gallery = Gallery(
                    modality="text",
                    masks=[masks[i] for i in chosen],
                    maps={m: [v[i] for i in chosen] for m, v in maps.items()},
                    tokens=[list(inputs[i]) for i in chosen],
                    **common,
                )
        return ReplicateOutcome(**outcome, scores=rows, gallery=gallery, seconds=seconds)

    def run(self) -> ExperimentResult:
        cfg = self.cfg
        base = load_base(cfg)
        self.log(f"{base.source}: {len(base.labels)} samples, classes {', '.join(base.class_names)}")
        outcomes: list[ReplicateOutcome] = []
        skipped = 0
        for point in cfg.sweep_points():
            for spec in cfg.manipulations:
                strength = point["strength"] if point["strength"] is not None else spec.strength
                for replicate in range(cfg.runs):
                    self.check_cancelled()
                    outcome = self.replicate(base, spec.name, strength, point, replicate)
                    self.done += 1
                    if outcome is None:
                        skipped += 1
                        continue
                    outcomes.append(outcome)
                    self.passed += outcome.passed
                    if self.hooks.on_replicate is not None:
                        self.hooks.on_replicate(outcome)
                    values = {"pass_rate": self.passed / len(outcomes)}
                    for row in outcome.scores:
                        if row.metric == "attr_pct" and row.condition == "all":
                            values[
                                f"attr_pct/{self.label(spec.name, point, replicate).rsplit('/', 1)[0]}/"
                                f"{row.method}"
                            ] = row.mean
                    self.metrics(float(self.done), values)
                    self.progress(self.done, f"{self.done}/{self.total} runs, {self.passed} passed")
        return ExperimentResult(outcomes, skipped)


def run_experiment(
    cfg: ExperimentConfig, hooks: ExperimentHooks | None = None, *, device: str = "cpu"
) -> ExperimentResult:
    """Run every replicate of `cfg` that `hooks.skip` does not skip; see the module docstring."""
    return _Runner(cfg, hooks or ExperimentHooks(), device).run()
