"""Screenshots of the Annotate workspace at 1400x900 on the WNUT-16 demo corpus: a sentence with the model's
suggestions, the learning curve, the mistakes list, the page inside the main window, and the import dialog.

The predictions and retraining runs are written through the store's API (NerRepository.set_predictions,
store.runs) rather than trained here, to keep the test fast: they show the page's layout, not a result.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, QSize
from test_screenshots import assert_real_image, lantern_look, save, screenshot_dir  # noqa: F401 (a fixture)

from engine.core.device import DeviceChoice
from engine.ner.records import Prediction
from engine.ner.repository import NerRepository
from engine.ner.types import Sentence
from engine.store.database import Store
from gui.app import create_main_window
from gui.dialogs.ner_import import ImportCorpusDialog, demo_request, import_corpus
from gui.pages.annotate import ANNOTATOR_KEY, TRAIN_JOB, AnnotatePage
from gui.services import AppServices
from gui.shortcuts import ShortcutRegistry

SIZE = QSize(1400, 900)
CPU = DeviceChoice("cpu", "float32", "x86_64")
# (words labelled, held-out F1) after each retraining, shaped like an active-learning curve.
CURVE = [(310, 0.061), (640, 0.118), (985, 0.163), (1302, 0.197), (1655, 0.224), (1990, 0.246), (2318, 0.260)]


def entity_count(sentence: Sentence) -> int:
    return sum(tag.startswith("B-") for tag in sentence.tags or ())


def seed_predictions(repository: NerRepository, corpus_id: int) -> Sentence:
    """Suggestions for every pool sentence (the gold entities, a few relabelled, with probabilities); the
    fifth sentence in the queue has three entities, one of them doubtful, and an unsure token."""
    rng = np.random.default_rng(7)
    pool = repository.sentences(corpus_id, "pool")
    labels = ["PER", "LOC", "ORG", "MISC"]
    predictions = {}
    for sentence in pool:
        tags = list(sentence.tags or ())
        for i, tag in enumerate(tags):
            if tag.startswith("B-") and rng.random() < 0.2:
                tags[i] = f"B-{labels[int(rng.integers(4))]}"
                j = i + 1
                while j < len(tags) and tags[j].startswith("I-"):
                    tags[j] = f"I-{tags[i][2:]}"
                    j += 1
        confidences = tuple(float(c) for c in rng.uniform(0.7, 0.995, len(tags)))
        predictions[sentence.id] = Prediction(float(rng.uniform(0.1, 1.0)), tuple(tags), confidences)
    first = next(s for s in pool if entity_count(s) == 3 and 14 <= len(s) <= 22)
    confidences = [0.97] * len(first)
    starts = [i for i, tag in enumerate(first.tags or ()) if tag.startswith("B-")]
    confidences[starts[1]] = 0.58
    outside = [i for i, tag in enumerate(first.tags or ()) if tag == "O"]
    confidences[outside[-2]] = 0.44  # the model is unsure whether this is an entity
    ranked = sorted((p.score for sid, p in predictions.items() if sid != first.id), reverse=True)
    fifth = (ranked[3] + ranked[4]) / 2
    predictions[first.id] = Prediction(fifth, tuple(first.tags or ()), tuple(confidences))
    repository.set_predictions(corpus_id, "screenshot", predictions)
    return first


def seed_training_runs(store: Store, repository: NerRepository, corpus_id: int, annotator: str) -> None:
    """Retraining runs as ner.train records them (held-out F1 against words labelled), the last model's
    predictions for the held-out sentences (some entities missed or mislabelled), and its saved state."""
    rng = np.random.default_rng(11)
    for n, (words, f1) in enumerate(CURVE):
        run_id = store.runs.create(
            name=f"NER tagger on 'wnut16' (retraining {n + 1})",
            kind=TRAIN_JOB,
            config={
                "corpus": corpus_id,
                "corpus_id": corpus_id,
                "annotator": annotator,
                "tagger": "cnn_cnn_lstm",
            },
            device=CPU,
            seed=0,
        )
        store.runs.add_metrics(run_id, [("f1", float(words), f1)])
        store.runs.finish(run_id, "done", {"labelled_words": words, "f1": f1, "test_sentences": 479})
    predictions = {}
    labels = ["PER", "LOC", "ORG", "MISC"]
    for sentence in repository.sentences(corpus_id, "test"):
        tags = list(sentence.tags or ())
        for i, tag in enumerate(tags):
            if tag.startswith("B-") and rng.random() < 0.7:
                wrong = "O" if rng.random() < 0.6 else labels[int(rng.integers(4))]
                tags[i] = wrong if wrong == "O" else f"B-{wrong}"
                j = i + 1
                while j < len(tags) and tags[j].startswith("I-"):
                    tags[j] = "O" if wrong == "O" else f"I-{wrong}"
                    j += 1
            elif tag == "O" and sentence.tokens[i][:1].isupper() and rng.random() < 0.15:
                tags[i] = f"B-{labels[int(rng.integers(4))]}"  # a capitalised word taken for an entity
        predictions[sentence.id] = Prediction(0.0, tuple(tags), tuple(0.9 for _ in tags))
    repository.set_predictions(corpus_id, "cnn_cnn_lstm@job7", predictions)
    repository.save_state(
        corpus_id,
        annotator,
        {"tagger": "cnn_cnn_lstm", "model_version": "cnn_cnn_lstm@job7", "trained_words": CURVE[-1][0]},
    )


@pytest.mark.usefixtures("lantern_look")
def test_screenshots_of_the_annotate_page(qtbot, services: AppServices) -> None:  # type: ignore[no-untyped-def]
    corpus_id = import_corpus(services.store, demo_request())
    repository = NerRepository(services.store)
    first = seed_predictions(repository, corpus_id)
    QSettings().setValue(ANNOTATOR_KEY, "ana")
    seed_training_runs(services.store, repository, corpus_id, "ana")
    written: list[tuple[Path, QSize]] = []

    page = AnnotatePage(replace(services, shortcuts=ShortcutRegistry(services.notifications)))
    qtbot.addWidget(page)
    page.resize(SIZE)
    page.show()
    page.start()
    for _ in range(4):  # a few sentences accepted, so that the session list and progress show them
        page.accept_with_suggestions()
    assert page.editor.sentence.id == first.id
    page.editor.setFocus()
    page.editor.set_selection(0, 1)
    assert len(page.editor.visible_suggestions()) == 3
    assert page.curve_panel.points[-1] == (2318.0, 0.26)
    # The last point of the curve is the F1 of the predictions stored for the held-out sentences.
    assert page.scores.table.item(4, 3).text() == "26.0"
    written.append((save(page, "annotate-page", qtbot), SIZE))
    page.tabs.setCurrentWidget(page.mistakes)
    written.append((save(page, "annotate-page-mistakes", qtbot), SIZE))
    page.tabs.setCurrentWidget(page.scores)
    written.append((save(page, "annotate-page-scores", qtbot), SIZE))
    page.shutdown()
    page.close()

    window = create_main_window(services)
    qtbot.addWidget(window)
    window.resize(SIZE)
    window.show()
    window.show_page("annotate")
    written.append((save(window, "main-window-annotate-corpus", qtbot), SIZE))
    window.close()

    dialog = ImportCorpusDialog(["wnut16"])
    qtbot.addWidget(dialog)
    dialog.show()
    written.append((save(dialog, "annotate-import-dialog", qtbot), dialog.size()))
    dialog.close()

    print(f"\nscreenshots in {screenshot_dir()}:")
    for path, size in written:
        print(f"  {path.name} ({size.width()}x{size.height()})")
        assert_real_image(path, size)
