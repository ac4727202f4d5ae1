"""RL agent checkpoints: a round trip keeps weights, meta and optimiser state; every bad file is refused
with a LanternError that names the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.core.checkpoint import load_checkpoint, save_checkpoint
from engine.core.errors import LanternError
from engine.rl.agents import agent_state, build_agent
from engine.rl.checkpoints import (
    RL_FORMAT,
    load_agent_checkpoint,
    load_training_checkpoint,
    save_agent_checkpoint,
)

TINY = {"blocks": 1, "heads": 1, "key_dim": 8, "mlp_width": 16, "head_width": 16}
ENV = {"kind": "boxworld", "boxworld": {"size": 4}}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_agent(seed: int = 0, **overrides: int):
    torch.manual_seed(seed)
    return build_agent("relational", obs_shape=(6, 6, 3), n_actions=4, **{**TINY, **overrides})


def observations(n: int = 3) -> torch.Tensor:
    return torch.randint(0, 256, (n, 6, 6, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


def test_a_round_trip_keeps_weights_meta_and_optimiser_state(tmp_path: Path) -> None:
    agent = tiny_agent()
    optimiser = torch.optim.Adam(agent.parameters(), lr=1e-3)
    out = agent(observations())
    (out.logits.sum() + out.value.sum()).backward()
    optimiser.step()
    path = save_agent_checkpoint(
        tmp_path / "a.safetensors",
        agent,
        extra_meta={"env": ENV, "env_steps": 512, "eval": {"fraction_solved": 0.5}},
        optimizer_state=optimiser.state_dict(),
    )
    loaded, meta = load_agent_checkpoint(path)
    assert not loaded.training and type(loaded) is type(agent)
    assert meta["format"] == RL_FORMAT and meta["agent"] == "relational" and meta["obs_shape"] == [6, 6, 3]
    assert meta["n_actions"] == 4 and meta["config"]["key_dim"] == 8 and meta["env_steps"] == 512
    assert meta["env"] == ENV and meta["eval"] == {"fraction_solved": 0.5}
    agent.eval()
    with torch.no_grad():
        assert torch.equal(loaded(observations()).logits, agent(observations()).logits)

    again, state, _ = load_training_checkpoint(path)
    resumed = torch.optim.Adam(again.parameters(), lr=1e-3)
    resumed.load_state_dict(state)
    first = next(iter(optimiser.state.values()))
    restored = next(iter(resumed.state.values()))
    assert float(restored["step"]) == 1.0 and torch.equal(restored["exp_avg"], first["exp_avg"])


def test_extra_meta_cannot_overwrite_the_agent_description(tmp_path: Path) -> None:
    with pytest.raises(LanternError, match="may not override agent"):
        save_agent_checkpoint(tmp_path / "a.safetensors", tiny_agent(), extra_meta={"agent": "baseline"})


def test_a_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nothing.safetensors"
    with pytest.raises(LanternError, match="does not exist") as caught:
        load_agent_checkpoint(path)
    assert caught.value.where == str(path)


def test_a_corrupt_file_names_the_path(tmp_path: Path) -> None:
    path = save_agent_checkpoint(tmp_path / "a.safetensors", tiny_agent(), extra_meta={"env": ENV})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a download or copy cut short
    with pytest.raises(LanternError, match="cannot be read") as caught:
        load_agent_checkpoint(path)
    assert caught.value.where == str(path) and caught.value.hint


def test_a_random_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "notes.safetensors"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(LanternError) as caught:
        load_agent_checkpoint(path)
    assert caught.value.where == str(path)


def test_plain_safetensors_weights_are_not_a_lantern_checkpoint(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    tensors, _ = agent_state(tiny_agent())
    path = tmp_path / "plain.safetensors"
    save_file(tensors, str(path))
    with pytest.raises(LanternError, match="not a Lantern checkpoint") as caught:
        load_agent_checkpoint(path)
    assert caught.value.where == str(path)


def test_a_lantern_checkpoint_of_something_else_is_refused(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "cnn.safetensors", {"w": torch.zeros(3)}, None, {"model": "small_cnn"})
    with pytest.raises(LanternError, match="not of an RL agent") as caught:
        load_agent_checkpoint(path)
    assert caught.value.where == str(path)


def test_tensors_that_do_not_fit_the_meta_are_refused(tmp_path: Path) -> None:
    # The weights of a key_dim 8 agent, with meta that says key_dim 16: another agent's shape.
    path = save_agent_checkpoint(tmp_path / "a.safetensors", tiny_agent(), extra_meta={"env": ENV})
    stored = load_checkpoint(path)
    meta = {**stored.meta, "config": {**stored.meta["config"], "key_dim": 16}}
    save_checkpoint(path, stored.model_state, None, meta)
    with pytest.raises(LanternError, match="do not fit a relational agent") as caught:
        load_agent_checkpoint(path)
    assert caught.value.where == str(path) and "wrong shape" in caught.value.what

    # A tensor left out is named too.
    partial = {k: v for k, v in stored.model_state.items() if not k.startswith("head.")}
    save_checkpoint(path, partial, None, stored.meta)
    with pytest.raises(LanternError, match="missing") as caught:
        load_agent_checkpoint(path)
    assert caught.value.where == str(path)


def test_an_unknown_agent_name_in_the_meta_names_the_path(tmp_path: Path) -> None:
    path = save_agent_checkpoint(tmp_path / "a.safetensors", tiny_agent(), extra_meta={"env": ENV})
    stored = load_checkpoint(path)
    save_checkpoint(path, stored.model_state, None, {**stored.meta, "agent": "transformer"})
    with pytest.raises(LanternError, match="unknown agent 'transformer'") as caught:
        load_agent_checkpoint(path)
    assert caught.value.where == str(path)
