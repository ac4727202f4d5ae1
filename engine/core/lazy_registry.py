"""Registries of "module:Class" strings: a class is imported on first use, so listing names needs no torch."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from engine.core.errors import LanternError


def registered_class(registry: Mapping[str, str], name: str, what: str, where: str) -> Any:
    """The class `registry[name]` names, imported now; an unknown name is a LanternError listing the known
    ones ("unknown {what} 'name'")."""
    if name not in registry:
        raise LanternError(f"unknown {what} '{name}'", where, f"choose one of: {', '.join(registry)}")
    module_name, class_name = registry[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)
