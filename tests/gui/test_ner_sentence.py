"""The sentence editor: suggestions with their confidence, labelling, removing and relabelling spans,
suggestions taken or dismissed, undo of every edit, mouse drag selection, wrapping, and the tooltips."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QUndoStack

from engine.ner.types import Sentence, Span
from gui.widgets.ner_sentence import (
    EditorState,
    LabelLegend,
    SentenceEditor,
    suggestions_from_prediction,
)

LABELS = ["PER", "LOC", "ORG", "MISC"]
TOKENS = ("Barack", "Obama", "visited", "New", "York", "with", "Google", "staff", "today")
PREDICTED = ("B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "B-ORG", "O", "O")
CONFIDENCE = (0.9, 0.8, 0.99, 0.7, 0.5, 0.95, 0.6, 0.4, 0.97)


@pytest.fixture
def editor(qtbot) -> SentenceEditor:  # type: ignore[no-untyped-def]
    widget = SentenceEditor()
    qtbot.addWidget(widget)
    widget.undo_stack = QUndoStack(widget)
    widget.set_labels(LABELS)
    widget.set_sentence(Sentence(TOKENS, None, 7), predicted_tags=PREDICTED, confidences=CONFIDENCE)
    widget.resize(900, 200)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_suggestions_carry_the_mean_token_probability() -> None:
    found = suggestions_from_prediction(PREDICTED, CONFIDENCE)
    assert [s.span for s in found] == [Span(0, 2, "PER"), Span(3, 5, "LOC"), Span(6, 7, "ORG")]
    assert [round(s.confidence, 3) for s in found] == [0.85, 0.6, 0.6]
    assert suggestions_from_prediction(None, None) == []


def test_extending_the_selection_and_labelling_makes_exactly_that_span(editor: SentenceEditor) -> None:
    editor.move_cursor(2)
    editor.move_cursor(1, extend=True)
    assert editor.selection() == (2, 4)
    assert editor.label_selection(3)
    # The new MISC span over tokens 2-3 replaces nothing of the annotator's, and hides the LOC suggestion it
    # overlaps (the annotator's spans win over suggestions).
    assert editor.spans == (Span(2, 4, "MISC"),)
    assert [s.span for s in editor.visible_suggestions()] == [Span(0, 2, "PER"), Span(6, 7, "ORG")]
    assert editor.tags() == ("O", "O", "B-MISC", "I-MISC", "O", "O", "O", "O", "O")
    assert editor.selection() == (3, 4)  # the cursor rests on the span's last token


def test_a_label_key_on_a_span_relabels_the_whole_span(editor: SentenceEditor) -> None:
    editor.set_selection(0, 2)
    editor.label_selection(0)
    editor.move_cursor(-1)  # one token, inside the PER span
    assert editor.label_selection(2)
    assert editor.spans == (Span(0, 2, "ORG"),)
    # On a suggestion, a label key takes its extent with the chosen label.
    editor.set_selection(4, 5)
    assert editor.label_selection(1)
    assert editor.spans == (Span(0, 2, "ORG"), Span(3, 5, "LOC"))
    assert not editor.label_selection(1)  # the same label again changes nothing
    assert not editor.label_selection(9)  # no tenth label


def test_backspace_removes_a_span_then_dismisses_suggestions(editor: SentenceEditor) -> None:
    editor.set_selection(7, 9)
    editor.label_selection(1)
    assert editor.spans == (Span(7, 9, "LOC"),)
    editor.move_cursor(0)
    assert editor.remove_at_cursor()
    assert editor.spans == ()
    editor.set_selection(6, 7)
    assert editor.remove_at_cursor()  # no span of the annotator's there: the ORG suggestion goes
    assert [s.span.label for s in editor.visible_suggestions()] == ["PER", "LOC"]
    assert not editor.remove_at_cursor()


def test_every_edit_is_undone_and_redone_through_the_undo_stack(editor: SentenceEditor) -> None:
    stack = editor.undo_stack
    assert stack is not None
    editor.set_selection(2, 4)
    editor.label_selection(0)
    editor.set_selection(0, 1)
    editor.remove_at_cursor()  # dismisses the PER suggestion
    assert stack.count() == 2
    after = editor.state
    stack.undo()
    assert editor.state == EditorState((Span(2, 4, "PER"),))
    stack.undo()
    assert editor.state == EditorState()
    stack.redo()
    stack.redo()
    assert editor.state == after
    assert after.dismissed == frozenset({Span(0, 2, "PER")})


def test_undo_of_an_edit_to_a_sentence_no_longer_shown_changes_nothing(editor: SentenceEditor) -> None:
    editor.set_selection(0, 1)
    editor.label_selection(1)
    editor.set_sentence(Sentence(("Other", "text"), None, 8))
    editor.undo_stack.undo()
    assert editor.sentence.id == 8 and editor.spans == ()


def test_taking_suggestions_one_or_all(editor: SentenceEditor) -> None:
    editor.set_selection(3, 4)
    editor.remove_at_cursor()
    assert editor.tags_with_suggestions() == ("B-PER", "I-PER", "O", "O", "O", "O", "B-ORG", "O", "O")
    assert editor.take_suggestion(Span(6, 7, "ORG"))
    assert editor.spans == (Span(6, 7, "ORG"),)
    assert editor.take_all_suggestions()
    assert editor.spans == (Span(0, 2, "PER"), Span(6, 7, "ORG"))
    assert not editor.take_all_suggestions()


def test_dragging_over_tokens_selects_them(qtbot, editor: SentenceEditor) -> None:  # type: ignore[no-untyped-def]
    start = editor.token_rect(3).center().toPoint()
    end = editor.token_rect(5).center().toPoint()
    qtbot.mousePress(editor, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(editor, end)
    qtbot.mouseRelease(editor, Qt.MouseButton.LeftButton, pos=end)
    assert editor.selection() == (3, 6)
    assert editor.hasFocus()


def test_clicking_a_suggestions_badge_takes_it(qtbot, editor: SentenceEditor) -> None:  # type: ignore[no-untyped-def]
    badge = editor._placed.badges[(Span(6, 7, "ORG"), True)]
    qtbot.mouseClick(editor, Qt.MouseButton.LeftButton, pos=badge.center().toPoint())
    assert editor.spans == (Span(6, 7, "ORG"),)


def test_long_sentences_wrap_and_the_height_follows(qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = SentenceEditor()
    qtbot.addWidget(widget)
    widget.set_labels(LABELS)
    widget.set_sentence(Sentence(tuple(f"token{i}" for i in range(40)), None, 1))
    narrow, wide = widget.heightForWidth(400), widget.heightForWidth(1600)
    assert narrow > wide >= widget.minimumSizeHint().height()
    widget.resize(400, narrow)
    lines = {widget.token_rect(i).top() for i in range(40)}
    assert len(lines) > 3
    assert all(widget.token_rect(i).right() <= 400 for i in range(40))


def test_tooltips_give_the_models_tag_and_probability(editor: SentenceEditor) -> None:
    text = editor.tooltip_at(editor.token_rect(4).center())
    assert "York" in text and "Model: I-LOC with probability 50%" in text
    unsure = editor.tooltip_at(editor.token_rect(7).center())
    assert "Model: O with probability 40%" in unsure and "unsure" in unsure
    assert editor.tooltip_at(QPointF(-50, -50)) == ""


def test_legend_buttons_label_the_selection(qtbot) -> None:  # type: ignore[no-untyped-def]
    legend = LabelLegend()
    qtbot.addWidget(legend)
    legend.set_labels(LABELS, ["1", "2", "3", "4"])
    assert [b.text() for b in legend.buttons] == ["1  PER", "2  LOC", "3  ORG", "4  MISC"]
    assert all(b.focusPolicy() == Qt.FocusPolicy.NoFocus for b in legend.buttons)
    with qtbot.waitSignal(legend.label_clicked) as signal:
        qtbot.mouseClick(legend.buttons[2], Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert signal.args == [2]
