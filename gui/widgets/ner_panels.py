"""The Annotate page's side panels: progress, the learning curve, per-label scores, the model's mistakes on
held-out sentences, and agreement between two annotators."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from engine.ner.agreement import KAPPA_BIO_MEANING, PER_LABEL_MEANING, SPAN_F1_MEANING, Agreement
from engine.ner.formats.schemes import tags_to_spans
from gui.style import INK, MUTED
from gui.widgets.form_parts import muted_label
from gui.widgets.metric_plot import MetricPlot
from gui.widgets.ner_sentence import label_colour

LEARNING_CURVE_METRIC = "test_f1"


def _heading(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setStyleSheet(f"font-weight: 600; color: {INK};")
    return label


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


class ProgressPanel(QFrame):
    """Sentences and words labelled out of the pool, and how far the next retraining is."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "card")
        self.sentences_bar = QProgressBar(self)
        self.words_bar = QProgressBar(self)
        for bar in (self.sentences_bar, self.words_bar):
            bar.setTextVisible(False)
            bar.setFixedHeight(8)
        self.sentences_label = QLabel(self)
        self.words_label = QLabel(self)
        self.team_label = muted_label("", self)
        self.session_label = muted_label("", self)
        self.model_label = muted_label("", self)
        grid = QGridLayout(self)
        grid.setContentsMargins(14, 10, 14, 10)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(4)
        grid.addWidget(_heading("Sentences", self), 0, 0)
        grid.addWidget(self.sentences_label, 0, 1, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.sentences_bar, 1, 0, 1, 2)
        grid.addWidget(_heading("Words", self), 2, 0)
        grid.addWidget(self.words_label, 2, 1, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.words_bar, 3, 0, 1, 2)
        grid.addWidget(self.team_label, 4, 0, 1, 2)
        grid.addWidget(self.session_label, 5, 0, 1, 2)
        grid.addWidget(self.model_label, 6, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        self.set_progress({})

    def set_progress(self, progress: Mapping[str, Any], annotator: str = "") -> None:
        """`progress`: NerRepository.progress() (pool sizes, sentences and words labelled, per annotator)."""
        for bar, label, done_key, total_key in (
            (self.sentences_bar, self.sentences_label, "labelled_sentences", "pool_sentences"),
            (self.words_bar, self.words_label, "labelled_words", "pool_words"),
        ):
            done, total = int(progress.get(done_key, 0)), int(progress.get(total_key, 0))
            bar.setRange(0, max(total, 1))
            bar.setValue(min(done, max(total, 1)))
            share = f" ({100 * done / total:.1f} %)" if total else ""
            label.setText(f"<b>{done:,}</b> of {total:,}{share}")
        people = progress.get("by_annotator") or {}
        held = int(progress.get("test_sentences", 0))
        parts = []
        if annotator in people:
            parts.append(f"you: {people[annotator]['sentences']:,} sentences")
        others = len([name for name in people if name != annotator])
        if others:
            parts.append(f"{others} other annotator{'s' if others != 1 else ''}")
        if held:
            parts.append(f"{held:,} held out for testing")
        self.team_label.setText(" · ".join(parts))

    def set_model_text(self, text: str) -> None:
        self.model_label.setText(text)

    def set_session_text(self, text: str) -> None:
        self.session_label.setText(text)
        self.session_label.setVisible(bool(text))


class LearningCurvePlot(MetricPlot):
    """The run plot with one metric, "words labelled" on the x axis, and no metric chips."""

    def _style_plot(self, plot, metric, text):  # type: ignore[no-untyped-def]
        super()._style_plot(plot, metric, text)
        plot.setLabel("bottom", "words labelled", color=text.name())
        plot.getAxis("bottom").setTickDensity(0.9)
        plot.setTitle("entity F1 on held-out sentences (%)", color=text.name(), size="10pt")

    def _update_chips(self) -> None:
        super()._update_chips()
        self._chip_bar.hide()

    def _update_curve(self, label: str, metric: str) -> None:
        super()._update_curve(label, metric)
        curve = self.curve(label, metric)
        if curve is not None and curve.opts["symbol"] != "o":
            curve.setSymbol("o")  # one dot per retraining


class LearningCurvePanel(QFrame):
    """Entity F1 on the held-out sentences against the number of words labelled, one point per retraining."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "card")
        self.plot = LearningCurvePlot(self)
        self.empty = muted_label(
            "The curve starts after the first retraining: F1 on the held-out sentences against the number "
            "of words labelled.",
            self,
        )
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.plot)
        self.summary = muted_label("", self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.summary)
        self.points: list[tuple[float, float]] = []
        self.set_points([])

    def set_points(self, points: Sequence[tuple[float, float]], label: str = "held-out F1") -> None:
        """`points`: (words labelled, F1 in [0, 1]), in any order."""
        self.points = sorted((float(w), float(f)) for w, f in points)
        self.plot.clear()
        if not self.points:
            self.stack.setCurrentIndex(0)
            self.summary.setText("")
            return
        words = [w for w, _ in self.points]
        self.plot.set_series(label, LEARNING_CURVE_METRIC, words, [100 * f for _, f in self.points])
        self.plot.set_visible_metrics([LEARNING_CURVE_METRIC])
        self.stack.setCurrentIndex(1)
        best_words, best = max(self.points, key=lambda p: p[1])
        last_words, last = self.points[-1]
        count = len(self.points)
        self.summary.setText(
            f"Latest: F1 {100 * last:.1f} % after {last_words:,.0f} words · best {100 * best:.1f} % "
            f"at {best_words:,.0f} words · {count} retraining{'s' if count != 1 else ''}"
        )


class ScoresTable(QTableWidget):
    """Precision, recall, F1 and support per label, and the overall line, on the held-out sentences."""

    COLUMNS = ("Label", "Precision", "Recall", "F1", "Support")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(self.COLUMNS), parent)
        self.setHorizontalHeaderLabels(self.COLUMNS)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setShowGrid(False)
        self.setAlternatingRowColors(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(self.COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

    def set_scores(
        self,
        per_label: Mapping[str, Sequence[float]],
        overall: Sequence[float] | None = None,
        labels: Sequence[str] = (),
    ) -> None:
        """`per_label`: label -> (precision, recall, f1, support); `overall`: (precision, recall, f1)."""
        order = [label for label in labels if label in per_label]
        order += sorted(label for label in per_label if label not in order)
        rows = [(label, per_label[label]) for label in order]
        if overall is not None:
            support = sum(int(values[3]) for values in per_label.values() if len(values) > 3)
            rows.append(("All labels", (*overall[:3], support)))
        self.setRowCount(len(rows))
        for row, (label, values) in enumerate(rows):
            name = QTableWidgetItem(label)
            is_total = label == "All labels" and overall is not None and row == len(rows) - 1
            if not is_total:
                index = list(labels).index(label) if label in labels else row
                name.setForeground(label_colour(index).darker(115))
            font = name.font()
            font.setBold(True)
            name.setFont(font)
            self.setItem(row, 0, name)
            cells = [_percent(values[0]), _percent(values[1]), _percent(values[2])]
            cells.append(f"{int(values[3]):,}" if len(values) > 3 else "")
            for column, text in enumerate(cells, start=1):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if is_total:
                    item.setFont(font)
                self.setItem(row, column, item)


class ScoresPanel(QWidget):
    """The scores table under a line saying what it was measured on."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = muted_label("", self)
        self.table = ScoresTable(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 8, 4, 4)
        layout.addWidget(self.caption)
        layout.addWidget(self.table, 1)
        self.set_scores({}, None)

    def set_scores(
        self,
        per_label: Mapping[str, Sequence[float]],
        overall: Sequence[float] | None,
        labels: Sequence[str] = (),
        tested: int = 0,
    ) -> None:
        self.table.set_scores(per_label, overall, labels)
        if overall is None:
            self.caption.setText("Entity-level scores on the held-out sentences appear after a retraining.")
        else:
            self.caption.setText(
                f"Exact-span entity scores (%) of the current model on {tested:,} held-out sentences."
            )


def tagged_html(tokens: Sequence[str], tags: Sequence[str], labels: Sequence[str]) -> str:
    """A sentence as HTML with its entities tinted in their label colours and the label after each."""
    spans = {span.start: span for span in tags_to_spans(tags)}
    parts, i = [], 0
    while i < len(tokens):
        span = spans.get(i)
        if span is None:
            parts.append(html.escape(tokens[i]))
            i += 1
            continue
        colour = label_colour(list(labels).index(span.label) if span.label in labels else len(labels))
        tint = QColor(colour)
        text = html.escape(" ".join(tokens[span.start : span.end]))
        parts.append(
            f'<span style="background-color: rgba({tint.red()},{tint.green()},{tint.blue()},0.16);'
            f' color: {colour.darker(140).name()};">&nbsp;{text}'
            f' <b style="font-size: 8pt; color: {colour.name()};">{html.escape(span.label)}</b>&nbsp;</span>'
        )
        i = span.end
    return " ".join(parts)


class MistakesPanel(QTextBrowser):
    """Held-out sentences the model gets wrong: the gold entities above, the model's below."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.count = 0
        self.set_mistakes([], [])

    def set_mistakes(
        self,
        mistakes: Sequence[tuple[Sequence[str], Sequence[str], Sequence[str]]],
        labels: Sequence[str],
        tested: int = 0,
        total: int | None = None,
    ) -> None:
        """`mistakes`: (tokens, gold tags, predicted tags) of held-out sentences where the two differ (the
        first few); `total`: how many there are in all; `tested`: held-out sentences."""
        self.count = len(mistakes)
        if not mistakes:
            self.setHtml(
                f'<p style="color:{MUTED}">After a retraining, the held-out sentences the model gets wrong '
                "are listed here, its entities beside the gold ones.</p>"
            )
            return
        total = max(total or 0, len(mistakes))
        head = f"{total:,}" + (f" of {tested:,}" if tested else "")
        head += f" held-out sentence{'s' if total != 1 else ''} with a mistake"
        if total > len(mistakes):
            head += f"; the first {len(mistakes)} are shown"
        rows = [f'<p style="color:{MUTED}; margin-bottom: 6px">{head}</p>']
        for tokens, gold, predicted in mistakes:
            gold_html, predicted_html = (
                tagged_html(tokens, gold, labels),
                tagged_html(tokens, predicted, labels),
            )
            rows.append(
                '<table width="100%" cellspacing="0" cellpadding="3" style="margin-bottom: 8px;'
                ' border-bottom: 1px solid #e2e5ea">'
                f'<tr><td width="52" style="color:{MUTED}">Gold</td><td>{gold_html}</td></tr>'
                f'<tr><td style="color:{MUTED}">Model</td><td>{predicted_html}</td></tr>'
                "</table>"
            )
        self.setHtml("".join(rows))


class RecentPanel(QTextBrowser):
    """The sentences accepted in this session, newest first, with the entities they were given. Redrawn
    on the next turn of the event loop: laying out the HTML must not delay the next sentence."""

    SHOWN = 15

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.entries: list[tuple[int, tuple[str, ...], tuple[str, ...]]] = []  # (sentence id, tokens, tags)
        self.labels: list[str] = []
        self._timer = QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self._render)
        self._render()

    def set_labels(self, labels: Sequence[str]) -> None:
        self.labels = list(labels)
        self._timer.start()

    def add(self, sentence_id: int, tokens: Sequence[str], tags: Sequence[str]) -> None:
        self.entries = [e for e in self.entries if e[0] != sentence_id]
        self.entries.insert(0, (sentence_id, tuple(tokens), tuple(tags)))
        del self.entries[self.SHOWN :]
        self._timer.start()

    def remove(self, sentence_id: int) -> None:
        self.entries = [e for e in self.entries if e[0] != sentence_id]
        self._timer.start()

    def clear_entries(self) -> None:
        self.entries = []
        self._timer.start()

    def _render(self) -> None:
        if not self.entries:
            self.setHtml(
                f'<p style="color:{MUTED}">Sentences you accept appear here with their entities; '
                "undo brings the last one back.</p>"
            )
            return
        rows = []
        for sentence_id, tokens, tags in self.entries:
            found = len(tags_to_spans(tags))
            note = f"{found} entit{'ies' if found != 1 else 'y'}" if found else "no entity"
            rows.append(
                '<table width="100%" cellspacing="0" cellpadding="3" style="margin-bottom: 4px">'
                f'<tr><td width="64" style="color:{MUTED}; font-size: 8.5pt">#{sentence_id}<br>{note}</td>'
                f"<td>{tagged_html(tokens, tags, self.labels)}</td></tr></table>"
            )
        self.setHtml("".join(rows))


class AgreementPanel(QWidget):
    """Two annotators compared on the sentences both labelled: token-level Cohen's kappa and span F1,
    overall and per label, the sentences they disagree on most, and a line on what each measure means."""

    compare_requested = Signal(str, str)
    overlap_changed = Signal(float)  # share of sentences handed to a second annotator, 0..1
    WORST_SHOWN = 5

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.overlap = QSpinBox(self)
        self.overlap.setRange(0, 100)
        self.overlap.setSuffix(" %")
        self.overlap.setToolTip(
            "This share of the sentences goes to a second annotator as well, so that agreement can be "
            "measured; the rest goes to one annotator only"
        )
        self.overlap.valueChanged.connect(lambda value: self.overlap_changed.emit(value / 100))
        overlap_row = QHBoxLayout()
        overlap_row.addWidget(QLabel("Sentences given to two annotators:", self))
        overlap_row.addWidget(self.overlap)
        overlap_row.addStretch(1)
        self.first = QComboBox(self)
        self.second = QComboBox(self)
        self.first.setToolTip("The reference annotator")
        self.compare_button = QPushButton("Compare", self)
        self.compare_button.clicked.connect(self._request)
        pick = QHBoxLayout()
        pick.addWidget(self.first, 1)
        pick.addWidget(QLabel("and", self))
        pick.addWidget(self.second, 1)
        pick.addWidget(self.compare_button)
        self.kappa_value = QLabel("–", self)
        self.f1_value = QLabel("–", self)
        for value in (self.kappa_value, self.f1_value):
            value.setStyleSheet(f"font-size: 16pt; font-weight: 600; color: {INK};")
        self.kappa_detail = muted_label("", self)
        self.f1_detail = muted_label("", self)
        figures = QGridLayout()
        figures.setHorizontalSpacing(14)
        figures.addWidget(_heading("Cohen's kappa (tokens)", self), 0, 0)
        figures.addWidget(_heading("Span F1", self), 0, 1)
        figures.addWidget(self.kappa_value, 1, 0)
        figures.addWidget(self.f1_value, 1, 1)
        figures.addWidget(self.kappa_detail, 2, 0)
        figures.addWidget(self.f1_detail, 2, 1)
        figures.setColumnStretch(0, 1)
        figures.setColumnStretch(1, 1)
        self.table = QTableWidget(0, 4, self)
        self.table.setHorizontalHeaderLabels(["Label", "Kappa", "Span F1", "Entities"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setShowGrid(False)
        self.table.setFrameShape(QFrame.Shape.NoFrame)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.worst = muted_label("", self)
        self.worst.setTextFormat(Qt.TextFormat.RichText)
        self.meanings = muted_label(
            "<br>".join(
                html.escape(text) for text in (KAPPA_BIO_MEANING, SPAN_F1_MEANING, PER_LABEL_MEANING)
            ),
            self,
        )
        self.meanings.setTextFormat(Qt.TextFormat.RichText)
        self.meanings.setStyleSheet("font-size: 8.5pt;")
        self.status = muted_label(
            "Set an overlap share so that some sentences go to two annotators; then compare them here.", self
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(overlap_row)
        layout.addLayout(pick)
        layout.addWidget(self.status)
        layout.addLayout(figures)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.worst)
        layout.addWidget(self.meanings)

    def set_annotators(self, names: Sequence[str], current: str = "") -> None:
        for combo, preferred in ((self.first, current), (self.second, "")):
            kept = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(list(names))
            choice = kept or preferred
            if choice in names:
                combo.setCurrentText(choice)
            combo.blockSignals(False)
        if self.second.currentText() == self.first.currentText() and len(names) > 1:
            self.second.setCurrentIndex(1 if self.first.currentIndex() == 0 else 0)
        self.compare_button.setEnabled(len(names) > 1)

    def set_overlap(self, share: float) -> None:
        self.overlap.blockSignals(True)
        self.overlap.setValue(round(100 * share))
        self.overlap.blockSignals(False)

    def _request(self) -> None:
        self.compare_requested.emit(self.first.currentText(), self.second.currentText())

    def show_result(self, result: Agreement, labels: Sequence[str] = ()) -> None:
        """An engine.ner.agreement.Agreement of the second annotator against the first."""
        if not result.sentences:
            self.show_message("These two annotators have no sentence in common yet: set an overlap share.")
            return
        self.kappa_value.setText(f"{result.kappa_bio:.2f}")
        self.kappa_detail.setText(f"BIO tags; {result.kappa_type:.2f} on entity types alone")
        self.f1_value.setText(f"{100 * result.spans.f1:.1f} %")
        self.f1_detail.setText(
            f"{result.spans.correct:,} of {result.spans.support:,} entities marked identically"
        )
        per_label = result.spans.per_label
        names = set(result.kappa_per_label) | set(per_label)
        order = [label for label in labels if label in names] + sorted(names - set(labels))
        self.table.setRowCount(len(order))
        for row, label in enumerate(order):
            name = QTableWidgetItem(label)
            name.setForeground(
                label_colour(list(labels).index(label) if label in labels else row).darker(115)
            )
            self.table.setItem(row, 0, name)
            kappa = result.kappa_per_label.get(label)
            score = per_label.get(label)
            cells = (
                "–" if kappa is None or math.isnan(kappa) else f"{kappa:.2f}",
                "–" if score is None else f"{100 * score.f1:.1f} %",
                "–" if score is None else f"{score.support:,}",
            )
            for column, text in enumerate(cells, start=1):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        worst = [doc for doc in result.documents if doc.span_f1 < 1.0][: self.WORST_SHOWN]
        self.worst.setText(
            "<b>Worth talking over:</b> "
            + ", ".join(
                f"sentence {doc.sentence_id} (span F1 {100 * doc.span_f1:.0f} %, kappa {doc.kappa:.2f})"
                for doc in worst
            )
            if worst
            else "The two agree on every entity of every shared sentence."
        )
        count = result.sentences
        self.status.setText(f"On the {count:,} sentence{'s' if count != 1 else ''} both annotators labelled.")

    def show_message(self, text: str) -> None:
        for label in (self.kappa_value, self.f1_value):
            label.setText("–")
        for label in (self.kappa_detail, self.f1_detail, self.worst):
            label.setText("")
        self.table.setRowCount(0)
        self.status.setText(text)
