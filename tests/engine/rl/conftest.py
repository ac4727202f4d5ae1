"""Shared by the RL tests: the smallest training config that still trains, evaluates and checkpoints."""

from __future__ import annotations

import copy
from typing import Any

import pytest

_TINY_TRAIN: dict[str, Any] = {
    "name": "tiny",
    "env": {
        "kind": "boxworld",
        "boxworld": {"size": 4, "solution_length": 1, "distractors": 0, "colours": 4, "max_steps": 20},
    },
    "agent_config": {"blocks": 1, "heads": 1, "key_dim": 8, "mlp_width": 16, "head_width": 16},
    "ppo": {
        "n_envs": 16,
        "rollout_steps": 16,
        "total_steps": 2048,
        "epochs": 2,
        "minibatches": 2,
        "lr": 0.001,
    },
    "eval_episodes": 16,
    "eval_every": 2,
    "device": "cpu",
}


@pytest.fixture
def tiny_train() -> dict[str, Any]:
    """A fresh copy of the tiny RLTrainConfig document: 8 updates of 256 steps, evaluated every 2."""
    return copy.deepcopy(_TINY_TRAIN)
