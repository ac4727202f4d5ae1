"""kill -9 while annotating loses no accepted sentence: a real process accepts in a loop and prints each
id once accept() returned; after SIGKILL every printed id is in the store and SQLite is intact."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from engine.ner.repository import NerRepository
from engine.ner.types import Sentence
from engine.store import Store, open_store

REPO_ROOT = Path(__file__).resolve().parents[3]
POOL = 120
KILL_AFTER = 40  # accepted sentences printed before the kill

ANNOTATOR = """
import sys
from engine.store import open_store
from engine.ner.repository import NerRepository

repo = NerRepository(open_store(url=sys.argv[1]))
corpus_id = int(sys.argv[2])
while (sentence := repo.next_sentence(corpus_id, "killed")) is not None:
    repo.accept(sentence.id, "killed", ["B-LOC"] + ["O"] * (len(sentence.tokens) - 1))
    print(sentence.id, flush=True)
"""


def test_every_sentence_accepted_before_a_kill_9_is_kept(any_store: Store, tmp_path: Path) -> None:
    repo = NerRepository(any_store)
    corpus_id = repo.import_corpus(
        "kill", [Sentence((f"w{i}", "x"), ("O", "O")) for i in range(POOL)], source="test"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "LANTERN_HOME": str(tmp_path / "home")}
    child = subprocess.Popen(
        [sys.executable, "-c", ANNOTATOR, any_store.url, str(corpus_id)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO_ROOT,
        env=env,
        text=True,
    )
    assert child.stdout is not None
    printed = []
    try:
        for line in child.stdout:
            printed.append(int(line))
            if len(printed) == KILL_AFTER:
                os.kill(child.pid, signal.SIGKILL)  # mid-way: the loop is inside its next transaction
                break
        rest, errors = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    printed += [int(line) for line in rest.split()]
    assert child.returncode == -signal.SIGKILL, errors
    assert len(printed) < POOL  # killed before the pool ran dry

    labelled = {s.id: s.tags for s in repo.labelled(corpus_id)}
    assert set(printed) <= set(labelled)
    assert len(labelled) - len(printed) <= 1  # at most the one committed as the kill came
    assert all(labelled[sid] == ("B-LOC", "O") for sid in printed)
    if any_store.is_sqlite:
        connection = sqlite3.connect(any_store.url.removeprefix("sqlite:///"))
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        connection.close()

    # The killed annotator resumes: reopening works and the rest of the pool is handed out exactly once.
    reopened = open_store(url=any_store.url)
    resumed = NerRepository(reopened)
    while (sentence := resumed.next_sentence(corpus_id, "killed")) is not None:
        resumed.accept(sentence.id, "killed", ["O", "O"])
    assert len(resumed.labelled(corpus_id)) == POOL
    assert len(resumed.annotations(corpus_id)) == POOL
    reopened.close()
