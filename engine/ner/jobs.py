"""NER jobs: `ner.simulate` (the paper's active-learning experiment, live curves per strategy) and
`ner.train` (fit on a corpus's accepted labels, score the pool, store predictions and a checkpoint).

Importing this module stays torch-free (the GUI lists and validates jobs); torch loads when a job runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from engine.core.errors import JobCancelled, LanternError
from engine.jobs.registry import JobSpec, register_job
from engine.ner.types import Sentence

if TYPE_CHECKING:
    from engine.jobs.context import JobContext
    from engine.store.database import Store

SIMULATE_JOB = "ner.simulate"
TRAIN_JOB = "ner.train"
DEMO_CORPUS = "wnut16"
SettingValue = int | float | str | bool
Preset = Literal["small-data", "paper"]
MISTAKES_SHOWN = 20


def _check_strategies(value: list[str]) -> list[str]:
    from engine.ner.acquisition import parse_strategies

    try:
        return list(parse_strategies(value))
    except LanternError as exc:
        raise ValueError(exc.what) from exc


def _check_tagger(value: str) -> str:
    from engine.ner.tagger import TAGGERS

    if value not in TAGGERS:
        raise ValueError(f"unknown tagger '{value}' (known: {', '.join(TAGGERS)})")
    return value


class SimulateSpec(JobSpec):
    """Parameters of `ner.simulate`."""

    corpus: str = Field(DEMO_CORPUS, min_length=1, description="a corpus in the store, or wnut16 (the demo)")
    strategies: list[str] = Field(["mnlp", "lc", "bald", "random"], min_length=1)
    seeds: int = Field(3, ge=1, le=50)
    first_seed: int = Field(0, ge=0, le=2**31 - 1)
    rounds: int = Field(10, ge=1, le=200)
    round_fraction: float = Field(0.04, gt=0, le=1, description="word budget per round, share of train words")
    words_per_round: int = Field(0, ge=0, description="word budget per round (overrides round_fraction)")
    initial_fraction: float = Field(
        0.01, gt=0, lt=1, description="share of sentences labelled at random first"
    )
    epochs_per_round: int = Field(2, ge=1, le=200)
    target: float = Field(0.99, gt=0, le=1, description="share of full-data F1 to reach")
    bald_samples: int = Field(10, ge=2, le=200, description="Monte Carlo dropout masks for BALD")
    tagger: str = "cnn_cnn_lstm"
    preset: Preset = Field("small-data", description="tagger settings: small-data (fast) or paper")
    tagger_config: dict[str, SettingValue] = Field(default_factory=dict, description="over the preset")
    limit: int = Field(0, ge=0, description="use only the first N sentences (0: all)")
    test_every: int = Field(
        5, ge=2, le=1000, description="sentence i is test when i % N == 0 (no test split)"
    )

    _strategies = field_validator("strategies")(_check_strategies)
    _tagger = field_validator("tagger")(_check_tagger)


class TrainSpec(JobSpec):
    """Parameters of `ner.train`."""

    corpus: int | str = Field(description="corpus id or name")
    annotator: str = Field(min_length=1, max_length=200, description="whose saved state holds the model")
    tagger: str = "cnn_cnn_lstm"
    preset: Preset = Field("small-data", description="tagger settings: small-data (fast) or paper")
    tagger_config: dict[str, SettingValue] = Field(default_factory=dict, description="over the preset")
    acquisition: str = Field("mnlp", description="mnlp, lc, bald or random")
    epochs: int = Field(2, ge=1, le=200, description="passes over the labelled sentences this time")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    bald_samples: int = Field(10, ge=2, le=200)
    resume: bool = Field(True, description="continue from the checkpoint in the annotator's saved state")

    _tagger = field_validator("tagger")(_check_tagger)

    @field_validator("acquisition")
    @classmethod
    def _known_acquisition(cls, value: str) -> str:
        return _check_strategies([value])[0]


def split_for_simulation(
    sentences: list[Sentence], test_every: int, limit: int = 0
) -> tuple[list[Sentence], list[Sentence]]:
    """(train, test): sentence i (after the limit) is test when i % test_every == 0."""
    if limit:
        sentences = sentences[:limit]
    test = [s for i, s in enumerate(sentences) if i % test_every == 0]
    train = [s for i, s in enumerate(sentences) if i % test_every != 0]
    return train, test


def simulation_corpus(
    store: Store, spec: SimulateSpec
) -> tuple[list[Sentence], list[Sentence], list[str], str]:
    """Training and test sentences with gold tags, the labels, and a description of where they came from.

    A corpus in the store with the spec's name wins; otherwise 'wnut16' is the bundled demo corpus.
    A store corpus with a test split keeps it; without one, sentences are split by test_every.
    """
    from engine.ner.formats.schemes import labels_of
    from engine.ner.repository import NerRepository

    repo = NerRepository(store)
    names = {record.name for record in repo.corpora()}
    if spec.corpus not in names and spec.corpus == DEMO_CORPUS:
        from engine.ner.formats.demo import load_wnut16

        train, test = split_for_simulation(load_wnut16(), spec.test_every, spec.limit)
        labels = sorted(set().union(*(labels_of(s.tags or ()) for s in train + test)))
        return train, test, labels, f"WNUT-16 demo corpus, sentence i % {spec.test_every} == 0 as test"
    record = repo.corpus(spec.corpus)
    test = repo.sentences(record.id, "test")
    if test:
        train = repo.sentences(record.id, "pool")
        if spec.limit:
            train = train[: spec.limit]
        how = "its test split"
    else:
        train, test = split_for_simulation(repo.sentences(record.id), spec.test_every, spec.limit)
        how = f"sentence i % {spec.test_every} == 0 as test"
    return train, test, list(record.labels), f"corpus '{record.name}' from the store, {how}"


@register_job(SIMULATE_JOB, SimulateSpec, "Simulate active learning for NER (Shen et al. 2018)")
def simulate_job(ctx: JobContext, spec: SimulateSpec) -> dict[str, Any]:
    from engine.ner.active_learning import SimulationSettings, simulate
    from engine.ner.tagger import preset_config

    train, test, labels, source = simulation_corpus(ctx.store, spec)
    settings = SimulationSettings(
        strategies=tuple(spec.strategies),
        seeds=spec.seeds,
        first_seed=spec.first_seed,
        initial_fraction=spec.initial_fraction,
        rounds=spec.rounds,
        round_fraction=spec.round_fraction,
        words_per_round=spec.words_per_round,
        epochs_per_round=spec.epochs_per_round,
        target=spec.target,
        bald_samples=spec.bald_samples,
        tagger=spec.tagger,
        tagger_config=preset_config(spec.preset, spec.tagger, spec.tagger_config),
    )
    run_id = ctx.start_run(
        name=f"NER active learning on {spec.corpus}: {', '.join(spec.strategies)} x {spec.seeds} seeds",
        kind=SIMULATE_JOB,
        config=spec.model_dump(mode="json"),
        seed=spec.first_seed,
    )
    ctx.log(f"{source}: {len(train)} training and {len(test)} test sentences, labels {', '.join(labels)}")

    def on_point(strategy: str, seed: int, words: int, f1: float) -> None:
        name = f"f1_full/seed{seed}" if strategy == "full" else f"f1/{strategy}/seed{seed}"
        ctx.metrics(words, {name: f1})

    def on_progress(done: float, total: float, message: str) -> None:
        ctx.progress(done, total, message, force=True)
        ctx.log(message)

    try:
        result = simulate(
            train,
            test,
            labels,
            settings,
            device=ctx.device.device,
            on_point=on_point,
            on_progress=on_progress,
            check_cancelled=ctx.check_cancelled,
        )
    except JobCancelled:
        ctx.finish_run("cancelled")
        raise
    except Exception:
        ctx.finish_run("failed")
        raise
    fractions = {name: entry["fraction"] for name, entry in result["strategies"].items()}
    ctx.finish_run("done", summary={"fractions": fractions, "full_f1": result["full_f1"]["mean"]})
    for name, fraction in fractions.items():
        ctx.log(
            f"{name}: {fraction['mean']:.3f} +- {fraction['std']:.3f} of the words reach "
            f"{spec.target:.0%} of full-data F1 ({fraction['reached']}/{fraction['of']} seeds reached it)"
        )
    return {**result, "corpus": spec.corpus, "source": source, "run_id": run_id}


def _restore_tagger(ctx: JobContext, spec: TrainSpec, state: dict[str, Any], labels: tuple[str, ...]) -> Any:
    """The annotator's saved tagger when it fits this job (same kind, same labels), else None."""
    from engine.core.errors import ArtifactMissing
    from engine.ner.tagger import load_tagger

    artifact = state.get("checkpoint_artifact")
    if not spec.resume or artifact is None:
        return None
    if state.get("tagger") != spec.tagger:
        ctx.log(f"the saved model is a {state.get('tagger')} tagger, not {spec.tagger}: starting afresh")
        return None
    try:
        tagger = load_tagger(ctx.store.artifacts.path(int(artifact)), ctx.device.device)
    except (ArtifactMissing, LanternError) as exc:
        ctx.log(f"the saved model cannot be used ({exc.what}): starting afresh", "warning")
        return None
    if tuple(tagger.labels) != labels:
        ctx.log("the corpus labels changed since the saved model was trained: starting afresh", "warning")
        return None
    ctx.log(f"continuing from checkpoint artifact #{artifact} ({tagger.epochs_trained} epochs so far)")
    return tagger


