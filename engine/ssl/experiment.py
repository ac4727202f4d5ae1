"""Run the SSL experiment (Ayromlou et al.): does a generated second view help linear-probe accuracy?

For each seed x method x arm one SSL model is trained and probed. Every run of a seed shares the data,
epochs, classic augmentations, initialisation and training random stream; the arms differ only in where
view 2 starts: the source (p = 0), a view of the main generator's bank with probability p, or (controls, at
p = 1) an identity bank (views equal to the source: must reproduce p = 0 exactly, since BankSecondView never
touches the training generator) or a bank of views conditioned on a random other image (should hurt).
Seeds run outermost so that an interrupted experiment still compares every arm on the seeds it finished.

Callers follow the work through callbacks (progress, log, on_run_started, on_epoch, on_run_finished) and pass
the runs finished before an interruption as `finished`: they are reported, not trained again.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.core.errors import LanternError
from engine.ssl.experiment_config import ExperimentConfig

RunKey = tuple[str, str, int]  # (method, arm label, seed)
WHERE = "SSL experiment"


@dataclass(frozen=True)
class RunPlan:
    """One run to make: method, arm (label, p, control) and seed, with the bank its second view draws on."""

    method: str
    arm: str
    p: float
    control: str | None
    seed: int
    bank_id: int | None

    @property
    def key(self) -> RunKey:
        return (self.method, self.arm, self.seed)

    @property
    def name(self) -> str:
        """The run's name in the store: "simclr p=0.5 seed 1", "simclr control: identity seed 0"."""
        return f"{self.method} {self.arm} seed {self.seed}"


