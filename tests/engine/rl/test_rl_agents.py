"""The relational and baseline agents: shapes, attention, permutation symmetry, checkpoints, learning."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from engine.core.checkpoint import load_checkpoint, save_checkpoint
from engine.core.errors import LanternError
from engine.rl.agents import AGENT_CATALOG, AGENTS, agent_state, build_agent, load_agent
from engine.rl.agents.common import coordinate_planes, parameter_count

OBS_SHAPE = (10, 10, 3)  # a 8x8 Box-World with its border


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    # Tiny models run many times faster on one thread than on several of a busy CPU (measured: 0.4 s
    # against 6 s for 50 steps on a loaded 2-core runner).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_obs(batch: int, shape: tuple[int, int, int] = OBS_SHAPE, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (batch, *shape), dtype=torch.uint8, generator=generator)


def test_registry_and_catalog_agree() -> None:
    assert set(AGENTS) == set(AGENT_CATALOG) == {"relational", "baseline"}


@pytest.mark.parametrize("name", ["relational", "baseline"])
def test_output_shapes(name: str) -> None:
    torch.manual_seed(0)
    agent = build_agent(name, obs_shape=OBS_SHAPE, n_actions=4)
    out = agent(random_obs(5))
    assert out.logits.shape == (5, 4)
    assert out.value.shape == (5,)
    assert out.attention is None
    assert torch.isfinite(out.logits).all() and torch.isfinite(out.value).all()


def test_relational_attention_shapes_rows_and_same_pass() -> None:
    torch.manual_seed(0)
    agent = build_agent("relational", obs_shape=OBS_SHAPE, n_actions=4, blocks=3, heads=4, key_dim=8)
    obs = random_obs(3)
    with_attention = agent(obs, return_attention=True)
    without = agent(obs)
    n = OBS_SHAPE[0] * OBS_SHAPE[1]
    assert with_attention.attention is not None and len(with_attention.attention) == 3
    for weights in with_attention.attention:
        assert weights.shape == (3, 4, n, n)
        assert (weights >= 0).all()
        torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4, n))
    assert without.attention is None
    torch.testing.assert_close(with_attention.logits, without.logits, rtol=0, atol=0)
    torch.testing.assert_close(with_attention.value, without.value, rtol=0, atol=0)


def test_baseline_returns_no_attention_even_when_asked() -> None:
    agent = build_agent("baseline", obs_shape=OBS_SHAPE, n_actions=4)
    assert agent(random_obs(2), return_attention=True).attention is None


def test_attention_returned_is_the_one_used() -> None:
    # Recompute block 1's output from its returned weights: the policy's pass used exactly these maps.
    torch.manual_seed(1)
    agent = build_agent("relational", obs_shape=OBS_SHAPE, n_actions=4, blocks=1, heads=2, key_dim=8)
    obs = random_obs(2)
    weights = agent(obs, return_attention=True).attention[0]
    block = agent.blocks[0]
    x = agent.project(agent.entities(obs))
    value = block.qkv(x).view(2, -1, 3, 2, 8).permute(2, 0, 3, 1, 4)[2]
    mixed = (weights @ value).transpose(1, 2).reshape(2, -1, 16)
    attended = block.norm_attention(x + block.out(mixed))
    expected, _ = block(x)
    torch.testing.assert_close(block.norm_mlp(attended + block.mlp(attended)), expected)


def test_permuting_entities_permutes_attention_and_keeps_pooled_features() -> None:
    # Entities carry their (x, y) as features, so shuffling their order (coordinates travel along) must not
    # change the max-pooled features, and each attention map is permuted on both axes.
    torch.manual_seed(2)
    agent = build_agent("relational", obs_shape=OBS_SHAPE, n_actions=4, blocks=2)
    entities = agent.entities(random_obs(2))
    perm = torch.randperm(entities.shape[1], generator=torch.Generator().manual_seed(3))
    pooled, attention = agent.relate(entities)
    pooled_perm, attention_perm = agent.relate(entities[:, perm])
    torch.testing.assert_close(pooled_perm, pooled, rtol=1e-5, atol=1e-5)
    for weights, weights_perm in zip(attention, attention_perm, strict=True):
        torch.testing.assert_close(weights_perm, weights[:, :, perm][:, :, :, perm], rtol=1e-5, atol=1e-6)


def test_entities_are_row_major_with_coordinates_in_range() -> None:
    agent = build_agent("relational", obs_shape=(3, 4, 3), n_actions=2)
    entities = agent.entities(random_obs(1, (3, 4, 3)))
    assert entities.shape == (1, 12, 26)
    xy = entities[0, :, -2:]
    torch.testing.assert_close(xy[0], torch.tensor([-1.0, -1.0]))  # top-left
    torch.testing.assert_close(xy[3], torch.tensor([1.0, -1.0]))  # top-right: x is the column
    torch.testing.assert_close(xy[11], torch.tensor([1.0, 1.0]))  # bottom-right
    assert coordinate_planes(1, 1, torch.device("cpu"), torch.float32).abs().sum() == 0


def test_shared_weights_stack_blocks_with_one_parameter_set() -> None:
    shared = build_agent("relational", obs_shape=OBS_SHAPE, n_actions=4, blocks=4, share_weights=True)
    single = build_agent("relational", obs_shape=OBS_SHAPE, n_actions=4, blocks=1)
    assert parameter_count(shared) == parameter_count(single)
    assert len(shared(random_obs(1), return_attention=True).attention) == 4


def test_parameter_counts_are_matched() -> None:
    relational = parameter_count(build_agent("relational", obs_shape=OBS_SHAPE, n_actions=4))
    baseline = parameter_count(build_agent("baseline", obs_shape=OBS_SHAPE, n_actions=4))
    assert (relational, baseline) == (25881, 25123)
    assert 0.5 < baseline / relational < 2.0
    deep = parameter_count(build_agent("baseline", obs_shape=OBS_SHAPE, n_actions=4, blocks=6))
    assert 0.5 < deep / relational < 2.0


@pytest.mark.parametrize(
    ("name", "cfg", "message"),
    [
        ("transformer", {}, "unknown agent 'transformer'"),
        ("relational", {"layers": 2}, "unknown setting(s) layers"),
        ("relational", {"heads": 0}, "'heads' must be a whole number"),
        ("relational", {"share_weights": 1}, "'share_weights' must be true or false"),
        ("baseline", {"width": 2.5}, "'width' must be a whole number"),
    ],
)
def test_bad_configs_are_refused(name: str, cfg: dict, message: str) -> None:
    with pytest.raises(LanternError) as info:
        build_agent(name, obs_shape=OBS_SHAPE, n_actions=4, **cfg)
    assert message in info.value.what
    assert info.value.hint


def test_wrong_observations_are_refused() -> None:
    agent = build_agent("relational", obs_shape=OBS_SHAPE, n_actions=4)
    with pytest.raises(LanternError, match="do not fit this agent"):
        agent(random_obs(2, (12, 12, 3)))
    with pytest.raises(LanternError, match="do not fit this agent"):
        agent(random_obs(2).float())
    with pytest.raises(LanternError, match="not \\(height, width, channels\\)"):
        build_agent("relational", obs_shape=(10, 10), n_actions=4)


@pytest.mark.parametrize("name", ["relational", "baseline"])
def test_checkpoint_round_trip(name: str, tmp_path: Path) -> None:
    torch.manual_seed(4)
    agent = build_agent(name, obs_shape=OBS_SHAPE, n_actions=5, blocks=2)
    tensors, meta = agent_state(agent)
    assert meta == {
        "agent": name,
        "config": agent.config,
        "obs_shape": list(OBS_SHAPE),
        "n_actions": 5,
        "parameters": parameter_count(agent),
    }
    path = save_checkpoint(tmp_path / "agent.safetensors", tensors, None, meta)
    checkpoint = load_checkpoint(path)
    loaded = load_agent(checkpoint.model_state, checkpoint.meta)
    assert type(loaded) is type(agent) and loaded.config == agent.config
    obs = random_obs(3)
    torch.testing.assert_close(loaded(obs).logits, agent(obs).logits, rtol=0, atol=0)


def test_checkpoint_of_another_shape_names_the_mismatch() -> None:
    two_blocks = build_agent("relational", obs_shape=OBS_SHAPE, n_actions=4, blocks=2)
    tensors, meta = agent_state(two_blocks)

    with pytest.raises(LanternError) as info:
        load_agent(tensors, {**meta, "config": {**meta["config"], "blocks": 3}}, where="run 7 checkpoint")
    assert "missing" in info.value.what and "blocks.2." in info.value.what
    assert info.value.where == "run 7 checkpoint"

    with pytest.raises(LanternError) as info:
        load_agent(tensors, {**meta, "config": {**meta["config"], "key_dim": 8}})
    assert "wrong shape" in info.value.what
    assert "blocks.0.norm_attention.bias (32,) (agent has (16,))" in info.value.what

    with pytest.raises(LanternError) as info:
        load_agent(tensors, {**meta, "n_actions": 6})
    assert "head.policy.weight" in info.value.what

    baseline_tensors, _ = agent_state(build_agent("baseline", obs_shape=OBS_SHAPE, n_actions=4))
    with pytest.raises(LanternError) as info:
        load_agent(baseline_tensors, meta)
    assert "unexpected" in info.value.what and "do not fit a relational agent" in info.value.what

    with pytest.raises(LanternError, match="not \\(height, width, channels\\)"):
        load_agent(tensors, {**meta, "obs_shape": ["10", 10, 3]})

    with pytest.raises(LanternError, match="lacks agent"):
        load_agent(tensors, {"config": {}})


def test_catalog_imports_without_torch() -> None:
    code = (
        "import sys; import engine.rl.agents.catalog as c; import engine.rl.agents as a; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "print(sorted(c.AGENT_CATALOG), sorted(a.AGENTS))"
    )
    root = Path(__file__).resolve().parents[3]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['baseline', 'relational'] ['baseline', 'relational']"


def left_of_task(batch: int, generator: torch.Generator, side: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """Black side x side grids with one red and one blue pixel in different columns; label: red is left."""
    cells = torch.stack([torch.randperm(side * side, generator=generator)[:2] for _ in range(batch)])
    rows, cols = cells // side, cells % side
    keep = cols[:, 0] != cols[:, 1]
    rows, cols = rows[keep], cols[keep]
    obs = torch.zeros(len(rows), side, side, 3, dtype=torch.uint8)
    index = torch.arange(len(rows))
    obs[index, rows[:, 0], cols[:, 0], 0] = 255
    obs[index, rows[:, 1], cols[:, 1], 2] = 255
    return obs, (cols[:, 0] < cols[:, 1]).long()


def test_relational_agent_learns_a_relational_toy_task() -> None:
    # Whether red lies left of blue depends on two entities' positions at once: no single pixel tells.
    torch.manual_seed(5)
    generator = torch.Generator().manual_seed(6)
    small = {"blocks": 1, "heads": 2, "key_dim": 16, "mlp_width": 32, "head_width": 32}
    agent = build_agent("relational", obs_shape=(5, 5, 3), n_actions=2, **small)
    optimizer = torch.optim.Adam(agent.parameters(), lr=3e-3)
    for _ in range(250):
        obs, labels = left_of_task(64, generator)
        loss = torch.nn.functional.cross_entropy(agent(obs).logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    obs, labels = left_of_task(1000, generator)
    with torch.no_grad():
        accuracy = (agent(obs).logits.argmax(-1) == labels).float().mean().item()
    chance = max(labels.float().mean().item(), 1 - labels.float().mean().item())
    assert accuracy > 0.9 > chance + 0.3, (accuracy, chance)
