"""Notifications: engine error payloads, LanternErrors and plain exceptions become notices with what, where
and what to do; the panel lists them newest first with details; the toast announces errors only."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from engine.core.errors import StoreError
from gui.notifications import ErrorToast, NotificationCenter, NotificationPanel

ENGINE_ERROR = {
    "what": "the checkpoint does not match the model",
    "where": "job #4 (demo.train_classifier)",
    "hint": "start the run again without resuming",
    "error_type": "LanternError",
    "traceback": 'Traceback (most recent call last):\n  File "engine/demo/jobs.py", line 9\nLanternError: x',
}


def test_post_error_with_an_engine_error_dict_shows_what_where_and_hint(qtbot) -> None:  # type: ignore[no-untyped-def]
    center = NotificationCenter()
    panel = NotificationPanel(center)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(center.posted) as posted:
        notice = center.post_error(ENGINE_ERROR, title="Job #4 failed")
    assert posted.args == [notice]
    assert (notice.level, notice.title, notice.message) == ("error", "Job #4 failed", ENGINE_ERROR["what"])
    assert (notice.where, notice.hint, notice.details) == (
        ENGINE_ERROR["where"],
        ENGINE_ERROR["hint"],
        ENGINE_ERROR["traceback"],
    )
    assert panel.list.count() == 1
    assert panel.list.item(0).text() == "Job #4 failed: the checkpoint does not match the model"
    panel.list.setCurrentRow(0)
    details = panel.details.toPlainText()
    for text in (
        "the checkpoint does not match the model",
        "Where: job #4 (demo.train_classifier)",
        "What to do: start the run again without resuming",
        'File "engine/demo/jobs.py", line 9',
    ):
        assert text in details
    assert panel.summary.text() == "1 notice, 1 error"


def test_post_error_with_lantern_error_and_plain_exception() -> None:
    center = NotificationCenter()
    notice = center.post_error(
        StoreError("the database is locked", "/data/lantern.db", "close the other app")
    )
    assert (notice.title, notice.message, notice.where, notice.hint) == (
        "Error",
        "the database is locked",
        "/data/lantern.db",
        "close the other app",
    )
    assert notice.details == ""  # never raised: no traceback to show
    try:
        {}["missing"]
    except KeyError as exc:
        raised = center.post_error(exc, title="Unexpected error")
    assert raised.message == "KeyError: 'missing'"
    assert "Traceback (most recent call last)" in raised.details
    assert "raised = center.post_error" not in raised.details and '{}["missing"]' in raised.details
    assert [n.message for n in center.notices()] == ["the database is locked", "KeyError: 'missing'"]


def test_panel_lists_newest_first_and_clear_empties_it(qtbot) -> None:  # type: ignore[no-untyped-def]
    center = NotificationCenter()
    center.post("info", "Old", "first")
    panel = NotificationPanel(center)  # notices posted before the panel existed are shown too
    qtbot.addWidget(panel)
    center.post("warning", "Middle", "second")
    center.post("error", "New", "third\nmore lines")
    assert [panel.list.item(i).text() for i in range(3)] == ["New: third", "Middle: second", "Old: first"]
    assert panel.summary.text() == "3 notices, 1 error"
    assert panel.clear_button.isEnabled()
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert panel.list.count() == 0 and center.notices() == []
    assert panel.summary.text() == "0 notices"
    assert not panel.clear_button.isEnabled()


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown notice level 'fatal'"):
        NotificationCenter().post("fatal", "x", "y")


def test_toast_announces_errors_only_and_hides_itself(qtbot) -> None:  # type: ignore[no-untyped-def]
    center = NotificationCenter()
    toast = ErrorToast(center)
    toast._timer.setInterval(50)
    qtbot.addWidget(toast)
    center.post("info", "Saved", "settings saved")
    assert toast.isHidden()
    notice = center.post_error(ENGINE_ERROR, title="Job #4 failed")
    assert not toast.isHidden()
    assert toast.text() == "⚠  Job #4 failed: the checkpoint does not match the model"
    with qtbot.waitSignal(toast.clicked) as clicked:
        qtbot.mouseClick(toast, Qt.MouseButton.LeftButton)
    assert clicked.args == [notice]
    center.post("error", "Again", "x" * 300)
    assert len(toast.text()) == 110 and toast.text().endswith("…")
    qtbot.waitUntil(toast.isHidden, timeout=2000)
