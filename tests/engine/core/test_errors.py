"""Errors say what went wrong, where, and what to do, and survive the trip to another process."""

from __future__ import annotations

import pickle

import pytest

from engine.core.errors import (
    ArtifactMissing,
    CorruptDatabase,
    DatabaseUnreachable,
    JobCancelled,
    LanternError,
    SettingsError,
    SpecError,
    StoreError,
)


def test_the_message_has_what_where_and_what_to_do() -> None:
    error = LanternError("the file is damaged", "/data/lantern.db", "restore the backup")
    assert error.message == "the file is damaged\n  where: /data/lantern.db\n  what to do: restore the backup"
    assert str(error) == error.message
    assert error.where == "/data/lantern.db" and error.hint == "restore the backup"


def test_empty_parts_are_left_out_of_the_message() -> None:
    assert LanternError("just this").message == "just this"
    assert LanternError("no place", hint="try again").message == "no place\n  what to do: try again"
    assert LanternError("no hint", where="here").message == "no hint\n  where: here"


def test_to_dict_carries_the_parts_and_the_type() -> None:
    error = DatabaseUnreachable("no answer", "postgresql+psycopg://ann:***@db/x", "start the server")
    assert error.to_dict() == {
        "what": "no answer",
        "where": "postgresql+psycopg://ann:***@db/x",
        "hint": "start the server",
        "type": "DatabaseUnreachable",
    }


@pytest.mark.parametrize(
    ("error_type", "parent"),
    [
        (SettingsError, LanternError),
        (StoreError, LanternError),
        (SpecError, LanternError),
        (DatabaseUnreachable, StoreError),
        (CorruptDatabase, StoreError),
        (ArtifactMissing, StoreError),
    ],
)
def test_the_hierarchy_lets_callers_catch_broadly(error_type: type[LanternError], parent: type) -> None:
    assert issubclass(error_type, parent)
    with pytest.raises(LanternError):
        raise error_type("x", "y", "z")


def test_job_cancelled_is_a_signal_not_a_user_error() -> None:
    assert not issubclass(JobCancelled, LanternError)
    assert issubclass(JobCancelled, Exception)


@pytest.mark.parametrize("error_type", [LanternError, StoreError, CorruptDatabase, SettingsError])
def test_errors_pickle_with_all_their_parts(error_type: type[LanternError]) -> None:
    """Worker processes (spawn) hand errors back pickled; nothing may be lost on the way."""
    original = error_type("what happened", "where it did", "what to do")
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is error_type
    assert (copy.what, copy.where, copy.hint) == ("what happened", "where it did", "what to do")
    assert str(copy) == str(original)
