"""Checkpoints: one safetensors file that round-trips model, optimizer and meta exactly, and no pickle."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from engine.core.checkpoint import load_checkpoint, save_checkpoint
from engine.core.errors import LanternError


def trained_pair(steps: int = 3) -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.8, 0.95))
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(torch.randn(16, 4)), torch.randint(0, 3, (16,)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model, optimizer


META = {
    "epoch": 3,
    "model": {"channels": [16, 32], "hidden": 64},
    "name": "ünïcode",
    "loss": 0.125,
    "ok": True,
}


def test_round_trip_is_exact_for_model_optimizer_and_meta(tmp_path: Path):
    model, optimizer = trained_pair()
    path = save_checkpoint(tmp_path / "c.safetensors", model.state_dict(), optimizer.state_dict(), META)
    assert path == tmp_path / "c.safetensors"
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]  # one file, no leftovers

    loaded = load_checkpoint(path)
    assert loaded.meta == META
    original = model.state_dict()
    assert loaded.model_state.keys() == original.keys()
    for key, tensor in original.items():
        assert loaded.model_state[key].dtype == tensor.dtype  # num_batches_tracked stays int64
        assert torch.equal(loaded.model_state[key], tensor), key

    expected = optimizer.state_dict()
    assert loaded.optimizer_state is not None
    assert loaded.optimizer_state["param_groups"] == expected["param_groups"]
    assert loaded.optimizer_state["param_groups"][0]["betas"] == (0.8, 0.95)  # a tuple again
    assert loaded.optimizer_state["state"].keys() == expected["state"].keys()  # int keys stay int
    for index, state in expected["state"].items():
        for name, value in state.items():
            assert torch.equal(loaded.optimizer_state["state"][index][name], value), (index, name)


def test_a_restored_optimizer_continues_exactly_like_the_original(tmp_path: Path):
    model, optimizer = trained_pair()
    path = save_checkpoint(tmp_path / "c.safetensors", model.state_dict(), optimizer.state_dict(), {})
    twin, twin_optimizer = trained_pair(steps=0)
    loaded = load_checkpoint(path)
    twin.load_state_dict(loaded.model_state)
    twin_optimizer.load_state_dict(loaded.optimizer_state)
    batch, target = torch.randn(16, 4), torch.randint(0, 3, (16,))
    for net, opt in ((model, optimizer), (twin, twin_optimizer)):
        opt.zero_grad()
        nn.functional.cross_entropy(net(batch), target).backward()
        opt.step()
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a, b)


def test_the_file_is_plain_safetensors_with_prefixed_keys_and_json_metadata(tmp_path: Path):
    model, optimizer = trained_pair()
    path = save_checkpoint(tmp_path / "c.safetensors", model.state_dict(), optimizer.state_dict(), META)
    header_size = struct.unpack("<Q", path.read_bytes()[:8])[0]
    header = json.loads(path.read_bytes()[8 : 8 + header_size])  # safetensors: a JSON header, then raw data
    assert header["__metadata__"]["lantern.format"] == "lantern-checkpoint"
    assert json.loads(header["__metadata__"]["lantern.meta"]) == META
    with safe_open(str(path), framework="pt") as handle:
        keys = set(handle.keys())
    assert {f"model/{k}" for k in model.state_dict()} <= keys
    assert "optimizer/state.0.exp_avg" in keys
    assert b"\x80\x04" not in path.read_bytes()[: 8 + header_size]  # no pickle protocol marker


def test_no_optimizer_state_loads_as_none_and_nan_meta_survives(tmp_path: Path):
    model, _ = trained_pair(steps=0)
    path = save_checkpoint(tmp_path / "c.safetensors", model.state_dict(), None, {"loss": math.nan})
    loaded = load_checkpoint(path)
    assert loaded.optimizer_state is None
    assert math.isnan(loaded.meta["loss"])


def test_tied_weights_are_saved(tmp_path: Path):
    embedding = nn.Embedding(10, 4)
    head = nn.Linear(4, 10, bias=False)
    head.weight = embedding.weight  # shared storage, which safetensors refuses as such
    state = {"embedding.weight": embedding.weight, "head.weight": head.weight}
    loaded = load_checkpoint(save_checkpoint(tmp_path / "tied.safetensors", state, None, {}))
    assert torch.equal(loaded.model_state["embedding.weight"], loaded.model_state["head.weight"])


@pytest.mark.parametrize("cut", [0, 5, 8, 200, -10])
def test_a_truncated_file_is_a_clear_error(tmp_path: Path, cut: int):
    model, optimizer = trained_pair()
    path = save_checkpoint(tmp_path / "c.safetensors", model.state_dict(), optimizer.state_dict(), META)
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(LanternError) as caught:
        load_checkpoint(path)
    assert "cannot be read" in caught.value.what
    assert caught.value.where == str(path)
    assert "damaged" in caught.value.hint


def test_a_garbled_header_is_a_clear_error(tmp_path: Path):
    model, _ = trained_pair(steps=0)
    path = save_checkpoint(tmp_path / "c.safetensors", model.state_dict(), None, META)
    data = bytearray(path.read_bytes())
    data[12:20] = b"########"
    path.write_bytes(bytes(data))
    with pytest.raises(LanternError) as caught:
        load_checkpoint(path)
    assert caught.value.where == str(path)


def test_a_foreign_safetensors_file_is_refused(tmp_path: Path):
    path = tmp_path / "weights.safetensors"
    save_file({"weight": torch.ones(2)}, str(path))
    with pytest.raises(LanternError) as caught:
        load_checkpoint(path)
    assert "not a Lantern checkpoint" in caught.value.what


def test_a_missing_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(LanternError) as caught:
        load_checkpoint(tmp_path / "absent.safetensors")
    assert "does not exist" in caught.value.what


def test_bad_meta_is_refused_and_the_existing_file_is_left_intact(tmp_path: Path):
    model, optimizer = trained_pair()
    path = save_checkpoint(tmp_path / "c.safetensors", model.state_dict(), optimizer.state_dict(), META)
    before = path.read_bytes()
    with pytest.raises(LanternError) as caught:
        save_checkpoint(path, model.state_dict(), None, {"when": object()})
    assert "JSON" in caught.value.what
    with pytest.raises(LanternError) as caught:
        save_checkpoint(path, model.state_dict(), {"state": {0: {"f": object()}}}, {})
    assert "state.0.f" in caught.value.what
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]
