"""The Annotate workspace: label named entities in the sentences active learning ranks first, starting from
the model's suggestions; a background job retrains the tagger and re-ranks the queue while the annotator
goes on."""

from __future__ import annotations

import getpass
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6.QtCore import QSettings, Qt, QThreadPool, QTimer
from PySide6.QtGui import QResizeEvent, QShowEvent, QUndoCommand
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import LanternError
from engine.ner.acquisition import ACQUISITIONS
from engine.ner.agreement import between
from engine.ner.jobs import TRAIN_JOB
from engine.ner.metrics import entity_scores
from engine.ner.repository import NerRepository
from engine.ner.tagger import TAGGERS
from engine.store.database import Store
from engine.store.jobs import FINAL_JOB_STATES
from gui.dialogs.ner_import import ImportCorpusDialog, ImportRequest, ImportTask, demo_request
from gui.dialogs.ner_simulate import SimulateDialog
from gui.services import AppServices
from gui.shortcuts import display_text
from gui.style import PRIMARY_ACTION_STYLE
from gui.widgets.ner_panels import (
    AgreementPanel,
    LearningCurvePanel,
    MistakesPanel,
    ProgressPanel,
    RecentPanel,
    ScoresPanel,
)
from gui.widgets.ner_queue import AnnotationQueue, QueuedSentence, UpNextStrip
from gui.widgets.ner_sentence import EditorState, LabelLegend, SentenceEditor
from gui.widgets.page_header import page_header

log = logging.getLogger(__name__)

ANNOTATOR_KEY = "annotate/annotator"
CORPUS_KEY = "annotate/corpus"
RETRAIN_EVERY_KEY = "annotate/retrain_every"
OVERLAP_KEY = "annotate/overlap"
DEFAULT_RETRAIN_EVERY = 10
DEFAULT_TAGGER = "cnn_cnn_lstm"
DEFAULT_ACQUISITION = "mnlp"
SAVE_DELAY_MS = 400  # edits to the sentence on screen are saved this long after the last one
LABEL_KEYS = 9
MISTAKES_SHOWN = 20
INTRO = (
    "Lantern shows the sentence the model is least sure of, with the entities it suggests. Confirm or "
    "correct them with the keyboard; every few sentences a background job retrains the tagger "
    "(CNN-CNN-LSTM, Shen et al., ICLR 2018) and re-ranks the queue, and the learning curve shows how "
    "much each labelled word is worth."
)
TAGGER_NAMES = {"cnn_cnn_lstm": "CNN-CNN-LSTM", "transformer": "Transformer (MiniLM)"}


def default_annotator() -> str:
    try:
        return getpass.getuser() or "annotator"
    except (KeyError, OSError):  # no user name in this environment (some containers)
        return "annotator"


@dataclass(frozen=True)
class HeldOutReport:
    """The current model on the held-out sentences: scores per label and overall, and its mistakes."""

    per_label: dict[str, tuple[float, float, float, int]]
    overall: tuple[float, float, float] | None
    mistakes: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]  # tokens, gold, predicted
    tested: int
    mistakes_total: int = 0  # held-out sentences with a mistake (only the first MISTAKES_SHOWN are kept)


def training_curve(store: Store, corpus_id: int) -> list[tuple[float, float]]:
    """(words labelled, held-out F1) after every finished retraining of the corpus, by any annotator."""
    points = []
    for run in store.runs.list(text=TRAIN_JOB, status="done"):
        if run.kind != TRAIN_JOB or run.config.get("corpus_id") != corpus_id:
            continue
        if "labelled_words" in run.summary and "f1" in run.summary:
            points.append((float(run.summary["labelled_words"]), float(run.summary["f1"])))
    return sorted(points)


def held_out_report(repository: NerRepository, corpus_id: int) -> HeldOutReport:
    """Scores and mistakes of the latest predictions stored for the held-out sentences (ner.train predicts
    them after every retraining)."""
    pairs = []
    for sentence in repository.sentences(corpus_id, "test"):
        prediction = repository.prediction(sentence.id) if sentence.id is not None else None
        if prediction is not None and sentence.tags is not None and len(prediction.tags) == len(sentence):
            pairs.append((sentence, prediction.tags))
    if not pairs:
        return HeldOutReport({}, None, [], 0)
    scores = entity_scores([s.tags for s, _ in pairs], [tags for _, tags in pairs])
    per_label = {label: (v.precision, v.recall, v.f1, v.support) for label, v in scores.per_label.items()}
    mistakes = [(s.tokens, s.tags, tags) for s, tags in pairs if s.tags != tuple(tags)]
    overall = (scores.precision, scores.recall, scores.f1)
    return HeldOutReport(per_label, overall, mistakes[:MISTAKES_SHOWN], len(pairs), len(mistakes))


def report_from_result(result: dict[str, Any]) -> HeldOutReport:
    """The same report from a finished ner.train job's result."""
    per_label = {
        label: (float(v["precision"]), float(v["recall"]), float(v["f1"]), int(v["support"]))
        for label, v in (result.get("per_label") or {}).items()
    }
    overall = (
        (float(result["precision"]), float(result["recall"]), float(result["f1"])) if "f1" in result else None
    )
    mistakes = [
        (tuple(m["tokens"]), tuple(m["gold"]), tuple(m["predicted"])) for m in result.get("mistakes") or []
    ]
    return HeldOutReport(
        per_label,
        overall,
        mistakes,
        int(result.get("test_sentences") or 0),
        int(result.get("mistakes_total", len(mistakes))),
    )


