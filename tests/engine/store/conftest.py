"""Store fixtures run on both backends: a SQLite file and a fresh schema on a real PostgreSQL server."""

from store_backends import any_store, backend, postgres_store_url, store_url  # noqa: F401 - fixtures
