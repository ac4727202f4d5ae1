"""train_agent: curves against env steps, held-out greedy evaluation, latest/best checkpoints, and a resume
that continues (env steps, history, optimiser state) rather than restarting."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import ClassVar

import pytest
import torch

from engine.core.errors import JobCancelled, LanternError
from engine.rl.checkpoints import load_agent_checkpoint, load_training_checkpoint
from engine.rl.train_config import parse_train_config
from engine.rl.training import BEST, LATEST, TrainHooks, make_env, make_eval_env, train_agent

STEPS_PER_UPDATE = 16 * 16  # 8 updates, evaluations after updates 2, 4, 6 and 8


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Recorder:
    def __init__(self, cancel_after_checkpoints: int | None = None) -> None:
        self.metrics: list[tuple[float, dict[str, float]]] = []
        self.checkpoints: list[tuple[str, int]] = []
        self.progress: list[tuple[float, float]] = []
        self.cancel_after = cancel_after_checkpoints

    def hooks(self) -> TrainHooks:
        return TrainHooks(
            progress=lambda done, total, message: self.progress.append((done, total)),
            metrics=lambda step, values: self.metrics.append((step, values)),
            check_cancelled=self.check,
            on_checkpoint=lambda path, role, meta: self.checkpoints.append((role, meta["env_steps"])),
        )

    def check(self) -> None:
        latest = [c for c in self.checkpoints if c[0] == LATEST]
        if self.cancel_after is not None and len(latest) >= self.cancel_after:
            raise JobCancelled()


def test_a_run_records_curves_against_env_steps_and_checkpoints(tiny_train, tmp_path: Path) -> None:
    cfg = parse_train_config(tiny_train)
    recorder = Recorder()
    result = train_agent(cfg, device="cpu", workdir=tmp_path, hooks=recorder.hooks())
    steps = [step for step, _ in recorder.metrics]
    assert steps == [STEPS_PER_UPDATE * k for k in range(1, 9)]
    assert result.env_steps == 2048 and result.updates == 8 and result.resumed_from_steps == 0
    for _, values in recorder.metrics:
        assert {"loss", "policy_loss", "value_loss", "entropy"} <= set(values)
        assert 0.0 <= values["entropy"] <= float(torch.log(torch.tensor(4.0))) + 1e-5
    evaluated = [(step, values) for step, values in recorder.metrics if "eval_fraction_solved" in values]
    assert [step for step, _ in evaluated] == [512, 1024, 1536, 2048]
    assert all(values["eval_episodes"] == 16 for _, values in evaluated)
    assert all(0.0 <= values["eval_fraction_solved"] <= 1.0 for _, values in evaluated)
    # Episodes end within 20 steps, so 8 x 256 steps finish many: fraction_solved and mean_return appear.
    assert any("fraction_solved" in values and "mean_return" in values for _, values in recorder.metrics)
    assert recorder.progress[-1] == (2048.0, 2048.0)

    latest_saves = [steps for role, steps in recorder.checkpoints if role == LATEST]
    assert latest_saves == [512, 1024, 1536, 2048]
    assert recorder.checkpoints[0] == (BEST, 512)  # the first evaluation is the best so far
    agent, meta = load_agent_checkpoint(result.latest_path)
    assert meta["role"] == LATEST and meta["env_steps"] == 2048 and meta["updates"] == 8
    assert meta["env"] == cfg.env.model_dump(mode="json") and meta["train_config"]["name"] == "tiny"
    assert meta["eval"]["fraction_solved"] == result.final_eval["fraction_solved"]
    assert [entry["env_steps"] for entry in meta["history"]] == steps
    best = max(values["eval_fraction_solved"] for _, values in evaluated)
    assert result.best_eval_fraction_solved == best and result.best_path is not None
    _, best_meta = load_agent_checkpoint(result.best_path)
    assert best_meta["role"] == BEST and best_meta["eval"]["fraction_solved"] == best
    with torch.no_grad():
        obs = make_env(cfg, batch=4, device="cpu", seed=5).reset()
        result.agent.eval()
        assert torch.equal(agent(obs).logits, result.agent(obs).logits)


def test_evaluation_uses_the_same_held_out_levels_every_time(tiny_train, tmp_path: Path) -> None:
    cfg = parse_train_config(tiny_train)
    training = make_env(cfg, batch=16, device="cpu", seed=cfg.seed).reset()
    held_out = make_eval_env(cfg, device="cpu").reset()
    assert torch.equal(held_out, make_eval_env(cfg, device="cpu").reset())  # a fresh env: the same levels
    assert not torch.equal(training, held_out)  # another seed: other levels


def test_a_cancelled_run_resumes_from_its_latest_checkpoint(tiny_train, tmp_path: Path) -> None:
    cfg = parse_train_config(tiny_train)
    first = Recorder(cancel_after_checkpoints=2)
    with pytest.raises(JobCancelled):
        train_agent(cfg, device="cpu", workdir=tmp_path / "a", hooks=first.hooks())
    assert [step for step, _ in first.metrics] == [256, 512, 768, 1024]  # stopped right after the 2nd eval
    latest = tmp_path / "a" / "latest.safetensors"
    _, state, meta = load_training_checkpoint(latest)
    assert meta["env_steps"] == 1024 and meta["updates"] == 4 and len(meta["history"]) == 4
    adam_steps = 4 * 2 * 2  # updates x epochs x minibatches
    assert {float(s["step"]) for s in state["state"].values()} == {float(adam_steps)}

    second = Recorder()
    result = train_agent(cfg, device="cpu", workdir=tmp_path / "b", hooks=second.hooks(), resume_from=latest)
    assert [step for step, _ in second.metrics] == [1280, 1536, 1792, 2048]  # env steps carried over
    assert [values["update"] for _, values in second.metrics] == [5.0, 6.0, 7.0, 8.0]
    assert result.resumed_from_steps == 1024 and result.env_steps == 2048
    assert [entry["env_steps"] for entry in result.history] == [256 * k for k in range(1, 9)]
    assert second.progress[0] == (1280.0, 2048.0)
    _, state, meta = load_training_checkpoint(result.latest_path)
    assert meta["env_steps"] == 2048 and len(meta["history"]) == 8
    # The optimiser went on from its saved state: Adam counts every step of both parts.
    assert {float(s["step"]) for s in state["state"].values()} == {float(8 * 2 * 2)}
    assert meta["history"][3]["episodes"] <= meta["history"][4]["episodes"]  # cumulative across the resume


def test_resuming_with_another_agent_is_refused(tiny_train, tmp_path: Path) -> None:
    cfg = parse_train_config({**tiny_train, "ppo": {**tiny_train["ppo"], "total_steps": 512}})
    result = train_agent(cfg, device="cpu", workdir=tmp_path)
    other = parse_train_config({**tiny_train, "agent_config": {**tiny_train["agent_config"], "key_dim": 16}})
    with pytest.raises(LanternError, match="the config asks for a relational agent") as caught:
        train_agent(other, device="cpu", workdir=tmp_path / "b", resume_from=result.latest_path)
    assert caught.value.where == str(result.latest_path)
    wider = parse_train_config({**tiny_train, "ppo": {**tiny_train["ppo"], "n_envs": 32}})
    with pytest.raises(LanternError, match="do not fit the config's rollouts of 32 x 16"):
        train_agent(wider, device="cpu", workdir=tmp_path / "c", resume_from=result.latest_path)
    # A finished run resumed has nothing left to do: it answers its checkpoint's state.
    again = train_agent(cfg, device="cpu", workdir=tmp_path / "d", resume_from=result.latest_path)
    assert again.env_steps == 512 and again.resumed_from_steps == 512 and len(again.history) == 2
    assert again.final_eval == result.final_eval


class FakeGridEnv:
    """GymGridEnv's interface over a 3 x 3 grid: action 3 (right) on the first step solves, anything else
    ends the episode unsolved."""

    created: ClassVar[list[tuple[str, int, int, int | None]]] = []

    def __init__(
        self, env_id: str, batch: int, device: str = "cpu", seed: int = 0, max_steps: int | None = None
    ) -> None:
        FakeGridEnv.created.append((env_id, batch, seed, max_steps))
        self.batch, self.obs_shape, self.n_actions = batch, (3, 3, 3), 5

    def reset(self) -> torch.Tensor:
        return torch.zeros((self.batch, 3, 3, 3), dtype=torch.uint8)

    def step(self, actions: torch.Tensor):
        solved = actions == 3
        done = torch.ones(self.batch, dtype=torch.bool)
        return self.reset(), solved.float(), done, ~done, {"solved": solved}


def test_a_gym_env_comes_from_grid_env(tiny_train, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("engine.rl.grid_env")
    module.GymGridEnv = FakeGridEnv  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "engine.rl.grid_env", module)
    FakeGridEnv.created.clear()
    cfg = parse_train_config(
        {
            **tiny_train,
            "env": {"kind": "gym", "id": "Fake-v0", "max_steps": 7},
            "ppo": {**tiny_train["ppo"], "total_steps": 512},
        }
    )
    result = train_agent(cfg, device="cpu", workdir=tmp_path)
    assert FakeGridEnv.created[0] == ("Fake-v0", 16, 0, 7)  # training: the run's seed
    assert FakeGridEnv.created[1][2] != 0  # evaluation: held-out seed
    _, meta = load_agent_checkpoint(result.latest_path)
    assert meta["obs_shape"] == [3, 3, 3] and meta["n_actions"] == 5
    assert meta["env"] == {"kind": "gym", "id": "Fake-v0", "max_steps": 7}


def test_the_doorkey_example_trains_on_minigrid(tiny_train, tmp_path: Path) -> None:
    pytest.importorskip("minigrid")
    from engine.rl.train_config import load_train_config

    document = load_train_config(
        Path(__file__).resolve().parents[3] / "examples/rl/doorkey.json"
    ).model_dump()
    document.update(
        agent_config=tiny_train["agent_config"],
        ppo={"n_envs": 4, "rollout_steps": 16, "total_steps": 128, "epochs": 1, "minibatches": 2},
        eval_episodes=4,
        eval_every=1,
    )
    document["env"]["max_steps"] = 20
    result = train_agent(parse_train_config(document), device="cpu", workdir=tmp_path)
    assert result.env_steps == 128 and result.final_eval["episodes"] == 4.0
    assert result.final_eval["mean_length"] <= 20  # the config's step limit reached the environment
    _, meta = load_agent_checkpoint(result.latest_path)
    assert meta["env"]["id"] == "MiniGrid-DoorKey-5x5-v0" and meta["n_actions"] == 7
    assert meta["obs_shape"][2] == 3  # one RGB pixel per grid cell
