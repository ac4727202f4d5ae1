"""Train the agents bundled in assets/rl/boxworld-small/ (the script that made them).

    python scripts/train_bundled_agent.py relational   # then: baseline
    python scripts/train_bundled_agent.py relational --steps 200000 --out /tmp/try   # a shorter trial

config.json is an RLTrainConfig (`lantern rl train --config` takes it too, and trains on its levels
directly); curriculum.json beside it is the recipe of engine.rl.curriculum: easier level families first,
each until the agent solves a share of its held-out levels, then the config's own levels until `stop_at`.
PPO over the batched Box-World on CPU with one torch thread (on a 2-core machine both agents train side by
side). The final stage's latest and best checkpoints and the whole curve are written to --out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


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

    from engine.rl.curriculum import load_recipe, train_curriculum
    from engine.rl.train_config import load_train_config

    torch.set_num_threads(1)
    config = load_train_config(args.config)
    recipe_path = args.config.with_name("curriculum.json")
    recipe = load_recipe(recipe_path) if recipe_path.is_file() else {}
    result = train_curriculum(
        config,
        recipe,
        agent_name=args.agent,
        out=args.out,
        total_steps=args.steps,
        on_eval=lambda entry: print(json.dumps(entry), flush=True),
    )
    print(
        f"best held-out fraction solved {result.best:.3f} after {result.env_steps:,} env steps; "
        f"{recipe.get('stop_at', 1.0):.0%} reached at {result.reached_at}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
