"""NER store tests run on both backends, with the same fixtures as tests/engine/store."""

from store_backends import any_store, backend, postgres_store_url, store_url  # noqa: F401 - fixtures
