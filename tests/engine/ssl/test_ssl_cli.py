"""`lantern ssl experiment`: runs the job in-process, prints rows and summary as JSON or a table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.core.errors import LanternError
from engine.ssl.cli import add_ssl_commands

torch.set_num_threads(1)


pytestmark = pytest.mark.usefixtures("fast_judge")  # banks score with the small judge (conftest)


CONFIG = {
    "name": "cli test",
    "limit": 64,
    "arms": [0.0],
    "controls": ["identity"],
    "seeds": [0, 1],
    "generator": {"name": "identity", "checkpoint": None, "settings": {}},
    "k": 1,
    "ssl": {"epochs": 1, "batch_size": 32, "width": 4, "blocks": [1, 1], "warmup_epochs": 0},
    "probe_epochs": 5,
}


def _lantern(*argv: str) -> int:
    """The `ssl` commands as engine/cli.py mounts them."""
    parser = argparse.ArgumentParser(prog="lantern")
    add_ssl_commands(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    return args.handler(args)


def _write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(document))
    return path


def test_json_output_has_rows_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, CONFIG)
    assert _lantern("ssl", "experiment", "--config", str(path), "--json") == 0
    printed = json.loads(capsys.readouterr().out)
    rows, summary = printed["rows"], printed["summary"]
    assert [(r["arm"], r["seed"]) for r in rows] == [
        ("p=0", 0),
        ("control: identity", 0),
        ("p=0", 1),
        ("control: identity", 1),
    ]
    assert all(isinstance(r["run_id"], int) and 0.0 <= r["linear_top1"] <= 1.0 for r in rows)
    assert rows[0]["epoch_losses"] == rows[1]["epoch_losses"]  # the identity control matches p = 0
    assert [(s["arm"], s["seeds"]) for s in summary] == [("p=0", 2), ("control: identity", 2)]
    assert summary[0]["linear_top1_std"] is not None and summary[1]["linear_top1_delta"] == 0.0
    assert printed["experiment"] == printed["job"]

    from engine.store import open_store

    store = open_store()
    try:
        job = store.jobs.get(printed["job"])
        assert (job.name, job.status) == ("ssl.experiment", "done")
        assert [run.name for run in store.runs.for_job(job.id)] == [
            "simclr p=0 seed 0",
            "simclr control: identity seed 0",
            "simclr p=0 seed 1",
            "simclr control: identity seed 1",
        ]
    finally:
        store.close()


def test_text_output_is_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, {**CONFIG, "seeds": [0], "controls": []})
    assert _lantern("ssl", "experiment", "--config", str(path), "--name", "mine") == 0
    out = capsys.readouterr().out.splitlines()
    assert (
        out[0].startswith("experiment #")
        and "'mine': 1 runs (1 trained, 0 resumed), draw per_image" in out[0]
    )
    assert out[1].split()[:3] == ["METHOD", "ARM", "SEEDS"]
    assert out[2].split()[:3] == ["simclr", "p=0", "1"]


def test_a_bad_config_stores_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path, {**CONFIG, "arms": [0.0, 3.0]})
    with pytest.raises(LanternError, match=r"arm p = 3\.0 is outside"):
        _lantern("ssl", "experiment", "--config", str(path), "--json")
    from engine.store import open_store

    store = open_store()
    try:
        assert store.jobs.list() == []
    finally:
        store.close()


def test_the_examples_parse_and_a_missing_file_is_clear(tmp_path: Path) -> None:
    with pytest.raises(LanternError, match="does not exist"):
        _lantern("ssl", "experiment", "--config", str(tmp_path / "nope.json"))
    with pytest.raises(SystemExit):
        _lantern("ssl", "experiment")  # --config is required
