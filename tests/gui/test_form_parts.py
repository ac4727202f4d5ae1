"""The small parts the workspace panels share: cells, spin boxes, refilled combos, the error line, sending a
form, and the form laid out beside its results."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QScrollArea, QSplitter, QWidget

from engine.core.errors import LanternError
from gui.widgets.form_parts import (
    ErrorLabel,
    error_text,
    fill_choices,
    form_beside,
    muted_label,
    send_form,
    spin_box,
    table_item,
)


def test_cells_are_read_only_and_carry_their_value() -> None:
    item = table_item("72.4 %", 0.724, right=True)
    assert not item.flags() & Qt.ItemFlag.ItemIsEditable
    assert item.data(Qt.ItemDataRole.UserRole) == 0.724
    assert item.textAlignment() == int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    plain = table_item("bank")
    assert plain.data(Qt.ItemDataRole.UserRole) is None


def test_spin_box_range_value_tip_and_separators(qapp) -> None:  # type: ignore[no-untyped-def]
    small = spin_box(1, 64, 4, "views per image")
    assert (small.minimum(), small.maximum(), small.value(), small.toolTip()) == (1, 64, 4, "views per image")
    assert not small.isGroupSeparatorShown()
    assert spin_box(0, 10_000, 10, "").isGroupSeparatorShown()


def test_fill_choices_keeps_the_choice_or_takes_the_first_enabled(qapp) -> None:  # type: ignore[no-untyped-def]
    box = QComboBox()
    changes: list[int] = []
    box.currentIndexChanged.connect(changes.append)
    fill_choices(box, [("A", "a", "", False), ("B", "b", "the B", True), ("C", "c", "", True)])
    assert box.currentData() == "b" and changes == []  # no change signal while refilling
    assert not box.model().item(0).isEnabled() and box.model().item(1).isEnabled()
    assert box.itemData(1, Qt.ItemDataRole.ToolTipRole) == "the B"
    assert box.itemData(2, Qt.ItemDataRole.ToolTipRole) is None
    box.setCurrentIndex(2)
    fill_choices(box, [("B", "b", "", True), ("C", "c", "", True)])
    assert box.currentData() == "c"
    fill_choices(box, [("D", "d", "", True)])
    assert box.currentData() == "d"


def test_error_label_shows_what_and_hint_then_hides(qapp) -> None:  # type: ignore[no-untyped-def]
    label = ErrorLabel()
    assert label.isHidden()
    error = LanternError("no dataset is chosen", "dataset", "wait for the datasets to be listed")
    label.show_error(error)
    assert not label.isHidden()
    assert label.text() == error_text(error) == "no dataset is chosen (wait for the datasets to be listed)"
    label.show_error(None)
    assert label.isHidden() and label.text() == ""
    assert error_text(LanternError("bad", "here")) == "bad"


class _Form(QObject):
    sent = Signal(dict)


def test_send_form_emits_what_it_read_or_shows_why_not(qapp) -> None:  # type: ignore[no-untyped-def]
    form = _Form()
    received: list[dict] = []
    shown: list[LanternError | None] = []
    form.sent.connect(received.append)
    assert send_form(lambda: {"k": 4}, shown.append, form.sent) == {"k": 4}
    assert received == [{"k": 4}] and shown == [None]

    def refuse() -> dict:
        raise LanternError("k is too large", "k", "lower K")

    assert send_form(refuse, shown.append, form.sent) is None
    assert received == [{"k": 4}] and shown[-1] is not None and shown[-1].what == "k is too large"


def test_form_beside_puts_the_form_in_a_bounded_scroll_on_the_left(qapp) -> None:  # type: ignore[no-untyped-def]
    panel, form, right = QWidget(), QWidget(), QWidget()
    splitter = form_beside(panel, form, right, 330, 420)
    assert isinstance(splitter, QSplitter) and splitter.parent() is panel
    scroll = splitter.widget(0)
    assert isinstance(scroll, QScrollArea) and scroll.widget() is form
    assert (scroll.minimumWidth(), scroll.maximumWidth()) == (330, 420)
    assert splitter.widget(1) is right and not splitter.childrenCollapsible()
    label = muted_label("caption", panel)
    assert isinstance(label, QLabel) and label.property("role") == "muted" and label.wordWrap()
