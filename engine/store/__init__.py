"""The one store: SQLAlchemy models, database opening and migration, artifacts, and queries."""

from engine.store.database import Store, open_store

__all__ = ["Store", "open_store"]
