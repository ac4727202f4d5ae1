"""Config documents from .json and .toml files, and a clear message for each way a file can fail."""

from __future__ import annotations

import pytest

from engine.core.config_files import read_config_document
from engine.core.errors import LanternError


def test_json_and_toml_give_the_same_document(tmp_path) -> None:
    (tmp_path / "a.json").write_text('{"name": "x", "ppo": {"lr": 0.001}}')
    (tmp_path / "a.toml").write_text('name = "x"\n[ppo]\nlr = 0.001\n')
    assert read_config_document(tmp_path / "a.json") == read_config_document(tmp_path / "a.toml")


@pytest.mark.parametrize(
    ("name", "text", "what"),
    [
        ("bad.json", '{"name": "x",\n "lr": }', "not valid JSON: Expecting value (line 2, column 8)"),
        ("bad.toml", "name = = 1", "not valid TOML"),
        ("bytes.json", b"\xff\xfe\x00", "cannot be read"),
    ],
)
def test_a_broken_file_is_named_with_what_is_wrong(tmp_path, name, text, what) -> None:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(LanternError) as info:
        read_config_document(path)
    assert what in info.value.what and info.value.where == str(path)


def test_a_missing_file_says_so(tmp_path) -> None:
    with pytest.raises(LanternError, match="does not exist"):
        read_config_document(tmp_path / "nope.json")
