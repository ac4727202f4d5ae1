"""Train the agents bundled in assets/rl/boxworld-small/ from its config.json (the script that made them).

    python scripts/train_bundled_agent.py relational   # then: baseline
    python scripts/train_bundled_agent.py relational --steps 200000 --out /tmp/try   # a shorter trial

PPO over the batched Box-World on CPU, one torch thread (measured faster than two on a 2-core machine,
where the environment and the optimiser already share the cores). Every `eval_every` updates the greedy
agent plays `eval_episodes` held-out levels (a pool seeded apart from training's); the latest and the best
checkpoints are written to --out, together with the curve (curve.json). Ctrl+C stops after writing them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HELD_OUT_SEED = 1_000_003  # the evaluation levels' pool seed; training uses the config's seed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("agent", choices=("relational", "baseline"))
    parser.add_argument("--config", type=Path, default=ROOT / "assets/rl/boxworld-small/config.json")
    parser.add_argument("--out", type=Path, default=ROOT / "assets/rl/boxworld-small")
    parser.add_argument("--steps", type=int, default=None, help="override ppo.total_steps")
    args = parser.parse_args()

    import torch

    from engine.rl.agents import build_agent
    from engine.rl.boxworld.batched import BatchedBoxWorld
    from engine.rl.boxworld.config import BoxWorldConfig
    from engine.rl.checkpoints import save_agent_checkpoint
    from engine.rl.ppo import PPOConfig, evaluate, train_ppo

    torch.set_num_threads(1)
    config = json.loads(args.config.read_text())
    env_spec = config["env"]
    level_cfg = BoxWorldConfig.model_validate(env_spec["boxworld"])
    ppo = {**config["ppo"], **({"total_steps": args.steps} if args.steps else {})}
    ppo_cfg = PPOConfig(**ppo)
    seed = int(config.get("seed", 0))
    torch.manual_seed(seed)
    side = level_cfg.size + 2
    agent = build_agent(args.agent, obs_shape=(side, side, 3), n_actions=4, **config.get("agent_config", {}))
    env = BatchedBoxWorld(level_cfg, ppo_cfg.n_envs, seed=seed)
    episodes = int(config.get("eval_episodes", 200))

    def held_out(trained: torch.nn.Module) -> dict[str, float]:
        eval_env = BatchedBoxWorld(level_cfg, 100, seed=HELD_OUT_SEED, pool_size=episodes)
        return evaluate(trained, eval_env, episodes, greedy=False, seed=HELD_OUT_SEED)

    args.out.mkdir(parents=True, exist_ok=True)
    curve: list[dict[str, float]] = []
    best = -1.0
    started = time.perf_counter()

    def write(role: str, entry: dict[str, float]) -> None:
        meta = {"env": env_spec, "env_steps": int(entry["env_steps"]), "ppo": ppo_cfg.to_dict(),
                "eval": {"fraction_solved": entry.get("eval_fraction_solved"), "episodes": episodes,
                         "levels": f"held-out pool seed {HELD_OUT_SEED}"},
                "trained_by": "scripts/train_bundled_agent.py", "config_file": args.config.name,
                "wall_seconds": round(time.perf_counter() - started, 1)}
        save_agent_checkpoint(args.out / f"{args.agent}{role}.safetensors", agent, extra_meta=meta)

    def on_metrics(steps: float, entry: dict[str, float]) -> None:
        nonlocal best
        keep = {k: entry[k] for k in ("env_steps", "fraction_solved", "mean_return", "entropy",
                                      "eval_fraction_solved") if k in entry}
        keep["seconds"] = round(time.perf_counter() - started, 1)
        curve.append(keep)
        if "eval_fraction_solved" in entry:
            print(json.dumps(keep), flush=True)
            write("-latest", entry)
            if entry["eval_fraction_solved"] >= best:
                best = entry["eval_fraction_solved"]
                write("", entry)
            (args.out / f"{args.agent}-curve.json").write_text(json.dumps(curve))

    try:
        train_ppo(agent, env, ppo_cfg, device="cpu", metrics=on_metrics, eval_fn=held_out,
                  eval_every=int(config.get("eval_every", 25)))
    except KeyboardInterrupt:
        print("stopped; the best and latest checkpoints are written", flush=True)
    (args.out / f"{args.agent}-curve.json").write_text(json.dumps(curve))
    print(f"best held-out fraction solved {best:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
