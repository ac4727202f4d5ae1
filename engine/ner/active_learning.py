"""Active learning for NER as in Shen et al. (2018): word-budget rounds, and the simulation that measures
how few labelled words a strategy needs to reach 99% of full-data F1 (an oracle supplies gold labels).

Protocol (every strategy, every seed):
- The same 1% of the training sentences, drawn at random per seed, starts every strategy, and one tagger
  trained on them is copied to each strategy (so all curves share their first point).
- Each round scores the unlabelled sentences, adds whole sentences in score order until the round's word
  budget is met (cost counts words), and continues training the same tagger on everything labelled so far
  for `epochs_per_round` epochs: incremental, never from scratch, equal epochs for every strategy.
- F1 is entity-level exact-span F1 (engine.ner.metrics) on the held-out test sentences after every round.
- Full-data F1: the same model (same config and seed) trained on all training sentences for the same total
  number of epochs an active-learning run gets, (rounds + 1) x epochs_per_round, from scratch. That is
  the reference the paper's "99% of full-data F1" refers to; the target of a seed is 99% of its own
  full-data F1.
- The fraction of a seed is words labelled at the first round whose F1 reaches the target, over all
  training words. A seed that never reaches it within the rounds is reported as 1.0 with reached=False
  (at least that much would be needed, as the curve stops before it).
- With random among the strategies, `words_vs_random` also gives, per strategy, the words it needs to
  reach random's final F1 as a share of the words random needed (informative when no strategy reaches
  the 99% target within the rounds).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from engine.core.errors import LanternError
from engine.ner.acquisition import Bald, get_acquisition, parse_strategies
from engine.ner.types import Sentence

PointCallback = Callable[[str, int, int, float], None]  # (strategy or "full", seed, words labelled, F1)
ProgressCallback = Callable[[float, float, str], None]  # (done, total, message)


@dataclass(frozen=True)
class SimulationSettings:
    strategies: tuple[str, ...] = ("mnlp", "lc", "bald", "random")
    seeds: int = 3
    first_seed: int = 0
    initial_fraction: float = 0.01  # share of training sentences labelled at random before round 1
    rounds: int = 10
    round_fraction: float = 0.04  # word budget per round as a share of the training words ...
    words_per_round: int = 0  # ... unless this is set (> 0)
    epochs_per_round: int = 2
    target: float = 0.99  # share of full-data F1 to reach
    bald_samples: int = 10
    tagger: str = "cnn_cnn_lstm"
    tagger_config: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        where = "simulation settings"
        parse_strategies(self.strategies)
        checks = [
            (self.seeds >= 1, "seeds must be at least 1"),
            (0.0 < self.initial_fraction < 1.0, "initial_fraction must be in (0, 1)"),
            (self.rounds >= 1, "rounds must be at least 1"),
            (
                self.words_per_round > 0 or 0.0 < self.round_fraction <= 1.0,
                "round_fraction must be in (0, 1]",
            ),
            (self.epochs_per_round >= 1, "epochs_per_round must be at least 1"),
            (0.0 < self.target <= 1.0, "target must be in (0, 1]"),
            (self.bald_samples >= 2, "bald_samples must be at least 2"),
        ]
        for ok, message in checks:
            if not ok:
                raise LanternError(message, where, "see 'lantern ner simulate --help'")


def words_in(sentences: Sequence[Sentence]) -> int:
    return sum(len(s.tokens) for s in sentences)


def choose_by_budget(scores: np.ndarray, lengths: Sequence[int], budget: int) -> list[int]:
    """Positions (into scores) of the highest-scoring sentences, added in score order until their words
    reach `budget`; ties keep pool order. Everything when the pool holds fewer words than the budget."""
    chosen: list[int] = []
    words = 0
    for position in np.argsort(-scores, kind="stable"):
        if words >= budget:
            break
        chosen.append(int(position))
        words += lengths[position]
    return chosen


def evaluate_f1(tagger: Any, test: Sequence[Sentence]) -> float:
    from engine.ner.metrics import entity_scores

    predicted = tagger.predict(test)
    return entity_scores([s.tags for s in test], [p.tags for p in predicted]).f1


def words_to_reach(curve: Sequence[tuple[int, float]], target_f1: float) -> int | None:
    """Words labelled at the first point of the curve whose F1 reaches the target; None if none does."""
    for words, f1 in curve:
        if f1 >= target_f1:
            return words
    return None


def _mean_std(values: Sequence[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    return {"mean": float(array.mean()), "std": float(array.std(ddof=1)) if len(array) > 1 else 0.0}


@dataclass
class _Run:
    """One strategy under one seed: its tagger, what it has labelled, and its learning curve."""

    strategy: str
    tagger: Any
    labelled: list[int]
    curve: list[tuple[int, float]]
    rng: np.random.Generator
    seconds_scoring: float = 0.0
    seconds_training: float = 0.0


def simulate(
    train: Sequence[Sentence],
    test: Sequence[Sentence],
    labels: Sequence[str],
    settings: SimulationSettings,
    *,
    device: str = "cpu",
    on_point: PointCallback | None = None,
    on_progress: ProgressCallback | None = None,
    check_cancelled: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run the experiment; returns a JSON-ready dict (see module docstring for the protocol)."""
    import torch

    from engine.ner.tagger import create_tagger

    settings.validate()
    strategies = parse_strategies(settings.strategies)
    if not test:
        raise LanternError("the simulation needs test sentences", "simulation", "hold some sentences out")
    for where, sentences in (("training", train), ("test", test)):
        if any(s.tags is None for s in sentences):
            raise LanternError(
                f"every {where} sentence needs gold tags for a simulation",
                "simulation",
                "simulate on a fully labelled corpus (the oracle answers with the gold tags)",
            )
    train = [s for s in train if len(s.tokens) > 0]
    total_words = words_in(train)
    lengths = [len(s.tokens) for s in train]
    n_initial = max(1, round(settings.initial_fraction * len(train)))
    if n_initial >= len(train):
        raise LanternError(
            f"{len(train)} training sentences are too few to simulate rounds",
            "simulation",
            "use a larger corpus",
        )
    budget = settings.words_per_round or max(1, round(settings.round_fraction * total_words))
    epochs = settings.epochs_per_round
    full_epochs = epochs * (settings.rounds + 1)
    seeds = [settings.first_seed + k for k in range(settings.seeds)]
    acquisitions = {
        name: Bald(settings.bald_samples) if name == "bald" else get_acquisition(name) for name in strategies
    }
    steps_total = float(len(seeds) * (2 + settings.rounds * len(strategies)))
    steps_done = 0.0

    def advance(message: str) -> None:
        nonlocal steps_done
        steps_done += 1
        if on_progress is not None:
            on_progress(steps_done, steps_total, message)

    def check() -> None:
        if check_cancelled is not None:
            check_cancelled()

    started = time.perf_counter()
    full_f1: list[float] = []
    full_seconds: list[float] = []
    runs_by_seed: list[dict[str, _Run]] = []
    for seed in seeds:
        config = {**settings.tagger_config, "seed": seed}
        torch.manual_seed(seed)  # dropout masks
        clock = time.perf_counter()
        full = create_tagger(settings.tagger, labels, config, device)
        full.fit(train, full_epochs, check_cancelled=check_cancelled)
        full_seconds.append(time.perf_counter() - clock)
        full_f1.append(evaluate_f1(full, test))
        del full
        if on_point is not None:
            on_point("full", seed, total_words, full_f1[-1])
        advance(f"seed {seed}: full-data F1 {full_f1[-1]:.3f}")

        rng = np.random.default_rng([seed, 1])
        initial = sorted(rng.choice(len(train), size=n_initial, replace=False).tolist())
        torch.manual_seed(seed + 1)
        base = create_tagger(settings.tagger, labels, config, device)
        base.fit([train[i] for i in initial], epochs, check_cancelled=check_cancelled)
        first_point = (sum(lengths[i] for i in initial), evaluate_f1(base, test))
        runs: dict[str, _Run] = {}
        for index, name in enumerate(strategies):
            runs[name] = _Run(
                name,
                base.clone() if index < len(strategies) - 1 else base,
                list(initial),
                [first_point],
                np.random.default_rng([seed, 2, index]),
            )
            if on_point is not None:
                on_point(name, seed, first_point[0], first_point[1])
        advance(f"seed {seed}: initial {n_initial} sentences, F1 {first_point[1]:.3f}")

        for round_index in range(1, settings.rounds + 1):
            for name in strategies:
                check()
                run = runs[name]
                taken = set(run.labelled)
                pool = [i for i in range(len(train)) if i not in taken]
                if pool:
                    clock = time.perf_counter()
                    scores = acquisitions[name].score(run.tagger, [train[i] for i in pool], run.rng)
                    run.seconds_scoring += time.perf_counter() - clock
                    picked = choose_by_budget(scores, [lengths[i] for i in pool], budget)
                    run.labelled.extend(pool[p] for p in picked)
                    clock = time.perf_counter()
                    run.tagger.fit([train[i] for i in run.labelled], epochs, check_cancelled=check_cancelled)
                    run.seconds_training += time.perf_counter() - clock
                    point = (sum(lengths[i] for i in run.labelled), evaluate_f1(run.tagger, test))
                    run.curve.append(point)
                    if on_point is not None:
                        on_point(name, seed, point[0], point[1])
                advance(
                    f"seed {seed}, round {round_index}/{settings.rounds}: {name} F1 {run.curve[-1][1]:.3f}"
                )
        for run in runs.values():
            run.tagger = None  # free the models; the curves stay
        runs_by_seed.append(runs)

    return _summarise(
        strategies,
        seeds,
        runs_by_seed,
        full_f1,
        full_seconds,
        settings,
        total_words,
        len(train),
        len(test),
        budget,
        time.perf_counter() - started,
    )


