"""The Settings dialog: inline validation, atomic save through engine.core.settings, the restart note, and a
connection test that runs off the GUI thread and never creates or changes a database file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox

from engine.core.settings import Settings, load_settings, settings_path
from gui.settings_dialog import DEVICES, SettingsDialog, check_data_dir, check_database_url


def make_dialog(qtbot, settings: Settings | None = None) -> SettingsDialog:  # type: ignore[no-untyped-def]
    dialog = SettingsDialog(settings or Settings())
    qtbot.addWidget(dialog)
    return dialog


def save_button(dialog: SettingsDialog):  # type: ignore[no-untyped-def]
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Save)


def test_url_and_folder_checks(tmp_path: Path) -> None:
    assert check_database_url("") == ""
    assert check_database_url("sqlite:////tmp/x.db") == ""
    assert check_database_url("postgresql+psycopg://me@host/lantern") == ""
    assert check_database_url("not a url").startswith("not a database URL")
    assert (
        check_database_url("mysql://me@host/db")
        == "'mysql' databases are not supported: use SQLite or PostgreSQL"
    )
    assert check_database_url("sqlite://").startswith("a SQLite URL needs a file")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert check_data_dir("") == ""
    assert check_data_dir(str(tmp_path / "new" / "folder")) == ""
    assert check_data_dir("relative/path") == "use an absolute path (or start with ~)"
    assert check_data_dir(str(a_file)) == "this is a file, not a folder"


def test_invalid_values_show_inline_and_block_save(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dialog = make_dialog(qtbot)
    dialog.show()
    assert [dialog.device.itemText(i) for i in range(dialog.device.count())] == list(DEVICES)
    assert save_button(dialog).isEnabled() and dialog.database_error.isHidden()
    dialog.database_url.setText("mysql://me@host/db")
    assert dialog.database_error.isVisible()
    assert "not supported" in dialog.database_error.text()
    assert not save_button(dialog).isEnabled() and not dialog.test_button.isEnabled()
    dialog.save()  # refused: nothing is written
    assert dialog.result() != QDialog.DialogCode.Accepted and not settings_path().exists()
    dialog.database_url.setText("")
    (tmp_path / "taken").write_text("x")
    dialog.data_dir.setText(str(tmp_path / "taken"))
    assert dialog.data_dir_error.text() == "this is a file, not a folder"
    assert not save_button(dialog).isEnabled()


def test_save_writes_settings_and_notes_when_a_restart_is_needed(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dialog = make_dialog(qtbot)
    dialog.device.setCurrentText("cpu")
    dialog.half_precision.setChecked(False)
    assert not dialog.restart_required
    url = f"sqlite:///{tmp_path / 'team.db'}"
    dialog.database_url.setText(url)
    dialog.data_dir.setText(str(tmp_path / "data"))
    assert dialog.restart_required
    dialog.save()
    assert dialog.result() == QDialog.DialogCode.Accepted
    expected = Settings(device="cpu", half_precision=False, database_url=url, data_dir=str(tmp_path / "data"))
    assert dialog.saved_settings == expected
    assert load_settings() == expected


def test_connection_test_reports_success_in_the_background(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "good.db"
    sqlite3.connect(database).close()
    dialog = make_dialog(qtbot)
    dialog.database_url.setText(f"sqlite:///{database}")
    dialog.start_connection_test()
    assert dialog.test_result.text() == "Testing the connection…"  # the GUI thread did not wait for it
    assert not dialog.test_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.testing, timeout=10_000)
    assert dialog.test_result.text().startswith("✓ Connected to sqlite 3.")
    assert dialog.test_button.isEnabled()


def test_connection_test_on_a_damaged_or_missing_file_changes_nothing(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "databases"
    folder.mkdir()
    damaged = folder / "damaged.db"
    damaged.write_bytes(b"this is not a database" * 100)
    before = damaged.read_bytes()
    dialog = make_dialog(qtbot)
    dialog.database_url.setText(f"sqlite:///{damaged}")
    dialog.start_connection_test()
    qtbot.waitUntil(lambda: not dialog.testing, timeout=10_000)
    assert dialog.test_result.text().startswith("✗ ")
    assert "not a database" in dialog.test_result.text()
    assert damaged.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["damaged.db"]  # no -wal / -shm left behind

    missing = folder / "later" / "new.db"
    dialog.database_url.setText(f"sqlite:///{missing}")
    dialog.start_connection_test()
    qtbot.waitUntil(lambda: not dialog.testing, timeout=10_000)
    assert (
        dialog.test_result.text()
        == f"✓ {missing} does not exist yet; Lantern will create it on the next start."
    )
    assert not missing.parent.exists()
