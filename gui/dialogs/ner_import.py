"""The "Import a corpus" dialog (a file in CoNLL, JSONL or plain text, or the bundled WNUT-16 demo) and the
background task that reads the file and stores the corpus off the GUI thread."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import LanternError
from engine.ner.formats import read_corpus
from engine.ner.formats.demo import WNUT16_SOURCE, load_wnut16
from engine.ner.formats.labels import DROP, label_map
from engine.ner.types import Sentence
from engine.store.database import Store

FORMATS = {
    "conll": "CoNLL (token … tag per line)",
    "jsonl": "JSONL with character spans",
    "text": "Plain text",
}
EXTENSIONS = {".conll": "conll", ".txt": "text", ".tsv": "conll", ".iob": "conll", ".bio": "conll"}
EXTENSIONS |= {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}
SCHEMES = ("BIO", "IOB1", "IOBES")
NO_MAPPING = ""
DEMO_NAME = "wnut16"
DEMO_TEST_EVERY = 5


@dataclass(frozen=True)
class ImportRequest:
    """What to import: `path` None means the bundled WNUT-16 demo corpus."""

    name: str
    path: Path | None = None
    format: str = "conll"
    scheme: str = "BIO"
    strict: bool = True
    label_map: str = NO_MAPPING  # a preset of engine.ner.formats.labels, or "" for the file's own labels
    test_every: int = DEMO_TEST_EVERY
    labels: tuple[str, ...] = ()  # labels to annotate with beyond those the file uses (all, for plain text)

    @property
    def is_demo(self) -> bool:
        return self.path is None

    @property
    def source(self) -> str:
        return WNUT16_SOURCE if self.path is None else str(self.path)


def demo_request(name: str = DEMO_NAME) -> ImportRequest:
    """The bundled WNUT-16 tweets, labels mapped to PER/LOC/ORG/MISC, every fifth sentence held out."""
    return ImportRequest(name=name, label_map="wnut-to-conll", test_every=DEMO_TEST_EVERY)


def read_sentences(request: ImportRequest) -> list[Sentence]:
    """Read and convert the sentences the request names; any problem raises a LanternError (file + line)."""
    labels = request.label_map or None
    if request.path is None:
        return load_wnut16(labels=labels)
    return read_corpus(
        request.path, request.format, scheme=request.scheme, strict=request.strict, labels=labels
    )


def import_corpus(store: Store, request: ImportRequest) -> int:
    """Read the file and store it as a corpus in one transaction; returns the corpus id."""
    from engine.ner.repository import NerRepository

    sentences = read_sentences(request)
    return NerRepository(store).import_corpus(
        request.name,
        sentences,
        source=request.source,
        labels=corpus_labels(request, sentences),
        test_every=request.test_every,
    )


def corpus_labels(request: ImportRequest, sentences: list[Sentence]) -> list[str] | None:
    """The corpus's label set in number-key order: the labels asked for first, then a mapping preset's
    order (PER, LOC, ORG, MISC), then any other label the tags use, alphabetically; None leaves the
    repository's default (the labels the tags use, alphabetically)."""
    used = {tag.partition("-")[2] for s in sentences for tag in (s.tags or ()) if tag != "O"}
    ordered = list(dict.fromkeys(label.strip() for label in request.labels if label.strip()))
    if request.label_map:
        mapping = label_map(request.label_map)
        assert mapping is not None
        ordered += [
            label for label in dict.fromkeys(mapping.mapping.values()) if label in used and label != DROP
        ]
    if not ordered:
        return None
    ordered = list(dict.fromkeys(ordered))
    return ordered + sorted(used - set(ordered))


class ImportSignals(QObject):
    finished = Signal(int, str)  # corpus id, corpus name
    failed = Signal(object, str)  # LanternError or other exception, corpus name


class ImportTask(QRunnable):
    """Runs `import_corpus` on a thread of the pool; reports through `signals` (queued to the GUI thread)."""

    def __init__(self, store: Store, request: ImportRequest) -> None:
        super().__init__()
        self.store = store
        self.request = request
        self.signals = ImportSignals()
        self.setAutoDelete(False)  # the page keeps the task (and its signals) alive until it reports

    def run(self) -> None:
        try:
            corpus_id = import_corpus(self.store, self.request)
        except Exception as exc:  # every failure must reach the user as a notice, not die in the pool
            self.signals.failed.emit(exc, self.request.name)
            return
        self.signals.finished.emit(corpus_id, self.request.name)


def guess_format(path: str) -> str:
    return EXTENSIONS.get(Path(path).suffix.lower(), "conll")


