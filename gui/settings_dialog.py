"""The Settings dialog: device, database URL (with a connection test off the GUI thread), data folder."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from pydantic import ValidationError
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from engine.core.errors import LanternError
from engine.core.settings import DATABASE_URL_ENV, Settings, save_settings
from engine.store.database import create_db_engine
from gui.style import LEVEL_COLORS, MUTED, STATUS_COLORS

DEVICES = ("auto", "cuda", "mps", "cpu")
SUPPORTED_BACKENDS = ("sqlite", "postgresql")


def check_database_url(url: str) -> str:
    """'' when the URL can be used, else why not (shown under the field)."""
    if not url.strip():
        return ""
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        return "not a database URL: use sqlite:///path/to/file.db or postgresql+psycopg://user@host/dbname"
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        return f"'{backend}' databases are not supported: use SQLite or PostgreSQL"
    if backend == "sqlite" and not parsed.database:
        return "a SQLite URL needs a file: sqlite:///path/to/file.db"
    return ""


def check_data_dir(folder: str) -> str:
    if not folder.strip():
        return ""
    path = Path(folder.strip()).expanduser()
    if not path.is_absolute():
        return "use an absolute path (or start with ~)"
    if path.exists() and not path.is_dir():
        return "this is a file, not a folder"
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None or not os.access(existing, os.W_OK):
        return f"cannot create or write in {existing or path}"
    return ""


def test_connection(url: str) -> tuple[bool, str]:
    """Connect once and run SELECT 1; never creates a missing SQLite file. Returns (ok, message)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        if not path.exists():
            return True, f"{path} does not exist yet; Lantern will create it on the next start."
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            version = ".".join(str(part) for part in engine.dialect.server_version_info or ())
        return True, f"Connected to {engine.dialect.name} {version}".strip()
    finally:
        engine.dispose()


class _TestSignals(QObject):
    finished = Signal(bool, str)


class _ConnectionTest(QRunnable):
    def __init__(self, url: str, signals: _TestSignals) -> None:
        super().__init__()
        self._url, self._signals = url, signals

    def run(self) -> None:
        try:
            ok, message = test_connection(self._url)
        except LanternError as exc:
            ok, message = False, exc.what + (f" — {exc.hint}" if exc.hint else "")
        except Exception as exc:  # any driver error is a failed test, shown to the user, not a crash
            first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            ok, message = False, f"{type(exc).__name__}: {first[0] if first else ''}"
        # The dialog may have been closed while the test ran; then nobody is waiting for the answer.
        with contextlib.suppress(RuntimeError):
            self._signals.finished.emit(ok, message)


def _error_label() -> QLabel:
    label = QLabel()
    label.setStyleSheet(f"color: {LEVEL_COLORS['error']};")
    label.setWordWrap(True)
    label.hide()
    return label


def _stacked(row: QHBoxLayout, *messages: QLabel) -> QVBoxLayout:
    column = QVBoxLayout()
    column.setSpacing(4)
    column.addLayout(row)
    for message in messages:
        column.addWidget(message)
    return column


