"""User settings: a versioned, validated model stored as JSON in the user's config folder."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.core import paths
from engine.core.errors import SettingsError

SETTINGS_VERSION = 1
DATABASE_URL_ENV = "LANTERN_DATABASE_URL"

DevicePreference = Literal["auto", "cuda", "mps", "cpu"]


class Settings(BaseModel):
    """Everything a user can set. Unknown keys are rejected so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    version: int = SETTINGS_VERSION
    device: DevicePreference = "auto"
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; empty means SQLite in the data folder"
    )
    data_dir: str | None = Field(default=None, description="folder for the database and artifacts")
    half_precision: bool = Field(default=True, description="use bf16/fp16 on GPUs where it pays")

    @field_validator("database_url", "data_dir")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if isinstance(value, str) else value

    def resolved_data_dir(self) -> Path:
        path = Path(self.data_dir).expanduser() if self.data_dir else paths.data_dir()
        path.mkdir(parents=True, exist_ok=True)
        return path

    def resolved_database_url(self) -> str:
        """The URL in force: the environment wins, then the settings, then SQLite in the data folder."""
        env = os.environ.get(DATABASE_URL_ENV, "").strip()
        if env:
            return env
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir() / 'lantern.db'}"

    def artifacts_dir(self) -> Path:
        path = self.resolved_data_dir() / "artifacts"
        path.mkdir(parents=True, exist_ok=True)
        return path


def settings_path() -> Path:
    return paths.config_dir() / "settings.json"


def _migrate(document: dict, path: Path | None = None) -> dict:
    """Bring an older settings document up to SETTINGS_VERSION (version 0 had no 'version' key)."""
    where = str(path or settings_path())
    version = document.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise SettingsError(
            f"the settings file has an invalid version ({version!r})",
            where,
            'set "version" to a whole number, or delete the file to start with defaults',
        )
    if version > SETTINGS_VERSION:
        raise SettingsError(
            f"settings were written by a newer Lantern (version {version}, this one reads "
            f"{SETTINGS_VERSION})",
            where,
            "upgrade Lantern, or move the file aside to start with defaults",
        )
    if version == 0:
        document = {**document, "version": 1}
    return document


def load_settings(path: Path | None = None) -> Settings:
    """Read the settings file; a missing file gives the defaults, a broken one a SettingsError."""
    path = path or settings_path()
    if not path.exists():
        return Settings()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SettingsError(
            f"the settings file cannot be read: {exc}", str(path), "fix the JSON or delete the file"
        ) from exc
    if not isinstance(document, dict):
        raise SettingsError("the settings file must hold a JSON object", str(path), "delete the file")
    try:
        return Settings.model_validate(_migrate(document, path))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SettingsError(
            f"the settings file has invalid values ({problems})", str(path), "correct or remove those keys"
        ) from exc


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write atomically so a crash mid-write never leaves a half file."""
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique temporary name, so two processes saving at once never write into the same file.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(settings.model_dump_json(indent=2))
            handle.flush()
            os.fsync(handle.fileno())  # the bytes reach the disk before the rename makes them the settings
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