class _SentenceCommand(QUndoCommand):
    """An undoable step that hands a sentence on (accept, skip); undo brings it back as it was. Obsolete
    once the page annotates another corpus or as another annotator (the sentence is in no queue)."""

    def __init__(self, page: AnnotatePage, queued: QueuedSentence, text: str) -> None:
        super().__init__(text)
        self.page = page
        self.queued = queued
        self.state = page.editor.state
        self.cursor = page.editor.cursor
        self.session = page.session_key
        self._first = True  # the first redo follows a store write the page made before pushing

    def _stale(self) -> bool:
        if not shiboken6.isValid(self.page) or self.page.session_key != self.session:
            self.setObsolete(True)
            return True
        return False


class AcceptCommand(_SentenceCommand):
    """Accept a sentence (stored at once); undo takes the acceptance back and shows the sentence again."""

    def __init__(self, page: AnnotatePage, queued: QueuedSentence, tags: tuple[str, ...], text: str) -> None:
        super().__init__(page, queued, text)
        self.tags = tags

    def redo(self) -> None:
        if self._stale():
            return
        if not self._first and not self.page._store_accept(self.queued, self.tags):
            self.setObsolete(True)
            return
        self._first = False
        self.page._after_accept(self.queued, self.tags)

    def undo(self) -> None:
        if not self._stale():
            self.page._take_back(self.queued, self.state, self.cursor, accepted=True)


class SkipCommand(_SentenceCommand):
    """Skip a sentence (it is not offered to this annotator again); undo shows it again."""

    def __init__(self, page: AnnotatePage, queued: QueuedSentence) -> None:
        super().__init__(page, queued, "Skip sentence")

    def redo(self) -> None:
        if self._stale():
            return
        if not self._first:
            self.page._store_skip(self.queued)
        self._first = False
        self.page._advance()

    def undo(self) -> None:
        if not self._stale():
            self.page._take_back(self.queued, self.state, self.cursor, accepted=False)


def _card() -> QFrame:
    frame = QFrame()
    frame.setProperty("role", "card")
    return frame