class ImportCorpusDialog(QDialog):
    """Choose a file (or the demo), how to read it, and the corpus name; `request` holds the answer."""

    def __init__(self, existing: list[str] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import a corpus")
        self.setMinimumWidth(560)
        self.existing = set(existing or [])
        self.request: ImportRequest | None = None

        self.file_choice = QRadioButton("A file on this computer", self)
        self.demo_choice = QRadioButton("The WNUT-16 demo corpus (2,394 tweets, bundled with Lantern)", self)
        group = QButtonGroup(self)
        group.addButton(self.file_choice)
        group.addButton(self.demo_choice)
        self.file_choice.setChecked(True)

        self.path_edit = QLineEdit(self)
        self.path_edit.setPlaceholderText("corpus.conll, annotations.jsonl, sentences.txt")
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)

        self.format_box = QComboBox(self)
        for key, title in FORMATS.items():
            self.format_box.addItem(title, key)
        self.scheme_box = QComboBox(self)
        self.scheme_box.addItems(SCHEMES)
        self.strict_box = QCheckBox("Refuse broken tags (an I- after O); off: repair them to B-", self)
        self.strict_box.setChecked(True)
        self.mapping_box = QComboBox(self)
        self.mapping_box.addItem("Keep the file's labels", NO_MAPPING)
        self.mapping_box.addItem("WNUT-16 types → PER, LOC, ORG, MISC", "wnut-to-conll")
        self.labels_edit = QLineEdit(self)
        self.labels_edit.setPlaceholderText("PER, LOC, ORG, MISC")
        self.labels_edit.setToolTip(
            "The labels you will annotate with, in number-key order; for plain text they are all the "
            "labels, for tagged files they come before those the file uses"
        )
        self.name_edit = QLineEdit(self)
        self.test_every = QSpinBox(self)
        self.test_every.setRange(0, 100)
        self.test_every.setValue(DEMO_TEST_EVERY)
        self.test_every.setSpecialValueText("none")
        self.test_every.setPrefix("1 in ")
        self.test_every.setSuffix(" sentences")
        self.test_every.setToolTip(
            "Sentences held out with their gold labels to measure the model (never shown to annotate); "
            "every 5th gives the learning curve a 20 % test set"
        )
        self.error = QLabel(self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #cf3a3a;")

        form = QFormLayout()
        form.addRow("File", path_row)
        form.addRow("Format", self.format_box)
        form.addRow("Tag scheme", self.scheme_box)
        form.addRow("", self.strict_box)
        form.addRow("Label mapping", self.mapping_box)
        form.addRow("Labels", self.labels_edit)
        form.addRow("Corpus name", self.name_edit)
        form.addRow("Hold out for testing", self.test_every)
        self.file_form = QWidget(self)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.file_choice)
        layout.addWidget(self.demo_choice)
        layout.addSpacing(6)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

        self.path_edit.textChanged.connect(self._path_changed)
        self.format_box.currentIndexChanged.connect(self._update_enabled)
        self.demo_choice.toggled.connect(self._demo_toggled)
        self._update_enabled()

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Corpus file", "", "Corpora (*.conll *.txt *.tsv *.iob *.bio *.jsonl *.json);;All files (*)"
        )
        if path:
            self.path_edit.setText(path)

    def _path_changed(self, text: str) -> None:
        if not text.strip():
            return
        self.format_box.setCurrentIndex(self.format_box.findData(guess_format(text.strip())))
        stem = Path(text.strip()).stem
        if stem and (not self.name_edit.text() or self.name_edit.isModified() is False):
            self.name_edit.setText(stem)

    def _demo_toggled(self, demo: bool) -> None:
        if demo:
            self.name_edit.setText(DEMO_NAME)
            self.mapping_box.setCurrentIndex(self.mapping_box.findData("wnut-to-conll"))
            self.test_every.setValue(DEMO_TEST_EVERY)
        self._update_enabled()

    def _update_enabled(self) -> None:
        demo = self.demo_choice.isChecked()
        tagged = self.format_box.currentData() == "conll"
        self.path_edit.setEnabled(not demo)
        self.format_box.setEnabled(not demo)
        untagged = not demo and self.format_box.currentData() == "text"
        self.scheme_box.setEnabled(not demo and tagged)
        self.strict_box.setEnabled(not demo and tagged)
        self.mapping_box.setEnabled(not untagged)
        self.test_every.setEnabled(not untagged)  # held-out sentences need gold tags
        if untagged and not self.labels_edit.text().strip():
            self.labels_edit.setText("PER, LOC, ORG, MISC")

    def build_request(self) -> ImportRequest:
        """The request the fields describe; a LanternError says which field is wrong."""
        name = self.name_edit.text().strip()
        if not name:
            raise LanternError(
                "the corpus needs a name", "Corpus name", "type a short name, e.g. tweets-2024"
            )
        if name in self.existing:
            raise LanternError(
                f"a corpus named '{name}' exists already", "Corpus name", "choose another name"
            )
        labels = tuple(label.strip() for label in self.labels_edit.text().split(",") if label.strip())
        bad = [label for label in labels if " " in label or "-" in label]
        if bad:
            raise LanternError(
                f"'{bad[0]}' cannot be a label", "Labels", "use names without spaces or dashes, e.g. PER, LOC"
            )
        if self.demo_choice.isChecked():
            return ImportRequest(
                name=name,
                label_map=str(self.mapping_box.currentData()),
                test_every=self.test_every.value(),
                labels=labels,
            )
        text = self.path_edit.text().strip()
        if not text:
            raise LanternError("no file chosen", "File", "choose the corpus file with Browse…")
        path = Path(text).expanduser()
        if not path.is_file():
            raise LanternError(
                f"there is no file at {path}", "File", "check the path, or choose it with Browse…"
            )
        fmt = str(self.format_box.currentData())
        if fmt == "text" and not labels:
            raise LanternError(
                "plain text has no tags, so the labels must be given",
                "Labels",
                "type them, e.g. PER, LOC, ORG",
            )
        return ImportRequest(
            name=name,
            path=path,
            format=fmt,
            scheme=self.scheme_box.currentText(),
            strict=self.strict_box.isChecked(),
            label_map="" if fmt == "text" else str(self.mapping_box.currentData()),
            test_every=0 if fmt == "text" else self.test_every.value(),
            labels=labels,
        )

    def accept(self) -> None:
        try:
            self.request = self.build_request()
        except LanternError as exc:
            self.error.setText(f"{exc.where}: {exc.what} — {exc.hint}")
            return
        super().accept()
