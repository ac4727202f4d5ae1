"""Settings: defaults, the JSON round trip, versioning, bad files, the database URL in force, atomic saves."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.core import settings as settings_module
from engine.core.errors import SettingsError
from engine.core.settings import (
    DATABASE_URL_ENV,
    SETTINGS_VERSION,
    Settings,
    load_settings,
    save_settings,
    settings_path,
)


def _write(path: Path, document: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_defaults_when_there_is_no_file(lantern_home: Path) -> None:
    loaded = load_settings()
    assert loaded == Settings()
    assert (loaded.version, loaded.device, loaded.half_precision) == (SETTINGS_VERSION, "auto", True)
    assert loaded.database_url is None and loaded.data_dir is None
    assert settings_path() == lantern_home / "config" / "settings.json"
    assert not settings_path().exists()  # reading never creates the file


def test_save_then_load_round_trips(lantern_home: Path) -> None:
    chosen = Settings(device="cpu", database_url="postgresql+psycopg://ann@db/lantern", half_precision=False)
    path = save_settings(chosen)
    assert path == settings_path()
    assert json.loads(path.read_text(encoding="utf-8"))["device"] == "cpu"
    assert load_settings() == chosen


def test_an_explicit_path_is_used_for_load_and_save(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "my-settings.json"
    save_settings(Settings(device="mps"), path)
    assert load_settings(path).device == "mps"


def test_an_unknown_key_is_refused_by_name(tmp_path: Path) -> None:
    path = _write(tmp_path / "settings.json", {"version": 1, "devcie": "cpu"})
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert "devcie" in caught.value.what
    assert caught.value.where == str(path)
    with pytest.raises(ValueError, match="devcie"):
        Settings(devcie="cpu")  # type: ignore[call-arg]


def test_an_invalid_value_names_the_key(tmp_path: Path) -> None:
    path = _write(tmp_path / "settings.json", {"version": 1, "device": "tpu"})
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert "device" in caught.value.what and "invalid values" in caught.value.what
    assert caught.value.hint == "correct or remove those keys"


@pytest.mark.parametrize("content", ['{"device": "cpu",', "", "\x00\x01binary", "[1, 2]", '"cpu"'])
def test_a_broken_file_is_a_settings_error_naming_the_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert caught.value.where == str(path)
    assert str(path) in str(caught.value)
    assert "delete the file" in caught.value.hint
    assert path.read_text(encoding="utf-8") == content  # a bad file is reported, never rewritten


def test_undecodable_bytes_are_a_settings_error(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(SettingsError, match="cannot be read"):
        load_settings(path)


def test_a_folder_in_place_of_the_file_is_a_settings_error(tmp_path: Path) -> None:
    (tmp_path / "settings.json").mkdir()
    with pytest.raises(SettingsError, match="cannot be read"):
        load_settings(tmp_path / "settings.json")


def test_settings_from_a_newer_lantern_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "settings.json", {"version": SETTINGS_VERSION + 1, "device": "cpu"})
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert f"version {SETTINGS_VERSION + 1}" in caught.value.what
    assert caught.value.where == str(path)  # the file that was read, not the default location
    assert "upgrade Lantern" in caught.value.hint


@pytest.mark.parametrize("version", ["1", 1.5, -1, None, True])
def test_a_version_that_is_not_a_whole_number_is_refused(tmp_path: Path, version: object) -> None:
    path = _write(tmp_path / "settings.json", {"version": version})
    with pytest.raises(SettingsError, match="invalid version") as caught:
        load_settings(path)
    assert caught.value.where == str(path)


def test_version_0_settings_are_migrated(tmp_path: Path) -> None:
    path = _write(tmp_path / "settings.json", {"device": "cpu", "half_precision": False})
    loaded = load_settings(path)
    assert (loaded.version, loaded.device, loaded.half_precision) == (1, "cpu", False)
    path = _write(tmp_path / "explicit.json", {"version": 0, "database_url": "sqlite:///x.db"})
    assert load_settings(path).database_url == "sqlite:///x.db"


def test_blank_strings_mean_unset(lantern_home: Path) -> None:
    loaded = Settings(database_url="   ", data_dir="")
    assert loaded.database_url is None and loaded.data_dir is None


def test_the_database_url_defaults_to_sqlite_in_the_data_folder(lantern_home: Path) -> None:
    assert Settings().resolved_database_url() == f"sqlite:///{lantern_home / 'data' / 'lantern.db'}"


def test_a_data_dir_setting_moves_the_database_and_artifacts(tmp_path: Path) -> None:
    chosen = Settings(data_dir=str(tmp_path / "mine"))
    assert chosen.resolved_database_url() == f"sqlite:///{tmp_path / 'mine' / 'lantern.db'}"
    assert chosen.artifacts_dir() == tmp_path / "mine" / "artifacts"
    assert chosen.artifacts_dir().is_dir()


def test_the_environment_url_wins_over_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = Settings(database_url="sqlite:////from/settings.db")
    assert chosen.resolved_database_url() == "sqlite:////from/settings.db"
    monkeypatch.setenv(DATABASE_URL_ENV, "  postgresql+psycopg://env@host/db  ")
    assert chosen.resolved_database_url() == "postgresql+psycopg://env@host/db"
    monkeypatch.setenv(DATABASE_URL_ENV, "   ")  # blank is unset
    assert chosen.resolved_database_url() == "sqlite:////from/settings.db"


def test_saving_replaces_the_file_in_one_step_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    save_settings(Settings(device="cpu"), path)
    save_settings(Settings(device="cuda"), path)
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]
    assert load_settings(path).device == "cuda"


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_save_that_fails_midway_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    path = tmp_path / "settings.json"
    save_settings(Settings(device="cpu"), path)
    before = path.read_bytes()

    def crash(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(settings_module.os, failing, crash)
    with pytest.raises(OSError, match="No space left"):
        save_settings(Settings(device="cuda"), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]
    assert load_settings(path).device == "cpu"


def test_the_saved_file_is_the_models_json(tmp_path: Path) -> None:
    path = save_settings(Settings(device="cpu"), tmp_path / "s.json")
    assert json.loads(path.read_text(encoding="utf-8")) == Settings(device="cpu").model_dump()
    assert os.stat(path).st_size > 0


def test_assignment_is_validated(lantern_home: Path) -> None:
    chosen = Settings()
    with pytest.raises(ValueError, match="device"):
        chosen.device = "abacus"  # type: ignore[assignment]
