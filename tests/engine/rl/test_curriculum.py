"""Curriculum training: stages built from the config's levels, advancing on held-out targets, budgets,
checkpoints of the final stage only, and bad recipes refused."""

from __future__ import annotations

import json

import pytest
import torch

from engine.core.errors import LanternError
from engine.rl.checkpoints import load_agent_checkpoint
from engine.rl.curriculum import load_recipe, stages, train_curriculum
from engine.rl.train_config import parse_train_config

TINY_AGENT = {"blocks": 1, "heads": 1, "key_dim": 8, "mlp_width": 16, "head_width": 16}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_config(total_steps: int = 512):
    return parse_train_config(
        {
            "env": {
                "kind": "boxworld",
                "boxworld": {
                    "size": 5,
                    "solution_length": [1, 2],
                    "distractors": [0, 1],
                    "colours": 6,
                    "max_steps": 10,
                },
            },
            "agent_config": TINY_AGENT,
            "ppo": {
                "n_envs": 16,
                "rollout_steps": 8,
                "epochs": 1,
                "minibatches": 2,
                "total_steps": total_steps,
            },
            "eval_episodes": 8,
            "eval_every": 1,
            "seed": 3,
        }
    )


def test_stages_merge_overrides_and_end_with_the_configs_levels() -> None:
    cfg = tiny_config()
    plan = stages(
        cfg,
        {
            "curriculum": [
                {"boxworld": {"solution_length": 1, "distractors": 0}, "until": 0.8, "max_env_steps": 1000}
            ],
            "stop_at": 0.95,
        },
    )
    assert [stage.final for stage in plan] == [False, True]
    first, last = plan
    assert (first.levels.solution_length, first.levels.distractors, first.levels.colours) == (1, 0, 6)
    assert (first.until, first.max_env_steps) == (0.8, 1000)
    assert last.levels == cfg.env.boxworld and last.until == 0.95
    assert stages(cfg, {})[0].levels == cfg.env.boxworld


@pytest.mark.parametrize(
    ("recipe", "where"),
    [
        ({"stages": []}, "curriculum recipe"),
        ({"curriculum": [{"boxworld": {}, "until": 1.5}]}, "curriculum[0].until"),
        ({"curriculum": [{"boxworld": {"size": 6}}]}, "curriculum[0].boxworld.size"),
        ({"curriculum": [{"boxworld": {}, "max_env_steps": 0}]}, "curriculum[0].max_env_steps"),
        ({"curriculum": [{"levels": {}}]}, "curriculum[0]"),
        ({"stop_at": -0.1}, "stop_at"),
    ],
)
def test_bad_recipes_name_the_place(recipe, where) -> None:
    with pytest.raises(LanternError) as info:
        stages(tiny_config(), recipe)
    assert where in info.value.where


def test_a_recipe_that_is_not_json_names_the_file(tmp_path) -> None:
    path = tmp_path / "curriculum.json"
    path.write_text("{not json")
    with pytest.raises(LanternError) as info:
        load_recipe(path)
    assert info.value.where == str(path)


def test_stages_advance_on_target_and_only_the_final_stage_is_checkpointed(tmp_path) -> None:
    cfg = tiny_config(total_steps=640)
    recipe = {
        "curriculum": [{"boxworld": {"solution_length": 1, "distractors": 0}, "until": 0.0}],
        "stop_at": 1.0,
    }
    seen = []
    result = train_curriculum(cfg, recipe, out=tmp_path, on_eval=seen.append)
    # stage 0 reaches its target (0.0) at its first evaluation, after one update of 128 steps
    assert [entry["stage"] for entry in seen][:2] == [0.0, 1.0]
    assert seen[0]["env_steps"] == 128 and seen[1]["env_steps"] == 256
    assert result.env_steps == 640 and result.curve[-1]["env_steps"] == 640  # the budget covers all stages
    assert result.reached_at is None and 0.0 <= result.best <= 1.0
    agent, meta = load_agent_checkpoint(tmp_path / "relational-latest.safetensors")
    assert agent.name == "relational"
    assert meta["curriculum_stage"] == 1 and meta["env_steps"] == 640 and meta["curriculum"] == recipe
    assert (tmp_path / "relational.safetensors").is_file()
    curve = json.loads((tmp_path / "relational-curve.json").read_text())
    assert len(curve) == 5 and curve[0]["stage"] == 0.0


def test_a_stage_budget_caps_it_and_the_final_stop_at_ends_training(tmp_path) -> None:
    cfg = tiny_config(total_steps=2048)
    recipe = {
        "curriculum": [
            {"boxworld": {"solution_length": 1, "distractors": 0}, "until": 1.0, "max_env_steps": 256}
        ],
        "stop_at": 0.0,
    }
    result = train_curriculum(cfg, recipe, agent_name="baseline", out=None)
    stages_seen = [entry["stage"] for entry in result.curve]
    assert stages_seen.count(0.0) == 2  # 256 steps = 2 updates, target 1.0 not reached
    assert result.reached_at == 384.0 and result.env_steps == 384  # stop_at 0.0: done at the first eval
