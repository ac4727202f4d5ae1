"""Every `lantern` command answers --help (a stray % in a help string breaks argparse at run time)."""

from __future__ import annotations

import pytest

from engine.cli import main

COMMANDS = [
    [],
    ["info"],
    ["jobs", "run"],
    ["jobs", "list"],
    ["jobs", "show"],
    ["jobs", "resume"],
    ["jobs", "cancel"],
    ["jobs", "types"],
    ["runs", "list"],
    ["runs", "export"],
    ["db", "upgrade"],
    ["db", "check"],
    ["ner", "simulate"],
    ["ner", "train"],
    ["ner", "corpora"],
    ["ner", "import"],
    ["ner", "export"],
    ["attribution", "run"],
    ["attribution", "sweep"],
    ["attribution", "leaderboard"],
    ["attribution", "list"],
    ["attribution", "preview"],
    ["attribution", "explore"],
    ["augment"],
    ["augment", "datasets"],
    ["augment", "views"],
    ["augment", "bank"],
    ["augment", "banks"],
    ["ssl", "experiment"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "lantern")
def test_every_command_prints_its_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main([*command, "--help"])
    except SystemExit as exit_info:  # argparse's own way out
        code = exit_info.code
    assert code == 0
    assert "usage:" in capsys.readouterr().out
