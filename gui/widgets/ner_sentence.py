"""The sentence editor: one sentence as token chips, entity spans in label colours, keyboard-first editing.

The annotator's spans are drawn solid; the model's suggestions are drawn dashed, with their confidence, until
the annotator takes them (a label key on them, or "accept with suggestions") or dismisses them (Backspace).
Every edit is a QUndoCommand when an undo stack is attached.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFocusEvent,
    QFont,
    QFontMetricsF,
    QHelpEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QUndoCommand,
    QUndoStack,
)
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QToolTip, QWidget

from engine.ner.formats.schemes import spans_to_tags, tags_to_spans
from engine.ner.types import Sentence, Span
from gui.style import ACCENT, INK, MUTED

# Distinct hues that keep dark text readable on their light tints; the first four go to PER/LOC/ORG/MISC.
LABEL_COLOURS = (
    "#2f6fde",
    "#2e9d5b",
    "#c2410c",
    "#8b5cf6",
    "#0e8f9a",
    "#c2185b",
    "#a16207",
    "#4f46e5",
    "#65a30d",
    "#dc2626",
)
UNSURE_BELOW = 0.6  # an O token the model gives less than this probability is marked "unsure"


def label_colour(index: int) -> QColor:
    return QColor(LABEL_COLOURS[index % len(LABEL_COLOURS)])


def overlaps(a: Span, start: int, end: int) -> bool:
    return a.start < end and start < a.end


@dataclass(frozen=True)
class Suggestion:
    """A span the model proposes, with its confidence (mean probability of its tokens' tags)."""

    span: Span
    confidence: float


@dataclass(frozen=True)
class EditorState:
    """What an edit changes: the annotator's spans and the suggestions they dismissed."""

    spans: tuple[Span, ...] = ()
    dismissed: frozenset[Span] = field(default_factory=frozenset)


def suggestions_from_prediction(
    tags: Sequence[str] | None, confidences: Sequence[float] | None
) -> list[Suggestion]:
    if not tags:
        return []
    result = []
    for span in tags_to_spans(tags):
        probs = list(confidences[span.start : span.end]) if confidences else []
        result.append(Suggestion(span, sum(probs) / len(probs) if probs else 1.0))
    return result


class EditSpansCommand(QUndoCommand):
    """One span edit on one sentence; applies only while the editor still shows that sentence."""

    def __init__(self, editor: SentenceEditor, before: EditorState, after: EditorState, text: str) -> None:
        super().__init__(text)
        self.editor = editor
        self.sentence_key = editor.sentence_key
        self.before = before
        self.after = after

    def redo(self) -> None:
        self._apply(self.after)

    def undo(self) -> None:
        self._apply(self.before)

    def _apply(self, state: EditorState) -> None:
        if self.editor.sentence_key != self.sentence_key:
            # The sentence is no longer on screen (another corpus was opened): nothing left to edit.
            self.setObsolete(True)
            return
        self.editor.set_state(state)


@dataclass
class _Placed:
    """Geometry of the current layout, computed for one width."""

    width: float = 0.0
    height: float = 0.0
    tokens: list[QRectF] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # line number of each token
    badges: dict[tuple[Span, bool], QRectF] = field(default_factory=dict)  # (span, is suggestion) -> rect


class SentenceEditor(QWidget):
    """Shows one sentence and edits its entity spans; the page wires keys (via the shortcut registry) to the
    public slots here, and reacts to `accept_requested` / `skip_requested`."""

    changed = Signal()  # spans, dismissed suggestions or the sentence changed
    selection_changed = Signal(int, int)  # selection [start, end)
    accept_requested = Signal()
    accept_all_requested = Signal()
    skip_requested = Signal()

    MARGIN = 18.0
    GAP = 7.0  # between tokens
    LINE_GAP = 16.0
    PAD_X = 8.0  # inside a chip
    BAND = 5.0  # a span's band around its chips
    BADGE_GAP = 6.0

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(False)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.undo_stack: QUndoStack | None = None
        self.labels: list[str] = []
        self.sentence: Sentence | None = None
        self.sentence_key: object = None  # identity of the sentence on screen, for undo commands
        self.suggestions: list[Suggestion] = []
        self.predicted_tags: tuple[str, ...] | None = None
        self.confidences: tuple[float, ...] | None = None
        self._state = EditorState()
        self.cursor = 0
        self.anchor = 0
        self._dragging = False
        self.message = "No sentence"
        self._placed = _Placed()
        self._fonts()

    # fonts and geometry
    def _fonts(self) -> None:
        self.token_font = QFont(self.font())
        self.token_font.setPointSizeF(max(13.0, self.font().pointSizeF() * 1.4))
        self.badge_font = QFont(self.font())
        self.badge_font.setPointSizeF(max(7.5, self.font().pointSizeF() * 0.8))
        self.badge_font.setBold(True)
        self._token_metrics = QFontMetricsF(self.token_font)
        self._badge_metrics = QFontMetricsF(self.badge_font)
        self._placed = _Placed()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._fonts()
            self.updateGeometry()
        super().changeEvent(event)

    @property
    def chip_height(self) -> float:
        return math.ceil(self._token_metrics.height() + 12)

    @property
    def line_height(self) -> float:
        return self.chip_height + 2 * self.BAND + 5  # 5: room for the confidence underline

    # content
    def set_labels(self, labels: Sequence[str]) -> None:
        self.labels = list(labels)
        self._relayout()

    def set_sentence(
        self,
        sentence: Sentence | None,
        *,
        predicted_tags: Sequence[str] | None = None,
        confidences: Sequence[float] | None = None,
        state: EditorState | None = None,
        cursor: int = 0,
        key: object = None,
    ) -> None:
        """Show a sentence with the model's prediction (tags + per-token probability) as suggestions."""
        self.sentence = sentence
        self.sentence_key = key if key is not None else (sentence.id if sentence is not None else None)
        n = len(sentence) if sentence is not None else 0
        usable = predicted_tags is not None and len(predicted_tags) == n
        self.predicted_tags = tuple(predicted_tags) if usable and predicted_tags is not None else None
        self.confidences = (
            tuple(float(c) for c in confidences)
            if usable and confidences is not None and len(confidences) == n
            else None
        )
        self.suggestions = suggestions_from_prediction(self.predicted_tags, self.confidences)
        self._state = state or EditorState()
        self.cursor = self.anchor = min(max(cursor, 0), max(n - 1, 0))
        self._relayout()
        self.changed.emit()
        self.selection_changed.emit(*self.selection())

    def set_message(self, text: str) -> None:
        """The text shown when there is no sentence (empty queue, nothing opened)."""
        self.message = text
        self.update()

    @property
    def state(self) -> EditorState:
        return self._state

    def set_state(self, state: EditorState) -> None:
        self._state = state
        self._relayout()
        self.changed.emit()

    @property
    def spans(self) -> tuple[Span, ...]:
        return self._state.spans

    def visible_suggestions(self) -> list[Suggestion]:
        """Suggestions neither dismissed nor overlapping a span of the annotator's."""
        return [
            s
            for s in self.suggestions
            if s.span not in self._state.dismissed
            and not any(overlaps(own, s.span.start, s.span.end) for own in self._state.spans)
            and (not self.labels or s.span.label in self.labels)
        ]

    def tags(self) -> tuple[str, ...]:
        """BIO tags of the annotator's spans (what Enter accepts)."""
        return spans_to_tags(len(self.sentence or ()), self._state.spans)

    def tags_with_suggestions(self) -> tuple[str, ...]:
        """BIO tags of the annotator's spans plus every suggestion still shown (what A accepts)."""
        spans = [*self._state.spans, *(s.span for s in self.visible_suggestions())]
        return spans_to_tags(len(self.sentence or ()), spans)

    def selection(self) -> tuple[int, int]:
        return min(self.anchor, self.cursor), max(self.anchor, self.cursor) + 1

    # editing (the slots the page's shortcuts call)
    def move_cursor(self, step: int, extend: bool = False) -> None:
        if self.sentence is None or not len(self.sentence):
            return
        self.cursor = min(max(self.cursor + step, 0), len(self.sentence) - 1)
        if not extend:
            self.anchor = self.cursor
        self.update()
        self.selection_changed.emit(*self.selection())

    def set_selection(self, start: int, end: int) -> None:
        """Select tokens [start, end); the cursor goes to the last one."""
        if self.sentence is None or not len(self.sentence):
            return
        n = len(self.sentence)
        start, end = min(max(start, 0), n - 1), min(max(end, 1), n)
        self.anchor, self.cursor = start, max(start, end - 1)
        self.update()
        self.selection_changed.emit(*self.selection())

    def span_under_cursor(self) -> tuple[Span, bool] | None:
        """The span (annotator's first, else a shown suggestion) covering the cursor, and whether it is
        a suggestion."""
        for span in self._state.spans:
            if span.start <= self.cursor < span.end:
                return span, False
        for suggestion in self.visible_suggestions():
            if suggestion.span.start <= self.cursor < suggestion.span.end:
                return suggestion.span, True
        return None

    def label_selection(self, index: int) -> bool:
        """Label the selection with label #index (0-based); with a one-token selection inside a span or a
        suggestion, relabel that whole span. Returns whether anything changed."""
        if self.sentence is None or not len(self.sentence) or not 0 <= index < len(self.labels):
            return False
        label = self.labels[index]
        start, end = self.selection()
        under = self.span_under_cursor() if end - start == 1 else None
        if under is not None:
            start, end = under[0].start, under[0].end
        new = Span(start, end, label)
        kept = [s for s in self._state.spans if not overlaps(s, start, end)]
        if new in self._state.spans and len(kept) == len(self._state.spans) - 1:
            return False
        spans = tuple(sorted([*kept, new], key=lambda s: s.start))
        self.anchor = self.cursor = end - 1
        self._edit(EditorState(spans, self._state.dismissed), f"Label {label}")
        return True

    def remove_at_cursor(self) -> bool:
        """Remove the annotator's spans over the selection; with none there, dismiss the suggestions there."""
        start, end = self.selection()
        kept = tuple(s for s in self._state.spans if not overlaps(s, start, end))
        if len(kept) != len(self._state.spans):
            self._edit(EditorState(kept, self._state.dismissed), "Remove span")
            return True
        hit = [s.span for s in self.visible_suggestions() if overlaps(s.span, start, end)]
        if hit:
            self._edit(EditorState(kept, self._state.dismissed | set(hit)), "Dismiss suggestion")
            return True
        return False

    def take_suggestion(self, span: Span) -> bool:
        """Make one suggestion the annotator's span (clicking its badge)."""
        if span not in [s.span for s in self.visible_suggestions()]:
            return False
        spans = tuple(sorted([*self._state.spans, span], key=lambda s: s.start))
        self._edit(EditorState(spans, self._state.dismissed), f"Take suggestion {span.label}")
        return True

    def take_all_suggestions(self) -> bool:
        shown = [s.span for s in self.visible_suggestions()]
        if not shown:
            return False
        spans = tuple(sorted([*self._state.spans, *shown], key=lambda s: s.start))
        self._edit(EditorState(spans, self._state.dismissed), "Take all suggestions")
        return True

    def _edit(self, after: EditorState, text: str) -> None:
        if self.undo_stack is None:
            self.set_state(after)
        else:
            self.undo_stack.push(EditSpansCommand(self, self._state, after, text))

    # layout
    def _display_spans(self) -> list[tuple[Span, bool, float]]:
        """(span, is suggestion, confidence) for every band to draw."""
        shown = [(s, False, 1.0) for s in self._state.spans]
        shown += [(s.span, True, s.confidence) for s in self.visible_suggestions()]
        return sorted(shown, key=lambda item: item[0].start)

    def _badge_text(self, span: Span, suggestion: bool, confidence: float) -> str:
        return f"{span.label} {confidence:.0%}" if suggestion else span.label

    def _layout(self, width: float) -> _Placed:
        placed = _Placed(width=width)
        if self.sentence is None:
            placed.height = 2 * self.MARGIN + self.line_height
            return placed
        starts = {s.start: (s, sug, c) for s, sug, c in self._display_spans()}
        ends = {s.end - 1: (s, sug, c) for s, sug, c in self._display_spans()}
        fm = self._token_metrics
        bfm = self._badge_metrics
        x, line = self.MARGIN, 0
        right = max(width - self.MARGIN, self.MARGIN + 40)
        for i, token in enumerate(self.sentence.tokens):
            chip_w = math.ceil(fm.horizontalAdvance(token) + 2 * self.PAD_X)
            lead = self.BAND if i in starts else 0.0
            trail = 0.0
            badge_w = 0.0
            if i in ends:
                span, suggestion, confidence = ends[i]
                badge_w = math.ceil(
                    bfm.horizontalAdvance(self._badge_text(span, suggestion, confidence)) + 12
                )
                trail = self.BADGE_GAP + badge_w + self.BAND
            if x + lead + chip_w + trail > right and x > self.MARGIN:
                x, line = self.MARGIN, line + 1
            y = self.MARGIN + line * (self.line_height + self.LINE_GAP) + self.BAND
            rect = QRectF(x + lead, y, chip_w, self.chip_height)
            placed.tokens.append(rect)
            placed.lines.append(line)
            if i in ends:
                span, suggestion, _ = ends[i]
                badge_h = math.ceil(bfm.height() + 6)
                placed.badges[(span, suggestion)] = QRectF(
                    rect.right() + self.BADGE_GAP, rect.center().y() - badge_h / 2, badge_w, badge_h
                )
            x = rect.right() + trail + self.GAP
        lines = (placed.lines[-1] + 1) if placed.lines else 1
        placed.height = 2 * self.MARGIN + lines * self.line_height + (lines - 1) * self.LINE_GAP
        return placed

    def _relayout(self) -> None:
        self._placed = self._layout(self.width())
        self._fit_height()
        self.updateGeometry()
        self.update()

    def _fit_height(self) -> None:
        # Box layouts inside splitters do not ask for height-for-width: a minimum height that follows
        # the wrapped lines keeps every token on screen.
        needed = math.ceil(self._placed.height)
        if needed != self.minimumHeight():
            self.setMinimumHeight(needed)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return math.ceil(self._layout(width).height)

    def sizeHint(self) -> QSize:
        return QSize(640, self.heightForWidth(640))

    def minimumSizeHint(self) -> QSize:
        return QSize(240, math.ceil(2 * self.MARGIN + self.line_height))

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._placed = self._layout(event.size().width())
        self._fit_height()
        super().resizeEvent(event)

    def token_rect(self, index: int) -> QRectF:
        if self._placed.width != self.width():
            self._placed = self._layout(self.width())
        return QRectF(self._placed.tokens[index])

    def token_at(self, point: QPointF) -> int | None:
        """The token under a point, or the nearest one on that line when the point is between chips."""
        best, best_distance = None, math.inf
        for i, rect in enumerate(self._placed.tokens):
            if rect.adjusted(-self.GAP / 2, -self.BAND - 2, self.GAP / 2, self.BAND + 2).contains(point):
                return i
            if rect.top() - self.LINE_GAP / 2 <= point.y() <= rect.bottom() + self.LINE_GAP / 2:
                distance = abs(rect.center().x() - point.x())
                if distance < best_distance:
                    best, best_distance = i, distance
        return best

    def badge_at(self, point: QPointF) -> tuple[Span, bool] | None:
        for key, rect in self._placed.badges.items():
            if rect.adjusted(-2, -2, 2, 2).contains(point):
                return key
        return None

    # painting
    def paintEvent(self, event: QPaintEvent) -> None:
        if self._placed.width != self.width():
            self._placed = self._layout(self.width())
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        if self.sentence is None or not len(self.sentence):
            painter.setPen(QColor(MUTED))
            painter.setFont(self.token_font)
            painter.drawText(
                self.rect().adjusted(20, 0, -20, 0),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.message,
            )
            return
        placed = self._placed
        display = self._display_spans()
        colour_of = {label: label_colour(i) for i, label in enumerate(self.labels)}
        in_span: dict[int, tuple[Span, bool]] = {}
        for span, suggestion, confidence in display:
            colour = colour_of.get(span.label, QColor(MUTED))
            self._paint_band(painter, span, suggestion, confidence, colour)
            for i in range(span.start, span.end):
                in_span[i] = (span, suggestion)
        self._paint_selection(painter)
        painter.setFont(self.token_font)
        for i, token in enumerate(self.sentence.tokens):
            rect = placed.tokens[i]
            owner = in_span.get(i)
            if owner is None:
                fill = QColor("#eef0f4")
            elif owner[1]:
                fill = QColor("#ffffff")
            else:
                fill = QColor(255, 255, 255, 150)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(fill)
            painter.drawRoundedRect(rect, 5, 5)
            painter.setPen(QColor(INK))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, token)
            self._paint_confidence(painter, i, rect, colour_of)
        self._paint_cursor(painter)
        for span, suggestion, confidence in display:
            rect = placed.badges.get((span, suggestion))
            if rect is not None:
                colour = colour_of.get(span.label, QColor(MUTED))
                self._paint_badge(
                    painter, rect, self._badge_text(span, suggestion, confidence), colour, suggestion
                )

    def _line_groups(self, start: int, end: int) -> list[QRectF]:
        """The union of the chips of tokens [start, end), one rectangle per line."""
        groups: dict[int, QRectF] = {}
        for i in range(start, end):
            rect, line = self._placed.tokens[i], self._placed.lines[i]
            groups[line] = groups[line].united(rect) if line in groups else QRectF(rect)
        return [groups[line] for line in sorted(groups)]

    def _paint_band(
        self, painter: QPainter, span: Span, suggestion: bool, confidence: float, colour: QColor
    ) -> None:
        groups = self._line_groups(span.start, span.end)
        badge = self._placed.badges.get((span, suggestion))
        for n, rect in enumerate(groups):
            band = rect.adjusted(-self.BAND, -self.BAND, self.BAND, self.BAND)
            if n == len(groups) - 1 and badge is not None:
                band.setRight(badge.right() + self.BAND)
            fill = QColor(colour)
            if suggestion:
                fill.setAlpha(int(18 + 30 * confidence))
                pen = QPen(colour, 1.4, Qt.PenStyle.DashLine)
                pen.setDashPattern([4.0, 3.0])
            else:
                fill.setAlpha(58)
                pen = QPen(colour, 1.6)
            painter.setPen(pen)
            painter.setBrush(fill)
            painter.drawRoundedRect(band, 8, 8)

    def _paint_selection(self, painter: QPainter) -> None:
        start, end = self.selection()
        if end - start <= 1:
            return
        accent = QColor(ACCENT)
        fill = QColor(accent)
        fill.setAlpha(70)
        painter.setPen(QPen(accent, 1.5))
        painter.setBrush(fill)
        for rect in self._line_groups(start, end):
            painter.drawRoundedRect(rect.adjusted(-3, -3, 3, 3), 7, 7)

    def _paint_cursor(self, painter: QPainter) -> None:
        rect = self._placed.tokens[self.cursor].adjusted(-1.5, -1.5, 1.5, 1.5)
        colour = QColor(ACCENT if self.hasFocus() else "#b9bec8")
        painter.setPen(QPen(colour, 2.4))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect, 6, 6)

    def _paint_confidence(
        self, painter: QPainter, i: int, rect: QRectF, colour_of: dict[str, QColor]
    ) -> None:
        """Under each token, the model's confidence in its own tag: a bar in the tag's colour whose
        strength is the probability; an O token the model is unsure of gets an amber dotted line."""
        if self.predicted_tags is None or self.confidences is None:
            return
        tag, probability = self.predicted_tags[i], self.confidences[i]
        y = rect.bottom() + self.BAND + 2.5
        if tag == "O":
            if probability < UNSURE_BELOW:
                pen = QPen(QColor("#d97706"), 2.0, Qt.PenStyle.DotLine)
                painter.setPen(pen)
                painter.drawLine(QPointF(rect.left() + 3, y), QPointF(rect.right() - 3, y))
            return
        colour = QColor(colour_of.get(tag.partition("-")[2], QColor(MUTED)))
        colour.setAlphaF(0.25 + 0.75 * probability)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        width = (rect.width() - 6) * max(probability, 0.05)
        painter.drawRoundedRect(QRectF(rect.left() + 3, y - 1.5, width, 3), 1.5, 1.5)

    def _paint_badge(
        self, painter: QPainter, rect: QRectF, text: str, colour: QColor, suggestion: bool
    ) -> None:
        path = QPainterPath()
        path.addRoundedRect(rect, rect.height() / 2, rect.height() / 2)
        if suggestion:
            painter.setPen(QPen(colour, 1.2))
            painter.setBrush(QColor("#ffffff"))
            painter.drawPath(path)
            painter.setPen(colour.darker(120))
        else:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawPath(path)
            painter.setPen(QColor("#ffffff"))
        painter.setFont(self.badge_font)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.setFont(self.token_font)

    # mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.sentence is None:
            super().mousePressEvent(event)
            return
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        badge = self.badge_at(event.position())
        if badge is not None and badge[1]:
            self.take_suggestion(badge[0])
            return
        index = self.token_at(event.position())
        if index is None:
            return
        self.cursor = index
        if not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.anchor = index
        self._dragging = True
        self.update()
        self.selection_changed.emit(*self.selection())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if not self._dragging:
            return
        index = self.token_at(event.position())
        if index is not None and index != self.cursor:
            self.cursor = index
            self.update()
            self.selection_changed.emit(*self.selection())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._dragging = False
        super().mouseReleaseEvent(event)

    def focusInEvent(self, event: QFocusEvent) -> None:
        self.update()
        super().focusInEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self.update()
        super().focusOutEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            text = self.tooltip_at(QPointF(event.pos()))
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def tooltip_at(self, point: QPointF) -> str:
        """What the model thinks of the token under the point, and what the annotator has said."""
        if self.sentence is None:
            return ""
        badge = self.badge_at(point)
        if badge is not None and badge[1]:
            return f"Suggested {badge[0].label}: click to take it"
        index = self.token_at(point)
        if index is None or not self._placed.tokens[index].adjusted(-3, -6, 3, 6).contains(point):
            return ""
        lines = [f"<b>{self.sentence.tokens[index]}</b>"]
        own = next((s for s in self._state.spans if s.start <= index < s.end), None)
        if own is not None:
            lines.append(f"Your label: {own.label}")
        if self.predicted_tags is not None and self.confidences is not None:
            tag, p = self.predicted_tags[index], self.confidences[index]
            lines.append(f"Model: {tag} with probability {p:.0%}")
            if tag == "O" and p < UNSURE_BELOW:
                lines.append("The model is unsure here: check for an entity.")
        return "<br>".join(lines)


