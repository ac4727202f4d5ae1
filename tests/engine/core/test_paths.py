"""Where Lantern keeps files: under LANTERN_HOME when set, the platform's user folders otherwise."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from engine.core import paths


def test_lantern_home_holds_data_logs_and_config(lantern_home: Path) -> None:
    assert paths.data_dir() == lantern_home / "data"
    assert paths.log_dir() == lantern_home / "logs"
    assert paths.config_dir() == lantern_home / "config"
    for folder in ("data", "logs", "config"):
        assert (lantern_home / folder).is_dir()  # created on first use


def test_lantern_home_expands_the_user_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(paths.HOME_ENV, "~/portable")
    assert paths.data_dir() == tmp_path / "portable" / "data"


def test_without_lantern_home_the_platform_folders_are_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the XDG variables below are how Linux chooses user folders")
    monkeypatch.delenv(paths.HOME_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    assert paths.data_dir() == tmp_path / "xdg-data" / "lantern"
    assert paths.config_dir() == tmp_path / "xdg-config" / "lantern"
    assert paths.log_dir().is_relative_to(tmp_path / "xdg-state" / "lantern")
    assert paths.data_dir().is_dir() and paths.log_dir().is_dir()


def test_assets_sit_beside_the_packages_in_a_checkout() -> None:
    assert paths.assets_dir() == Path(__file__).resolve().parents[3] / "assets"


def test_assets_come_from_the_bundle_when_frozen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert paths.assets_dir() == tmp_path / "assets"
