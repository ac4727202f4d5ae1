"""The shared page header: icon, title and subtitle in one row, with room for a page's own widgets."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from gui.widgets.page_header import page_header


def test_header_row_holds_icon_title_and_a_stretching_subtitle(qtbot) -> None:  # type: ignore[no-untyped-def]
    page = QWidget()
    qtbot.addWidget(page)
    row, subtitle = page_header(page, "relational", "Relational", "what the page is for")
    labels = [row.itemAt(i).widget() for i in range(row.count())]
    assert all(isinstance(label, QLabel) for label in labels) and len(labels) == 3
    assert not labels[0].pixmap().isNull() and labels[1].text() == "Relational"
    assert labels[1].property("role") == "title" and subtitle.property("role") == "muted"
    assert subtitle is labels[2] and subtitle.wordWrap() and row.stretch(2) == 1
    _, empty = page_header(page, "annotate", "Annotate")
    assert empty.text() == "" and not empty.wordWrap()  # filled in later by the page
