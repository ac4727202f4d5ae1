"""The NER repository on SQLite and PostgreSQL: import, splits, hand-out order, leases, overlap, accepts,
predictions, progress, saved state; bad input leaves every table as it was."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.core.errors import LanternError
from engine.ner.formats import read_corpus, write_corpus
from engine.ner.records import Prediction
from engine.ner.repository import NerRepository
from engine.ner.types import Sentence
from engine.store import Store
from engine.store.models import Base


def _sentences(count: int, words: int = 3) -> list[Sentence]:
    """Sentence i: tokens w{i}_0.., with a PER entity on its first token when i is even."""
    return [
        Sentence(
            tuple(f"w{i}_{j}" for j in range(words)),
            ("B-PER" if i % 2 == 0 else "O",) + ("O",) * (words - 1),
        )
        for i in range(count)
    ]


def _row_counts(store: Store) -> dict[str, int]:
    with store.session() as session:
        return {
            name: session.scalar(select(func.count()).select_from(table))
            for name, table in Base.metadata.tables.items()
        }


@pytest.fixture
def repo(any_store: Store) -> NerRepository:
    return NerRepository(any_store)


def _o(sentence: Sentence) -> list[str]:
    return ["O"] * len(sentence.tokens)


def test_import_keeps_sentences_gold_tags_splits_and_labels(repo: NerRepository) -> None:
    original = _sentences(12)
    corpus_id = repo.import_corpus("toy", original, source="test", test_every=5)
    record = repo.corpus("toy")
    assert (record.id, record.name, record.source, record.labels) == (corpus_id, "toy", "test", ("PER",))
    assert (record.counts, record.words, record.sentences) == ({"pool": 9, "test": 3}, 36, 12)
    assert repo.corpus(corpus_id) == record
    assert repo.corpora() == [record]
    stored = repo.sentences(corpus_id)
    assert [Sentence(s.tokens, s.tags) for s in stored] == original
    assert [s.tokens[0] for s in repo.sentences("toy", "test")] == ["w0_0", "w5_0", "w10_0"]
    assert len(repo.sentences(corpus_id, "pool")) == 9
    # The pool hides gold tags from annotators; the gold stays stored for simulation.
    assert all(s.tags is None for s in repo.pool(corpus_id)) and len(repo.pool(corpus_id)) == 9


def test_a_corpus_round_trips_from_file_through_the_store_to_file(
    repo: NerRepository, tmp_path: Path
) -> None:
    source = tmp_path / "in.conll"
    source.write_text("Anna\tB-PER\nin\tO\nNew\tB-LOC\nYork\tI-LOC\n\nok\tO\n", encoding="utf-8")
    corpus_id = repo.import_corpus(
        "file", read_corpus(source), source=str(source), labels=["PER", "LOC", "ORG"]
    )
    assert repo.corpus(corpus_id).labels == ("PER", "LOC", "ORG")
    out = tmp_path / "out.conll"
    write_corpus(repo.sentences(corpus_id), out)
    assert out.read_text(encoding="utf-8") == source.read_text(encoding="utf-8") + "\n"


def test_bad_files_and_bad_corpora_leave_every_table_untouched(repo: NerRepository, tmp_path: Path) -> None:
    repo.import_corpus("kept", _sentences(5), source="test")
    before = _row_counts(repo._store)
    assert before["ner_sentences"] == 5
    bad_files = {
        "columns.conll": b"Anna B-PER\nin O\nOslo NNP B-LOC\n",
        "i_after_o.conll": b"Anna B-PER\n\nin O\nOslo I-LOC\n",
        "empty.conll": b"",
        "latin1.conll": "Z\xfcrich B-LOC\n".encode("latin-1"),
        "cut.jsonl": json.dumps({"text": "Anna", "spans": [[0, 2, "PER"]]}).encode(),
        "overlap.jsonl": json.dumps({"text": "New York", "spans": [[0, 8, "LOC"], [4, 8, "LOC"]]}).encode(),
        "invalid.jsonl": b'{"text": "ok"}\n{"text": \n',
    }
    for name, content in bad_files.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(LanternError) as caught:
            repo.import_corpus(name, read_corpus(path), source=str(path))
        assert str(path) in caught.value.where, name
    bad_corpora = [
        ("kept", _sentences(3), {}),  # the name exists
        ("short tags", [*_sentences(3), Sentence(("a", "b"), ("O",))], {}),
        ("bad tag", [*_sentences(3), Sentence(("a",), ("I-PER",))], {}),
        ("untagged test", [Sentence(("a",))], {"test_every": 1}),
        ("labels", _sentences(3), {"labels": ["LOC"]}),
        ("empty", [], {}),
        ("no tokens", [Sentence(())], {}),
    ]
    for name, sentences, options in bad_corpora:
        with pytest.raises(LanternError):
            repo.import_corpus(name, sentences, source="test", **options)
    assert _row_counts(repo._store) == before
    assert [c.name for c in repo.corpora()] == ["kept"]


def test_the_next_sentence_is_the_highest_scored_then_the_unscored_in_order(repo: NerRepository) -> None:
    corpus_id = repo.import_corpus("toy", _sentences(6), source="test")
    ids = [s.id for s in repo.sentences(corpus_id)]
    scores = {ids[1]: 0.2, ids[3]: 0.9, ids[4]: 0.5}
    repo.set_predictions(
        corpus_id,
        "v1",
        {sid: Prediction(score, ("O",) * 3, (0.9, 0.8, 0.7)) for sid, score in scores.items()},
    )
    order = []
    while (sentence := repo.next_sentence(corpus_id, "ann")) is not None:
        order.append(sentence.id)
        assert sentence.tags is None
        repo.accept(sentence.id, "ann", ["O"] * 3)
    assert order == [ids[3], ids[4], ids[1], ids[0], ids[2], ids[5]]


def test_a_leased_sentence_goes_to_nobody_else_until_the_lease_expires(repo: NerRepository) -> None:
    corpus_id = repo.import_corpus("toy", _sentences(3), source="test")
    ids = [s.id for s in repo.sentences(corpus_id)]
    first = repo.next_sentence(corpus_id, "ann", lease_s=0.5)
    assert first is not None and first.id == ids[0]
    assert repo.next_sentence(corpus_id, "ann", lease_s=0.5).id == ids[0]  # the holder gets it again
    assert repo.next_sentence(corpus_id, "ann", exclude=[ids[0]]).id == ids[1]  # prefetch the next one
    assert repo.next_sentence(corpus_id, "bob").id == ids[2]
    assert repo.next_sentence(corpus_id, "cid") is None
    time.sleep(0.55)  # ann's lease on ids[0] ran out
    assert repo.next_sentence(corpus_id, "cid").id == ids[0]


def test_skip_hides_a_sentence_from_its_annotator_only(repo: NerRepository) -> None:
    corpus_id = repo.import_corpus("toy", _sentences(2), source="test")
    ids = [s.id for s in repo.sentences(corpus_id)]
    repo.skip(repo.next_sentence(corpus_id, "ann").id, "ann")
    assert repo.next_sentence(corpus_id, "ann").id == ids[1]
    assert repo.next_sentence(corpus_id, "bob").id == ids[0]  # the skip released ann's lease
    repo.skip(ids[1], "ann")
    assert repo.next_sentence(corpus_id, "ann") is None


def test_an_overlap_share_hands_exactly_that_share_to_a_second_annotator(repo: NerRepository) -> None:
    corpus_id = repo.import_corpus("toy", _sentences(100, words=1), source="test")
    annotators = ["ann", "bob", "cid"]
    active = set(annotators)
    while active:
        for name in annotators:
            if name in active:
                sentence = repo.next_sentence(corpus_id, name, overlap=0.3)
                if sentence is None:
                    active.discard(name)
                else:
                    repo.accept(sentence.id, name, ["O"])
    per_sentence: dict[int, list[str]] = {}
    for record in repo.annotations(corpus_id):
        per_sentence.setdefault(record.sentence_id, []).append(record.annotator)
    counts = sorted(len(names) for names in per_sentence.values())
    assert len(per_sentence) == 100
    assert counts.count(2) == 30 and counts.count(1) == 70  # never a third annotator
    assert all(len(set(names)) == len(names) for names in per_sentence.values())
    assert repo.progress(corpus_id)["annotations"] == 130


def test_accept_unaccept_and_labelled_keep_the_latest_annotation(repo: NerRepository) -> None:
    corpus_id = repo.import_corpus("toy", _sentences(3), source="test")
    ids = [s.id for s in repo.sentences(corpus_id)]
    repo.accept(ids[1], "ann", ["B-LOC", "O", "O"])
    time.sleep(0.01)
    repo.accept(ids[1], "bob", ["B-ORG", "I-ORG", "O"])
    repo.accept(ids[0], "ann", ["O", "O", "O"])
    repo.accept(ids[0], "ann", ["B-PER", "O", "O"])  # accepting again replaces ann's own annotation
    assert repo.labelled(corpus_id) == [
        Sentence(("w0_0", "w0_1", "w0_2"), ("B-PER", "O", "O"), ids[0]),
        Sentence(("w1_0", "w1_1", "w1_2"), ("B-ORG", "I-ORG", "O"), ids[1]),
    ]
    assert [s.id for s in repo.pool(corpus_id)] == [ids[2]]
    repo.unaccept(ids[0], "ann")
    assert [s.id for s in repo.labelled(corpus_id)] == [ids[1]]
    assert repo.next_sentence(corpus_id, "bob").id == ids[2]  # ids[0] is leased back to ann after undo
    assert repo.next_sentence(corpus_id, "ann").id == ids[0]
    assert [(a.sentence_id, a.annotator) for a in repo.annotations(corpus_id, "bob")] == [(ids[1], "bob")]


def test_bad_accepts_are_refused_and_store_nothing(repo: NerRepository) -> None:
    corpus_id = repo.import_corpus("toy", _sentences(1), source="test")
    [sentence] = repo.sentences(corpus_id)
    before = _row_counts(repo._store)
    with pytest.raises(LanternError, match="2 tags for a sentence of 3 tokens"):
        repo.accept(sentence.id, "ann", ["O", "O"])
    with pytest.raises(LanternError, match="I-PER follows O"):
        repo.accept(sentence.id, "ann", ["O", "I-PER", "O"])
    with pytest.raises(LanternError, match="no sentence with id"):
        repo.accept(sentence.id + 100, "ann", ["O"])
    with pytest.raises(LanternError, match="no annotator with id 99"):
        repo.accept(sentence.id, 99, ["O", "O", "O"])
    assert _row_counts(repo._store) == before  # not even the annotator "ann" was created


def test_predictions_are_replaced_by_the_latest_model_and_validated(repo: NerRepository) -> None:
    corpus_id = repo.import_corpus("toy", _sentences(2), source="test")
    ids = [s.id for s in repo.sentences(corpus_id)]
    tags = ("B-PER", "O", "O")
    repo.set_predictions(corpus_id, "v1", {ids[0]: Prediction(0.5, tags, (0.9, 0.8, 0.7))})
    repo.set_predictions(corpus_id, "v2", {ids[0]: Prediction(-1.25, ("O",) * 3, (0.6, 0.5, 0.4))})
    latest = repo.prediction(ids[0])
    assert latest == Prediction(-1.25, ("O", "O", "O"), (0.6, 0.5, 0.4), "v2")
    assert repo.prediction(ids[1]) is None
    bad = [
        {ids[1]: Prediction(float("nan"), tags, (1.0, 1.0, 1.0))},
        {ids[1]: Prediction(1.0, tags, (1.0,))},
        {ids[1]: Prediction(1.0, ("O",), (1.0,))},
        {ids[1] + 50: Prediction(1.0, tags, (1.0, 1.0, 1.0))},
    ]
    for predictions in bad:
        with pytest.raises(LanternError):
            repo.set_predictions(corpus_id, "v3", predictions)
    assert repo.prediction(ids[0]).model_version == "v2" and repo.prediction(ids[1]) is None


def test_progress_counts_sentences_and_words_labelled(repo: NerRepository) -> None:
    corpus_id = repo.import_corpus("toy", _sentences(10, words=4), source="test", test_every=5)
    pool = repo.pool(corpus_id)
    repo.accept(pool[0].id, "ann", _o(pool[0]))
    repo.accept(pool[1].id, "ann", _o(pool[1]))
    repo.accept(pool[1].id, "bob", _o(pool[1]))
    assert repo.progress(corpus_id) == {
        "pool_sentences": 8,
        "pool_words": 32,
        "test_sentences": 2,
        "test_words": 8,
        "labelled_sentences": 2,
        "labelled_words": 8,
        "annotations": 3,
        "by_annotator": {"ann": {"sentences": 2, "words": 8}, "bob": {"sentences": 1, "words": 4}},
    }


def test_state_is_saved_per_corpus_and_annotator(repo: NerRepository) -> None:
    corpus_id = repo.import_corpus("toy", _sentences(2), source="test")
    assert repo.load_state(corpus_id, "ann") == {}
    state = {"tagger": "cnn_cnn_lstm", "acquisition": "mnlp", "sentence": 7, "checkpoint": 3}
    repo.save_state(corpus_id, "ann", state)
    repo.save_state(corpus_id, "ann", {**state, "sentence": 8})
    repo.save_state(corpus_id, "bob", {"sentence": 1})
    assert repo.load_state("toy", "ann") == {**state, "sentence": 8}
    assert repo.load_state(corpus_id, repo.annotator_id("bob")) == {"sentence": 1}
    with pytest.raises(LanternError, match="cannot be stored as JSON"):
        repo.save_state(corpus_id, "ann", {"bad": object()})
    assert repo.load_state(corpus_id, "ann")["sentence"] == 8


def test_annotators_are_created_once_and_unknown_corpora_are_named(repo: NerRepository) -> None:
    assert repo.annotator_id("ann") == repo.annotator_id(" ann ") == repo.annotator_id("ann")
    assert repo.annotator_id("bob") != repo.annotator_id("ann")
    repo.import_corpus("toy", _sentences(1), source="test")
    with pytest.raises(LanternError) as caught:
        repo.corpus("missing")
    assert caught.value.what == "there is no corpus named 'missing'"
    assert "corpora: toy" in caught.value.hint
    with pytest.raises(LanternError, match="overlap must be between 0 and 1"):
        repo.next_sentence("toy", "ann", overlap=1.5)
