"""`lantern rl ...` end to end: train through the job runner (--json), list, eval and attention on a
checkpoint path or `bundled`, and bad input refused with exit code 2 before anything is stored."""

from __future__ import annotations

import argparse
import json
import sys
import types
from pathlib import Path

import pytest
import torch

import engine.cli
from engine.jobs.registry import EXTRA_JOB_MODULES_ENV
from engine.rl.agents import build_agent
from engine.rl.boxworld.config import BoxWorldConfig
from engine.rl.checkpoints import save_agent_checkpoint
from engine.rl.cli import add_rl_commands, attention_rows, generalisation_rows

TINY = {
    "name": "cli tiny",
    "env": {
        "kind": "boxworld",
        "boxworld": {"size": 4, "solution_length": 1, "distractors": 0, "colours": 4, "max_steps": 20},
    },
    "agent_config": {"blocks": 1, "heads": 1, "key_dim": 8, "mlp_width": 16, "head_width": 16},
    "ppo": {"n_envs": 16, "rollout_steps": 16, "total_steps": 512, "epochs": 1, "minibatches": 2},
    "eval_episodes": 8,
    "eval_every": 1,
}
BOXWORLD = {"size": 4, "solution_length": 1, "distractors": 0, "colours": 4, "max_steps": 20}


@pytest.fixture(autouse=True)
def rl_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """`lantern rl` and the rl.train job, whether or not engine/cli.py and JOB_MODULES list them yet."""
    real = engine.cli.build_parser

    def build_parser() -> argparse.ArgumentParser:
        parser = real()
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if "rl" not in commands.choices:
            add_rl_commands(commands)
        return parser

    monkeypatch.setattr(engine.cli, "build_parser", build_parser)
    monkeypatch.setenv(EXTRA_JOB_MODULES_ENV, "engine.rl.jobs")  # spawned workers read it too
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("LANTERN_TORCH_THREADS", "1")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write(path: Path, document: dict) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def checkpoint(path: Path) -> Path:
    torch.manual_seed(0)
    agent = build_agent("relational", obs_shape=(6, 6, 3), n_actions=4, **TINY["agent_config"])
    env = {"kind": "boxworld", "boxworld": BoxWorldConfig(**BOXWORLD).model_dump(mode="json")}
    return save_agent_checkpoint(path, agent, extra_meta={"env": env, "env_steps": 4096})


@pytest.fixture
def fake_reports(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object, object, int, int]]:
    """Stand-ins for generalisation() and attention_report() that record what the CLI passes them."""
    calls: list[tuple[str, object, object, int, int]] = []

    def generalisation(agent, cfg, *, episodes, seed, greedy=False):  # type: ignore[no-untyped-def]
        calls.append(("generalisation", agent, cfg, episodes, seed))
        longer = {**cfg.model_dump(), "solution_length": 2}
        return {
            "agent": agent.name,
            "seed": seed,
            "episodes": episodes,
            "trained_config": cfg.model_dump(),
            "conditions": {
                "training": {
                    "name": "training",
                    "description": "held-out levels",
                    "applicable": True,
                    "reason": None,
                    "config": cfg.model_dump(),
                    "pairs": None,
                    "episodes": episodes,
                    "fraction_solved": 0.75,
                    "mean_return": 7.5,
                    "mean_length": 9.0,
                },
                "longer+1": {
                    "name": "longer+1",
                    "description": "one box more",
                    "applicable": True,
                    "reason": None,
                    "config": longer,
                    "pairs": None,
                    "episodes": episodes,
                    "fraction_solved": 0.25,
                    "mean_return": 2.5,
                    "mean_length": 19.0,
                },
                "withheld": {
                    "name": "withheld",
                    "description": "withheld pairs",
                    "applicable": False,
                    "reason": "the config withholds no pairs",
                    "config": None,
                    "pairs": None,
                    "episodes": 0,
                    "fraction_solved": None,
                    "mean_return": None,
                    "mean_length": None,
                },
            },
        }

    def attention_report(agent, cfg, *, episodes, seed, greedy=False):  # type: ignore[no-untyped-def]
        calls.append(("attention", agent, cfg, episodes, seed))
        masses = {
            "key_to_lock": 0.1,
            "key_to_lock_vs_chance": 3.6,
            "to_agent": 0.05,
            "to_agent_vs_chance": 1.8,
            "to_gem": 0.02,
            "to_gem_vs_chance": 0.72,
        }
        return {
            "agent": agent.name,
            "episodes": episodes,
            "solved_fraction": 0.5,
            "chance": 1 / 36,
            "entities": 36,
            "steps": 40,
            "key_lock_pairs": 12,
            **{k: [[v]] for k, v in masses.items()},
            "table": [{"block": 0, "head": 0, **masses}, {"block": 0, "head": "mean", **masses}],
        }

    for name, function in (("generalisation", generalisation), ("attention_report", attention_report)):
        module = types.ModuleType(f"engine.rl.{name}")
        setattr(module, name, function)
        monkeypatch.setitem(sys.modules, f"engine.rl.{name}", module)
    return calls