def _summarise(
    strategies: Sequence[str],
    seeds: Sequence[int],
    runs_by_seed: Sequence[dict[str, _Run]],
    full_f1: Sequence[float],
    full_seconds: Sequence[float],
    settings: SimulationSettings,
    total_words: int,
    train_sentences: int,
    test_sentences: int,
    budget: int,
    seconds: float,
) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name in strategies:
        per_seed = []
        fractions = []
        for seed, runs, reference in zip(seeds, runs_by_seed, full_f1, strict=True):
            run = runs[name]
            needed = words_to_reach(run.curve, settings.target * reference)
            fraction = needed / total_words if needed is not None else 1.0
            fractions.append(fraction)
            per_seed.append(
                {
                    "seed": seed,
                    "curve": [{"words": w, "f1": f} for w, f in run.curve],
                    "words_to_target": needed,
                    "fraction": fraction,
                    "reached": needed is not None,
                    "seconds_scoring": round(run.seconds_scoring, 3),
                    "seconds_training": round(run.seconds_training, 3),
                }
            )
        rounds = min(len(runs[name].curve) for runs in runs_by_seed)
        curve = []
        for index in range(rounds):
            words = [runs[name].curve[index][0] for runs in runs_by_seed]
            f1 = [runs[name].curve[index][1] for runs in runs_by_seed]
            curve.append(
                {
                    "round": index,
                    "words": _mean_std(words)["mean"],
                    "fraction_words": _mean_std(words)["mean"] / total_words,
                    "f1": _mean_std(f1)["mean"],
                    "f1_std": _mean_std(f1)["std"],
                }
            )
        summary[name] = {
            "curve": curve,
            "fraction": {
                **_mean_std(fractions),
                "reached": sum(p["reached"] for p in per_seed),
                "of": len(seeds),
            },
            "seeds": per_seed,
        }
    result: dict[str, Any] = {
        "settings": {**asdict(settings), "strategies": list(strategies)},
        "train_sentences": train_sentences,
        "train_words": total_words,
        "test_sentences": test_sentences,
        "words_per_round": budget,
        "full_epochs": settings.epochs_per_round * (settings.rounds + 1),
        "full_f1": {
            **_mean_std(full_f1),
            "per_seed": list(full_f1),
            "seconds": list(map(float, full_seconds)),
        },
        "strategies": summary,
        "seconds": round(seconds, 3),
    }
    if "random" in summary:
        _against_random(summary, runs_by_seed)
    if "mnlp" in summary and "random" in summary:
        random_mean = summary["random"]["fraction"]["mean"]
        result["mnlp_vs_random"] = summary["mnlp"]["fraction"]["mean"] / random_mean if random_mean else None
    return result


def _against_random(summary: dict[str, Any], runs_by_seed: Sequence[dict[str, _Run]]) -> None:
    """Per strategy, the words it needs to reach the F1 random sampling ends with, as a share of the
    words random needed for it (1 = no saving). Unlike the 99% fraction this stays informative when the
    rounds stop before any strategy reaches 99% of full-data F1; a seed that never gets there is left out
    and counted in `reached`."""
    for name, entry in summary.items():
        ratios = []
        for runs in runs_by_seed:
            random_curve = runs["random"].curve
            final = random_curve[-1][1]
            random_words = words_to_reach(random_curve, final)
            needed = words_to_reach(runs[name].curve, final)
            if needed is not None and random_words:
                ratios.append(needed / random_words)
        entry["words_vs_random"] = {
            **(_mean_std(ratios) if ratios else {"mean": None, "std": None}),
            "reached": len(ratios),
            "of": len(runs_by_seed),
        }
