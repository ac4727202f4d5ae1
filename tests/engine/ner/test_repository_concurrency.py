"""Two annotator processes draining one pool at full speed, on SQLite and PostgreSQL: no sentence is
handed to both, none is lost, every accept is stored."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections import Counter
from pathlib import Path
from typing import Any

from engine.ner.repository import NerRepository
from engine.ner.types import Sentence
from engine.store import Store, open_store

POOL = 400


def _annotate(url: str, corpus_id: int, name: str, barrier: Any, out: str) -> None:
    """One annotator session: take the next sentence, accept it, until the pool is empty."""
    store = open_store(url=url)
    repo = NerRepository(store)
    barrier.wait(timeout=60)
    accepted = []
    while (sentence := repo.next_sentence(corpus_id, name)) is not None:
        tags = ["B-PER"] + ["O"] * (len(sentence.tokens) - 1)
        repo.accept(sentence.id, name, tags)
        accepted.append(sentence.id)
        # A person takes a moment between sentences. Without any pause SQLite's lock is not fair: the
        # process that holds it can take it back at once, and drain the whole pool alone.
        time.sleep(0.003)
    store.close()
    Path(out).write_text(json.dumps(accepted), encoding="utf-8")


def test_two_processes_never_get_the_same_sentence_and_lose_none(any_store: Store, tmp_path: Path) -> None:
    repo = NerRepository(any_store)
    sentences = [Sentence((f"w{i}", "is", "here"), ("O", "O", "O")) for i in range(POOL)]
    corpus_id = repo.import_corpus("race", sentences, source="test")
    pool_ids = {s.id for s in repo.pool(corpus_id)}
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    names = ["ann", "bob"]
    outputs = {name: tmp_path / f"{name}.json" for name in names}
    workers = [
        context.Process(target=_annotate, args=(any_store.url, corpus_id, name, barrier, str(outputs[name])))
        for name in names
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]

    accepted = {name: json.loads(outputs[name].read_text(encoding="utf-8")) for name in names}
    ann, bob = set(accepted["ann"]), set(accepted["bob"])
    assert len(ann) == len(accepted["ann"]) and len(bob) == len(accepted["bob"])
    assert ann & bob == set()  # overlap 0: no sentence went to both
    assert ann | bob == pool_ids  # none lost
    assert ann and bob  # both really worked at the same time
    stored = repo.annotations(corpus_id)
    assert Counter(record.sentence_id for record in stored) == dict.fromkeys(pool_ids, 1)
    assert {(r.annotator, r.sentence_id) for r in stored} == {(n, sid) for n in names for sid in accepted[n]}
    assert all(record.tags == ("B-PER", "O", "O") for record in stored)
    assert repo.pool(corpus_id) == []
    assert repo.progress(corpus_id)["labelled_sentences"] == POOL
