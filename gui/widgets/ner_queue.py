"""The annotator's queue: the sentence on screen, the next one fetched ahead (so Enter never waits for the
database), sentences brought back by undo, and a strip that previews what comes next."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

from engine.ner.types import Sentence
from gui.style import MUTED

PREVIEW_CHARS = 140


@dataclass
class QueuedSentence:
    """A sentence handed to this annotator, with the model's prediction for it when there is one."""

    sentence: Sentence
    prediction: Any = None  # engine.ner.repository.Prediction | None

    @property
    def id(self) -> int:
        assert self.sentence.id is not None
        return self.sentence.id


class AnnotationQueue:
    """Sentences for one annotator of one corpus, highest acquisition score first (the repository ranks and
    leases them). Holds one sentence fetched ahead; `advance` only touches the database when it has none."""

    def __init__(
        self, repository: Any, corpus_id: int, annotator: str, *, lease_s: int = 600, overlap: float = 0.0
    ) -> None:
        self.repository = repository
        self.corpus_id = corpus_id
        self.annotator = annotator
        self.lease_s = lease_s
        self.overlap = overlap
        self.current: QueuedSentence | None = None
        self._upcoming: deque[QueuedSentence] = deque()  # brought back by undo, shown before new ones
        self._ahead: QueuedSentence | None = None
        self.fetches = 0  # database round trips for a new sentence (tests check prefetching works)

    def _held(self) -> set[int]:
        held = {q.id for q in self._upcoming}
        held |= {q.id for q in (self.current, self._ahead) if q is not None}
        return held

    def _fetch(self) -> QueuedSentence | None:
        self.fetches += 1
        sentence = self.repository.next_sentence(
            self.corpus_id,
            self.annotator,
            lease_s=self.lease_s,
            overlap=self.overlap,
            exclude=tuple(sorted(self._held())),
        )
        if sentence is None:
            return None
        return QueuedSentence(sentence, self.repository.prediction(sentence.id))

    def start(self, resume: QueuedSentence | None = None) -> QueuedSentence | None:
        """Begin with `resume` (where the annotator left off) or the best-ranked sentence."""
        self._upcoming.clear()
        self._ahead = None
        self.current = resume if resume is not None else self._fetch()
        return self.current

    def advance(self) -> QueuedSentence | None:
        """The next sentence to show: one brought back by undo, else the one fetched ahead, else a new one."""
        if self._upcoming:
            self.current = self._upcoming.popleft()
        elif self._ahead is not None:
            self.current, self._ahead = self._ahead, None
        else:
            self.current = self._fetch()  # the sentence just finished is excluded (held) while fetching
        return self.current

    def prefetch(self) -> QueuedSentence | None:
        """Fetch the sentence after the current one now (call it once the current one is on screen)."""
        if self.current is not None and not self._upcoming and self._ahead is None:
            self._ahead = self._fetch()
        return self.peek()

    def peek(self) -> QueuedSentence | None:
        """What `advance` will show next, if it is known without asking the database."""
        return self._upcoming[0] if self._upcoming else self._ahead

    def bring_back(self, queued: QueuedSentence) -> None:
        """Show `queued` again (an undone accept or skip); the current sentence comes right after it."""
        if self.current is not None and self.current.id != queued.id:
            self._upcoming.appendleft(self.current)
        self._upcoming = deque(q for q in self._upcoming if q.id != queued.id)
        self.current = queued

    def refresh_predictions(self) -> int:
        """Re-read the model's predictions for sentences held but not yet shown (after a retraining)."""
        waiting = [*self._upcoming, *([self._ahead] if self._ahead is not None else [])]
        for queued in waiting:
            queued.prediction = self.repository.prediction(queued.id)
        return len(waiting)


def preview_text(sentence: Sentence | None) -> str:
    if sentence is None:
        return ""
    text = " ".join(sentence.tokens)
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


class UpNextStrip(QFrame):
    """One line under the sentence: what comes next and where the model stands."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel("Up next", self)
        self.caption.setStyleSheet(f"color: {MUTED}; font-weight: 600;")
        self.text = QLabel(self)
        self.text.setStyleSheet(f"color: {MUTED};")
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.text.setMinimumWidth(80)
        self.status = QLabel(self)
        self.status.setStyleSheet(f"color: {MUTED};")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 0, 2, 0)
        layout.setSpacing(8)
        layout.addWidget(self.caption)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.status)
        self.show_next(None)

    def show_next(self, queued: QueuedSentence | None, ready: bool = True) -> None:
        if queued is not None:
            self.text.setText(preview_text(queued.sentence))
        else:
            self.text.setText("fetched once this sentence is on screen" if ready else "")
        self.caption.setVisible(bool(self.text.text()))

    def set_status(self, text: str) -> None:
        self.status.setText(text)
