"""The NER jobs in-process: ner.train on a tiny corpus in the store, ner.simulate with live curves."""

from __future__ import annotations

from pathlib import Path

import pytest
from ner_toys import LABELS, SMALL, one_thread, toy_sentences  # noqa: F401 - autouse fixture

from engine.core.device import choose_device
from engine.core.errors import LanternError, SpecError
from engine.jobs.context import JobContext
from engine.jobs.events import Event
from engine.jobs.registry import get_job_type, validate_spec
from engine.ner.jobs import SIMULATE_JOB, TRAIN_JOB, SimulateSpec, TrainSpec, simulate_job, train_job
from engine.ner.repository import NerRepository
from engine.ner.tagger import load_tagger
from engine.store import Store

TINY = {**SMALL, "word_filters": 16, "decoder_hidden": 16}


def context(store: Store, job: str, spec: object, workdir: Path, events: list[Event]) -> JobContext:
    job_id = store.jobs.create(job, spec.model_dump(mode="json"))
    workdir.mkdir(parents=True, exist_ok=True)
    return JobContext(job_id, store, events.append, choose_device("cpu"), workdir)


@pytest.fixture
def corpus(store: Store) -> tuple[NerRepository, int]:
    repo = NerRepository(store)
    corpus_id = repo.import_corpus(
        "toy", toy_sentences(100, seed=0), source="tests", labels=LABELS, test_every=5
    )
    pool = repo.sentences(corpus_id, "pool")
    for sentence in pool[:30]:
        repo.accept(sentence.id, "ann", sentence.tags)
    return repo, corpus_id


def test_specs_are_registered_and_validated():
    assert get_job_type(TRAIN_JOB).spec is TrainSpec and get_job_type(SIMULATE_JOB).spec is SimulateSpec
    _, spec = validate_spec({"job": SIMULATE_JOB, "params": {"strategies": ["mnlp", "random"], "seeds": 2}})
    assert spec.strategies == ["mnlp", "random"] and spec.corpus == "wnut16"
    for params, message in [
        ({"strategies": ["mnlp", "margin"]}, "unknown acquisition function 'margin'"),
        ({"tagger": "crf"}, "unknown tagger 'crf'"),
        ({"seeds": 0}, "seeds"),
        ({"round_fraction": 0}, "round_fraction"),
    ]:
        with pytest.raises(SpecError, match=message):
            validate_spec({"job": SIMULATE_JOB, "params": params})
    with pytest.raises(SpecError, match="annotator"):
        validate_spec({"job": TRAIN_JOB, "params": {"corpus": "toy"}})
    with pytest.raises(SpecError, match="unknown acquisition"):
        validate_spec({"job": TRAIN_JOB, "params": {"corpus": "toy", "annotator": "a", "acquisition": "x"}})


def test_train_writes_predictions_metrics_checkpoint_and_state(store: Store, corpus, tmp_path: Path):
    repo, corpus_id = corpus
    spec = TrainSpec(corpus="toy", annotator="ann", tagger_config=TINY, epochs=3)
    repo.save_state(corpus_id, "ann", {"current_sentence": 7})
    events: list[Event] = []
    result = train_job(context(store, TRAIN_JOB, spec, tmp_path / "w1", events), spec)
    assert result["labelled_sentences"] == 30 and result["test_sentences"] == 20
    assert result["pool_scored"] == 50 and 0.0 <= result["f1"] <= 1.0
    pool = repo.pool(corpus_id)
    predictions = {s.id: repo.prediction(s.id) for s in pool}
    assert all(
        p is not None and len(p.tags) == len(s.tokens) == len(p.confidences)
        for s, p in ((s, predictions[s.id]) for s in pool)
    )
    assert all(p.model_version == result["model_version"] and p.score > 0 for p in predictions.values())
    test = repo.sentences(corpus_id, "test")
    assert all(repo.prediction(s.id) is not None for s in test)  # for showing the model's mistakes
    # The queue now follows the MNLP scores: the highest-scored sentence comes first.
    first = repo.next_sentence(corpus_id, "other")
    assert first is not None and first.id == max(predictions, key=lambda i: predictions[i].score)
    # The checkpoint is an artifact, named in the annotator's state next to what the GUI saved.
    state = repo.load_state(corpus_id, "ann")
    assert state["current_sentence"] == 7 and state["checkpoint_artifact"] == result["checkpoint_artifact"]
    assert state["tagger"] == "cnn_cnn_lstm" and state["acquisition"] == "mnlp"
    tagger = load_tagger(store.artifacts.path(result["checkpoint_artifact"]))
    assert tagger.epochs_trained == 3 and tagger.labels == LABELS
    run = store.runs.metrics(result["run_id"])
    assert run["f1"].steps == [float(result["labelled_words"])] and "precision" in run and "recall" in run
    assert any(e.type == "artifact" for e in events)

    # A second retrain continues from that checkpoint (incremental), with the newly accepted sentences.
    for sentence in repo.sentences(corpus_id, "pool")[30:40]:
        repo.accept(sentence.id, "ann", sentence.tags)
    again = train_job(context(store, TRAIN_JOB, spec, tmp_path / "w2", []), spec)
    assert again["epochs_trained"] == 6 and again["labelled_sentences"] == 40 and again["pool_scored"] == 40
    assert repo.load_state(corpus_id, "ann")["checkpoint_artifact"] == again["checkpoint_artifact"]
    fresh = TrainSpec(corpus="toy", annotator="ann", tagger_config=TINY, epochs=1, resume=False)
    assert train_job(context(store, TRAIN_JOB, fresh, tmp_path / "w3", []), fresh)["epochs_trained"] == 1


def test_train_without_accepted_sentences_says_what_to_do(store: Store, tmp_path: Path):
    NerRepository(store).import_corpus("empty", toy_sentences(10, seed=1), source="tests", labels=LABELS)
    spec = TrainSpec(corpus="empty", annotator="ann", tagger_config=TINY)
    with pytest.raises(LanternError, match="no accepted sentences"):
        train_job(context(store, TRAIN_JOB, spec, tmp_path / "w", []), spec)


def test_simulate_job_streams_curves_per_strategy_and_seed(store: Store, corpus, tmp_path: Path):
    spec = SimulateSpec(
        corpus="toy",
        strategies=["mnlp", "random"],
        seeds=1,
        rounds=2,
        round_fraction=0.15,
        initial_fraction=0.05,
        epochs_per_round=2,
        tagger_config=TINY,
    )
    events: list[Event] = []
    result = simulate_job(context(store, SIMULATE_JOB, spec, tmp_path / "w", events), spec)
    assert result["source"].startswith("corpus 'toy' from the store, its test split")
    assert result["test_sentences"] == 20 and result["train_sentences"] == 80
    metrics = store.runs.metrics(result["run_id"])
    assert set(metrics) == {"f1/mnlp/seed0", "f1/random/seed0", "f1_full/seed0"}
    steps = metrics["f1/mnlp/seed0"].steps
    assert len(steps) == 3 and steps == sorted(steps)  # step = words labelled
    assert metrics["f1_full/seed0"].steps == [float(result["train_words"])]
    assert 0.0 < result["strategies"]["mnlp"]["fraction"]["mean"] <= 1.0
    assert store.runs.get(result["run_id"]).status == "done"
