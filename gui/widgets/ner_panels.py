"""The Annotate page's side panels: progress, the learning curve, per-label scores, the model's mistakes on
held-out sentences, and agreement between two annotators."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt, Signal
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
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from gui.style import INK, MUTED
from gui.widgets.metric_plot import MetricPlot
from gui.widgets.ner_sentence import label_colour, spans_from_tags

LEARNING_CURVE_METRIC = "test_f1"
KAPPA_TEXT = (
    "Cohen's kappa: agreement on each token's label beyond what chance would give "
    "(1 = identical, 0 = no better than chance)."
)
SPAN_F1_TEXT = (
    "Span F1: one annotator's entities scored against the other's, exact boundaries and label "
    "(the same score as the model gets)."
)


def _muted(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setProperty("role", "muted")
    label.setWordWrap(True)
    return label


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
        self.model_label = _muted("", self)
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
        grid.addWidget(self.model_label, 4, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        self.set_progress({})

    def set_progress(self, progress: Mapping[str, int]) -> None:
        """`progress`: sentences/words labelled and in total (the pool, without held-out sentences)."""
        for bar, label, done_key, total_key in (
            (self.sentences_bar, self.sentences_label, "sentences_labelled", "sentences_total"),
            (self.words_bar, self.words_label, "words_labelled", "words_total"),
        ):
            done, total = int(progress.get(done_key, 0)), int(progress.get(total_key, 0))
            bar.setRange(0, max(total, 1))
            bar.setValue(min(done, max(total, 1)))
            share = f" ({100 * done / total:.1f} %)" if total else ""
            label.setText(f"<b>{done:,}</b> of {total:,}{share}")

    def set_model_text(self, text: str) -> None:
        self.model_label.setText(text)


class LearningCurvePlot(MetricPlot):
    """The run plot with "words labelled" on the x axis."""

    def _style_plot(self, plot, metric, text):  # type: ignore[no-untyped-def]
        super()._style_plot(plot, metric, text)
        plot.setLabel("bottom", "words labelled", color=text.name())
        plot.setTitle("entity F1 on held-out sentences (%)", color=text.name(), size="10pt")


class LearningCurvePanel(QFrame):
    """Entity F1 on the held-out sentences against the number of words labelled, one point per retraining."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "card")
        self.plot = LearningCurvePlot(self)
        self.plot._chip_bar.hide()  # one metric only: no metric chips
        self.empty = _muted(
            "The curve starts after the first retraining: F1 on the held-out sentences against the number "
            "of words labelled.",
            self,
        )
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.plot)
        self.summary = _muted("", self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.summary)
        self.points: list[tuple[float, float]] = []
        self.set_points([])

    def set_points(self, points: Sequence[tuple[float, float]], label: str = "this corpus") -> None:
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


def tagged_html(tokens: Sequence[str], tags: Sequence[str], labels: Sequence[str]) -> str:
    """A sentence as HTML with its entities tinted in their label colours and the label after each."""
    spans = {span.start: span for span in spans_from_tags(tags)}
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
        total: int | None = None,
    ) -> None:
        """`mistakes`: (tokens, gold tags, predicted tags) of held-out sentences where the two differ."""
        self.count = len(mistakes)
        if not mistakes:
            self.setHtml(
                f'<p style="color:{MUTED}">After a retraining, the held-out sentences the model gets wrong '
                "are listed here, its entities beside the gold ones.</p>"
            )
            return
        head = f"{len(mistakes)} held-out sentence{'s' if len(mistakes) != 1 else ''} with a mistake"
        if total:
            head += f" (of {total:,})"
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


class AgreementPanel(QWidget):
    """Two annotators, compared on the sentences both labelled: token-level Cohen's kappa and span F1,
    overall and per label, each with a line on what it means."""

    compare_requested = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.first = QComboBox(self)
        self.second = QComboBox(self)
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
        figures = QGridLayout()
        figures.setHorizontalSpacing(14)
        figures.addWidget(_heading("Cohen's kappa (tokens)", self), 0, 0)
        figures.addWidget(_heading("Span F1", self), 0, 1)
        figures.addWidget(self.kappa_value, 1, 0)
        figures.addWidget(self.f1_value, 1, 1)
        figures.addWidget(_muted(KAPPA_TEXT, self), 2, 0)
        figures.addWidget(_muted(SPAN_F1_TEXT, self), 2, 1)
        figures.setColumnStretch(0, 1)
        figures.setColumnStretch(1, 1)
        self.table = QTableWidget(0, 3, self)
        self.table.setHorizontalHeaderLabels(["Label", "Kappa", "Span F1"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setShowGrid(False)
        self.table.setFrameShape(QFrame.Shape.NoFrame)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.status = _muted(
            "Set an overlap share so that some sentences go to two annotators; then compare them here.", self
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(pick)
        layout.addLayout(figures)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)

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

    def _request(self) -> None:
        self.compare_requested.emit(self.first.currentText(), self.second.currentText())

    def show_result(
        self,
        kappa: float | None,
        span_f1: float | None,
        per_label: Mapping[str, tuple[float | None, float | None]],
        sentences: int,
        labels: Sequence[str] = (),
    ) -> None:
        """Overall kappa and span F1, then per label (kappa, span F1); `sentences` both labelled."""
        self.kappa_value.setText("–" if kappa is None else f"{kappa:.2f}")
        self.f1_value.setText("–" if span_f1 is None else f"{100 * span_f1:.1f} %")
        order = [label for label in labels if label in per_label]
        order += sorted(label for label in per_label if label not in order)
        self.table.setRowCount(len(order))
        for row, label in enumerate(order):
            label_kappa, label_f1 = per_label[label]
            name = QTableWidgetItem(label)
            name.setForeground(
                label_colour(list(labels).index(label) if label in labels else row).darker(115)
            )
            self.table.setItem(row, 0, name)
            for column, text in (
                (1, "–" if label_kappa is None else f"{label_kappa:.2f}"),
                (2, "–" if label_f1 is None else f"{100 * label_f1:.1f} %"),
            ):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        self.status.setText(
            f"On the {sentences:,} sentence{'s' if sentences != 1 else ''} both annotators labelled."
            if sentences
            else "These two annotators have no sentence in common yet: set an overlap share."
        )

    def show_message(self, text: str) -> None:
        self.kappa_value.setText("–")
        self.f1_value.setText("–")
        self.table.setRowCount(0)
        self.status.setText(text)