class LabelLegend(QWidget):
    """The labels with their number keys; clicking one labels the editor's selection."""

    label_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self.buttons: list[QToolButton] = []

    def set_labels(self, labels: Sequence[str], keys: Sequence[str] = ()) -> None:
        """One button per label; `keys` are the shortcut texts shown beside them (the first nine)."""
        while self._layout.count():
            item = self._layout.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()  # deleted later; hidden now so that it never shows beside the new ones
                item.widget().deleteLater()
        self.buttons = []
        for i, label in enumerate(labels):
            colour = label_colour(i)
            key = keys[i] if i < len(keys) else ""
            button = QToolButton(self)
            button.setObjectName("legendLabel")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys must keep going to the sentence
            button.setText(f"{key}  {label}" if key else label)
            button.setToolTip(f"Label the selection {label}" + (f" ({key})" if key else ""))
            tint = QColor(colour)
            tint.setAlpha(40)
            button.setStyleSheet(
                f"QToolButton {{ border: 1.5px solid {colour.name()}; border-radius: 12px;"
                f" padding: 3px 12px; background: rgba({tint.red()},{tint.green()},{tint.blue()},40);"
                f" color: {colour.darker(135).name()}; font-weight: 600; }}"
                f"QToolButton:hover {{ background: rgba({tint.red()},{tint.green()},{tint.blue()},90); }}"
            )
            button.clicked.connect(lambda _=False, index=i: self.label_clicked.emit(index))
            self._layout.addWidget(button)
            self.buttons.append(button)
        if not labels:
            hint = QLabel("No labels yet", self)
            hint.setProperty("role", "muted")
            self._layout.addWidget(hint)
        self._layout.addStretch(1)
