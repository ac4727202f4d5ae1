"""Shared fixtures: every test gets its own Lantern home folder and, on request, a fresh store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_URL_ENV = "LANTERN_TEST_POSTGRES_URL"


@pytest.fixture(autouse=True)
def lantern_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep settings, logs, databases and artifacts of each test in its own folder."""
    home = tmp_path / "lantern-home"
    monkeypatch.setenv("LANTERN_HOME", str(home))
    monkeypatch.delenv("LANTERN_DATABASE_URL", raising=False)
    return home


@pytest.fixture
def store(lantern_home: Path) -> Iterator[object]:
    """A migrated SQLite store in the test's home folder."""
    from engine.store import open_store

    opened = open_store()
    yield opened
    opened.close()


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_URL_ENV) or None
