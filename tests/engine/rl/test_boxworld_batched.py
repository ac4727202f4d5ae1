"""BatchedBoxWorld: step-by-step agreement with BoxWorldEnv, auto-reset, pool resets, speed."""

import time

import numpy as np
import pytest
import torch

from engine.core.errors import LanternError
from engine.rl.boxworld import AGENT, BoxWorldConfig, generate_level
from engine.rl.boxworld.batched import BatchedBoxWorld
from engine.rl.boxworld.env import BoxWorldEnv
from engine.rl.boxworld.level import solution_actions
from engine.rl.boxworld.palette import PALETTE


def test_batched_env_agrees_with_gym_env_step_by_step() -> None:
    cfg = BoxWorldConfig(size=7, solution_length=[1, 3], distractors=[0, 2], max_steps=40)
    batch, steps = 64, 300
    level_rng = np.random.default_rng(7)
    queue: list = []

    def source(n: int) -> list:
        levels = [generate_level(cfg, level_rng) for _ in range(n)]
        queue.extend(levels)  # the gym side replays exactly these, in the same (ascending env) order
        return levels

    benv = BatchedBoxWorld(cfg, batch, level_source=source)
    bobs = benv.reset()
    gyms = [BoxWorldEnv(cfg) for _ in range(batch)]
    gobs = [g.reset(options={"level": queue.pop(0)})[0] for g in gyms]
    plans = [solution_actions(g.level) for g in gyms]
    rng = np.random.default_rng(3)
    counts = {"box": 0, "gem": 0, "distractor": 0, "truncated": 0, "pickup": 0}
    for _ in range(steps):
        assert np.array_equal(bobs.numpy(), np.stack(gobs))
        # a third follow the solution, a third follow it with 30% random moves, a third move at random
        actions = rng.integers(4, size=batch)
        for i in range(batch):
            noisy = i % 3 == 1 and rng.random() < 0.3
            if i % 3 != 2 and plans[i] and not noisy:
                actions[i] = plans[i].pop(0)
        held_before = np.array([g.held for g in gyms])
        bobs, brew, bterm, btrunc, info = benv.step(torch.as_tensor(actions))
        for i, g in enumerate(gyms):
            obs, r, term, trunc, ginfo = g.step(int(actions[i]))
            assert (brew[i].item(), bterm[i].item(), btrunc[i].item(), info["solved"][i].item()) == (
                r,
                term,
                trunc,
                ginfo["solved"],
            ), f"env {i}"
            counts["box"] += r == 1.0
            counts["gem"] += r == 10.0
            counts["distractor"] += r == -1.0
            counts["truncated"] += trunc
            counts["pickup"] += g.held != held_before[i] and g.held != 0
            if term or trunc:
                obs = g.reset(options={"level": queue.pop(0)})[0]
                plans[i] = solution_actions(g.level)
            gobs[i] = obs
    assert not queue
    assert all(v > 0 for v in counts.values()), counts


def test_pool_resets_give_valid_levels_and_refill() -> None:
    cfg = BoxWorldConfig(size=6, solution_length=[1, 2], distractors=[0, 1], max_steps=3)
    env = BatchedBoxWorld(cfg, 16, seed=1, pool_size=8, pool_reuse=1)
    obs = env.reset()
    assert obs.shape == (16, 8, 8, 3) and obs.dtype == torch.uint8
    first_pool = env._pool[0].clone()
    for _ in range(9):  # every env truncates every 3 steps: 16 draws each time, pool of 8 refills
        obs, _, term, trunc, _ = env.step(torch.zeros(16, dtype=torch.long))
    assert trunc.all() and not term.any()
    agent_pixels = (obs == torch.as_tensor(PALETTE[AGENT])).all(-1).flatten(1).sum(1)
    assert (agent_pixels == 1).all()
    assert not torch.equal(first_pool, env._pool[0])


def test_reset_to_checks_the_level_count() -> None:
    cfg = BoxWorldConfig(size=6, solution_length=1, distractors=0)
    env = BatchedBoxWorld(cfg, 4)
    with pytest.raises(LanternError, match="one level per env"):
        env.reset_to([generate_level(cfg, np.random.default_rng(0))])


def test_batched_speed_sanity() -> None:
    cfg = BoxWorldConfig(size=12, solution_length=[1, 4], distractors=[0, 4])
    env = BatchedBoxWorld(cfg, 1024, pool_size=256)
    env.reset()
    actions = torch.randint(4, (100, 1024), generator=torch.Generator().manual_seed(0))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: intra-op spin waits make timings erratic on a busy CI machine
    try:
        start = time.perf_counter()
        for k in range(100):
            env.step(actions[k])
        elapsed = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    assert elapsed < 3.0, f"{100 * 1024 / elapsed:.0f} steps/s"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    cfg = BoxWorldConfig(size=8, solution_length=[1, 2], distractors=[0, 1], max_steps=30)
    levels = [generate_level(cfg, np.random.default_rng(i)) for i in range(32)]
    cpu, gpu = BatchedBoxWorld(cfg, 32), BatchedBoxWorld(cfg, 32, device="cuda")
    assert torch.equal(cpu.reset_to(levels), gpu.reset_to(levels).cpu())
    gen = torch.Generator().manual_seed(0)
    for _ in range(25):  # before any auto-reset, so both hold the same levels
        a = torch.randint(4, (32,), generator=gen)
        c, g = cpu.step(a), gpu.step(a.cuda())
        assert all(torch.equal(x, y.cpu()) for x, y in zip(c[:4], g[:4], strict=True))
