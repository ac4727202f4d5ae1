"""The player's ops: rl.episode answers decode with numpy to the contract's shapes, agents stay cached,
bad checkpoints and requests are LanternErrors, and rl.checkpoints lists bundled and stored checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

import engine.rl.ops  # noqa: F401  (registers the ops, as OP_MODULES will in the server)
from engine.core.errors import LanternError
from engine.jobs.arrays import decode_array
from engine.jobs.interactive import _OPS, InteractiveEngine
from engine.rl.agents import build_agent
from engine.rl.boxworld.config import BoxWorldConfig
from engine.rl.boxworld.level import generate_level
from engine.rl.boxworld.palette import render
from engine.rl.checkpoints import save_agent_checkpoint

CFG = BoxWorldConfig(size=4, solution_length=1, distractors=0, max_steps=10)
TINY = {"blocks": 2, "heads": 1, "key_dim": 8, "mlp_width": 16, "head_width": 16}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_checkpoint(path: Path, name: str = "relational", cfg: BoxWorldConfig = CFG) -> Path:
    torch.manual_seed(0)
    config = TINY if name == "relational" else {"blocks": 1, "width": 8, "head_width": 16}
    agent = build_agent(name, obs_shape=(cfg.size + 2, cfg.size + 2, 3), n_actions=4, **config)
    meta = {
        "env": {"kind": "boxworld", "boxworld": cfg.model_dump()},
        "env_steps": 1234,
        "eval": {"fraction_solved": 0.25},
    }
    return save_agent_checkpoint(path, agent, extra_meta=meta)


def call(op: str, cache: dict | None = None, **args):
    return _OPS[op]({} if cache is None else cache, **args)


def test_episode_answer_decodes_to_the_contract_shapes(tmp_path: Path) -> None:
    path = write_checkpoint(tmp_path / "agent.safetensors")
    cache: dict = {}
    answer = call("rl.episode", cache, checkpoint=str(path), level_seed=3, greedy=True)
    steps = answer["steps"]
    frames = decode_array(answer["frames"])
    assert frames.shape == (steps + 1, 6, 6, 3) and frames.dtype == np.uint8
    assert np.array_equal(frames[0], render(generate_level(CFG, np.random.default_rng(3)).grid, 0))
    attention = decode_array(answer["attention"])
    assert attention.shape == (steps + 1, 2, 1, 36, 36) and attention.dtype == np.float16
    np.testing.assert_allclose(attention.astype(np.float32).sum(-1), 1.0, atol=1e-2)
    assert len(answer["actions"]) == len(answer["rewards"]) == len(answer["values"]) == steps
    policies = np.array(answer["policies"])
    assert policies.shape == (steps, 4)
    np.testing.assert_allclose(policies.sum(1), 1.0, atol=1e-5)
    assert answer["actions"] == policies.argmax(1).tolist()  # greedy
    assert len(answer["roles"]) == steps + 1
    first = answer["roles"][0]
    assert frames[0].reshape(-1, 3)[first["agent"]].tolist() == [80, 80, 80]  # the agent's dark grey
    for key, lock in first["keys"]:  # a key and its lock share a colour
        assert frames[0].reshape(-1, 3)[key].tolist() == frames[0].reshape(-1, 3)[lock].tolist()
    assert answer["agent"] == "relational" and answer["config"] == CFG.model_dump()
    assert answer["action_names"] == ["up", "down", "left", "right"]
    assert answer["stats"]["chance"] == pytest.approx(1 / 36)
    assert isinstance(answer["solved"], bool)
    # the loaded agent is cached by path + mtime; rewriting the file loads it afresh
    assert sum(k.startswith("rl.agent/") for k in cache) == 1
    call("rl.episode", cache, checkpoint=str(path), level_seed=4)
    assert sum(k.startswith("rl.agent/") for k in cache) == 1
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    call("rl.episode", cache, checkpoint=str(path), level_seed=4)
    assert sum(k.startswith("rl.agent/") for k in cache) == 2


def test_a_config_override_and_sampled_play(tmp_path: Path) -> None:
    path = write_checkpoint(tmp_path / "agent.safetensors")
    other = CFG.model_copy(update={"max_steps": 3}).model_dump()
    answer = call("rl.episode", checkpoint=str(path), level_seed=1, config=other, greedy=False)
    assert answer["config"]["max_steps"] == 3 and answer["steps"] <= 3
    again = call("rl.episode", checkpoint=str(path), level_seed=1, config=other, greedy=False)
    assert again["actions"] == answer["actions"]  # sampling is seeded by the level seed


def test_the_baseline_answers_without_attention(tmp_path: Path) -> None:
    path = write_checkpoint(tmp_path / "base.safetensors", "baseline")
    answer = call("rl.episode", checkpoint=str(path), level_seed=0)
    assert answer["attention"] is None and answer["stats"] is None and answer["agent"] == "baseline"
    assert decode_array(answer["frames"]).shape[0] == answer["steps"] + 1


def test_bad_checkpoints_and_requests_are_lantern_errors(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(LanternError, match="does not exist"):
        call("rl.episode", checkpoint=str(tmp_path / "missing.safetensors"))
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00\x01 not a safetensors file")
    with pytest.raises(LanternError) as info:
        call("rl.episode", checkpoint=str(corrupt))
    assert info.value.where == str(corrupt)
    path = write_checkpoint(tmp_path / "agent.safetensors")
    with pytest.raises(LanternError, match="level_seed"):
        call("rl.episode", checkpoint=str(path), level_seed=-1)
    with pytest.raises(LanternError, match="invalid"):
        call("rl.episode", checkpoint=str(path), config={"size": "big"})
    with pytest.raises(LanternError, match="size 4"):
        call("rl.episode", checkpoint=str(path), config={"size": 6, "solution_length": 1, "distractors": 0})
    with pytest.raises(LanternError, match="no bundled checkpoint"):
        call("rl.episode", checkpoint="bundled:nope")
    monkeypatch.setattr("engine.core.paths.assets_dir", lambda: tmp_path / "no-assets")
    with pytest.raises(LanternError, match="not installed"):
        call("rl.episode", checkpoint="bundled")


def test_checkpoints_lists_bundled_and_stored(tmp_path: Path, monkeypatch, store) -> None:
    assets = tmp_path / "assets"
    write_checkpoint(assets / "rl" / "boxworld-small" / "relational.safetensors")
    monkeypatch.setattr("engine.core.paths.assets_dir", lambda: assets)
    stored = write_checkpoint(tmp_path / "run" / "best.safetensors", "baseline")
    store.artifacts.add(stored, kind="rl-checkpoint", name="best.safetensors", meta={"role": "best"})
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"nonsense")
    store.artifacts.add(bad, kind="rl-checkpoint", name="bad.safetensors")
    store.artifacts.add(bad, kind="figure", name="not a checkpoint")
    listed = call("rl.checkpoints", {"_store": store})["checkpoints"]
    assert [c["name"] for c in listed] == ["bundled", "bad.safetensors", "best.safetensors"]
    bundled, broken, best = listed
    assert bundled["source"] == "bundled" and bundled["checkpoint"] == bundled["path"] == "bundled"
    assert bundled["file"] == str(assets / "rl" / "boxworld-small" / "relational.safetensors")
    assert bundled["agent"] == "relational" and bundled["env_steps"] == 1234
    assert bundled["eval"] == {"fraction_solved": 0.25} and bundled["env"]["kind"] == "boxworld"
    assert best["source"] == "store" and best["agent"] == "baseline" and best["error"] is None
    assert best["role"] == "best" and bundled["role"] is None
    assert Path(best["checkpoint"]).is_file() and best["path"] == best["file"] == best["checkpoint"]
    assert best["artifact_id"] is not None
    assert broken["error"] and broken["agent"] is None
    answer = call("rl.episode", checkpoint="bundled", level_seed=2)  # the bundled file plays
    assert answer["agent"] == "relational"


def test_the_ops_answer_through_the_interactive_engine(tmp_path: Path) -> None:
    path = write_checkpoint(tmp_path / "agent.safetensors")
    engine = InteractiveEngine(op_modules=("engine.rl.ops",))
    try:
        answer = engine.call("rl.episode", timeout=120, checkpoint=str(path), level_seed=5)
        assert decode_array(answer["frames"]).shape == (answer["steps"] + 1, 6, 6, 3)
        with pytest.raises(LanternError, match="does not exist"):
            engine.call("rl.episode", checkpoint=str(tmp_path / "gone.safetensors"))
        assert isinstance(engine.call("rl.checkpoints")["checkpoints"], list)
    finally:
        engine.close()


def test_a_minigrid_checkpoint_plays_its_gym_env(tmp_path: Path) -> None:
    from engine.rl.grid_env import GymGridEnv

    env_id = "MiniGrid-DoorKey-5x5-v0"
    grid = GymGridEnv(env_id, 1, seed=7, max_steps=15)
    torch.manual_seed(0)
    agent = build_agent("relational", obs_shape=grid.obs_shape, n_actions=grid.n_actions, **TINY)
    meta = {"env": {"kind": "gym", "id": env_id, "max_steps": 15}, "env_steps": 0}
    path = save_agent_checkpoint(tmp_path / "grid.safetensors", agent, extra_meta=meta)
    answer = call("rl.episode", checkpoint=str(path), level_seed=7)
    steps = answer["steps"]
    frames = decode_array(answer["frames"])
    assert frames.shape == (steps + 1, 5, 5, 3) and 1 <= steps <= 15
    assert np.array_equal(frames[0], grid.reset()[0].numpy())  # the env seeded with level_seed
    assert decode_array(answer["attention"]).shape == (steps + 1, 2, 1, 25, 25)
    assert answer["roles"] == [] and answer["stats"] is None and answer["config"] is None
    assert len(answer["action_names"]) == grid.n_actions and answer["env"]["kind"] == "gym"
