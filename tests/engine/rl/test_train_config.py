"""RLTrainConfig and its loader: the examples load, JSON and TOML agree, every bad value names its field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.core.errors import LanternError
from engine.rl.train_config import BoxWorldEnvSpec, GymEnvSpec, load_train_config, parse_train_config

REPO = Path(__file__).resolve().parents[3]
TINY = {
    "name": "tiny",
    "env": {"kind": "boxworld", "boxworld": {"size": 5, "solution_length": [1, 2], "distractors": [0, 1]}},
    "agent_config": {"blocks": 1, "heads": 1, "key_dim": 8, "mlp_width": 16, "head_width": 16},
    "ppo": {"n_envs": 8, "rollout_steps": 16, "total_steps": 1024, "lr": 0.001},
    "eval_episodes": 8,
    "eval_every": 2,
    "seed": 3,
}


def test_the_example_configs_load() -> None:
    small = load_train_config(REPO / "examples/rl/boxworld-small.json")
    assert isinstance(small.env, BoxWorldEnvSpec) and small.agent == "relational"
    assert small.env.boxworld.size == 5 and small.env.boxworld.solution_range == (1, 2)
    assert small.env.boxworld.distractor_range == (0, 0) and small.env.boxworld.max_steps == 120
    doorkey = load_train_config(REPO / "examples/rl/doorkey.json")
    assert isinstance(doorkey.env, GymEnvSpec) and doorkey.env.id == "MiniGrid-DoorKey-5x5-v0"
    assert doorkey.env.max_steps is None


def test_the_bundled_agents_config_loads_when_present() -> None:
    path = REPO / "assets/rl/boxworld-small/config.json"
    if not path.is_file():
        pytest.skip("no bundled agent config in this checkout")
    cfg = load_train_config(path)
    assert isinstance(cfg.env, BoxWorldEnvSpec) and cfg.agent in ("relational", "baseline")


def test_defaults_and_the_ppo_settings() -> None:
    cfg = parse_train_config({})
    assert (cfg.agent, cfg.eval_episodes, cfg.eval_every, cfg.seed, cfg.device) == (
        "relational",
        200,
        20,
        0,
        "auto",
    )
    assert isinstance(cfg.env, BoxWorldEnvSpec)
    tiny = parse_train_config(TINY)
    ppo = tiny.ppo_config()
    assert (ppo.n_envs, ppo.rollout_steps, ppo.total_steps, ppo.lr) == (8, 16, 1024, 0.001)
    assert ppo.seed == 3  # PPO's seed follows the run's seed unless given
    assert parse_train_config({**TINY, "ppo": {"seed": 11}}).ppo_config().seed == 11
    assert (
        tiny.resolved_agent_config()["blocks"] == 1 and tiny.resolved_agent_config()["share_weights"] is False
    )
    # The job stores the config as JSON and validates it again in the worker: it must survive that.
    again = parse_train_config(json.loads(json.dumps(tiny.model_dump(mode="json"))))
    assert again == tiny


def test_json_and_toml_files_agree(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(TINY), encoding="utf-8")
    (tmp_path / "a.toml").write_text(
        'name = "tiny"\neval_episodes = 8\neval_every = 2\nseed = 3\n'
        '[env]\nkind = "boxworld"\n[env.boxworld]\nsize = 5\nsolution_length = [1, 2]\ndistractors = [0, 1]\n'
        "[agent_config]\nblocks = 1\nheads = 1\nkey_dim = 8\nmlp_width = 16\nhead_width = 16\n"
        "[ppo]\nn_envs = 8\nrollout_steps = 16\ntotal_steps = 1024\nlr = 0.001\n",
        encoding="utf-8",
    )
    assert load_train_config(tmp_path / "a.json") == load_train_config(tmp_path / "a.toml")


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"epochs": 3}, "unknown key 'epochs'", "unknown key"),
        ({"agent": "transformer"}, "'agent'", "unknown agent 'transformer'"),
        ({"agent_config": {"blocks": 0}}, "'agent_config'", "blocks"),
        ({"agent_config": {"depth": 2}}, "'agent_config'", "unknown setting(s) depth"),
        ({"ppo": {"n_envs": 0}}, "'ppo'", "n_envs must be a whole number of at least 1"),
        ({"ppo": {"n_envs": 2.5}}, "'ppo'", "n_envs must be a whole number"),
        ({"ppo": {"lr": -1.0}}, "'ppo'", "lr must be positive"),
        ({"ppo": {"learning_rate": 0.1}}, "'ppo'", "unknown setting(s) learning_rate"),
        ({"eval_every": 0}, "'eval_every'", "greater than or equal to 1"),
        ({"eval_episodes": "many"}, "'eval_episodes'", "integer"),
        ({"device": "tpu"}, "'device'", "unknown device 'tpu'"),
        ({"env": {"kind": "gym"}}, "'env.id'", "Field required"),
        ({"env": {"kind": "atari"}}, "'env'", "atari"),
        ({"env": {"kind": "boxworld", "boxworld": {"size": "5"}}}, "'env.boxworld.size'", "integer"),
        (
            {"env": {"kind": "boxworld", "boxworld": {"sise": 5}}},
            "unknown key 'env.boxworld.sise'",
            "unknown",
        ),
        (
            {"env": {"kind": "boxworld", "boxworld": {"size": 4, "solution_length": 5}}},
            "'env.boxworld.solution_length'",
            "cannot hold 5 solution boxes",
        ),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(change: dict, field: str, words: str) -> None:
    with pytest.raises(LanternError) as caught:
        parse_train_config({**TINY, **change}, "my.json")
    assert field in caught.value.what and words in caught.value.what
    assert caught.value.where == "my.json" and caught.value.hint


def test_file_problems_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(LanternError, match="does not exist") as caught:
        load_train_config(tmp_path / "none.json")
    assert caught.value.where == str(tmp_path / "none.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x",', encoding="utf-8")
    with pytest.raises(LanternError, match="not valid JSON") as caught:
        load_train_config(broken)
    assert caught.value.where == str(broken)
    bad_toml = tmp_path / "broken.toml"
    bad_toml.write_text("name = ", encoding="utf-8")
    with pytest.raises(LanternError, match="not valid TOML"):
        load_train_config(bad_toml)
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(LanternError, match="JSON object"):
        load_train_config(listed)


def test_the_config_module_loads_no_torch() -> None:
    code = "import sys, engine.rl.train_config, engine.rl.jobs, engine.rl.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