def test_train_json_then_list(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = write(tmp_path / "tiny.json", TINY)
    assert engine.cli.main(["rl", "train", "--config", str(config), "--device", "cpu", "--json"]) == 0
    result = json.loads(capfd.readouterr().out)
    assert result["env_steps"] == 512 and result["agent"] == "relational" and result["name"] == "cli tiny"
    assert 0.0 <= result["eval_fraction_solved"] <= 1.0 and Path(result["checkpoint"]).is_file()

    assert engine.cli.main(["rl", "list", "--json"]) == 0
    [listed] = json.loads(capfd.readouterr().out)
    assert listed["run_id"] == result["run_id"] and listed["env_steps"] == 512 and listed["status"] == "done"
    assert listed["checkpoint"] == result["checkpoint"] and listed["env"] == "boxworld"
    assert engine.cli.main(["rl", "list"]) == 0
    out = capfd.readouterr().out
    assert "EVAL SOLVED" in out and "cli tiny" in out and "512" in out


def test_eval_and_attention_on_a_checkpoint_path(
    capfd: pytest.CaptureFixture[str], tmp_path: Path, fake_reports: list
) -> None:
    path = checkpoint(tmp_path / "agent.safetensors")
    assert engine.cli.main(["rl", "eval", "--checkpoint", str(path), "--episodes", "5", "--json"]) == 0
    report = json.loads(capfd.readouterr().out)
    assert report["checkpoint"] == str(path) and report["env_steps"] == 4096 and report["episodes"] == 5
    assert report["report"]["conditions"]["training"]["fraction_solved"] == 0.75
    name, agent, cfg, episodes, seed = fake_reports[-1]
    assert name == "generalisation" and cfg == BoxWorldConfig(**BOXWORLD) and (episodes, seed) == (5, 0)
    assert agent.n_actions == 4 and not agent.training  # the checkpoint's agent, ready to play

    assert engine.cli.main(["rl", "eval", "--checkpoint", str(path), "--episodes", "5"]) == 0
    out = capfd.readouterr().out
    assert "CONDITION" in out and "75.0%" in out and "25.0%" in out and "7.500" in out
    assert "solution_length 2" in out and "not applicable: the config withholds no pairs" in out

    assert engine.cli.main(["rl", "attention", "--checkpoint", str(path), "--episodes", "3", "--json"]) == 0
    attention = json.loads(capfd.readouterr().out)
    assert attention["report"]["key_to_lock_vs_chance"] == [[3.6]]
    assert engine.cli.main(["rl", "attention", "--checkpoint", str(path), "--episodes", "3"]) == 0
    out = capfd.readouterr().out
    assert "KEY->LOCK" in out and "3.600x" in out and "36 entities" in out and "mean" in out
    assert "episodes solved: 50.0%" in out


def test_bundled_checkpoints(
    capfd: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_reports: list
) -> None:
    monkeypatch.setattr("engine.core.paths.assets_dir", lambda: tmp_path / "assets")
    assert engine.cli.main(["rl", "eval", "--checkpoint", "bundled", "--json"]) == 2
    err = capfd.readouterr().err
    assert "not installed" in err and str(tmp_path / "assets/rl/boxworld-small/relational.safetensors") in err
    assert engine.cli.main(["rl", "eval", "--checkpoint", "bundled:transformer"]) == 2
    assert "no bundled checkpoint 'bundled:transformer'" in capfd.readouterr().err

    folder = tmp_path / "assets" / "rl" / "boxworld-small"
    folder.mkdir(parents=True)
    checkpoint(folder / "baseline.safetensors")
    assert (
        engine.cli.main(["rl", "eval", "--checkpoint", "bundled:baseline", "--episodes", "2", "--json"]) == 0
    )
    assert json.loads(capfd.readouterr().out)["checkpoint"] == str(folder / "baseline.safetensors")


def test_bad_input_is_refused_before_anything_is_stored(
    capfd: pytest.CaptureFixture[str], tmp_path: Path, fake_reports: list
) -> None:
    config = write(tmp_path / "bad.json", {**TINY, "ppo": {"n_envs": 0}})
    assert engine.cli.main(["rl", "train", "--config", str(config)]) == 2
    err = capfd.readouterr().err
    assert "'ppo'" in err and "n_envs" in err and str(config) in err
    good = write(tmp_path / "good.json", TINY)
    assert engine.cli.main(["rl", "train", "--config", str(good), "--device", "tpu"]) == 2
    assert "unknown device 'tpu'" in capfd.readouterr().err
    assert engine.cli.main(["rl", "list", "--json"]) == 0
    assert json.loads(capfd.readouterr().out) == []

    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint at all")
    assert engine.cli.main(["rl", "eval", "--checkpoint", str(junk)]) == 2
    assert str(junk) in capfd.readouterr().err
    assert engine.cli.main(["rl", "eval", "--checkpoint", str(tmp_path / "none.safetensors")]) == 2
    assert "does not exist" in capfd.readouterr().err
    path = checkpoint(tmp_path / "agent.safetensors")
    assert engine.cli.main(["rl", "attention", "--checkpoint", str(path), "--episodes", "0"]) == 2
    assert "--episodes must be at least 1" in capfd.readouterr().err
    assert fake_reports == []


def test_the_tables_of_reports() -> None:
    rows = generalisation_rows(
        {
            "a": {"fraction_solved": 0.5, "episodes": 10, "config": {"size": 6, "colours": 20}},
            "b": {"fraction_solved": None, "applicable": False, "reason": "too small"},
            "note": "x",
        }
    )
    assert rows == [["a", "50.0%", "-", "10", "size 6"], ["b", "-", "-", "-", "not applicable: too small"]]
    stats = {
        "key_to_lock": [[0.5, 0.25]],
        "key_to_lock_vs_chance": [[2.0, 1.0]],
        "to_agent": [[0.1, 0.2]],
        "to_gem": [[0.0, float("nan")]],
        "to_gem_vs_chance": [[0.0, 1.5]],
    }
    assert attention_rows(stats) == [
        ["0", "0", "0.500", "2.000x", "0.100", "-", "0.000", "0.000x"],
        ["0", "1", "0.250", "1.000x", "0.200", "-", "-", "1.500x"],
    ]


def test_eval_and_attention_with_the_real_reports(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = checkpoint(tmp_path / "agent.safetensors")
    assert engine.cli.main(["rl", "eval", "--checkpoint", str(path), "--episodes", "2", "--json"]) == 0
    conditions = json.loads(capfd.readouterr().out)["report"]["conditions"]
    assert 0.0 <= conditions["training"]["fraction_solved"] <= 1.0
    assert engine.cli.main(["rl", "eval", "--checkpoint", str(path), "--episodes", "2"]) == 0
    assert "training" in capfd.readouterr().out
    assert engine.cli.main(["rl", "attention", "--checkpoint", str(path), "--episodes", "2", "--json"]) == 0
    report = json.loads(capfd.readouterr().out)["report"]
    assert report["entities"] == 36 and len(report["key_to_lock"]) == 1
    assert engine.cli.main(["rl", "attention", "--checkpoint", str(path), "--episodes", "2"]) == 0
    assert "KEY->LOCK" in capfd.readouterr().out


def test_a_gym_checkpoint_has_no_box_world_report(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    agent = build_agent("relational", obs_shape=(5, 5, 3), n_actions=7, **TINY["agent_config"])
    env = {"kind": "gym", "id": "MiniGrid-DoorKey-5x5-v0", "max_steps": None}
    path = save_agent_checkpoint(tmp_path / "doorkey.safetensors", agent, extra_meta={"env": env})
    assert engine.cli.main(["rl", "eval", "--checkpoint", str(path)]) == 2
    assert "MiniGrid-DoorKey-5x5-v0, not Box-World" in capfd.readouterr().err


def test_jobs_types_lists_the_rl_train_job(capfd: pytest.CaptureFixture[str]) -> None:
    assert engine.cli.main(["jobs", "types", "--json"]) == 0
    listed = {entry["job"]: entry for entry in json.loads(capfd.readouterr().out)}
    fields = {field["name"]: field for field in listed["rl.train"]["fields"]}
    assert listed["rl.train"]["resumable"] and fields["env"]["default"] == {"kind": "boxworld"}
    assert fields["eval_every"]["default"] == 20 and fields["agent"]["default"] == "relational"
    assert engine.cli.main(["jobs", "types"]) == 0
    assert "rl.train: RL training" in capfd.readouterr().out


def test_a_finished_training_is_presented_readably(capsys: pytest.CaptureFixture[str]) -> None:
    from engine.rl.cli import _present_train

    _present_train(
        {
            "run_id": 7,
            "name": "small",
            "agent": "relational",
            "env": "Box-World 6x6",
            "env_steps": 4096,
            "resumed_from_steps": 2048,
            "eval_fraction_solved": 0.625,
            "best_eval_fraction_solved": 0.75,
            "eval_mean_return": 6.5,
            "checkpoint": "/x/latest.safetensors",
            "best_checkpoint": None,
        }
    )
    out = capsys.readouterr().out
    assert "run #7 'small': relational agent on Box-World 6x6" in out and "4096 (resumed at 2048)" in out
    assert "62.5% (best 75.0%)" in out and "/x/latest.safetensors" in out and "lantern runs export 7" in out
