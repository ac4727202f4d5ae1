"""Reading a config document from a .json or .toml file, with a clear message for every way it can fail."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from engine.core.errors import LanternError


def read_config_document(path: Path | str) -> Any:
    """The parsed document of a .toml file, or of any other file as JSON."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise LanternError("the config file does not exist", str(path), "check the path") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise LanternError(f"the config file cannot be read ({exc})", str(path), "check the file") from exc
    try:
        return tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except json.JSONDecodeError as exc:
        raise LanternError(
            f"the config file is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            str(path),
            "fix the JSON, or write the config as TOML (.toml)",
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise LanternError(f"the config file is not valid TOML: {exc}", str(path), "fix the TOML") from exc
