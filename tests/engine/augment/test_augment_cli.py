"""`lantern augment ...` end to end: datasets, a scored view grid as PNG, a bank built in-process as a job
(then listed, and refused when resumed with other parameters), and bad input exiting 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from engine import cli
from engine.augment.cli import CAPTION_H, CELL_SCALE, add_augment_commands, parse_settings
from engine.core.errors import LanternError


@pytest.fixture(autouse=True)
def small(monkeypatch: pytest.MonkeyPatch, fast_judge: Any) -> None:
    torch.set_num_threads(1)
    original = cli.build_parser

    def build() -> Any:
        # Until engine/cli.py adds the augment commands itself, add them here the same way.
        parser = original()
        commands = parser._subparsers._group_actions[0]  # type: ignore[union-attr]
        if "augment" not in commands.choices:
            add_augment_commands(commands)
        return parser

    monkeypatch.setattr(cli, "build_parser", build)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_datasets_lists_the_bundled_subset(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["augment", "datasets", "--json"], capsys)
    entries = json.loads(out)
    assert code == 0 and entries[0]["name"] == "fashion-mnist-demo" and entries[0]["train"] == 6000
    code, out, _ = run(["augment", "datasets"], capsys)
    assert code == 0 and "fashion-mnist-demo" in out and "6000" in out


def test_views_writes_a_grid_and_reports_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    grid = tmp_path / "grid.png"
    argv = ["augment", "views", "--dataset", "fashion-mnist-demo", "--index", "5", "--generator", "identity"]
    code, out, _ = run([*argv, "--count", "3", "--seed", "2", "--out", str(grid), "--json"], capsys)
    report = json.loads(out)
    assert code == 0 and report["grid"] == str(grid)
    assert [v["seed"] for v in report["views"]] == [2, 3, 4]
    assert all(v["similarity"] == pytest.approx(1.0, abs=1e-4) for v in report["views"])
    assert report["summary"]["diversity"] == pytest.approx(0.0, abs=1e-5)
    with Image.open(grid) as image:
        cell = 28 * CELL_SCALE
        assert image.size == (4 * (cell + 6) + 6, cell + CAPTION_H + 12)
    code, out, _ = run([*argv, "--count", "2"], capsys)
    assert code == 0 and "SIMILARITY" in out and "mean similarity 1.000" in out


def test_bank_builds_in_process_as_a_job_and_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["augment", "bank", "--dataset", "fashion-mnist-demo", "--generator", "identity", "--k", "2"]
    code, out, err = run([*argv, "--limit", "6", "--json"], capsys)
    result = json.loads(out)
    assert code == 0, err
    assert result["views"] == 12 and result["summary"]["similarity_mean"] == pytest.approx(1.0, abs=1e-4)
    bank_id = result["bank_id"]
    code, out, _ = run(["augment", "banks", "--json"], capsys)
    [row] = json.loads(out)
    assert row["id"] == bank_id and row["status"] == "complete" and row["images"] == 6
    code, out, _ = run(["jobs", "list", "--json"], capsys)
    [job] = json.loads(out)
    assert job["name"] == "augment.bank" and job["status"] == "done" and job["result"]["bank_id"] == bank_id
    code, out, _ = run(["augment", "bank", "--resume", str(bank_id)], capsys)
    assert code == 0 and f"bank #{bank_id}" in out and "label kept" in out
    code, _, err = run(["augment", "bank", "--resume", str(bank_id), "--k", "3"], capsys)
    assert code == 2 and "other parameters: k 3 (the bank has 2)" in err
    code, out, _ = run(["augment", "banks"], capsys)
    assert code == 0 and "identity" in out and "100%" in out


def test_bad_input_exits_2_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    views = ["augment", "views", "--dataset", "fashion-mnist-demo", "--generator", "identity"]
    code, _, err = run([*views, "--index", "999999"], capsys)
    assert code == 2 and "out of range" in err
    code, _, err = run([*views, "--index", "0", "--set", "steps"], capsys)
    assert code == 2 and "is not name=value" in err
    code, _, err = run(["augment", "bank", "--generator", "nope", "--k", "2", "--limit", "4"], capsys)
    assert code == 2 and "unknown generator 'nope'" in err
    code, _, err = run(["augment", "bank", "--k", "99"], capsys)
    assert code == 2 and "'k'" in err
    code, _, err = run(["augment", "banks"], capsys)
    assert code == 0 and "no banks yet" in err


def test_parse_settings_reads_numbers() -> None:
    assert parse_settings(["steps=10", "guidance=2.5"]) == {"steps": 10, "guidance": 2.5}
    with pytest.raises(LanternError, match="must be a number"):
        parse_settings(["guidance=high"])