@dataclass(frozen=True)
class ExperimentRow:
    """One finished run: what it was and what it scored."""

    method: str
    arm: str
    p: float
    seed: int
    linear_top1: float
    knn_top1: float
    final_loss: float
    images_per_second: float
    control: str | None = None
    bank_id: int | None = None
    epoch_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def key(self) -> RunKey:
        return (self.method, self.arm, self.seed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SummaryRow:
    """One (method, arm) over its seeds: mean and sample standard deviation (None with a single seed)."""

    method: str
    arm: str
    p: float
    control: str | None
    seeds: int
    linear_top1_mean: float
    linear_top1_std: float | None
    knn_top1_mean: float
    knn_top1_std: float | None
    final_loss_mean: float
    linear_top1_delta: float | None  # mean linear top-1 minus the method's p = 0 arm (None without one)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ExperimentResult:
    """Every run of the experiment in plan order (resumed ones included), and how many this call trained."""

    rows: list[ExperimentRow]
    trained: int
    skipped: int
    banks: dict[str, int] = field(default_factory=dict)  # arm label -> bank id

    @property
    def summary(self) -> list[SummaryRow]:
        return summarise(self.rows)


def plan_runs(config: ExperimentConfig, banks: Mapping[str, int | None]) -> list[RunPlan]:
    """Every run of the experiment in the order it is made: seed, then method, then arm."""
    return [
        RunPlan(method, label, p, control, seed, banks.get(label))
        for seed in config.seeds
        for method in config.methods
        for label, p, control in config.arm_list()
    ]


# aggregation


def _std(values: list[float]) -> float | None:
    return statistics.stdev(values) if len(values) >= 2 else None


def summarise(rows: list[ExperimentRow]) -> list[SummaryRow]:
    """Mean and sample std of linear and kNN top-1 per (method, arm), in the order the arms first appear."""
    groups: dict[tuple[str, str], list[ExperimentRow]] = {}
    for row in rows:
        groups.setdefault((row.method, row.arm), []).append(row)
    baselines = {
        method: statistics.fmean(r.linear_top1 for r in members)
        for (method, _), members in groups.items()
        if members[0].p == 0.0 and members[0].control is None
    }
    summary = []
    for (method, arm), members in groups.items():
        linear = [r.linear_top1 for r in members]
        knn = [r.knn_top1 for r in members]
        losses = [r.final_loss for r in members if math.isfinite(r.final_loss)]
        mean = statistics.fmean(linear)
        summary.append(
            SummaryRow(
                method=method,
                arm=arm,
                p=members[0].p,
                control=members[0].control,
                seeds=len(members),
                linear_top1_mean=mean,
                linear_top1_std=_std(linear),
                knn_top1_mean=statistics.fmean(knn),
                knn_top1_std=_std(knn),
                final_loss_mean=statistics.fmean(losses) if losses else math.nan,
                linear_top1_delta=mean - baselines[method] if method in baselines else None,
            )
        )
    return summary


def _percent(mean: float, std: float | None) -> str:
    return f"{mean:.1%}" + (f" +/- {std:.1%}" if std is not None else "")


def format_table(summary: list[SummaryRow]) -> str:
    """The summary as a text table: linear and kNN top-1 (mean +/- sample std over seeds) per method, arm."""
    headers = ["METHOD", "ARM", "SEEDS", "LINEAR TOP-1", "VS P=0", "KNN TOP-1", "FINAL LOSS"]
    body = [
        [
            row.method,
            row.arm,
            str(row.seeds),
            _percent(row.linear_top1_mean, row.linear_top1_std),
            "-" if row.linear_top1_delta is None else f"{row.linear_top1_delta * 100:+.1f} pt",
            _percent(row.knn_top1_mean, row.knn_top1_std),
            f"{row.final_loss_mean:.4f}" if math.isfinite(row.final_loss_mean) else "-",
        ]
        for row in summary
    ]
    widths = [max(len(line[i]) for line in [headers, *body]) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [headers, *body]
    )


# the experiment


ProgressCallback = Callable[[float, float, str], None]  # (done, total, message)


def _bank_requests(config: ExperimentConfig) -> dict[str, dict[str, Any]]:
    """Per arm label that needs a bank: how build_bank must build it (p = 0 needs none)."""
    main = {
        "generator": config.generator.name,
        "checkpoint": config.generator.checkpoint,
        "settings": dict(config.generator.settings),
    }
    requests: dict[str, dict[str, Any]] = {}
    for label, p, control in config.arm_list():
        if control == "identity":
            requests[label] = {"generator": "identity", "checkpoint": None, "settings": {}}
        elif control == "other_image":
            # The main generator's checkpoint and settings, conditioned on another image: only the
            # semantic link to the source differs from the p arms.
            requests[label] = {**main, "generator": "other_image"}
        elif p > 0.0:
            requests[label] = main
    return requests


class _Runner:
    def __init__(
        self,
        store: Any,
        config: ExperimentConfig,
        device: str,
        progress: ProgressCallback | None,
        check_cancelled: Callable[[], None] | None,
        on_run_started: Callable[[RunPlan], None] | None,
        on_epoch: Callable[[RunPlan, int, float], None] | None,
        on_run_finished: Callable[[RunPlan, ExperimentRow], None] | None,
        finished: Mapping[RunKey, ExperimentRow],
        log: Callable[[str], None] | None,
    ) -> None:
        self.store = store
        self.config = config
        self.device = device
        self._progress = progress
        self._check_cancelled = check_cancelled
        self.on_run_started = on_run_started
        self.on_epoch = on_epoch
        self.on_run_finished = on_run_finished
        self.finished = finished
        self.log = log

    def progress(self, done: float, total: float, message: str) -> None:
        if self._progress is not None:
            self._progress(done, total, message)

    def check_cancelled(self) -> None:
        if self._check_cancelled is not None:
            self._check_cancelled()

    def ensure_banks(self, labels: list[str], total: float) -> dict[str, int]:
        """Build (or find) the bank of every arm in `labels`; arms with the same recipe share one bank."""
        from engine.augment.bank import build_bank

        config = self.config
        requests = _bank_requests(config)
        built: dict[str, int] = {}
        by_recipe: dict[str, int] = {}
        needed = [label for label in labels if label in requests]
        for position, label in enumerate(needed):
            request = requests[label]
            recipe = repr(sorted(request.items()))
            if recipe not in by_recipe:
                self.check_cancelled()
                message = f"bank for {label}: {request['generator']}"

                def on_bank(
                    done: float, bank_total: float, text: str = "", at: int = position, message: str = message
                ) -> None:
                    share = done / bank_total if bank_total else 0.0
                    self.progress(at + share, total, f"{message} ({text})" if text else message)

                self.progress(position, total, message)
                by_recipe[recipe] = build_bank(
                    self.store,
                    dataset=config.dataset,
                    limit=config.limit,
                    generator=request["generator"],
                    checkpoint=request["checkpoint"],
                    settings=request["settings"],
                    k=config.k,
                    seed=config.bank_seed,
                    device=self.device,
                    progress=on_bank,
                    check_cancelled=self._check_cancelled,
                    log=self.log,
                    reuse=True,
                )
            built[label] = by_recipe[recipe]
        return built

    def run(self) -> ExperimentResult:
        import torch

        from engine.augment.bank import load_bank
        from engine.augment.datasets import load_augment_data
        from engine.ssl.probe import evaluate_backbone
        from engine.ssl.training import train_ssl
        from engine.ssl.views import BankSecondView

        config = self.config
        # Banks only for arms with runs left: a resumed experiment need not rebuild what it no longer uses.
        arms_left = {plan.arm for plan in plan_runs(config, {}) if plan.key not in self.finished}
        bank_labels = [label for label, _, _ in config.arm_list() if label in arms_left]
        bank_labels = [label for label in bank_labels if label in _bank_requests(config)]
        runs_total = config.run_count()
        total = float(len(bank_labels) + runs_total)
        banks = self.ensure_banks(bank_labels, total)
        data = load_augment_data(config.dataset, limit=config.limit)  # the banks' split (data seed 0)
        images = torch.from_numpy(data.train.images)
        views: dict[int, Any] = {}
        for bank_id in sorted(set(banks.values())):
            bank = load_bank(self.store, bank_id)
            if tuple(bank.views.shape[:1]) + tuple(bank.views.shape[2:]) != tuple(images.shape):
                raise LanternError(
                    f"bank #{bank_id} holds views of {list(bank.views.shape)} [N, K, C, H, W] but the "
                    f"training images are {list(images.shape)}",
                    WHERE,
                    "the bank must be built on the same dataset, limit and image size as the experiment",
                )
            views[bank_id] = bank.views

        rows: list[ExperimentRow] = []
        trained = skipped = 0
        done = float(len(bank_labels))
        for plan in plan_runs(config, banks):
            if plan.key in self.finished:
                rows.append(self.finished[plan.key])
                skipped += 1
                done += 1
                continue
            self.check_cancelled()
            self.progress(done, total, f"{plan.name}: training")
            if self.on_run_started is not None:
                self.on_run_started(plan)
            ssl_config = config.ssl_config(plan.method, plan.seed)
            second_view = None
            if plan.bank_id is not None:
                second_view = BankSecondView(views[plan.bank_id], plan.p, config.draw, plan.seed)
            started = time.perf_counter()
            epochs = int(ssl_config.epochs)

            def on_epoch(
                epoch: int, loss: float, at: float = done, current: RunPlan = plan, epochs: int = epochs
            ) -> None:
                share = 0.9 * min(epoch, epochs) / max(epochs, 1)
                self.progress(at + share, total, f"{current.name}: epoch {epoch}/{epochs}, loss {loss:.4f}")
                if self.on_epoch is not None:
                    self.on_epoch(current, epoch, loss)

            result = train_ssl(
                images,
                ssl_config,
                second_view=second_view,
                device=self.device,
                on_epoch=on_epoch,
                check_cancelled=self._check_cancelled,
            )
            self.check_cancelled()
            self.progress(done + 0.9, total, f"{plan.name}: linear probe and kNN")
            scores = evaluate_backbone(
                result.backbone,
                data,
                device=self.device,
                seed=plan.seed,
                probe_epochs=config.probe_epochs,
            )
            losses = [float(loss) for loss in result.epoch_losses]
            row = ExperimentRow(
                method=plan.method,
                arm=plan.arm,
                p=plan.p,
                seed=plan.seed,
                linear_top1=float(scores["linear_top1"]),
                knn_top1=float(scores["knn_top1"]),
                final_loss=losses[-1] if losses else math.nan,
                images_per_second=float(result.images_per_second),
                control=plan.control,
                bank_id=plan.bank_id,
                epoch_losses=losses,
                seconds=time.perf_counter() - started,
            )
            rows.append(row)
            trained += 1
            done += 1
            if self.on_run_finished is not None:
                self.on_run_finished(plan, row)
            self.progress(
                done,
                total,
                f"{plan.name}: linear top-1 {row.linear_top1:.1%}, kNN {row.knn_top1:.1%}",
            )
        return ExperimentResult(rows, trained, skipped, banks)


def run_experiment(
    store: Any,
    config: ExperimentConfig,
    *,
    device: str = "cpu",
    progress: ProgressCallback | None = None,
    check_cancelled: Callable[[], None] | None = None,
    on_run_started: Callable[[RunPlan], None] | None = None,
    on_epoch: Callable[[RunPlan, int, float], None] | None = None,
    on_run_finished: Callable[[RunPlan, ExperimentRow], None] | None = None,
    finished: Mapping[RunKey, ExperimentRow] | None = None,
    log: Callable[[str], None] | None = None,
) -> ExperimentResult:
    """Ensure the banks the unfinished runs need, then train and probe every run not in `finished`."""
    return _Runner(
        store,
        config,
        device,
        progress,
        check_cancelled,
        on_run_started,
        on_epoch,
        on_run_finished,
        dict(finished or {}),
        log,
    ).run()
