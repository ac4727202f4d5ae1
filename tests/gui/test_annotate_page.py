"""The Annotate page: keyboard labelling, accept (stored at once, next sentence at once), skip, accept with
suggestions, undo and redo of edits and accepts against the store, resuming on a rebuilt page, retraining
after N accepts, imports off the GUI thread (the demo, and a bad file reported with its line), agreement."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt

from engine.jobs.registry import validate_spec
from engine.ner.agreement import between
from engine.ner.records import Prediction
from engine.ner.repository import NerRepository
from engine.ner.types import Sentence, Span
from engine.store import open_store
from gui.dialogs.ner_import import ImportRequest, demo_request
from gui.pages.annotate import ANNOTATOR_KEY, RETRAIN_EVERY_KEY, TRAIN_JOB, AnnotatePage
from gui.services import AppServices
from gui.shortcuts import ShortcutRegistry

LABELS = ["PER", "LOC", "ORG", "MISC"]
SHIFT = Qt.KeyboardModifier.ShiftModifier
JOB_TIMEOUT_MS = 180_000
CTRL = Qt.KeyboardModifier.ControlModifier
BASE = [
    (["Nothing", "to", "see", "here"], ["O", "O", "O", "O"]),
    (
        ["Ann", "Smith", "flew", "to", "Paris", "with", "Acme", "staff"],
        ["B-PER", "I-PER", "O", "O", "B-LOC", "O", "B-ORG", "O"],
    ),
    (["Rain", "again", "in", "Leeds", "today"], ["O", "O", "O", "B-LOC", "O"]),
    (["Bob", "joined", "Google", "last", "week"], ["B-PER", "O", "B-ORG", "O", "O"]),
    (["The", "Eiffel", "Tower", "is", "tall"], ["O", "B-MISC", "I-MISC", "O", "O"]),
]
CORPUS = [Sentence(tuple(tokens), tuple(tags)) for tokens, tags in BASE * 6]  # 30 sentences, 6 held out


@pytest.fixture
def corpus(services: AppServices) -> int:
    """30 sentences (every fifth held out); pool sentences ranked in corpus order, the model's suggestion
    for each being its gold tags with known probabilities."""
    QSettings().setValue(ANNOTATOR_KEY, "ana")
    repository = NerRepository(services.store)
    corpus_id = repository.import_corpus("tiny", CORPUS, source="test", labels=LABELS, test_every=5)
    pool = repository.sentences(corpus_id, "pool")
    repository.set_predictions(
        corpus_id,
        "v1",
        {
            s.id: Prediction(1.0 - i / 100, s.tags, tuple(0.9 - 0.1 * (j % 3) for j in range(len(s))))
            for i, s in enumerate(pool)
        },
    )
    return corpus_id


def make_page(qtbot, services: AppServices) -> AnnotatePage:  # type: ignore[no-untyped-def]
    page = AnnotatePage(services)
    qtbot.addWidget(page)
    page.resize(1400, 900)
    page.show()
    qtbot.waitExposed(page)
    page.activateWindow()
    qtbot.waitUntil(page.isActiveWindow)
    return page


def started(qtbot, services: AppServices) -> AnnotatePage:  # type: ignore[no-untyped-def]
    page = make_page(qtbot, services)
    page.start()
    qtbot.waitUntil(lambda: page.editor.hasFocus())
    qtbot.waitUntil(lambda: page.queue is not None and page.queue.peek() is not None)  # prefetched
    return page


def stored(store_url: str, corpus_id: int) -> dict[int, tuple[str, ...]]:
    """Annotations read back through a second store connection (so they must be committed)."""
    other = open_store(url=store_url)
    try:
        return {record.sentence_id: record.tags for record in NerRepository(other).annotations(corpus_id)}
    finally:
        other.close()


def key(qtbot, page: AnnotatePage, code: Qt.Key, modifiers: Any = Qt.KeyboardModifier.NoModifier) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClick(page.editor, code, modifiers)


def test_keyboard_labelling_edits_spans_exactly_with_undo_and_redo(qtbot, services, corpus) -> None:  # type: ignore[no-untyped-def]
    page = started(qtbot, services)
    editor = page.editor
    assert editor.sentence.tokens[:3] == ("Ann", "Smith", "flew")
    assert editor.spans == ()
    key(qtbot, page, Qt.Key.Key_Right)
    key(qtbot, page, Qt.Key.Key_Right)
    key(qtbot, page, Qt.Key.Key_Right, SHIFT)
    assert editor.selection() == (2, 4)
    key(qtbot, page, Qt.Key.Key_1)
    assert editor.spans == (Span(2, 4, "PER"),)
    key(qtbot, page, Qt.Key.Key_Left)  # onto "flew", inside the span
    key(qtbot, page, Qt.Key.Key_Backspace)
    assert editor.spans == ()
    key(qtbot, page, Qt.Key.Key_Z, CTRL)
    assert editor.spans == (Span(2, 4, "PER"),)
    key(qtbot, page, Qt.Key.Key_Z, CTRL)
    assert editor.spans == ()
    key(qtbot, page, Qt.Key.Key_Z, CTRL | SHIFT)
    key(qtbot, page, Qt.Key.Key_Z, CTRL | SHIFT)
    assert editor.spans == ()
    key(qtbot, page, Qt.Key.Key_Z, CTRL)
    assert editor.spans == (Span(2, 4, "PER"),)
    # The legend does what the number keys do.
    editor.set_selection(4, 5)
    page.legend.buttons[1].click()
    assert editor.spans == (Span(2, 4, "PER"), Span(4, 5, "LOC"))
    assert services.shortcuts.conflicts() == {}


def test_enter_stores_the_sentence_at_once_and_shows_the_next_within_100_ms(qtbot, services, corpus) -> None:  # type: ignore[no-untyped-def]
    page = started(qtbot, services)
    first = page.editor.sentence.id
    page.editor.set_selection(0, 2)
    key(qtbot, page, Qt.Key.Key_1)
    fetches = page.queue.fetches
    began = time.perf_counter()
    key(qtbot, page, Qt.Key.Key_Return)
    elapsed = time.perf_counter() - began
    assert page.editor.sentence.id != first
    assert elapsed < 0.1, f"the next sentence took {elapsed * 1000:.0f} ms"
    assert page.queue.fetches == fetches  # it was fetched ahead, not after Enter
    saved = stored(services.store.url, corpus)
    assert saved == {first: ("B-PER", "I-PER", "O", "O", "O", "O", "O", "O")}
    assert page.recent.entries[0][0] == first
    qtbot.waitUntil(lambda: page.progress_panel.sentences_label.text() == "<b>1</b> of 24 (4.2 %)")


def test_s_skips_and_undo_brings_the_sentence_back(qtbot, services, corpus) -> None:  # type: ignore[no-untyped-def]
    page = started(qtbot, services)
    first = page.editor.sentence.id
    key(qtbot, page, Qt.Key.Key_S)
    second = page.editor.sentence.id
    assert second != first
    assert stored(services.store.url, corpus) == {}
    key(qtbot, page, Qt.Key.Key_Z, CTRL)
    assert page.editor.sentence.id == first
    key(qtbot, page, Qt.Key.Key_Z, CTRL | SHIFT)
    assert page.editor.sentence.id == second
    # A skipped sentence is not offered to this annotator again.
    offered = set()
    for _ in range(30):
        if page.editor.sentence is None:
            break
        offered.add(page.editor.sentence.id)
        key(qtbot, page, Qt.Key.Key_S)
    assert first not in offered and len(offered) == 23


def test_accept_with_suggestions_stores_the_models_spans_minus_dismissed_ones(
    qtbot, services, corpus
) -> None:  # type: ignore[no-untyped-def]
    page = started(qtbot, services)
    editor = page.editor
    first = editor.sentence.id
    assert [s.span for s in editor.visible_suggestions()] == [
        Span(0, 2, "PER"),
        Span(4, 5, "LOC"),
        Span(6, 7, "ORG"),
    ]
    editor.set_selection(6, 7)
    key(qtbot, page, Qt.Key.Key_Backspace)  # dismiss the ORG suggestion
    editor.set_selection(4, 5)
    key(qtbot, page, Qt.Key.Key_4)  # Paris is MISC here
    key(qtbot, page, Qt.Key.Key_A)
    assert stored(services.store.url, corpus) == {
        first: ("B-PER", "I-PER", "O", "O", "B-MISC", "O", "O", "O")
    }
    assert editor.sentence.id != first


def test_undo_of_accept_unaccepts_and_redo_accepts_again(qtbot, services, corpus) -> None:  # type: ignore[no-untyped-def]
    page = started(qtbot, services)
    first = page.editor.sentence.id
    page.editor.set_selection(4, 5)
    key(qtbot, page, Qt.Key.Key_2)
    key(qtbot, page, Qt.Key.Key_Return)
    second = page.editor.sentence.id
    assert first in stored(services.store.url, corpus)
    key(qtbot, page, Qt.Key.Key_Z, CTRL)
    assert stored(services.store.url, corpus) == {}
    assert page.editor.sentence.id == first
    assert page.editor.spans == (Span(4, 5, "LOC"),)
    assert page.recent.entries == []
    key(qtbot, page, Qt.Key.Key_Z, CTRL)  # the label edit before the accept
    assert page.editor.spans == ()
    key(qtbot, page, Qt.Key.Key_Z, CTRL | SHIFT)
    key(qtbot, page, Qt.Key.Key_Z, CTRL | SHIFT)
    assert stored(services.store.url, corpus) == {first: ("O", "O", "O", "O", "B-LOC", "O", "O", "O")}
    assert page.editor.sentence.id == second
    # After undoing, the sentence that was on screen comes right after the one brought back.
    key(qtbot, page, Qt.Key.Key_Z, CTRL)
    key(qtbot, page, Qt.Key.Key_Return)
    assert page.editor.sentence.id == second


def test_a_rebuilt_page_resumes_on_the_same_sentence_with_its_edits(qtbot, services, corpus) -> None:  # type: ignore[no-untyped-def]
    page = started(qtbot, services)
    key(qtbot, page, Qt.Key.Key_Return)
    key(qtbot, page, Qt.Key.Key_Return)
    current = page.editor.sentence.id
    page.editor.set_selection(3, 4)
    key(qtbot, page, Qt.Key.Key_3)
    page.acquisition_box.setCurrentIndex(page.acquisition_box.findData("bald"))
    page.shutdown()
    page.close()

    # As after a restart: a new page, with a shortcut registry of its own, on the same store.
    again = make_page(qtbot, replace(services, shortcuts=ShortcutRegistry(services.notifications)))
    assert again.queue is not None
    assert again.editor.sentence.id == current
    assert again.editor.spans == (Span(3, 4, "ORG"),)
    assert again.acquisition_box.currentData() == "bald"
    assert again.corpus.name == "tiny"


def test_retraining_is_submitted_after_every_n_accepts(qtbot, services, corpus, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    submitted: list[dict[str, Any]] = []

    class Handle:
        job_id = 4242

    def submit(document: dict[str, Any], resume_of: int | None = None) -> Handle:
        submitted.append(document)
        return Handle()

    monkeypatch.setattr(services.jobs, "submit", submit)
    QSettings().setValue(RETRAIN_EVERY_KEY, 2)
    page = started(qtbot, services)
    assert page.retrain_every.value() == 2
    key(qtbot, page, Qt.Key.Key_Return)
    assert submitted == []
    key(qtbot, page, Qt.Key.Key_Return)
    assert [d["job"] for d in submitted] == [TRAIN_JOB]
    assert submitted[0]["params"] == {
        "corpus": corpus,
        "annotator": "ana",
        "tagger": "cnn_cnn_lstm",
        "acquisition": "mnlp",
    }
    validate_spec(submitted[0])  # what the job runner will accept
    assert page.train_job == 4242 and not page.retrain_button.isEnabled()
    key(qtbot, page, Qt.Key.Key_Return)
    key(qtbot, page, Qt.Key.Key_Return)  # due again while one runs: queued, not doubled
    assert len(submitted) == 1 and page._retrain_pending
    services.jobs.status.emit(4242, "done", "")
    qtbot.waitUntil(lambda: len(submitted) == 2)


def test_the_demo_imports_off_the_gui_thread_and_opens(qtbot, services) -> None:  # type: ignore[no-untyped-def]
    page = make_page(qtbot, services)
    assert page.corpus is None and page.empty_actions.isVisible()
    page.import_corpus(demo_request())
    qtbot.waitUntil(lambda: page.corpus is not None, timeout=60_000)
    assert page.corpus.name == "wnut16"
    assert page.corpus.labels == ("PER", "LOC", "ORG", "MISC")
    assert page.corpus.counts == {"pool": 1915, "test": 479}
    assert page.queue is not None and page.editor.sentence is not None
    assert [b.text() for b in page.legend.buttons] == ["1  PER", "2  LOC", "3  ORG", "4  MISC"]
    notice = services.notifications.notices()[-1]
    assert notice.title == "Corpus imported" and "2,394 sentences" in notice.message


def test_a_bad_file_is_reported_with_its_line_and_nothing_is_stored(qtbot, services, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.conll"
    bad.write_text("Ann\tB-PER\nSmith\tI-PER\n\nRain\tO\tX\n", encoding="utf-8")
    page = make_page(qtbot, services)
    page.import_corpus(ImportRequest(name="bad", path=bad, format="conll", test_every=0))
    qtbot.waitUntil(lambda: any(n.level == "error" for n in services.notifications.notices()), timeout=30_000)
    notice = [n for n in services.notifications.notices() if n.level == "error"][-1]
    assert "nothing was stored" in notice.title
    assert notice.where == f"{bad}:4"
    assert "3 columns" in notice.message and notice.hint
    assert NerRepository(services.store).corpora() == []
    assert page.import_button.isEnabled()


def test_agreement_between_two_annotators_matches_the_engine(qtbot, services, corpus) -> None:  # type: ignore[no-untyped-def]
    repository = NerRepository(services.store)
    pool = repository.sentences(corpus, "pool")[:4]
    for sentence in pool:
        repository.accept(sentence.id, "ana", sentence.tags)
        other = list(sentence.tags)
        other[-1] = "O" if other[-1] != "O" else "B-MISC"
        repository.accept(sentence.id, "ben", other)
    page = make_page(qtbot, services)
    assert [page.agreement.first.itemText(i) for i in range(page.agreement.first.count())] == ["ana", "ben"]
    page.compare_annotators("ana", "ben")
    expected = between(repository.annotations(corpus), "ana", "ben")
    assert page.agreement.kappa_value.text() == f"{expected.kappa_bio:.2f}"
    assert page.agreement.f1_value.text() == f"{100 * expected.spans.f1:.1f} %"
    assert "4 sentences both annotators labelled" in page.agreement.status.text()
    assert page.agreement.table.rowCount() == len(
        set(expected.kappa_per_label) | set(expected.spans.per_label)
    )


def test_each_annotator_keeps_their_own_place_and_never_gets_anothers_sentence(
    qtbot, services, corpus
) -> None:  # type: ignore[no-untyped-def]
    page = started(qtbot, services)
    key(qtbot, page, Qt.Key.Key_Return)
    anas = page.editor.sentence.id
    qtbot.waitUntil(lambda: page.queue.peek() is not None)
    held_by_ana = {anas, page.queue.peek().id}
    page.annotator_edit.setText("ben")
    page.annotator_edit.editingFinished.emit()
    assert page.annotator == "ben" and QSettings().value(ANNOTATOR_KEY) == "ben"
    assert page.queue is None  # ben has not started in this corpus
    page.start()
    bens = page.editor.sentence.id
    assert bens not in held_by_ana
    page.annotator_edit.setText("ana")
    page.annotator_edit.editingFinished.emit()
    assert page.editor.sentence.id == anas
    progress = NerRepository(services.store).progress(corpus)
    assert progress["by_annotator"] == {"ana": {"sentences": 1, "words": 8}}


def test_the_overlap_share_is_kept_and_used_for_the_next_sentences(qtbot, services, corpus) -> None:  # type: ignore[no-untyped-def]
    page = started(qtbot, services)
    page.agreement.overlap.setValue(25)
    assert float(QSettings().value("annotate/overlap")) == 0.25
    assert page.queue.overlap == 0.25
    page.shutdown()
    again = make_page(qtbot, replace(services, shortcuts=ShortcutRegistry(services.notifications)))
    assert again.agreement.overlap.value() == 25 and again.queue.overlap == 0.25


def test_a_real_retraining_reranks_and_fills_the_panels_while_annotation_goes_on(
    qtbot, services, corpus
) -> None:  # type: ignore[no-untyped-def]
    QSettings().setValue(RETRAIN_EVERY_KEY, 3)
    page = started(qtbot, services)
    for _ in range(3):
        qtbot.waitUntil(lambda: page.queue.peek() is not None)
        key(qtbot, page, Qt.Key.Key_A)
    job = page.train_job
    assert job is not None
    on_screen = page.editor.sentence.id
    key(qtbot, page, Qt.Key.Key_Return)  # the annotator goes on while the job runs
    assert page.editor.sentence.id != on_screen
    qtbot.waitUntil(lambda: page.train_job is None, timeout=JOB_TIMEOUT_MS)
    assert services.store.jobs.get(job).status == "done"
    waiting = page.queue.peek()
    assert waiting is not None and waiting.prediction.model_version == f"cnn_cnn_lstm@job{job}"
    state = NerRepository(services.store).load_state(corpus, "ana")
    # Trained on the three sentences accepted, or four if the job read them after the fourth Enter.
    assert state["trained_words"] in (8 + 5 + 5, 8 + 5 + 5 + 5)
    assert page.curve_panel.points == [(float(state["trained_words"]), 0.0)]  # held out: no entity to find
    assert state["checkpoint_artifact"] and state["started"] and state["selected_acquisition"] == "mnlp"
    assert f"trained on {state['trained_words']} words" in page.progress_panel.model_label.text()
    assert page.scores.caption.text().startswith("Exact-span entity scores")
