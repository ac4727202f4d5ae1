"""bench/augment.py runs end to end on a tiny UNet and reports consistent figures (not their size)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "bench" / "augment.py"


@pytest.fixture
def bench():
    spec = importlib.util.spec_from_file_location("bench_augment", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_augment"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    before = torch.get_num_threads()
    yield module
    torch.set_num_threads(before)
    sys.modules.pop("bench_augment", None)


def test_the_quick_bench_prints_a_table_and_writes_json(bench, tmp_path: Path, capsys) -> None:
    out = tmp_path / "bench.json"
    bench.main(["--quick", "--sources", "2", "--count", "2", "--unet-channels", "8,16,16", "--ssl-images",
                "32", "--json", str(out)])  # fmt: skip
    printed = capsys.readouterr().out
    assert "| views/s, bundled UNet" in printed and "eager diffusers loop" in printed and "SimCLR" in printed
    payload = json.loads(out.read_text())
    row = payload["rows"][0]
    assert (
        row["lantern"] > 0 and row["peer"] > 0 and row["ratio"] == pytest.approx(row["lantern"] / row["peer"])
    )
    # FLOP/s = views/s x FLOPs per view (4 DDIM steps, guidance 1: one forward per step).
    assert payload["model_flops_per_second"]["Lantern"] == pytest.approx(
        row["lantern"] * payload["flops_per_view"]
    )
    assert payload["matmul_flops_per_second"] > 0 and payload["ssl"]["images_per_second"] > 0


def test_the_paper_unet_has_the_issues_size(bench) -> None:
    model = bench.build_model("paper", "cpu")
    assert model.config.image_size == 32 and model.config.image_channels == 3
    assert 6.3e6 < model.parameter_count() < 6.7e6  # the issue's 6.5 M-parameter UNet at 32x32
    assert bench.unet_flops_per_row(model, "cpu") > 0
