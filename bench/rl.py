"""Box-World bench: environment steps per second of the batched torch environment against the gymnasium
environment stepped in a Python loop, measured in one run.

    .venv/bin/python bench/rl.py [--device cpu|cuda] [--size 12] [--steps 200] [--threads N] [--json PATH]

Both environments play the same configuration (the paper's 12x12 by default: solution length 1-4, 0-4
distractor branches) with uniformly random actions; every finished level is replaced by a new one (the
batched environment from its level pool, the gymnasium one by generating a level in reset(), which is part
of what a Python loop pays). Figure: environment steps per second (batch x steps / seconds), best of 3.
Peer: BoxWorldEnv.step in a Python loop over the same number of steps. Target: at least 50x on CPU; on a
GPU the batched figure at 16,384 envs (target 10^8 steps/s on an H200, measured when a GPU is at hand).

    .venv/bin/python bench/rl.py --learning [--learning-config FILE] [--learning-steps N]

adds the learning table: the relational agent and the baseline each trained from scratch with the bundled
configuration (assets/rl/boxworld-small/config.json: its levels, PPO settings and seed) by the same code
as the bundled agents (engine.rl.curriculum with the recipe beside the config), evaluated on held-out levels
every `eval_every` updates; figure: environment steps until the held-out fraction solved on the config's
levels first reaches 90 % (training goes on to the recipe's stop_at; "not reached" shows the best seen),
peer: the baseline, ratio: baseline steps / relational steps. Long on a CPU: tens of minutes per agent.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # so `python bench/rl.py` imports the checkout's packages

RATIO_TARGET = 50.0
LEARNING_TARGET = 0.9  # the figure: env steps to 90 % of held-out levels solved
BATCHES = (1_024, 16_384)


@dataclass
class Row:
    figure: str
    lantern: float
    peer_name: str
    peer: float

    @property
    def ratio(self) -> float:
        return self.lantern / self.peer if self.peer else float("nan")


def gym_steps_per_second(cfg: object, steps: int, seed: int) -> float:
    import numpy as np

    from engine.rl.boxworld.env import BoxWorldEnv

    env = BoxWorldEnv(cfg)  # type: ignore[arg-type]
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).integers(0, 4, size=steps)
    started = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(int(action))
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - started)


def batched_steps_per_second(cfg: object, batch: int, steps: int, device: str, seed: int) -> float:
    import torch

    from engine.rl.boxworld.batched import BatchedBoxWorld

    env = BatchedBoxWorld(cfg, batch, device=device, seed=seed)  # type: ignore[arg-type]
    env.reset()
    generator = torch.Generator(device=device).manual_seed(seed)
    actions = torch.randint(0, 4, (steps, batch), device=device, generator=generator)
    env.step(actions[0])  # warm-up: first-call allocations
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for step in range(steps):
        env.step(actions[step])
    if device == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - started)


def steps_to_solve(config_path: Path, agent: str, max_steps: int, device: str) -> dict:
    """Train `agent` from scratch with the config and the curriculum recipe beside it (capped at max_steps):
    the env steps at which it first solved LEARNING_TARGET of the config's held-out levels (None if never),
    the best held-out fraction solved there and the wall time."""
    from engine.rl.curriculum import load_recipe, train_curriculum
    from engine.rl.train_config import load_train_config

    config = load_train_config(config_path)
    recipe_path = config_path.with_name("curriculum.json")
    recipe = load_recipe(recipe_path) if recipe_path.is_file() else {}
    total = min(config.ppo_config().total_steps, max_steps)
    started = time.perf_counter()

    def show(entry: dict[str, float]) -> None:
        print(
            f"  {agent}: stage {entry['stage']:.0f}, {entry['env_steps']:,.0f} steps, held-out solved "
            f"{entry['eval_fraction_solved']:.3f}",
            flush=True,
        )

    result = train_curriculum(
        config, recipe, agent_name=agent, total_steps=total, device=device, on_eval=show
    )
    final = len(recipe.get("curriculum", []))  # the stage index of the config's own levels
    reached = next(
        (
            entry["env_steps"]
            for entry in result.curve
            if entry["stage"] == final and entry.get("eval_fraction_solved", -1.0) >= LEARNING_TARGET
        ),
        None,
    )
    return {
        "agent": agent,
        "steps": reached,
        "target": LEARNING_TARGET,
        "best": result.best,
        "evaluated_to": float(result.env_steps),
        "seconds": time.perf_counter() - started,
    }


def best_of(repeats: int, measure: object) -> float:
    return max(measure() for _ in range(repeats))  # type: ignore[operator]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--size", type=int, default=12, help="inner grid side (the paper: 12)")
    parser.add_argument("--steps", type=int, default=200, help="steps per timing of the batched env")
    parser.add_argument("--gym-steps", type=int, default=20_000, help="steps per timing of the gym env")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steadiest on small CPUs)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument("--learning", action="store_true", help="also measure env steps to 90%% solved")
    parser.add_argument("--learning-config", type=Path, default=REPO / "assets/rl/boxworld-small/config.json")
    parser.add_argument("--learning-steps", type=int, default=4_000_000, help="cap per agent")
    args = parser.parse_args(argv)

    import torch

    from engine.rl.boxworld import BoxWorldConfig

    torch.set_num_threads(args.threads)
    cfg = BoxWorldConfig(size=args.size)
    started = time.perf_counter()
    peer = best_of(args.repeats, lambda: gym_steps_per_second(cfg, args.gym_steps, seed=0))

    def batched(batch: int) -> float:
        return batched_steps_per_second(cfg, batch, args.steps, args.device, 0)

    rows = [
        Row(
            f"batched env, {batch:,} levels ({args.device})",
            best_of(args.repeats, lambda b=batch: batched(b)),
            "BoxWorldEnv.step in a Python loop (cpu)",
            peer,
        )
        for batch in BATCHES
    ]
    print(
        f"bench/rl.py: CPython {platform.python_version()}, torch {torch.__version__}, "
        f"device {args.device}, torch threads {args.threads}, Box-World {args.size}x{args.size}, "
        f"{time.perf_counter() - started:.0f} s"
    )
    print()
    print("| figure | Lantern steps/s | peer | peer steps/s | ratio | target | |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        ok = row.ratio >= RATIO_TARGET
        print(
            f"| {row.figure} | {row.lantern:,.0f} | {row.peer_name} | {row.peer:,.0f} | {row.ratio:.1f}x | "
            f">= {RATIO_TARGET:g}x | {'ok' if ok else 'MISSED'} |"
        )
    learning = []
    if args.learning:
        print()
        learning = [
            steps_to_solve(args.learning_config, agent, args.learning_steps, args.device)
            for agent in ("relational", "baseline")
        ]
        print()
        print(f"| figure ({args.learning_config.name}) | relational | peer | baseline | ratio |")
        print("|---|---|---|---|---|")

        def shown(row: dict) -> str:
            if row["steps"] is None:
                best = row["best"]
                seen = f"best {best:.2f}" if best > -1 else "the config's own levels not reached yet"
                return f"not reached by {row['evaluated_to']:,.0f} ({seen})"
            return f"{row['steps']:,.0f} ({row['seconds']:.0f} s)"

        rel, base = learning
        ratio = f"{base['steps'] / rel['steps']:.2f}x" if rel["steps"] and base["steps"] else "-"
        print(
            f"| env steps to {rel['target']:.0%} held-out solved | {shown(rel)} | residual conv "
            f"baseline | {shown(base)} | {ratio} |"
        )
    if args.json:
        payload = {"throughput": [asdict(row) | {"ratio": row.ratio} for row in rows], "learning": learning}
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
