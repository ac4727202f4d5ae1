"""`lantern attribution ...` end to end: run (--json), leaderboard, CSV, list, preview, explore, errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from engine.cli import main

TINY = {
    "name": "cli tiny",
    "base": {"limit": 200},
    "manipulations": [{"name": "centre_brightness", "strength": 0.5}],
    "runs": 1,
    "model": {"width": 8, "depth": 1},
    "train": {"max_epochs": 5, "min_accuracy": 0.85, "lr": 0.01},
    "methods": ["saliency", "gradcam"],
    "n_explain": 8,
    "n_gallery": 2,
}


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # spawned job workers read it at start


def write(path: Path, document: dict) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_run_leaderboard_csv_and_list(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = write(tmp_path / "tiny.json", TINY)
    assert main(["attribution", "run", "--config", str(config), "--json"]) == 0
    result = json.loads(capfd.readouterr().out)
    run_id = result["run_id"]
    assert result["replicates"] == 1 and result["methods"] == ["saliency", "gradcam"]
    assert result["pass_rates"] == [
        {
            "manipulation": "centre_brightness",
            "strength": 0.5,
            "r": 0.5,
            "passed": result["passed"],
            "total": 1,
            "rate": float(result["passed"]),
        }
    ]
    if result["passed"]:
        assert {row["method"] for row in result["leaderboard"]["all"]} == {"saliency", "gradcam"}
        assert Path(result["gallery_path"]).is_file()

    assert main(["attribution", "leaderboard", str(run_id)]) == 0
    out = capfd.readouterr().out
    assert "METHOD" in out and "centre_brightness" in out and "passed runs" in out
    assert f"{result['passed']}/1" in out
    if result["passed"]:
        assert "saliency" in out and "±" in out

    target = tmp_path / "board.csv"
    assert (
        main(["attribution", "leaderboard", str(run_id), "--metric", "auroc", "--csv", str(target), "--json"])
        == 0
    )
    board = json.loads(capfd.readouterr().out)
    assert board["metric"] == "auroc" and board["run_id"] == run_id
    rows = list(csv.DictReader(target.open()))
    assert all(row["metric"] == "auroc" and row["bound"] == "" for row in rows)
    assert len(rows) == (6 if result["passed"] else 0) or len(rows) >= 2  # 2 methods x 3 conditions

    assert main(["attribution", "list", "--json"]) == 0
    [listed] = json.loads(capfd.readouterr().out)
    assert listed["run_id"] == run_id and listed["name"] == "cli tiny" and listed["replicates"] == 1


def test_bad_input_is_refused_before_anything_is_stored(
    capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cases = [
        ({**TINY, "manipulations": [{"name": "pixelate"}]}, "unknown image manipulation 'pixelate'"),
        ({**TINY, "methods": ["shapley"]}, "unknown attribution method 'shapley'"),
        ({**TINY, "model": {"name": "vgg"}}, "unknown image model 'vgg'"),
        ({**TINY, "r": 2}, "r must lie in [0, 1]"),
        ({**TINY, "train": {"min_accuracy": 0.5}}, "must exceed p* = 0.500"),
        ({**TINY, "epochs": 3}, "unknown key 'epochs'"),
    ]
    for document, message in cases:
        config = write(tmp_path / "bad.json", document)
        assert main(["attribution", "run", "--config", str(config)]) == 2
        err = capfd.readouterr().err
        assert message in err and str(config) in err and "what to do:" in err
    config = write(tmp_path / "ok.json", TINY)
    assert main(["attribution", "sweep", "--config", str(config), "--over", "r", "--values", "0.5,1.3"]) == 2
    assert "r must lie in [0, 1]" in capfd.readouterr().err
    assert main(["attribution", "sweep", "--config", str(config), "--over", "r", "--values", "a,b"]) == 2
    assert "must be numbers" in capfd.readouterr().err
    assert main(["attribution", "leaderboard", "77"]) == 2
    assert "not an attribution experiment" in capfd.readouterr().err
    assert main(["jobs", "list", "--json"]) == 0
    assert json.loads(capfd.readouterr().out) == []  # nothing was stored


def test_preview_writes_a_grid(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "preview.png"
    argv = ["attribution", "preview", "--manipulation", "watermark", "--out", str(out), "--count", "4"]
    assert main([*argv, "--limit", "60"]) == 0
    assert "region" in capfd.readouterr().err
    with Image.open(out) as image:
        # 4 columns of 28x28 cells at 4x with 4 px gaps, 3 rows under a 14 px header.
        assert image.size == (4 * (112 + 4) + 4, 14 + 3 * (112 + 4) + 4)
    assert main(["attribution", "preview", "--manipulation", "blur", "--out", str(out)]) == 2
    assert "unknown image manipulation 'blur'" in capfd.readouterr().err
    assert (
        main(["attribution", "preview", "--manipulation", "watermark", "--r", "1.5", "--out", str(out)]) == 2
    )
    assert "r must lie in [0, 1]" in capfd.readouterr().err


def test_explore_prints_top_classes(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from test_explore import tiny_hf_classifier

    folder = tiny_hf_classifier(tmp_path / "tiny")
    argv = ["attribution", "explore", "coffee", "rocket", "--model", str(folder), "--top-k", "2"]
    assert main([*argv, "--json", "--out", str(tmp_path / "maps")]) == 0
    result = json.loads(capfd.readouterr().out)
    assert [r["name"] for r in result["results"]] == ["coffee", "rocket"]
    assert all(len(r["top_k"]) == 2 and r["map_max"] >= 0 for r in result["results"])
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == [
        "coffee-saliency.png",
        "rocket-saliency.png",
    ]
    assert main([*argv]) == 0
    assert "PROBABILITY" in capfd.readouterr().out
    assert main(["attribution", "explore", "nothing-here.png", "--model", str(folder)]) == 2
    assert "neither an image file nor a demo image" in capfd.readouterr().err


@pytest.mark.parametrize("action", ["run", "sweep", "leaderboard", "list", "preview", "explore"])
def test_every_attribution_command_prints_its_help(action: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["attribution", action, "--help"]) == 0
    assert "usage: lantern attribution" in capsys.readouterr().out


def test_the_job_is_listed_with_plain_defaults(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["jobs", "types", "--json"]) == 0
    listing = {entry["job"]: entry for entry in json.loads(capfd.readouterr().out)}
    fields = {field["name"]: field for field in listing["attribution.experiment"]["fields"]}
    assert listing["attribution.experiment"]["resumable"] is True
    assert fields["runs"]["default"] == 3 and fields["base"]["default"] == {}


def test_an_r_sweep_board_shows_each_points_bound() -> None:
    from engine.attribution.cli import board_table

    rows = [
        {
            "manipulation": "watermark",
            "method": "saliency",
            "mean": 0.6,
            "std": 0.01,
            "n_runs": 2,
            "region_share": 0.43,
            "bound": 1.5 - max(r, 1 - r),
            "r": r,
            "strength": 1.0,
        }
        for r in (0.5, 0.7, 0.9)
    ]
    headers, body = board_table(rows, [], "r")
    assert headers == ["METHOD", "watermark r=0.5", "watermark r=0.7", "watermark r=0.9"]
    bound = next(line for line in body if line[0].startswith("bound"))
    assert bound[1:] == ["1.000", "0.800", "0.600"]
