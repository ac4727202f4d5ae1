"""The main window: five workspaces with Runs first, navigation by click and Ctrl+N, docks, menus, undo/redo
following the stack, engine errors reaching the notifications, and a layout that survives a restart."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import QLabel

from gui.app import create_main_window
from gui.main_window import LoadingPage, MainWindow
from gui.pages.annotate import AnnotatePage
from gui.pages.augment import AugmentPage
from gui.pages.runs import RunsPage
from gui.settings_dialog import SettingsDialog

WORKSPACES = ["Runs", "Augment", "Annotate", "Relational", "Attribution"]


def nav_titles(window: MainWindow) -> list[str]:
    return [window.navigation.item(row).text() for row in range(window.navigation.count())]


def test_window_lists_the_five_workspaces_with_runs_first_and_live(window: MainWindow) -> None:
    assert nav_titles(window) == WORKSPACES
    assert window.current_page_key() == "runs"
    assert isinstance(window.page("runs"), RunsPage)
    assert window.stack.currentWidget() is window.page("runs")
    assert isinstance(window.page("annotate"), AnnotatePage)
    for key in ("augment", "annotate", "relational", "attribution"):
        assert not window.navigation.item(list(window.pages()).index(key)).icon().isNull()
    assert isinstance(window.page("augment"), AugmentPage)
    assert window.windowTitle() == "Runs — Lantern"


def test_runs_page_is_built_right_after_the_first_paint(qtbot, services) -> None:  # type: ignore[no-untyped-def]
    window = create_main_window(services)
    assert not window.is_built("runs") and not window.is_built("augment")
    assert isinstance(window.stack.currentWidget(), LoadingPage)
    assert window.stack.currentWidget().text() == "Loading Runs…"
    assert "runs.filter" not in services.shortcuts.actions()
    window.show()
    qtbot.waitUntil(lambda: window.is_built("runs"), timeout=5000)
    assert isinstance(window.stack.currentWidget(), RunsPage)
    assert window.stack.count() == 5 and window.stack.indexOf(window.page("runs")) == 0
    assert "runs.filter" in services.shortcuts.actions()


def test_asking_for_a_page_builds_it_at_once(services) -> None:  # type: ignore[no-untyped-def]
    window = create_main_window(services)
    window.show_page("attribution")
    page = window.page("runs")
    assert isinstance(page, RunsPage) and window.is_built("runs")
    assert window.current_page_key() == "attribution"  # building did not change the page shown
    attribution = window.page("attribution")  # built on demand, in place of its stand-in
    assert window.stack.currentWidget() is attribution


def test_status_bar_shows_store_url_and_device_preference(window: MainWindow, services) -> None:  # type: ignore[no-untyped-def]
    assert window.store_label.text().startswith("Store: sqlite:///")
    assert window.store_label.toolTip() == services.store.display_url
    assert window.device_label.text() == "Device: auto · half precision"


def test_clicking_navigation_switches_page(window: MainWindow) -> None:
    window.navigation.setCurrentRow(3)
    assert window.stack.currentWidget() is window.page("relational")
    assert window.current_page_key() == "relational"
    assert window.windowTitle() == "Relational — Lantern"


def test_ctrl_number_keys_switch_pages(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    for number, key in [(2, "augment"), (5, "attribution"), (3, "annotate"), (1, "runs")]:
        qtbot.keyClick(
            window.navigation, Qt.Key(Qt.Key.Key_0.value + number), Qt.KeyboardModifier.ControlModifier
        )
        assert window.current_page_key() == key, f"Ctrl+{number}"


def test_show_page_and_add_page(window: MainWindow) -> None:
    extra = QLabel("extra")
    window.add_page("extra", "Extra", extra)
    assert nav_titles(window)[-1] == "Extra"
    assert window.services.shortcuts.shortcut("navigate.extra") == "Ctrl+6"
    window.show_page("extra")
    assert window.stack.currentWidget() is extra
    try:
        window.show_page("nowhere")
    except KeyError as exc:
        assert "nowhere" in str(exc)
    else:
        raise AssertionError("show_page accepted an unknown page")


def test_menus_hold_the_promised_actions(window: MainWindow) -> None:
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert list(menus) == ["File", "Edit", "View", "Help"]
    titles = {
        name: [a.text().replace("&", "") for a in menu.actions() if a.text()] for name, menu in menus.items()
    }
    assert titles["File"] == ["Settings…", "Quit"]
    assert titles["Edit"] == ["Undo", "Redo"]
    assert titles["View"][:2] == ["Jobs", "Notifications"]
    assert titles["Help"] == ["Keyboard shortcuts…", "About Lantern"]
    actions = window.services.shortcuts.actions()
    assert actions["app.quit"].shortcut().toString() == "Ctrl+Q"
    assert window.services.shortcuts.conflicts() == {}


def test_undo_and_redo_follow_the_stack(window: MainWindow) -> None:
    stack = window.services.undo_stack
    undone: list[str] = []

    class Rename(QUndoCommand):
        def undo(self) -> None:
            undone.append("undo")

        def redo(self) -> None:
            undone.append("redo")

    assert window.undo_action.shortcut().toString() == "Ctrl+Z"
    assert window.redo_action.shortcut().toString() == "Ctrl+Shift+Z"
    assert not window.undo_action.isEnabled() and not window.redo_action.isEnabled()
    stack.push(Rename("rename run"))
    assert window.undo_action.isEnabled() and not window.redo_action.isEnabled()
    assert window.undo_action.text().replace("&", "") == "Undo rename run"
    window.undo_action.trigger()
    assert undone == ["redo", "undo"]
    assert not window.undo_action.isEnabled() and window.redo_action.isEnabled()
    window.redo_action.trigger()
    assert undone == ["redo", "undo", "redo"]
    assert window.undo_action.isEnabled() and not window.redo_action.isEnabled()


def test_engine_error_event_reaches_notifications_dock_and_toast(qtbot, window: MainWindow, services) -> None:  # type: ignore[no-untyped-def]
    job_id = services.store.jobs.create("demo.train_classifier", {})
    payload = {
        "what": "the training data folder is empty",
        "where": "params: data_dir",
        "hint": "pick a folder with images",
        "error_type": "LanternError",
        "traceback": "Traceback (most recent call last):\n  ...",
    }
    services.jobs.error.emit(job_id, payload)
    notice = services.notifications.notices()[-1]
    assert (notice.level, notice.message) == ("error", "the training data folder is empty")
    assert notice.title == f"Job #{job_id} (demo.train_classifier) failed"
    assert (notice.where, notice.hint) == ("params: data_dir", "pick a folder with images")
    panel = window.notification_panel
    assert panel.list.item(0).text() == f"{notice.title}: the training data folder is empty"
    assert window.toast.isVisible()
    assert "the training data folder is empty" in window.toast.text()
    window.notifications_dock.hide()
    qtbot.mouseClick(window.toast, Qt.MouseButton.LeftButton)
    assert window.notifications_dock.isVisible()
    assert panel.list.currentItem() is panel.list.item(0)
    assert "pick a folder with images" in panel.details.toPlainText()


def test_settings_saved_from_the_window_update_the_status_bar(
    window: MainWindow, services, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    def accept_with_cpu(dialog: SettingsDialog) -> int:
        dialog.device.setCurrentText("cpu")
        dialog.half_precision.setChecked(False)
        dialog.save()
        return dialog.result()

    monkeypatch.setattr(SettingsDialog, "exec", accept_with_cpu)
    window.open_settings()
    assert services.settings.device == "cpu"
    assert window.device_label.text() == "Device: cpu · float32"


def test_geometry_docks_and_page_are_restored_after_restart(qtbot, window: MainWindow, services) -> None:  # type: ignore[no-untyped-def]
    window.resize(777, 655)  # inside the offscreen screen (800x800): restoreGeometry keeps windows on screen
    window.notifications_dock.hide()
    window.show_page("annotate")
    window.close()
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)

    again = MainWindow(services)
    again.show()
    qtbot.waitExposed(again)
    assert (again.width(), again.height()) == (777, 655)
    assert again.notifications_dock.isHidden()
    assert again.jobs_dock.isVisible()
    assert again.current_page_key() == "annotate"
