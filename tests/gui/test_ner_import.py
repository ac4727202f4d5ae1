"""The import dialog and task: fields to request, refusals that name the field, the label order that gives
the number keys, and a file read and stored off the GUI thread (JSONL; plain text with given labels)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QThreadPool

from engine.core.errors import LanternError
from engine.ner.repository import NerRepository
from engine.ner.types import Sentence
from gui.dialogs.ner_import import (
    ImportCorpusDialog,
    ImportRequest,
    ImportTask,
    corpus_labels,
    demo_request,
    guess_format,
)


@pytest.fixture
def dialog(qtbot) -> ImportCorpusDialog:  # type: ignore[no-untyped-def]
    widget = ImportCorpusDialog(existing=["tweets"])
    qtbot.addWidget(widget)
    return widget


def test_a_file_request_takes_every_field(dialog: ImportCorpusDialog, tmp_path: Path) -> None:
    path = tmp_path / "news.conll"
    path.write_text("Ann\tB-PER\n", encoding="utf-8")
    dialog.path_edit.setText(str(path))
    assert dialog.format_box.currentData() == "conll" and dialog.name_edit.text() == "news"
    dialog.scheme_box.setCurrentText("IOBES")
    dialog.strict_box.setChecked(False)
    dialog.test_every.setValue(10)
    dialog.labels_edit.setText("PER, LOC")
    assert dialog.build_request() == ImportRequest(
        name="news",
        path=path,
        format="conll",
        scheme="IOBES",
        strict=False,
        test_every=10,
        labels=("PER", "LOC"),
    )


def test_bad_fields_are_refused_with_the_field_named(dialog: ImportCorpusDialog, tmp_path: Path) -> None:
    with pytest.raises(LanternError) as missing_name:
        dialog.build_request()
    assert missing_name.value.where == "Corpus name"
    dialog.name_edit.setText("tweets")
    with pytest.raises(LanternError, match="exists already"):
        dialog.build_request()
    dialog.name_edit.setText("new")
    with pytest.raises(LanternError) as no_file:
        dialog.build_request()
    assert no_file.value.where == "File"
    dialog.path_edit.setText(str(tmp_path / "absent.conll"))
    dialog.name_edit.setText("new")
    with pytest.raises(LanternError, match="there is no file"):
        dialog.build_request()
    text = tmp_path / "lines.txt"
    text.write_text("one line\n", encoding="utf-8")
    dialog.path_edit.setText(str(text))
    dialog.format_box.setCurrentIndex(dialog.format_box.findData("text"))
    dialog.labels_edit.setText("B-PER")
    with pytest.raises(LanternError, match="cannot be a label"):
        dialog.build_request()
    # OK keeps the dialog open and says what is wrong.
    dialog.accept()
    assert dialog.request is None and "Labels" in dialog.error.text()


def test_the_demo_choice_fills_name_mapping_and_held_out_share(dialog: ImportCorpusDialog) -> None:
    dialog.demo_choice.setChecked(True)
    assert not dialog.path_edit.isEnabled()
    assert dialog.build_request() == demo_request()
    assert demo_request().source.startswith("WNUT-16")


def test_formats_are_guessed_from_the_extension() -> None:
    assert [guess_format(n) for n in ("a.conll", "b.jsonl", "c.txt", "d.iob", "e")] == [
        "conll",
        "jsonl",
        "text",
        "conll",
        "conll",
    ]


def test_label_order_puts_requested_then_preset_labels_first() -> None:
    sentences = [Sentence(("a", "b", "c"), ("B-LOC", "B-ZED", "B-PER"))]
    assert corpus_labels(ImportRequest(name="x"), sentences) is None
    assert corpus_labels(ImportRequest(name="x", labels=("MISC",)), sentences) == [
        "MISC",
        "LOC",
        "PER",
        "ZED",
    ]
    mapped = [Sentence(("a", "b"), ("B-LOC", "B-PER"))]
    assert corpus_labels(ImportRequest(name="x", label_map="wnut-to-conll"), mapped) == ["PER", "LOC"]


def run_task(qtbot, task: ImportTask) -> tuple[str, object]:  # type: ignore[no-untyped-def]
    outcome: list[tuple[str, object]] = []
    task.signals.finished.connect(lambda corpus_id, name: outcome.append(("finished", corpus_id)))
    task.signals.failed.connect(lambda error, name: outcome.append(("failed", error)))
    QThreadPool.globalInstance().start(task)
    qtbot.waitUntil(lambda: bool(outcome), timeout=30_000)
    return outcome[0]


def test_a_jsonl_file_is_stored_off_the_gui_thread(qtbot, store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "spans.jsonl"
    records = [
        {"text": "Ann lives in Paris", "spans": [{"start": 0, "end": 3, "label": "PER"}]},
        {"text": "Acme hired Bob", "spans": [{"start": 0, "end": 4, "label": "ORG"}]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    request = ImportRequest(
        name="spans", path=path, format="jsonl", test_every=0, labels=("PER", "LOC", "ORG")
    )
    kind, corpus_id = run_task(qtbot, ImportTask(store, request))
    assert kind == "finished"
    repository = NerRepository(store)
    record = repository.corpus("spans")
    assert record.id == corpus_id and record.labels == ("PER", "LOC", "ORG")
    assert [s.tags for s in repository.sentences(corpus_id)] == [
        ("B-PER", "O", "O", "O"),
        ("B-ORG", "O", "O"),
    ]


def test_a_jsonl_span_that_cuts_a_token_fails_with_its_line(qtbot, store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "cut.jsonl"
    good = {"text": "Ann lives here", "spans": []}
    cut = {"text": "Acme hired Bob", "spans": [{"start": 0, "end": 2, "label": "ORG"}]}
    path.write_text(json.dumps(good) + "\n" + json.dumps(cut) + "\n", encoding="utf-8")
    kind, error = run_task(
        qtbot, ImportTask(store, ImportRequest(name="cut", path=path, format="jsonl", test_every=0))
    )
    assert kind == "failed"
    assert isinstance(error, LanternError) and error.where.startswith(f"{path}:2")
    assert NerRepository(store).corpora() == []