class SettingsDialog(QDialog):
    """Edits a copy of the settings; Save validates, writes them atomically and keeps the result."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        self.original = settings
        self.saved_settings: Settings | None = None
        self._signals = _TestSignals(self)
        self._signals.finished.connect(self._connection_tested)
        self.testing = False

        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device.setCurrentText(settings.device)
        self.device.setToolTip("auto: CUDA when present, else Apple MPS, else the CPU")
        self.half_precision = QCheckBox("Use half precision (bf16/fp16) on GPUs where it pays")
        self.half_precision.setChecked(settings.half_precision)

        self.database_url = QLineEdit(settings.database_url or "")
        self.database_url.setPlaceholderText("empty: the embedded SQLite store in the data folder")
        self.database_url.setClearButtonEnabled(True)
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.start_connection_test)
        self.test_result = QLabel()
        self.test_result.setWordWrap(True)
        self.test_result.hide()
        self.database_error = _error_label()
        self.env_note = QLabel(
            f"{DATABASE_URL_ENV} is set in the environment and overrides this setting."
            if os.environ.get(DATABASE_URL_ENV, "").strip()
            else ""
        )
        self.env_note.setStyleSheet(f"color: {LEVEL_COLORS['warning']};")
        self.env_note.setVisible(bool(self.env_note.text()))

        self.data_dir = QLineEdit(settings.data_dir or "")
        self.data_dir.setPlaceholderText(str(Settings(data_dir=None).resolved_data_dir()))
        self.data_dir.setClearButtonEnabled(True)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.data_dir_error = _error_label()

        self.restart_note = QLabel("Changes to the database or the data folder take effect after a restart.")
        self.restart_note.setWordWrap(True)
        self.restart_note.setStyleSheet(f"color: {MUTED};")

        url_row = QHBoxLayout()
        url_row.addWidget(self.database_url, 1)
        url_row.addWidget(self.test_button)
        dir_row = QHBoxLayout()
        dir_row.addWidget(self.data_dir, 1)
        dir_row.addWidget(browse)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("Device", self.device)
        form.addRow("", self.half_precision)
        # Messages sit under their field and take no room while hidden.
        form.addRow("Database URL", _stacked(url_row, self.database_error, self.test_result, self.env_note))
        form.addRow("Data folder", _stacked(dir_row, self.data_dir_error))

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addSpacing(6)
        layout.addWidget(self.restart_note)
        layout.addWidget(self.buttons)

        self.database_url.textChanged.connect(self._validate_live)
        self.data_dir.textChanged.connect(self._validate_live)
        self._validate_live()

    @property
    def restart_required(self) -> bool:
        """Whether the edited database URL or data folder differ from the settings in force."""
        edited = (self.database_url.text().strip() or None, self.data_dir.text().strip() or None)
        return edited != (self.original.database_url, self.original.data_dir)

    def _validate_live(self) -> bool:
        problems = {
            self.database_error: check_database_url(self.database_url.text()),
            self.data_dir_error: check_data_dir(self.data_dir.text()),
        }
        for label, problem in problems.items():
            label.setText(problem)
            label.setVisible(bool(problem))
        self.test_result.clear()
        self.test_result.hide()
        self.test_button.setEnabled(not problems[self.database_error] and not self.testing)
        self.restart_note.setStyleSheet(
            f"color: {LEVEL_COLORS['warning'] if self.restart_required else MUTED};"
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(not any(problems.values()))
        return not any(problems.values())

    def edited_settings(self) -> Settings:
        """The settings as edited; raises pydantic's ValidationError for values the model refuses."""
        return Settings.model_validate(
            {
                **self.original.model_dump(),
                "device": self.device.currentText(),
                "half_precision": self.half_precision.isChecked(),
                "database_url": self.database_url.text(),
                "data_dir": self.data_dir.text(),
            }
        )

    def save(self) -> None:
        if not self._validate_live():
            return
        try:
            settings = self.edited_settings()
        except ValidationError as exc:
            self.database_error.setText("; ".join(e["msg"] for e in exc.errors()))
            self.database_error.show()
            return
        try:
            save_settings(settings)
        except OSError as exc:
            self.data_dir_error.setText(f"the settings could not be written: {exc}")
            self.data_dir_error.show()
            return
        self.saved_settings = settings
        self.accept()

    def start_connection_test(self) -> None:
        url = self.database_url.text().strip() or f"sqlite:///{self._data_dir_for_test() / 'lantern.db'}"
        self.testing = True
        self.test_button.setEnabled(False)
        self.test_result.setStyleSheet(f"color: {MUTED};")
        self.test_result.setText("Testing the connection…")
        self.test_result.show()
        QThreadPool.globalInstance().start(_ConnectionTest(url, self._signals))

    def _data_dir_for_test(self) -> Path:
        folder = self.data_dir.text().strip()
        return Path(folder).expanduser() if folder else Settings(data_dir=None).resolved_data_dir()

    def _connection_tested(self, ok: bool, message: str) -> None:
        self.testing = False
        self.test_button.setEnabled(not check_database_url(self.database_url.text()))
        self.test_result.setStyleSheet(f"color: {STATUS_COLORS['done'] if ok else LEVEL_COLORS['error']};")
        self.test_result.setText(("✓ " if ok else "✗ ") + message)

    def _browse(self) -> None:
        start = self.data_dir.text().strip() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Choose the data folder", start)
        if folder:
            self.data_dir.setText(folder)