@register_job(TRAIN_JOB, TrainSpec, "Train the NER tagger on accepted labels and rank the pool")
def train_job(ctx: JobContext, spec: TrainSpec) -> dict[str, Any]:
    import numpy as np

    from engine.ner.acquisition import Bald, get_acquisition
    from engine.ner.metrics import entity_scores
    from engine.ner.records import Prediction
    from engine.ner.repository import NerRepository
    from engine.ner.tagger import create_tagger, preset_config

    repo = NerRepository(ctx.store)
    corpus = repo.corpus(spec.corpus)
    labelled = repo.labelled(corpus.id)
    if not labelled:
        raise LanternError(
            f"corpus '{corpus.name}' has no accepted sentences yet",
            f"job {TRAIN_JOB}",
            "accept a few sentences first; the queue keeps its order until the model has something to learn",
        )
    acquisition = Bald(spec.bald_samples) if spec.acquisition == "bald" else get_acquisition(spec.acquisition)
    tagger = _restore_tagger(ctx, spec, repo.load_state(corpus.id, spec.annotator), corpus.labels)
    if tagger is None:
        config = {**preset_config(spec.preset, spec.tagger, spec.tagger_config), "seed": spec.seed}
        tagger = create_tagger(spec.tagger, corpus.labels, config, ctx.device.device)
    words = sum(len(s.tokens) for s in labelled)
    run_id = ctx.start_run(
        name=f"NER tagger on '{corpus.name}' ({len(labelled)} sentences, {words} words)",
        kind=TRAIN_JOB,
        config={**spec.model_dump(mode="json"), "corpus_id": corpus.id},
        seed=spec.seed,
    )
    try:
        import torch

        torch.manual_seed(spec.seed * 1_000_003 + tagger.epochs_trained)  # dropout; reproducible per retrain
        tagger.fit(
            labelled,
            spec.epochs,
            progress=lambda done, total: ctx.progress(done, total * 1.25, "training"),
            check_cancelled=ctx.check_cancelled,
        )
        ctx.check_cancelled()
        test = repo.sentences(corpus.id, "test")
        test_tagged = tagger.predict(test) if test else []
        scores_summary: dict[str, Any] = {}
        if test:
            scores = entity_scores([s.tags for s in test], [t.tags for t in test_tagged])
            values = {"f1": scores.f1, "precision": scores.precision, "recall": scores.recall}
            values.update({f"f1/{label}": score.f1 for label, score in scores.per_label.items()})
            ctx.metrics(words, values)
            scores_summary = {
                **{k: values[k] for k in ("f1", "precision", "recall")},
                "per_label": {label: score._asdict() for label, score in scores.per_label.items()},
            }
        ctx.progress(0.85, 1.0, "scoring the pool", force=True)
        pool = repo.pool(corpus.id)
        pool_tagged = tagger.predict(pool)
        rng = np.random.default_rng([spec.seed, tagger.epochs_trained])
        pool_scores = acquisition.score(tagger, pool, rng, tagged=pool_tagged) if pool else np.zeros(0)
        version = f"{spec.tagger}@job{ctx.job_id}"
        predictions = {
            s.id: Prediction(float(score), t.tags, t.confidences)
            for s, t, score in zip(pool, pool_tagged, pool_scores, strict=True)
        }
        # Test sentences get predictions too (score 0: they are never handed out), so the GUI can show
        # the model's current mistakes on held-out data next to the gold tags.
        predictions.update(
            {s.id: Prediction(0.0, t.tags, t.confidences) for s, t in zip(test, test_tagged, strict=True)}
        )
        repo.set_predictions(corpus.id, version, predictions)
        ctx.check_cancelled()

        path = tagger.save(ctx.workdir / f"ner-{spec.tagger}-corpus{corpus.id}.safetensors")
        record = ctx.add_artifact(
            path,
            kind="checkpoint",
            name=path.name,
            meta={"step": words, "corpus_id": corpus.id, "model_version": version, **scores_summary},
        )
        path.unlink()
        # Read the state again just before writing: the GUI saves the annotator's position meanwhile.
        state = repo.load_state(corpus.id, spec.annotator)
        state.update(
            {
                "tagger": spec.tagger,
                "tagger_config": preset_config(spec.preset, spec.tagger, spec.tagger_config),
                "acquisition": spec.acquisition,
                "checkpoint_artifact": record.id,
                "model_version": version,
                "trained_sentences": len(labelled),
                "trained_words": words,
            }
        )
        repo.save_state(corpus.id, spec.annotator, state)
    except JobCancelled:
        ctx.finish_run("cancelled")
        raise
    except Exception:
        ctx.finish_run("failed")
        raise
    mistakes = [
        {"sentence_id": s.id, "tokens": list(s.tokens), "gold": list(s.tags or ()), "predicted": list(t.tags)}
        for s, t in zip(test, test_tagged, strict=True)
        if tuple(s.tags or ()) != t.tags
    ]
    summary = {
        "labelled_sentences": len(labelled),
        "labelled_words": words,
        "pool_scored": len(pool),
        "test_sentences": len(test),
        **{k: v for k, v in scores_summary.items() if k != "per_label"},
    }
    ctx.finish_run("done", summary=summary)
    return {
        **summary,
        "per_label": scores_summary.get("per_label", {}),
        "mistakes": mistakes[:MISTAKES_SHOWN],
        "mistakes_total": len(mistakes),
        "model_version": version,
        "checkpoint_artifact": record.id,
        "epochs_trained": tagger.epochs_trained,
        "run_id": run_id,
    }
