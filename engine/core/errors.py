"""Errors that tell the user what went wrong, where, and what to do about it."""

from __future__ import annotations


class LanternError(Exception):
    """An error a user can act on: what happened, where, and what to do.

    The CLI prints it and exits non-zero; the GUI shows it in the notification area.
    """

    def __init__(self, what: str, where: str = "", hint: str = "") -> None:
        self.what = what
        self.where = where
        self.hint = hint
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = self.what
        if self.where:
            text += f"\n  where: {self.where}"
        if self.hint:
            text += f"\n  what to do: {self.hint}"
        return text

    def to_dict(self) -> dict[str, str]:
        return {"what": self.what, "where": self.where, "hint": self.hint, "type": type(self).__name__}


class SettingsError(LanternError):
    """The settings file is unreadable or holds invalid values."""


class StoreError(LanternError):
    """The database cannot be opened, migrated or written."""


class DatabaseUnreachable(StoreError):
    """A database server named by the URL does not answer."""


class CorruptDatabase(StoreError):
    """The database file exists but is not a readable database."""


class ArtifactMissing(StoreError):
    """An artifact's file was deleted or changed behind the store's back."""


class SpecError(LanternError):
    """A job spec names an unknown job, has unknown fields, or values of the wrong type."""


class JobCancelled(Exception):  # named for what it signals: control flow, not an error
    """Raised inside a job when the user asked it to stop; the runner records 'cancelled'."""
