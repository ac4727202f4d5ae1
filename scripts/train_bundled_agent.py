"""Train the agents bundled in assets/rl/boxworld-small/ from its config.json (the script that made them).

    python scripts/train_bundled_agent.py relational   # then: baseline
    python scripts/train_bundled_agent.py relational --steps 200000 --out /tmp/try   # a shorter trial

PPO over the batched Box-World on CPU, one torch thread (on a 2-core machine two agents train side by side).
config.json is an RLTrainConfig (`lantern rl train --config` takes it too, and trains on its levels
directly). curriculum.json beside it lists easier level families trained first, each until the agent
solves `until` of its held-out levels (or `max_env_steps` pass); then the config's own levels are trained
until `stop_at` of their held-out levels are solved or ppo.total_steps (all stages together) are spent.
One Adam optimiser carries over between stages. Every `eval_every` updates the agent (its policy
sampled, as it acts) plays `eval_episodes` held-out levels, from a pool seeded apart from training's;
the latest and the best checkpoints of the final stage are written to --out with the whole curve
(<agent>-curve.json). Ctrl+C stops after writing them.
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


class StageDone(Exception):
    """The stage's held-out target is reached."""


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
    from engine.rl.ppo import PPOConfig, evaluate, make_optimiser, train_ppo
    from engine.rl.train_config import load_train_config

    torch.set_num_threads(1)
    config = load_train_config(args.config)
    recipe_path = args.config.with_name("curriculum.json")
    recipe = json.loads(recipe_path.read_text()) if recipe_path.is_file() else {}
    env_spec = config.env.model_dump(mode="json")
    target = env_spec["boxworld"]
    ppo_cfg = config.ppo_config()
    if args.steps:
        ppo_cfg = PPOConfig(**{**ppo_cfg.to_dict(), "total_steps": args.steps})
    seed, episodes, eval_every = config.seed, config.eval_episodes, config.eval_every
    stages = [
        {**stage, "boxworld": {**target, **stage["boxworld"]}} for stage in recipe.get("curriculum", [])
    ] + [{"boxworld": target, "until": float(recipe.get("stop_at", 1.0)), "final": True}]
    torch.manual_seed(seed)
    side = BoxWorldConfig.model_validate(target).size + 2
    agent = build_agent(args.agent, obs_shape=(side, side, 3), n_actions=4, **config.agent_config)
    optimiser = make_optimiser(agent, ppo_cfg)
    args.out.mkdir(parents=True, exist_ok=True)
    curve: list[dict[str, float]] = []
    started = time.perf_counter()
    spent = 0
    best = -1.0

    for index, stage in enumerate(stages):
        level_cfg = BoxWorldConfig.model_validate(stage["boxworld"])
        final = bool(stage.get("final"))
        budget = ppo_cfg.total_steps - spent
        if not final:
            budget = min(budget, int(stage.get("max_env_steps", budget)))
        if budget <= 0:
            break
        env = BatchedBoxWorld(level_cfg, ppo_cfg.n_envs, seed=seed + index)

        def held_out(trained: torch.nn.Module, cfg: BoxWorldConfig = level_cfg) -> dict[str, float]:
            eval_env = BatchedBoxWorld(cfg, 100, seed=HELD_OUT_SEED, pool_size=episodes)
            return evaluate(trained, eval_env, episodes, greedy=False, seed=HELD_OUT_SEED)

        def write(role: str, entry: dict[str, float], stage_index: int = index) -> None:
            meta = {
                "env": env_spec,
                "env_steps": int(entry["env_steps"]),
                "ppo": ppo_cfg.to_dict(),
                "eval": {
                    "fraction_solved": entry.get("eval_fraction_solved"),
                    "episodes": episodes,
                    "policy": "sampled",
                    "levels": f"held-out pool seed {HELD_OUT_SEED}",
                },
                "curriculum_stage": stage_index,
                "trained_by": "scripts/train_bundled_agent.py",
                "config_file": args.config.name,
                "curriculum": recipe,
                "wall_seconds": round(time.perf_counter() - started, 1),
            }
            save_agent_checkpoint(args.out / f"{args.agent}{role}.safetensors", agent, extra_meta=meta)

        def on_metrics(
            steps: float,
            entry: dict[str, float],
            offset: int = spent,
            stage_index: int = index,
            stage: dict = stage,
            final: bool = final,
        ) -> None:
            nonlocal best
            keep = {
                k: entry[k]
                for k in ("fraction_solved", "mean_return", "entropy", "eval_fraction_solved")
                if k in entry
            }
            keep.update(
                env_steps=offset + steps, stage=stage_index, seconds=round(time.perf_counter() - started, 1)
            )
            curve.append(keep)
            if "eval_fraction_solved" not in entry:
                return
            print(json.dumps(keep), flush=True)
            (args.out / f"{args.agent}-curve.json").write_text(json.dumps(curve))
            if final:
                write("-latest", keep)
                if entry["eval_fraction_solved"] >= best:
                    best = entry["eval_fraction_solved"]
                    write("", keep)
            if entry["eval_fraction_solved"] >= float(stage.get("until", 1.0)):
                raise StageDone

        stage_ppo = PPOConfig(**{**ppo_cfg.to_dict(), "total_steps": budget, "seed": ppo_cfg.seed + index})
        print(f"stage {index}: {stage['boxworld']} for up to {budget:,} steps", flush=True)
        try:
            train_ppo(
                agent,
                env,
                stage_ppo,
                device="cpu",
                metrics=on_metrics,
                eval_fn=held_out,
                eval_every=eval_every,
                optimiser=optimiser,
            )
        except StageDone:
            pass
        except KeyboardInterrupt:
            print("stopped; the best and latest checkpoints are written", flush=True)
            break
        spent = int(curve[-1]["env_steps"]) if curve else spent
    (args.out / f"{args.agent}-curve.json").write_text(json.dumps(curve))
    print(f"best held-out fraction solved {best:.3f} after {spent:,} env steps", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
