"""The annotator's queue over a real repository: best-ranked first, one sentence fetched ahead so that
advancing costs no query, undo bringing a sentence back before the rest, predictions refreshed after a
retraining for sentences not yet shown, and the up-next strip."""

from __future__ import annotations

from engine.ner.records import Prediction
from engine.ner.repository import NerRepository
from engine.ner.types import Sentence
from gui.widgets.ner_queue import AnnotationQueue, UpNextStrip, preview_text

SENTENCES = [Sentence((f"word{i}", "and", "more"), ("O", "O", "O")) for i in range(6)]


def ranked(store, scores: list[float]) -> tuple[NerRepository, int, list[int]]:  # type: ignore[no-untyped-def]
    repository = NerRepository(store)
    corpus_id = repository.import_corpus("q", SENTENCES, source="test", labels=["PER"])
    ids = [s.id for s in repository.sentences(corpus_id)]
    predictions = {
        sid: Prediction(score, ("O", "O", "O"), (0.9, 0.8, 0.7))
        for sid, score in zip(ids, scores, strict=True)
    }
    repository.set_predictions(corpus_id, "v1", predictions)
    return repository, corpus_id, ids


def test_best_first_with_one_fetched_ahead(store) -> None:  # type: ignore[no-untyped-def]
    repository, corpus_id, ids = ranked(store, [0.1, 0.9, 0.5, 0.7, 0.2, 0.3])
    queue = AnnotationQueue(repository, corpus_id, "ana")
    assert queue.start().id == ids[1]
    assert queue.current.prediction.score == 0.9
    assert queue.peek() is None
    assert queue.prefetch().id == ids[3]
    assert queue.fetches == 2
    repository.accept(ids[1], "ana", ("O", "O", "O"))
    assert queue.advance().id == ids[3]
    assert queue.fetches == 2  # the sentence fetched ahead, no query
    assert queue.advance().id == ids[2]  # nothing ahead: fetched now, the current one excluded
    assert queue.fetches == 3


def test_undo_brings_a_sentence_back_before_the_one_on_screen(store) -> None:  # type: ignore[no-untyped-def]
    repository, corpus_id, ids = ranked(store, [0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    queue = AnnotationQueue(repository, corpus_id, "ana")
    first = queue.start()
    queue.prefetch()
    repository.accept(ids[0], "ana", ("O", "O", "O"))
    second = queue.advance()
    queue.prefetch()
    repository.unaccept(ids[0], "ana")  # the page's undo of that accept
    queue.bring_back(first)
    assert queue.current.id == ids[0]
    assert queue.peek().id == second.id
    fetches = queue.fetches
    assert queue.prefetch().id == second.id and queue.fetches == fetches  # nothing fetched while one waits
    shown = []
    for _ in range(4):
        repository.accept(queue.current.id, "ana", ("O", "O", "O"))
        shown.append(queue.advance().id)
    assert shown == ids[1:5]  # the one brought back's successor, the one fetched ahead, then new ones


def test_predictions_are_refreshed_for_sentences_not_yet_shown(store) -> None:  # type: ignore[no-untyped-def]
    repository, corpus_id, ids = ranked(store, [0.9, 0.8, 0.1, 0.1, 0.1, 0.1])
    queue = AnnotationQueue(repository, corpus_id, "ana")
    queue.start()
    queue.prefetch()
    newer = Prediction(0.95, ("B-PER", "O", "O"), (0.6, 0.9, 0.9), "v2")
    repository.set_predictions(corpus_id, "v2", {ids[1]: newer})
    assert queue.refresh_predictions() == 1
    assert queue.peek().prediction.tags == ("B-PER", "O", "O")


def test_the_queue_ends_when_everything_is_labelled(store) -> None:  # type: ignore[no-untyped-def]
    repository, corpus_id, ids = ranked(store, [0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    queue = AnnotationQueue(repository, corpus_id, "ana")
    seen = []
    current = queue.start()
    while current is not None:
        seen.append(current.id)
        repository.accept(current.id, "ana", ("O", "O", "O"))
        queue.prefetch()
        current = queue.advance()
    assert seen == ids


def test_up_next_strip_previews_the_next_sentence(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    repository, corpus_id, _ = ranked(store, [0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    queue = AnnotationQueue(repository, corpus_id, "ana")
    queue.start()
    strip = UpNextStrip()
    qtbot.addWidget(strip)
    strip.show_next(queue.prefetch())
    assert strip.text.text() == "word1 and more"
    long = Sentence(tuple(["token"] * 60))
    assert len(preview_text(long)) == 140 and preview_text(long).endswith("…")