class AnnotatePage(QWidget):
    """Corpus, tagger and strategy at the top; the sentence in the middle; progress, the learning curve,
    scores, mistakes and agreement at the side."""

    def __init__(self, services: AppServices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page-annotate")
        self.services = services
        self.repository = NerRepository(services.store)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._imports: list[ImportTask] = []
        self.corpus: Any = None  # CorpusRecord of the open corpus
        self.queue: AnnotationQueue | None = None
        self.session_key: tuple[int, str, int] | None = None  # (corpus id, annotator, n) while annotating
        self._sessions = 0
        self._state_owner: tuple[int, str] | None = None  # whose place the page holds: (corpus id, annotator)
        self.train_job: int | None = None
        self.accepted_since_training = 0
        self.accepted_this_session = 0
        self._retrain_pending = False
        self._shut_down = False
        settings = QSettings()
        self.annotator = str(settings.value(ANNOTATOR_KEY, "") or default_annotator())

        self._save_timer = QTimer(self, singleShot=True, interval=SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save_state)
        self._build(settings)
        self._register_shortcuts()
        self._connect()
        self.refresh_corpora()
        self._resume()

    # layout
    def _build(self, settings: QSettings) -> None:
        header, self.subtitle = page_header(self, "annotate", "Annotate")
        self.annotator_edit = QLineEdit(self.annotator, self)
        self.annotator_edit.setMaximumWidth(180)
        self.annotator_edit.setToolTip(
            "Your name as annotator: your labels, your place in the queue and your leases go by it"
        )
        header.addWidget(QLabel("Annotator", self))
        header.addWidget(self.annotator_edit)

        # what to annotate and how the queue is ranked
        self.corpus_box = QComboBox(self)
        self.corpus_box.setMinimumWidth(150)
        self.corpus_box.setToolTip("The corpus to annotate")
        self.corpus_box.setPlaceholderText("no corpus yet")
        self.import_button = QPushButton("Import…", self)
        self.tagger_box = QComboBox(self)
        for name, entry in TAGGERS.items():
            self.tagger_box.addItem(
                "CNN-CNN-LSTM" if name == "cnn_cnn_lstm" else "Transformer (MiniLM)", name
            )
            self.tagger_box.setItemData(self.tagger_box.count() - 1, entry.title, Qt.ItemDataRole.ToolTipRole)
        self.acquisition_box = QComboBox(self)
        for name, function in ACQUISITIONS.items():
            short = {"mnlp": "MNLP", "lc": "Least confidence", "bald": "BALD", "random": "Random"}
            self.acquisition_box.addItem(short.get(name, name), name)
            self.acquisition_box.setItemData(
                self.acquisition_box.count() - 1, function.title, Qt.ItemDataRole.ToolTipRole
            )
        self.acquisition_box.setToolTip("How the queue is ranked: which sentence the model asks about first")
        self.retrain_every = QSpinBox(self)
        self.retrain_every.setRange(1, 1000)
        self.retrain_every.setValue(int(settings.value(RETRAIN_EVERY_KEY, DEFAULT_RETRAIN_EVERY)))
        self.retrain_every.setPrefix("retrain every ")
        self.retrain_every.setSuffix(" sentences")
        self.retrain_every.setMinimumWidth(self.retrain_every.sizeHint().width())
        self.retrain_every.setToolTip(
            "After this many accepted sentences a background job retrains the model"
        )
        self.start_button = QPushButton("Start", self)
        self.start_button.setObjectName("primaryAction")
        self.start_button.setToolTip("Open the corpus and show the sentence the model is least sure of")
        self.retrain_button = QPushButton("Retrain now", self)
        self.retrain_button.setToolTip("Retrain on every accepted sentence and re-rank the queue")
        self.simulate_button = QPushButton("Simulate…", self)
        self.simulate_button.setToolTip(
            "Run the paper's experiment on this corpus: strategies compared with the gold labels as oracle"
        )
        setup = QHBoxLayout()
        setup.setSpacing(8)
        for widget in (self.corpus_box, self.import_button):
            setup.addWidget(widget)
        setup.addSpacing(10)
        setup.addWidget(self.tagger_box)
        setup.addWidget(self.acquisition_box)
        setup.addWidget(self.retrain_every)
        setup.addStretch(1)
        setup.addWidget(self.simulate_button)
        setup.addWidget(self.retrain_button)
        setup.addWidget(self.start_button)
        for button in (self.import_button, self.start_button, self.retrain_button, self.simulate_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys keep going to the sentence

        # the sentence
        self.sentence_info = QLabel(self)
        self.sentence_info.setProperty("role", "muted")
        self.editor = SentenceEditor(self)
        self.editor.undo_stack = self.services.undo_stack
        self.legend = LabelLegend(self)
        self.hint = QLabel(self)
        self.hint.setProperty("role", "muted")
        self.hint.setWordWrap(True)
        self.skip_button = QPushButton("Skip", self)
        self.accept_all_button = QPushButton("Accept with suggestions", self)
        self.accept_button = QPushButton("Accept", self)
        self.accept_button.setObjectName("primaryAction")
        for button in (self.skip_button, self.accept_all_button, self.accept_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.up_next = UpNextStrip(self)
        self.buttons = QWidget(self)
        button_row = QHBoxLayout(self.buttons)
        button_row.setContentsMargins(0, 0, 0, 0)
        button_row.setSpacing(8)
        button_row.addWidget(self.skip_button)
        button_row.addWidget(self.accept_all_button)
        button_row.addWidget(self.accept_button)
        self.actions_grid = QGridLayout()
        self.actions_grid.setHorizontalSpacing(12)
        self.actions_grid.setVerticalSpacing(8)
        self.sentence_card = _card()
        inner = QVBoxLayout(self.sentence_card)
        inner.setContentsMargins(16, 12, 16, 12)
        inner.setSpacing(10)
        inner.addWidget(self.sentence_info)
        inner.addWidget(self.editor)
        inner.addLayout(self.actions_grid)
        self._wide_actions: bool | None = None
        self._arrange_actions(True)
        self.empty_actions = QWidget(self)
        empty_row = QHBoxLayout(self.empty_actions)
        empty_row.setContentsMargins(0, 0, 0, 0)
        self.empty_import = QPushButton("Import a corpus…", self.empty_actions)
        self.empty_demo = QPushButton("Open the WNUT-16 demo", self.empty_actions)
        empty_row.addStretch(1)
        empty_row.addWidget(self.empty_import)
        empty_row.addWidget(self.empty_demo)
        empty_row.addStretch(1)
        inner.addWidget(self.empty_actions)
        self.intro = QLabel(INTRO, self)
        self.intro.setWordWrap(True)
        self.intro.setProperty("role", "muted")
        self.intro.setContentsMargins(24, 8, 24, 8)
        self.intro.setAlignment(Qt.AlignmentFlag.AlignCenter)
        inner.addWidget(self.intro)

        self.recent = RecentPanel(self)
        self.recent_card = recent_card = _card()
        recent_layout = QVBoxLayout(recent_card)
        recent_layout.setContentsMargins(16, 10, 16, 10)
        recent_caption = QLabel("Accepted in this session", self)
        recent_caption.setStyleSheet("font-weight: 600;")
        recent_layout.addWidget(recent_caption)
        recent_layout.addWidget(self.recent, 1)

        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(10)
        left_layout.addWidget(self.sentence_card)
        left_layout.addWidget(self.up_next)
        left_layout.addWidget(recent_card, 1)
        left_layout.addStretch(0)

        # the side panels
        self.progress_panel = ProgressPanel(self)
        self.curve_panel = LearningCurvePanel(self)
        self.scores = ScoresPanel(self)
        self.mistakes = MistakesPanel(self)
        self.agreement = AgreementPanel(self)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.setUsesScrollButtons(False)  # narrow: tabs shrink (names elided), none hides behind arrows
        self.tabs.setElideMode(Qt.TextElideMode.ElideRight)
        self.tabs.addTab(self.curve_panel, "Curve")
        self.tabs.addTab(self.scores, "Scores")
        self.tabs.addTab(self.mistakes, "Mistakes")
        self.tabs.addTab(self.agreement, "Agreement")
        self.tabs.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.tabs.tabBar().setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for index, tip in enumerate(
            (
                "Learning curve: entity F1 on the held-out sentences against the words labelled",
                "Precision, recall and F1 per label on the held-out sentences, after the last retraining",
                "Held-out sentences the model gets wrong, its entities beside the gold ones",
                "Agreement between two annotators: Cohen's kappa and span F1",
            )
        ):
            self.tabs.setTabToolTip(index, tip)
        side_card = _card()
        side_layout = QVBoxLayout(side_card)
        side_layout.setContentsMargins(8, 6, 8, 8)
        side_layout.addWidget(self.tabs)
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.setSpacing(10)
        right_layout.addWidget(self.progress_panel)
        right_layout.addWidget(side_card, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([650, 350])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(12)
        layout.addLayout(header)
        layout.addLayout(setup)
        layout.addWidget(self.splitter, 1)
        self.setStyleSheet(PRIMARY_ACTION_STYLE)

    def _arrange_actions(self, wide: bool) -> None:
        """Legend and buttons on one line when the card is wide enough, else the buttons below the legend;
        the key hint under both."""
        if wide == self._wide_actions:
            return
        self._wide_actions = wide
        grid = self.actions_grid
        for widget in (self.legend, self.buttons, self.hint):
            grid.removeWidget(widget)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        if wide:
            grid.addWidget(self.legend, 0, 0)
            grid.addWidget(self.buttons, 0, 1, right)
            grid.addWidget(self.hint, 1, 0, 1, 2)
        else:
            grid.addWidget(self.legend, 0, 0, 1, 2)
            grid.addWidget(self.buttons, 1, 0, 1, 2, right)
            grid.addWidget(self.hint, 2, 0, 1, 2)
        grid.setColumnStretch(0, 1)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self, self._focus_sentence)  # keys go to the sentence, not to the name field

    def _focus_sentence(self) -> None:
        if self.isVisible():
            self.editor.setFocus()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        needed = self.legend.sizeHint().width() + self.buttons.sizeHint().width() + 40
        self._arrange_actions(self.sentence_card.width() >= needed)

    def _register_shortcuts(self) -> None:
        shortcuts = self.services.shortcuts
        scope = Qt.ShortcutContext.WidgetWithChildrenShortcut
        editor = self.editor

        def add(action_id: str, text: str, key: str, callback: Callable[[], object]) -> None:
            self.actions_by_id[action_id] = shortcuts.register(action_id, text, key, callback, self, scope)

        self.actions_by_id: dict[str, Any] = {}
        add("annotate.previous_token", "Previous token", "Left", lambda: editor.move_cursor(-1))
        add("annotate.next_token", "Next token", "Right", lambda: editor.move_cursor(1))
        add(
            "annotate.extend_left",
            "Extend the selection left",
            "Shift+Left",
            lambda: editor.move_cursor(-1, True),
        )
        add(
            "annotate.extend_right",
            "Extend the selection right",
            "Shift+Right",
            lambda: editor.move_cursor(1, True),
        )
        add("annotate.remove_span", "Remove the span under the cursor", "Backspace", editor.remove_at_cursor)
        add("annotate.accept", "Accept the sentence", "Return", self.accept_sentence)
        add(
            "annotate.accept_all",
            "Accept the sentence with all suggestions",
            "A",
            self.accept_with_suggestions,
        )
        add("annotate.skip", "Skip the sentence", "S", self.skip_sentence)
        for n in range(1, LABEL_KEYS + 1):
            add(
                f"annotate.label_{n}",
                f"Label the selection with label {n}",
                str(n),
                lambda _checked=False, n=n: self.label(n - 1),
            )
        add("annotate.import", "Import a corpus…", "Ctrl+I", self.open_import_dialog)
        # In the main window Edit ▸ Undo/Redo drive the shared undo stack; alone, the page has its own.
        if "edit.undo" not in shortcuts.actions():
            stack = self.services.undo_stack
            self.actions_by_id["annotate.undo"] = shortcuts.adopt(
                "annotate.undo", stack.createUndoAction(self, "Undo"), "Ctrl+Z", self, scope
            )
            self.actions_by_id["annotate.redo"] = shortcuts.adopt(
                "annotate.redo", stack.createRedoAction(self, "Redo"), "Ctrl+Shift+Z", self, scope
            )
        shortcuts.changed.connect(self._update_hint)
        self._update_hint()

    def _key(self, action_id: str) -> str:
        action = self.actions_by_id.get(action_id)
        if action is None:
            other = self.services.shortcuts.actions().get(action_id.replace("annotate.", "edit."))
            action = other
        return display_text(action.shortcut()) if action is not None else ""

    def _update_hint(self, *_args: object) -> None:
        labels = self.labels()
        last = min(len(labels), LABEL_KEYS)
        keys = [self._key(f"annotate.label_{n}") for n in range(1, last + 1)]
        self.legend.set_labels(labels, keys)
        undo = self._key("annotate.undo")
        label_keys = f"{keys[0]}–{keys[-1]}" if len(keys) > 1 else (keys[0] if keys else "1–9")
        parts = [
            f"<b>{self._key('annotate.previous_token')} {self._key('annotate.next_token')}</b> move",
            f"<b>{self._key('annotate.extend_right')}</b> extend",
            f"<b>{label_keys}</b> label",
            f"<b>{self._key('annotate.remove_span')}</b> remove",
        ]
        if undo:
            parts.append(f"<b>{undo}</b> undo")
        self.hint.setText(" · ".join(parts))
        self.skip_button.setText(f"Skip  {self._key('annotate.skip')}")
        self.accept_all_button.setText(f"Accept with suggestions  {self._key('annotate.accept_all')}")
        self.accept_button.setText(f"Accept  {self._key('annotate.accept')}")

    def _connect(self) -> None:
        self.annotator_edit.editingFinished.connect(self._annotator_changed)
        self.import_button.clicked.connect(self.open_import_dialog)
        self.empty_import.clicked.connect(self.open_import_dialog)
        self.empty_demo.clicked.connect(self.open_demo)
        self.start_button.clicked.connect(self.start)
        self.retrain_button.clicked.connect(self.retrain)
        self.simulate_button.clicked.connect(self.open_simulate_dialog)
        self.corpus_box.activated.connect(self._corpus_chosen)
        self.tagger_box.activated.connect(lambda _i: self._schedule_save())
        self.acquisition_box.activated.connect(lambda _i: self._schedule_save())
        self.retrain_every.valueChanged.connect(self._retrain_every_changed)
        self.skip_button.clicked.connect(self.skip_sentence)
        self.accept_all_button.clicked.connect(self.accept_with_suggestions)
        self.accept_button.clicked.connect(self.accept_sentence)
        self.legend.label_clicked.connect(self.label)
        self.editor.changed.connect(self._editor_changed)
        self.agreement.compare_requested.connect(self.compare_annotators)
        self.agreement.set_overlap(self.overlap_share())
        self.agreement.overlap_changed.connect(self._overlap_changed)
        jobs = self.services.jobs
        jobs.result.connect(self._job_result)
        jobs.status.connect(self._job_status)
        jobs.progress.connect(self._job_progress)

    # corpora
    def labels(self) -> list[str]:
        return list(self.corpus.labels) if self.corpus is not None else []

    def refresh_corpora(self) -> None:
        current = (
            self.corpus.name if self.corpus is not None else str(QSettings().value(CORPUS_KEY, "") or "")
        )
        corpora = self.repository.corpora()
        self.corpus_box.blockSignals(True)
        self.corpus_box.clear()
        for record in corpora:
            self.corpus_box.addItem(record.name, record.id)
        index = self.corpus_box.findText(current)
        self.corpus_box.setCurrentIndex(index if index >= 0 else 0)
        self.corpus_box.blockSignals(False)
        self.corpus_box.setEnabled(bool(corpora))
        has_demo = any(record.name == demo_request().name for record in corpora)
        self.empty_demo.setVisible(not has_demo)
        self._update_enabled()

    def _corpus_chosen(self, index: int) -> None:
        name = self.corpus_box.itemText(index)
        if self.corpus is not None and name == self.corpus.name:
            return
        self.open_corpus(name)

    def open_corpus(self, name: str, *, start: bool | None = None) -> None:
        """Open a corpus; resume where this annotator left off in it (started if they had started)."""
        self.save_state()
        self.train_job = None  # a retraining of the corpus left behind goes on, but is not ours to show
        self._retrain_pending = False
        self.corpus = self.repository.corpus(name)
        QSettings().setValue(CORPUS_KEY, self.corpus.name)
        index = self.corpus_box.findText(self.corpus.name)
        if index >= 0:
            self.corpus_box.setCurrentIndex(index)
        state = self.repository.load_state(self.corpus.id, self.annotator) or {}
        self._state_owner = (self.corpus.id, self.annotator)
        self._select(self.tagger_box, state.get("selected_tagger", state.get("tagger", DEFAULT_TAGGER)))
        self._select(
            self.acquisition_box,
            state.get("selected_acquisition", state.get("acquisition", DEFAULT_ACQUISITION)),
        )
        self.accepted_since_training = int(state.get("accepted_since_training", 0))
        self.editor.set_labels(self.labels())
        self.recent.set_labels(self.labels())
        self.recent.clear_entries()
        self._update_hint()
        self.queue = None
        self.session_key = None
        self.editor.set_sentence(None)
        self.editor.set_message("Press Start to see the first sentence: the one the model is least sure of.")
        self.refresh_panels()
        if start if start is not None else bool(state.get("started")):
            self._begin(state)
        self._update_enabled()

    @staticmethod
    def _select(box: QComboBox, value: object) -> None:
        index = box.findData(value)
        if index >= 0:
            box.setCurrentIndex(index)

    def _resume(self) -> None:
        if self.corpus_box.count() == 0:
            self.editor.set_message(
                "No corpus yet. Import a CoNLL, JSONL or text file, or open the WNUT-16 demo corpus."
            )
            self.refresh_panels()
            return
        self.open_corpus(self.corpus_box.currentText())

    def open_import_dialog(self) -> None:
        dialog = ImportCorpusDialog([record.name for record in self.repository.corpora()], self)
        if dialog.exec() and dialog.request is not None:
            self.import_corpus(dialog.request)

    def open_demo(self) -> None:
        if any(record.name == demo_request().name for record in self.repository.corpora()):
            self.open_corpus(demo_request().name, start=True)
            return
        self.import_corpus(demo_request(), start=True)

    def import_corpus(self, request: ImportRequest, *, start: bool = True) -> ImportTask:
        """Read and store the corpus on a worker thread; open it when done, post a notice if it fails."""
        task = ImportTask(self.services.store, request)
        task.signals.finished.connect(lambda _id, name: self._imported(task, name, start))
        task.signals.failed.connect(lambda error, name: self._import_failed(task, error, name))
        self._imports.append(task)
        self.editor.set_message(f"Importing {request.source}…")
        self.import_button.setEnabled(False)
        self.empty_demo.setEnabled(False)
        self.pool.start(task)
        return task

    def _imported(self, task: ImportTask, name: str, start: bool) -> None:
        self._imports.remove(task)
        if self._shut_down:
            return
        self.import_button.setEnabled(True)
        self.empty_demo.setEnabled(True)
        record = self.repository.corpus(name)
        self.services.notifications.post(
            "info",
            "Corpus imported",
            f"{record.name}: {sum(record.counts.values()):,} sentences, {record.words:,} words, "
            f"labels {', '.join(record.labels)}.",
            where=record.source,
        )
        self.refresh_corpora()
        self.open_corpus(name, start=start)

    def _import_failed(self, task: ImportTask, error: BaseException, name: str) -> None:
        self._imports.remove(task)
        if self._shut_down:
            return
        self.import_button.setEnabled(True)
        self.empty_demo.setEnabled(True)
        self.services.notifications.post_error(error, title=f"Import of '{name}' failed; nothing was stored")
        if self.corpus is None:
            self.editor.set_message("The import failed: see Notifications for the file, line and what to do.")

    def wait_for_imports(self, timeout_ms: int = 60_000) -> bool:
        return self.pool.waitForDone(timeout_ms)

    # annotating
    def start(self) -> None:
        if self.corpus is None:
            return
        if self.queue is None:
            self._begin(self.repository.load_state(self.corpus.id, self.annotator) or {})
        self.editor.setFocus()

    def _begin(self, state: dict[str, Any]) -> None:
        assert self.corpus is not None
        self.queue = AnnotationQueue(
            self.repository, self.corpus.id, self.annotator, overlap=self.overlap_share()
        )
        self._sessions += 1
        self.session_key = (self.corpus.id, self.annotator, self._sessions)
        resume = self._resumed_sentence(state)
        self.queue.start(resume)
        saved = state.get("edit") or {}
        self._show(
            self.queue.current,
            EditorState(
                tuple(self._spans(saved.get("spans", []))), frozenset(self._spans(saved.get("dismissed", [])))
            )
            if resume is not None
            else None,
            int(saved.get("cursor", 0)) if resume is not None else 0,
        )
        self._update_enabled()
        self.editor.setFocus()

    @staticmethod
    def _spans(rows: list[Any]) -> list[Any]:
        from engine.ner.types import Span

        return [Span(int(start), int(end), str(label)) for start, end, label in rows]

    def _resumed_sentence(self, state: dict[str, Any]) -> QueuedSentence | None:
        """The sentence the annotator had on screen, if it is still waiting for an annotation."""
        sentence_id = state.get("sentence")
        if sentence_id is None or self.corpus is None:
            return None
        waiting = {sentence.id: sentence for sentence in self.repository.pool(self.corpus.id)}
        sentence = waiting.get(int(sentence_id))
        if sentence is None:
            return None  # accepted since (by this annotator elsewhere, or by someone else)
        return QueuedSentence(sentence, self.repository.prediction(sentence.id))

    def _show(self, queued: QueuedSentence | None, state: EditorState | None = None, cursor: int = 0) -> None:
        if queued is None:
            self.editor.set_sentence(None, key=None)
            self.editor.set_message(
                "Every sentence of this corpus is labelled or handed to someone else. Well done."
                if self.corpus is not None
                else "No corpus open."
            )
            self.sentence_info.setText("")
        else:
            prediction = queued.prediction
            self.editor.set_sentence(
                queued.sentence,
                predicted_tags=getattr(prediction, "tags", None),
                confidences=getattr(prediction, "confidences", None),
                state=state,
                cursor=cursor,
                key=(self.session_key, queued.id),
            )
            parts = [f"Sentence {queued.id:,}", f"{len(queued.sentence)} words"]
            if prediction is not None:
                parts.append(f"acquisition score {prediction.score:.3f}")
                shown = len(self.editor.visible_suggestions())
                parts.append(f"{shown} suggestion{'s' if shown != 1 else ''}")
            else:
                parts.append("no model yet: label from scratch")
            self.sentence_info.setText(" · ".join(parts))
        self._update_session_info()
        self.up_next.show_next(self.queue.peek() if self.queue is not None else None, queued is not None)
        self._update_enabled()
        self._schedule_save()
        # Fetch the following sentence once this one is painted: Enter then shows it without a query.
        QTimer.singleShot(0, self, self._prefetch)

    def _prefetch(self) -> None:
        if self._shut_down or self.queue is None or self.queue.current is None:
            return
        try:
            self.up_next.show_next(self.queue.prefetch())
        except LanternError as exc:
            self.services.notifications.post_error(exc, title="Fetching the next sentence failed")

    def label(self, index: int) -> None:
        self.editor.label_selection(index)

    def accept_sentence(self) -> None:
        self._accept(self.editor.tags(), "Accept sentence")

    def accept_with_suggestions(self) -> None:
        self._accept(self.editor.tags_with_suggestions(), "Accept sentence with suggestions")

    def _accept(self, tags: tuple[str, ...], text: str) -> None:
        queued = self.queue.current if self.queue is not None else None
        if queued is None or self.editor.sentence is None:
            return
        if not self._store_accept(queued, tags):
            return
        self.services.undo_stack.push(AcceptCommand(self, queued, tags, text))

    def _store_accept(self, queued: QueuedSentence, tags: tuple[str, ...]) -> bool:
        try:
            self.repository.accept(queued.id, self.annotator, tags)
        except LanternError as exc:
            self.services.notifications.post_error(exc, title="The sentence could not be saved")
            return False
        return True

    def _after_accept(self, queued: QueuedSentence, tags: tuple[str, ...]) -> None:
        self.recent.add(queued.id, queued.sentence.tokens, tags)
        self.accepted_since_training += 1
        self.accepted_this_session += 1
        self._advance()
        QTimer.singleShot(0, self, self.refresh_progress)
        if self.accepted_since_training >= self.retrain_every.value():
            self.retrain()

    def skip_sentence(self) -> None:
        queued = self.queue.current if self.queue is not None else None
        if queued is None:
            return
        self._store_skip(queued)
        self.services.undo_stack.push(SkipCommand(self, queued))

    def _store_skip(self, queued: QueuedSentence) -> None:
        try:
            self.repository.skip(queued.id, self.annotator)
        except LanternError as exc:
            self.services.notifications.post_error(exc, title="The skip could not be saved")

    def _advance(self) -> None:
        assert self.queue is not None
        try:
            queued = self.queue.advance()
        except LanternError as exc:
            self.services.notifications.post_error(exc, title="Fetching the next sentence failed")
            queued = None
        self._show(queued)

    def _take_back(self, queued: QueuedSentence, state: EditorState, cursor: int, *, accepted: bool) -> None:
        """Undo of an accept or a skip: the sentence comes back as it was, the one on screen waits."""
        if accepted:
            try:
                self.repository.unaccept(queued.id, self.annotator)
            except LanternError as exc:
                self.services.notifications.post_error(exc, title="The acceptance could not be taken back")
                return
            self.recent.remove(queued.id)
            self.accepted_since_training = max(0, self.accepted_since_training - 1)
            self.accepted_this_session = max(0, self.accepted_this_session - 1)
            QTimer.singleShot(0, self, self.refresh_progress)
        assert self.queue is not None
        self.queue.bring_back(queued)
        self._show(queued, state, cursor)

    def _editor_changed(self) -> None:
        if self.queue is not None and self.queue.current is not None and self.editor.sentence is not None:
            shown = len(self.editor.visible_suggestions())
            self.accept_all_button.setEnabled(shown > 0)
            self._schedule_save()

    def _update_session_info(self) -> None:
        """The line under the progress bars: this session, and when the model learns next."""
        if self.queue is None:
            self.progress_panel.set_session_text("")
            return
        every = self.retrain_every.value()
        until = max(0, every - self.accepted_since_training)
        text = f"{self.accepted_this_session} accepted this session · "
        if self.train_job is not None:
            text += "retraining in the background"
        else:
            text += f"retraining after {until} more sentence{'s' if until != 1 else ''}"
        self.progress_panel.set_session_text(text)

    def _update_enabled(self) -> None:
        has_corpus = self.corpus is not None
        running = self.queue is not None
        has_sentence = running and self.editor.sentence is not None
        self.start_button.setVisible(not running)
        self.start_button.setEnabled(has_corpus)
        self.retrain_button.setVisible(running)
        self.retrain_button.setEnabled(running and self.train_job is None)
        for button in (self.skip_button, self.accept_button):
            button.setEnabled(has_sentence)
        self.accept_all_button.setEnabled(has_sentence and bool(self.editor.visible_suggestions()))
        self.empty_actions.setVisible(not has_corpus)
        self.intro.setVisible(not has_corpus)
        for widget in (self.legend, self.buttons, self.hint):
            widget.setVisible(has_corpus)
        self.up_next.setVisible(running)
        self.recent_card.setVisible(running)
        if self.corpus is not None:
            counts = self.corpus.counts
            held = counts.get("test", 0)
            self.subtitle.setText(
                f"{self.corpus.name} · {sum(counts.values()):,} sentences"
                + (f", {held:,} held out for testing" if held else "")
                + f" · labels {', '.join(self.labels())}"
            )
        else:
            self.subtitle.setText("Label entities in the sentences the model is least sure of.")

    # retraining
    def _train_spec(self) -> dict[str, Any]:
        assert self.corpus is not None
        return {
            "job": TRAIN_JOB,
            "params": {
                "corpus": self.corpus.id,
                "annotator": self.annotator,
                "tagger": self.tagger_box.currentData(),
                "acquisition": self.acquisition_box.currentData(),
            },
        }

    def open_simulate_dialog(self) -> SimulateDialog:
        """Ask for strategies and seeds, then run `ner.simulate` with live curves on the Runs page."""
        corpus = self.corpus.name if self.corpus is not None else "wnut16"
        dialog = SimulateDialog(corpus, self)
        dialog.accepted.connect(lambda: self.start_simulation(dialog.spec()))
        dialog.open()
        return dialog

    def start_simulation(self, spec: dict[str, Any]) -> int | None:
        try:
            handle = self.services.jobs.submit(spec, follow=True)
        except LanternError as exc:
            self.services.notifications.post_error(exc, "Simulation not started")
            return None
        return handle.job_id

    def retrain(self) -> None:
        """Start a background retraining now, or right after the one running finishes."""
        if self.corpus is None or self.queue is None:
            return
        if self.train_job is not None:
            self._retrain_pending = True
            return
        if not self.repository.progress(self.corpus.id).get("labelled_sentences"):
            self.services.notifications.post(
                "info",
                "Nothing to learn from yet",
                "Accept a few sentences first; the model learns from them.",
            )
            return
        try:
            handle = self.services.jobs.submit(self._train_spec())
        except LanternError as exc:
            self.services.notifications.post_error(exc, title="Retraining could not start")
            self.accepted_since_training = 0  # try again after the next N sentences, not on every one
            return
        self.train_job = handle.job_id
        self.accepted_since_training = 0
        self._retrain_pending = False
        self.progress_panel.set_model_text("Retraining in the background; keep going.")
        self._update_session_info()
        self._update_enabled()
        self._schedule_save()

    def _job_progress(self, job_id: int, done: float, total: float, message: str) -> None:
        if job_id == self.train_job:
            share = f" {100 * done / total:.0f} %" if total else ""
            self.progress_panel.set_model_text(f"Retraining in the background{share}: {message}")

    def _job_status(self, job_id: int, status: str, message: str) -> None:
        if job_id != self.train_job or status not in FINAL_JOB_STATES:
            return
        self.train_job = None
        if status != "done":
            self.progress_panel.set_model_text(f"The last retraining {status}: {message}".rstrip(": "))
        self._update_session_info()
        self._update_enabled()
        if self._retrain_pending:
            self.retrain()

    def _job_result(self, job_id: int, value: Any) -> None:
        if job_id != self.train_job or self._shut_down:
            return
        result = value if isinstance(value, dict) else {}
        if self.queue is not None:
            self.queue.refresh_predictions()
            self.up_next.show_next(self.queue.peek())
        self.refresh_panels(result)
        self._schedule_save()

    # side panels
    def refresh_progress(self) -> None:
        if self._shut_down:
            return
        if self.corpus is None:
            self.progress_panel.set_progress({})
            return
        progress = self.repository.progress(self.corpus.id)
        self.progress_panel.set_progress(progress, self.annotator)
        self.agreement.set_annotators(
            sorted({*progress.get("by_annotator", {}), self.annotator}), self.annotator
        )
        self._update_session_info()

    def refresh_panels(self, result: dict[str, Any] | None = None) -> None:
        """Progress, learning curve, scores and mistakes: from the store, or from the result of the
        retraining that just finished (the same figures, without reading them back)."""
        self.refresh_progress()
        if self.corpus is None:
            self.curve_panel.set_points([])
            self.scores.set_scores({}, None)
            self.mistakes.set_mistakes([], [])
            self.agreement.set_annotators([])
            return
        curve = training_curve(self.services.store, self.corpus.id)
        self.curve_panel.set_points(curve)
        if not self.corpus.counts.get("test"):
            self.curve_panel.empty.setText(
                "This corpus has no held-out sentences, so the model cannot be measured: import it again "
                "with “Hold out for testing” to see the learning curve, scores and mistakes."
            )
        report = report_from_result(result) if result else held_out_report(self.repository, self.corpus.id)
        self.scores.set_scores(report.per_label, report.overall, self.labels(), report.tested)
        self.mistakes.set_mistakes(report.mistakes, self.labels(), report.tested, report.mistakes_total)
        state = self.repository.load_state(self.corpus.id, self.annotator)
        if curve or state.get("model_version"):
            trained = state.get("trained_words")
            text = f"Model: {TAGGER_NAMES.get(str(state.get('tagger')), state.get('tagger', 'tagger'))}"
            if trained is not None:
                text += f", trained on {int(trained):,} words"
            if report.overall is not None:
                text += f"; held-out F1 {100 * report.overall[2]:.1f} %"
            self.progress_panel.set_model_text(text)
        elif self.train_job is None:
            self.progress_panel.set_model_text(
                "No model yet: the first retraining starts after "
                f"{self.retrain_every.value()} accepted sentences."
            )

    def compare_annotators(self, first: str, second: str) -> None:
        if self.corpus is None or not first or first == second:
            self.agreement.show_message("Choose two different annotators.")
            return
        try:
            result = between(self.repository.annotations(self.corpus.id), first, second)
        except LanternError as exc:
            self.services.notifications.post_error(exc, title="Agreement could not be computed")
            return
        self.agreement.show_result(result, self.labels())

    # settings and state
    def _annotator_changed(self) -> None:
        name = self.annotator_edit.text().strip() or default_annotator()
        self.annotator_edit.setText(name)
        if name == self.annotator:
            return
        self.save_state()
        self.annotator = name
        QSettings().setValue(ANNOTATOR_KEY, name)
        if self.corpus is not None:
            self.open_corpus(self.corpus.name)

    @staticmethod
    def overlap_share() -> float:
        try:
            return min(max(float(QSettings().value(OVERLAP_KEY, 0.0)), 0.0), 1.0)
        except (TypeError, ValueError):
            return 0.0

    def _overlap_changed(self, share: float) -> None:
        QSettings().setValue(OVERLAP_KEY, share)
        if self.queue is not None:
            self.queue.overlap = share  # from the next sentence fetched on

    def _retrain_every_changed(self, value: int) -> None:
        QSettings().setValue(RETRAIN_EVERY_KEY, value)
        self._update_session_info()

    def _schedule_save(self) -> None:
        if not self._shut_down:
            self._save_timer.start()

    def state(self) -> dict[str, Any]:
        """Where this annotator stands in the open corpus: the keys this page owns in the saved state (the
        retraining job owns the others: the checkpoint, the tagger it holds, what it was trained on)."""
        current = self.queue.current if self.queue is not None else None
        editor = self.editor.state
        edit = {
            "spans": [[s.start, s.end, s.label] for s in editor.spans],
            "dismissed": [[s.start, s.end, s.label] for s in sorted(editor.dismissed, key=lambda s: s.start)],
            "cursor": self.editor.cursor,
        }
        return {
            "selected_tagger": self.tagger_box.currentData(),
            "selected_acquisition": self.acquisition_box.currentData(),
            "started": self.queue is not None,
            "sentence": current.id if current is not None else None,
            "edit": edit if current is not None else {},
            "accepted_since_training": self.accepted_since_training,
        }

    def save_state(self) -> None:
        self._save_timer.stop()
        if self.corpus is None or self._state_owner != (self.corpus.id, self.annotator):
            return  # between annotators (or corpora): the page holds nobody's place yet
        try:
            # Merged into what is stored: a retraining job writes its checkpoint into the same state.
            state = self.repository.load_state(self.corpus.id, self.annotator)
            state.update(self.state())
            self.repository.save_state(self.corpus.id, self.annotator, state)
        except LanternError as exc:
            self.services.notifications.post_error(exc, title="Your place in the corpus could not be saved")

    def shutdown(self) -> None:
        """Before the app closes: save where the annotator is, and let a running import finish."""
        if self._shut_down:
            return
        self.save_state()
        self._shut_down = True
        self.pool.waitForDone(30_000)


if __name__ == "__main__":
    from gui.pages._standalone import run_page

    def _factory(services: AppServices) -> AnnotatePage:
        page = AnnotatePage(services)
        if "--demo-home" in sys.argv and page.corpus is None:
            page.open_demo()
        return page

    raise SystemExit(run_page(_factory, "Annotate"))
