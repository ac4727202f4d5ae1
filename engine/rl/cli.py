"""`lantern rl ...`: train agents (as "rl.train" jobs), test how they generalise, read their attention.

Hooked into engine/cli.py by `add_rl_commands`. `train` runs through the same JobRunner the GUI uses
(recorded in the store, Ctrl+C cancels, `lantern jobs resume` continues it); a bad config is refused
before anything is stored. `eval` and `attention` load a checkpoint in this process (torch); a checkpoint
is a path, or `bundled` / `bundled:baseline` for the agents shipped in assets/rl/boxworld-small/.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from engine.core.errors import LanternError

TRAIN_EXAMPLE = "lantern rl train --config examples/rl/boxworld-small.json"


def resolve_checkpoint(text: str) -> Path:
    """A --checkpoint argument as a file: a path, or `bundled` / `bundled:baseline`."""
    from engine.rl.checkpoints import resolve_checkpoint as resolve

    return resolve(text, "--checkpoint")


def _number(value: Any, percent: bool = False) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
        return "-" if value is None or isinstance(value, float) else str(value)
    if percent:
        return f"{value:.1%}"
    return str(value) if isinstance(value, int) else f"{value:.3f}"


# train and list


def _present_train(result: dict[str, Any]) -> None:
    from engine.cli import _out

    _out(f"run #{result['run_id']} '{result['name']}': {result['agent']} agent on {result['env']}")
    resumed = result.get("resumed_from_steps") or 0
    _out(f"  env steps:             {result['env_steps']}" + (f" (resumed at {resumed})" if resumed else ""))
    _out(
        f"  held-out solved:       {_number(result.get('eval_fraction_solved'), True)} "
        f"(best {_number(result.get('best_eval_fraction_solved'), True)})"
    )
    _out(f"  held-out mean return:  {_number(result.get('eval_mean_return'))}")
    _out(f"  checkpoint:            {result.get('checkpoint') or '-'}")
    _out(f"  best checkpoint:       {result.get('best_checkpoint') or '-'}")
    _out(f"curves: lantern runs export {result['run_id']} --csv -")


def _cmd_train(args: argparse.Namespace) -> int:
    from engine.cli import _follow, _opened_store, _print_json
    from engine.jobs.registry import validate_spec
    from engine.rl.train_config import load_train_config, parse_train_config

    config = load_train_config(args.config)
    document = config.model_dump(mode="json")
    if args.device:
        document["device"] = args.device
        parse_train_config(document, f"{args.config} with --device {args.device}")
    spec = {"job": "rl.train", "params": document}
    validate_spec(spec, where="RL training config")  # a bad config stores nothing
    with _opened_store() as store:
        return _follow(
            store,
            lambda runner, on_event: runner.submit(spec, on_event),
            args.json,
            present=lambda record: (
                _print_json(record.result or {}) if args.json else _present_train(record.result or {})
            ),
        )


def rl_runs(store: Any) -> list[dict[str, Any]]:
    """The rl-train runs in the store, newest first, with their latest checkpoint and its evaluation."""
    from engine.rl.jobs import RUN_KIND, best_checkpoint, latest_checkpoint

    listing = []
    for run in store.runs.list(text=RUN_KIND):
        if run.kind != RUN_KIND:
            continue
        latest, best = latest_checkpoint(store, run.id), best_checkpoint(store, run.id)
        meta = latest.meta if latest else {}
        listing.append(
            {
                "run_id": run.id,
                "name": run.name,
                "status": run.status,
                "agent": run.config.get("agent"),
                "env": (run.config.get("env") or {}).get("kind"),
                "env_steps": meta.get("env_steps", 0),
                "eval_fraction_solved": meta.get("eval_fraction_solved"),
                "best_eval_fraction_solved": best.meta.get("eval_fraction_solved") if best else None,
                "checkpoint": str(store.artifacts.root / latest.relpath) if latest else None,
                "best_checkpoint": str(store.artifacts.root / best.relpath) if best else None,
                "created_at": run.created_at,
            }
        )
    return listing


def _cmd_list(args: argparse.Namespace) -> int:
    from engine.cli import _err, _opened_store, _print_json, _table, _when

    with _opened_store() as store:
        listing = rl_runs(store)
    if args.json:
        _print_json(listing)
        return 0
    if not listing:
        _err(f"no RL runs yet: {TRAIN_EXAMPLE}")
        return 0
    _table(
        [
            "RUN",
            "NAME",
            "AGENT",
            "ENV",
            "STATUS",
            "ENV STEPS",
            "EVAL SOLVED",
            "BEST",
            "CREATED",
            "CHECKPOINT",
        ],
        [
            [
                str(r["run_id"]),
                r["name"],
                str(r["agent"]),
                str(r["env"]),
                r["status"],
                str(r["env_steps"]),
                _number(r["eval_fraction_solved"], True),
                _number(r["best_eval_fraction_solved"], True),
                _when(r["created_at"]),
                r["checkpoint"] or "-",
            ]
            for r in listing
        ],
    )
    return 0


# eval and attention


def _boxworld_agent(text: str) -> tuple[Any, Any, dict[str, Any], Path]:
    """(agent, BoxWorldConfig, meta, path) of a Box-World checkpoint."""
    from engine.rl.boxworld.config import BoxWorldConfig
    from engine.rl.checkpoints import load_agent_checkpoint

    path = resolve_checkpoint(text)
    agent, meta = load_agent_checkpoint(path)
    env = meta.get("env") or {}
    if env.get("kind") != "boxworld" or not isinstance(env.get("boxworld"), dict):
        raise LanternError(
            f"the checkpoint's agent was trained on {env.get('id') or env.get('kind') or 'an unknown env'}, "
            "not Box-World",
            str(path),
            "generalisation and attention statistics are defined on Box-World levels: "
            "pick a Box-World checkpoint",
        )
    return agent, BoxWorldConfig.model_validate(env["boxworld"]), meta, path


def _check_episodes(episodes: int) -> None:
    if episodes < 1:
        raise LanternError(
            f"--episodes must be at least 1, got {episodes}", "--episodes", "e.g. --episodes 200"
        )


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(
            f"{k} {_describe(v)}"
            for k, v in value.items()
            if not isinstance(v, dict | list) or (isinstance(v, list) and len(v) <= 4)
        )
    if isinstance(value, list):
        return "[" + ", ".join(_describe(v) for v in value) + "]"
    return _number(value) if isinstance(value, float) else str(value)


LEVEL_KEYS = ("size", "solution_length", "distractors", "withheld_pairs")


def generalisation_rows(report: dict[str, Any]) -> list[list[str]]:
    """One row per condition of a generalisation report (its "conditions", or the report itself): name,
    fraction solved, mean return, episodes, and the levels used -- or why the condition does not apply."""
    conditions = report.get("conditions", report)
    rows = []
    for name, value in conditions.items():
        if not isinstance(value, dict) or "fraction_solved" not in value:
            continue
        if value.get("applicable") is False:
            levels = f"not applicable: {value.get('reason') or '-'}"
        else:
            config = value.get("config") or {}
            parts = {k: config[k] for k in LEVEL_KEYS if config.get(k) not in (None, [])}
            if value.get("pairs"):
                parts["pairs"] = value["pairs"]
            levels = _describe(parts)
        rows.append(
            [
                str(value.get("name", name)),
                _number(value["fraction_solved"], True),
                _number(value.get("mean_return")),
                _number(value.get("episodes")),
                levels,
            ]
        )
    return rows


def _report_envelope(
    args: argparse.Namespace, path: Path, meta: dict[str, Any], report: Any
) -> dict[str, Any]:
    """The JSON that `rl eval --json` and `rl attention --json` print around their report."""
    return {
        "checkpoint": str(path),
        "agent": meta.get("agent"),
        "env_steps": meta.get("env_steps"),
        "episodes": args.episodes,
        "seed": args.seed,
        "policy": "greedy" if args.greedy else "sampled",
        "report": report,
    }


def _cmd_eval(args: argparse.Namespace) -> int:
    from engine.cli import _out, _print_json, _table
    from engine.rl.generalisation import generalisation  # written alongside; loaded only here

    _check_episodes(args.episodes)
    agent, boxworld, meta, path = _boxworld_agent(args.checkpoint)
    report = generalisation(agent, boxworld, episodes=args.episodes, seed=args.seed, greedy=args.greedy)
    if args.json:
        _print_json(_report_envelope(args, path, meta, report))
        return 0
    _out(
        f"{meta.get('agent')} agent from {path} ({meta.get('env_steps', '?')} env steps); "
        f"{'greedy' if args.greedy else 'sampled policy'}, {args.episodes} episodes per condition, "
        f"seed {args.seed}"
    )
    rows = generalisation_rows(report)
    if rows:
        _table(["CONDITION", "SOLVED", "MEAN RETURN", "EPISODES", "LEVELS"], rows)
    for name, value in (report.get("conditions") or {}).items():
        if isinstance(value, dict) and value.get("description"):
            _out(f"  {name}: {value['description']}")
    return 0


def _find_stats(report: dict[str, Any]) -> dict[str, Any] | None:
    if "key_to_lock" in report:
        return report
    for value in report.values():
        if isinstance(value, dict) and (found := _find_stats(value)) is not None:
            return found
    return None


def attention_rows(stats: dict[str, Any]) -> list[list[str]]:
    """Per block and head (and the report's per-block "mean" rows when it has a "table"): the key->lock,
    ->agent and ->gem attention masses, each with its multiple of chance."""
    if isinstance(stats.get("table"), list):
        entries = stats["table"]
    else:
        entries = [
            {
                "block": block,
                "head": head,
                **{name: stats[name][block][head] for name in _MASSES if stats.get(name)},
            }
            for block, heads in enumerate(stats.get("key_to_lock") or [])
            for head in range(len(heads))
        ]
    rows = []
    for entry in entries:
        row = [str(entry.get("block")), str(entry.get("head"))]
        for name in ("key_to_lock", "to_agent", "to_gem"):
            ratio = entry.get(f"{name}_vs_chance")
            row += [_number(entry.get(name)), "-" if ratio is None else f"{_number(ratio)}x"]
        rows.append(row)
    return rows


_MASSES = (
    "key_to_lock",
    "key_to_lock_vs_chance",
    "to_agent",
    "to_agent_vs_chance",
    "to_gem",
    "to_gem_vs_chance",
)


def _cmd_attention(args: argparse.Namespace) -> int:
    from engine.cli import _out, _print_json, _table
    from engine.rl.attention_report import attention_report  # written alongside; loaded only here

    _check_episodes(args.episodes)
    agent, boxworld, meta, path = _boxworld_agent(args.checkpoint)
    report = attention_report(agent, boxworld, episodes=args.episodes, seed=args.seed, greedy=args.greedy)
    if args.json:
        _print_json(_report_envelope(args, path, meta, report))
        return 0
    _out(
        f"{meta.get('agent')} agent from {path}; attention over {args.episodes} "
        f"{'greedy' if args.greedy else 'sampled'} episodes, "
        f"seed {args.seed}"
    )
    stats = _find_stats(report)
    if stats is None:
        _out(f"this agent reports no attention statistics: {_describe(report)}")
        return 0
    _out(
        f"chance (1/N) = {_number(stats.get('chance'))} over {stats.get('entities')} entities; "
        f"{stats.get('steps')} steps, {stats.get('key_lock_pairs')} key-lock cases"
    )
    _table(
        ["BLOCK", "HEAD", "KEY->LOCK", "xCHANCE", "->AGENT", "xCHANCE", "->GEM", "xCHANCE"],
        attention_rows(stats),
    )
    if isinstance(report.get("solved_fraction"), int | float):
        _out(f"episodes solved: {_number(report['solved_fraction'], True)}")
    return 0


def add_rl_commands(commands: Any) -> None:
    """Add `rl` and its actions to the top-level subparsers of `lantern`."""
    rl = commands.add_parser(
        "rl", help="relational RL: train agents on Box-World, test generalisation, attention"
    )
    rl.set_defaults(handler=None, parser=rl)
    actions = rl.add_subparsers(title="rl commands", metavar="ACTION")

    train = actions.add_parser(
        "train",
        help="train an agent with PPO from a config (a resumable job)",
        description=f"example: {TRAIN_EXAMPLE}",
    )
    train.add_argument("--config", required=True, metavar="FILE", help="an RLTrainConfig (.json or .toml)")
    train.add_argument(
        "--device", metavar="D", help="override the config's device: auto, cpu, cuda, cuda:N, mps"
    )
    train.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    train.set_defaults(handler=_cmd_train)

    for name, handler, text in (
        ("eval", _cmd_eval, "fraction solved on held-out, longer and withheld-pair levels"),
        ("attention", _cmd_attention, "attention statistics per block and head (key->lock vs chance)"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument(
            "--checkpoint",
            required=True,
            metavar="C",
            help="a checkpoint path, 'bundled' or 'bundled:baseline'",
        )
        action.add_argument("--episodes", type=int, default=200, help="episodes per condition (default 200)")
        action.add_argument("--seed", type=int, default=0, help="level seed (default 0)")
        action.add_argument("--json", action="store_true", help="print as JSON")
        action.add_argument(
            "--greedy", action="store_true", help="take the most likely action (default: sample the policy)"
        )
        action.set_defaults(handler=handler)

    listing = actions.add_parser(
        "list", help="the RL runs in the store, with their evaluation and checkpoint"
    )
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(handler=_cmd_list)
