"""registered_class imports the class a "module:Class" entry names, and refuses unknown names clearly."""

from __future__ import annotations

from collections import OrderedDict

import pytest

from engine.core.errors import LanternError
from engine.core.lazy_registry import registered_class

REGISTRY = {"ordered": "collections:OrderedDict", "error": "engine.core.errors:LanternError"}


def test_an_entry_is_imported_by_name() -> None:
    assert registered_class(REGISTRY, "ordered", "thing", "thing name") is OrderedDict
    assert registered_class(REGISTRY, "error", "thing", "thing name") is LanternError


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(LanternError, match="unknown thing 'nope'") as caught:
        registered_class(REGISTRY, "nope", "thing", "thing name")
    assert caught.value.where == "thing name" and caught.value.hint == "choose one of: ordered, error"
