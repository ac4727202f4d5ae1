"""`lantern attribution ...`: run experiments and sweeps, show leaderboards, preview manipulations, explore.

Hooked into engine/cli.py by `add_attribution_commands`. Experiments run as "attribution.experiment" jobs
through the same JobRunner the GUI uses (recorded in the store, Ctrl+C cancels, `lantern jobs resume`
continues them); a bad config is refused before anything is stored. `explore` runs in this process and
loads torch; the other commands load none unless they train.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from engine.core.errors import LanternError

RUN_EXAMPLE = "lantern attribution run --config examples/attribution/fashion.json"
SWEEP_EXAMPLE = (
    "lantern attribution sweep --config examples/attribution/fashion.json --over r --values 0.5,0.7,0.9"
)
EXPLORE_EXAMPLE = "lantern attribution explore chelsea coffee --method integrated_gradients"


def _number(value: Any) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def _column(row: dict[str, Any], sweep: str | None) -> str:
    if sweep == "r":
        return f"{row['manipulation']} r={row['r']:g}"
    if sweep == "strength":
        return f"{row['manipulation']} s={row['strength']:g}"
    return str(row["manipulation"])


def board_table(
    rows: list[dict[str, Any]], pass_rates: list[dict[str, Any]], sweep: str | None = None
) -> tuple[list[str], list[list[str]]]:
    """Methods x manipulations (x sweep points): 'mean ± sd' cells, then the region share and pass rate."""
    columns: list[str] = []
    methods: list[str] = []
    cells: dict[tuple[str, str], str] = {}
    shares: dict[str, list[float]] = {}
    bounds: dict[str, float] = {}
    for row in rows:
        column = _column(row, sweep)
        if column not in columns:
            columns.append(column)
        if row["method"] not in methods:
            methods.append(row["method"])
        cells[(row["method"], column)] = f"{_number(row['mean'])} ± {_number(row['std'])} ({row['n_runs']})"
        shares.setdefault(column, []).append(row["region_share"])
        if row.get("bound") is not None:
            bounds[column] = row["bound"]
    for rate in pass_rates:
        column = _column(rate, sweep)
        if column not in columns:
            columns.append(column)
    body = [[method] + [cells.get((method, column), "-") for column in columns] for method in methods]
    body.append(["region share"] + [_number(shares[c][0]) if c in shares else "-" for c in columns])
    if bounds:  # Attr% only: the least a model that beats p* must put in the region (SCIENCE.md, D)
        body.append(["bound 1.5-max(r,1-r)"] + [_number(bounds[c]) if c in bounds else "-" for c in columns])
    passes = {_column(rate, sweep): f"{rate['passed']}/{rate['total']}" for rate in pass_rates}
    body.append(["passed runs"] + [passes.get(column, "-") for column in columns])
    return ["METHOD", *columns], body


def _sweep_key(config: dict[str, Any] | None) -> str | None:
    sweep = (config or {}).get("sweep")
    return next(iter(sweep)) if sweep else None


def _present_board(
    title: str, rows: list[dict[str, Any]], pass_rates: list[dict[str, Any]], sweep: str | None
) -> None:
    from engine.cli import _out, _table

    _out(title)
    if not rows and not pass_rates:
        _out("  (no replicates stored)")
        return
    headers, body = board_table(rows, pass_rates, sweep)
    _table(headers, body)


def _present_experiment(result: dict[str, Any], as_json: bool, condition: str) -> None:
    from engine.cli import _out, _print_json

    if as_json:
        _print_json(result)
        return
    rows = result["leaderboard"].get(condition, [])
    _present_board(
        f"experiment '{result['name']}' (run #{result['run_id']}): Attr% ({condition} samples), "
        "mean ± sd over passing runs (n)",
        rows,
        result["pass_rates"],
        _sweep_key({"sweep": result.get("sweep")}),
    )
    _out(
        f"{result['passed']} of {result['replicates']} runs passed the accuracy filter "
        f"({result['pass_rate']:.0%}); galleries: {result.get('gallery_path') or '-'}"
    )
    for warning in result.get("warnings") or []:
        print(f"warning: {warning}", file=sys.stderr)
    _out(
        f"presence/absence and the other metrics: lantern attribution leaderboard {result['run_id']} "
        "--condition presence --metric pointing_game"
    )


def _run_config(document: dict[str, Any], as_json: bool) -> int:
    from engine.cli import _follow, _opened_store
    from engine.jobs.registry import validate_spec

    spec = {"job": "attribution.experiment", "params": document}
    validate_spec(spec, where="experiment config")  # a bad config stores nothing
    with _opened_store() as store:
        return _follow(
            store,
            lambda runner, on_event: runner.submit(spec, on_event),
            as_json,
            present=lambda record: _present_experiment(record.result or {}, as_json, "all"),
        )


def _cmd_run(args: argparse.Namespace) -> int:
    from engine.attribution.experiment_config import load_config

    config = load_config(args.config)
    return _run_config(config.model_dump(mode="json"), args.json)


def _values(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise LanternError(
            f"--values must be numbers separated by commas, not '{text}'",
            "lantern attribution sweep",
            "e.g. --values 0.5,0.7,0.9",
        ) from exc
    if not values:
        raise LanternError(
            "--values names no value", "lantern attribution sweep", "e.g. --values 0.5,0.7,0.9"
        )
    return values


def _cmd_sweep(args: argparse.Namespace) -> int:
    from engine.attribution.experiment_config import load_config, parse_config

    config = load_config(args.config)
    document = config.model_dump(mode="json")
    document["sweep"] = {args.over: _values(args.values)}
    if args.over == "strength":
        # One strength for every manipulation: their own strengths do not apply to a strength sweep.
        document["manipulations"] = [{"name": m["name"]} for m in document["manipulations"]]
    parse_config(document, f"{args.config} with --over {args.over} --values {args.values}")
    return _run_config(document, args.json)


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    from engine.attribution.repository import AttributionRepository, _row_dict
    from engine.cli import _err, _opened_store, _print_json

    with _opened_store() as store:
        repo = AttributionRepository(store)
        record = repo.experiment(args.run_id)
        rows = [_row_dict(row) for row in repo.leaderboard(args.run_id, args.metric, args.condition)]
        rates = [
            {
                "manipulation": p.manipulation,
                "strength": p.strength,
                "r": p.r,
                "passed": p.passed,
                "total": p.total,
                "rate": p.rate,
            }
            for p in repo.pass_rates(args.run_id)
        ]
        if args.csv:
            count = repo.export_csv(args.run_id, args.csv, args.metric, args.condition)
            _err(f"wrote {count} leaderboard rows of run #{args.run_id} to {args.csv}")
    if args.json:
        _print_json(
            {
                "run_id": args.run_id,
                "metric": args.metric,
                "condition": args.condition,
                "pass_rate": record.pass_rate,
                "pass_rates": rates,
                "leaderboard": rows,
            }
        )
        return 0
    _present_board(
        f"experiment '{record.name}' (run #{record.run_id}, {record.status}): {args.metric} "
        f"({args.condition} samples), mean ± sd over passing runs (n)",
        rows,
        rates,
        _sweep_key(record.config),
    )
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from engine.attribution.repository import AttributionRepository
    from engine.cli import _err, _opened_store, _print_json, _table, _when

    with _opened_store() as store:
        records = AttributionRepository(store).experiments()
    if args.json:
        _print_json(records)
        return 0
    if not records:
        _err(f"no attribution experiments yet: {RUN_EXAMPLE}")
        return 0
    _table(
        ["RUN", "NAME", "STATUS", "PASSED", "CREATED"],
        [
            [str(r.run_id), r.name, r.status, f"{r.passed}/{r.replicates}", _when(r.created_at)]
            for r in records
        ],
    )
    return 0


# preview


def _preview_base(args: argparse.Namespace, colour: bool) -> Any:
    from engine.attribution import datasets

    if args.base == "fashion_pair":
        return datasets.fashion_pair(tuple(args.classes), colour=colour, limit=args.limit, seed=args.seed)
    if args.base == "image_folder":
        if not args.path:
            raise LanternError(
                "image_folder needs --path FOLDER", "lantern attribution preview", "see --help"
            )
        return datasets.image_folder(args.path, size=args.size)
    return datasets.rotten_tomatoes(limit=args.limit or 2000, seed=args.seed)


def preview_grid(images: Any, count: int, scale: int = 4) -> Any:
    """A Pillow image: originals, modified, and modified with the region tinted red, one column per sample."""
    import numpy as np
    from PIL import Image, ImageDraw

    from engine.attribution.experiment import gallery_indices

    chosen = gallery_indices(np.asarray(images.manipulated, dtype=bool), count)
    _, _, height, width = images.images.shape
    cell_h, cell_w, pad, header = height * scale, width * scale, 4, 14

    def rgb(array: Any) -> Any:
        array = np.asarray(array, dtype=np.float32)
        array = np.repeat(array, 3, axis=0) if array.shape[0] == 1 else array
        return array.transpose(1, 2, 0)

    rows = []
    for i in chosen:
        modified = rgb(images.images[i])
        tinted = modified.copy()
        mask = np.asarray(images.masks[i], dtype=bool)
        tinted[mask] = 0.55 * tinted[mask] + 0.45 * np.array([1.0, 0.1, 0.1])
        rows.append([rgb(images.originals[i]), modified, tinted])
    grid = Image.new("RGB", (len(chosen) * (cell_w + pad) + pad, header + 3 * (cell_h + pad) + pad), "white")
    draw = ImageDraw.Draw(grid)
    for column, (i, cells) in enumerate(zip(chosen, rows, strict=True)):
        x = pad + column * (cell_w + pad)
        draw.text((x, 1), f"y={int(images.labels[i])}{' M' if images.manipulated[i] else ''}", fill="black")
        for row, cell in enumerate(cells):
            pixels = (np.clip(cell, 0, 1) * 255).round().astype(np.uint8)
            tile = Image.fromarray(pixels).resize((cell_w, cell_h), Image.Resampling.NEAREST)
            grid.paste(tile, (x, header + pad + row * (cell_h + pad)))
    return grid


def _cmd_preview(args: argparse.Namespace) -> int:
    from engine.attribution.manipulations import IMAGE_MANIPULATIONS, TEXT_MANIPULATIONS
    from engine.attribution.modify import modify_images, modify_texts
    from engine.cli import _err, _out

    where = "lantern attribution preview"
    text = args.base == "rotten_tomatoes"
    registry: dict[str, Any] = TEXT_MANIPULATIONS if text else IMAGE_MANIPULATIONS
    if args.manipulation not in registry:
        raise LanternError(
            f"unknown {'text' if text else 'image'} manipulation '{args.manipulation}'",
            where,
            f"use one of {', '.join(registry)}",
        )
    if not 0.0 <= args.r <= 1.0:
        raise LanternError(f"r must lie in [0, 1], got {args.r}", where, "e.g. --r 0.5")
    if text:
        data = modify_texts(
            _preview_base(args, False), args.manipulation, strength=args.strength, r=args.r, seed=args.seed
        )
        for i in range(min(args.count, len(data))):
            words = [f"[{w}]" if m else w for w, m in zip(data.tokens[i], data.masks[i], strict=True)]
            _out(f"y={int(data.labels[i])}{' M' if data.manipulated[i] else '  '} {' '.join(words)}")
        return 0
    if not args.out:
        raise LanternError("preview of images needs --out FILE.png", where, "e.g. --out preview.png")
    colour = bool(registry[args.manipulation].needs_colour) or args.colour
    data = modify_images(
        _preview_base(args, colour), args.manipulation, strength=args.strength, r=args.r, seed=args.seed
    )
    grid = preview_grid(data, args.count)
    out = Path(args.out)
    try:
        grid.save(out, format="PNG")
    except (OSError, ValueError) as exc:
        raise LanternError(
            f"cannot write the preview ({exc})", str(out), "choose a writable .png path"
        ) from exc
    _err(
        f"wrote {out}: original / modified / region (red) of {min(args.count, len(data))} samples; "
        f"'{args.manipulation}' strength {data.strength:g}, r {data.r:g}, p* {data.p_star:.3f}, "
        f"region {float(data.region_share().mean()):.1%} of the image"
    )
    return 0


# explore


def _cmd_explore(args: argparse.Namespace) -> int:
    from engine.attribution.explore import explore, load_pretrained
    from engine.cli import _err, _out, _print_json, _table

    model = load_pretrained(args.model, device=args.device)
    results = explore(args.images, args.method, model=model, top_k=args.top_k, device=args.device)
    if args.out:
        _save_overlays(results, Path(args.out))
        _err(f"wrote {len(results)} overlay(s) to {args.out}")
    if args.json:
        _print_json(
            {
                "model": model.name,
                "method": args.method,
                "results": [
                    {
                        "name": r.name,
                        "target": r.target,
                        "target_name": r.target_name,
                        "top_k": [
                            {"index": c.index, "name": c.name, "probability": c.probability} for c in r.top_k
                        ],
                        "map_sum": float(r.map.sum()),
                        "map_max": float(r.map.max()),
                    }
                    for r in results
                ],
            }
        )
        return 0
    _out(f"{model.name} ({model.source}); {args.method} maps for each image's top class")
    rows = []
    for r in results:
        for rank, c in enumerate(r.top_k, start=1):
            rows.append(
                [r.name if rank == 1 else "", str(rank), f"{c.name} (#{c.index})", f"{c.probability:.3f}"]
            )
    _table(["IMAGE", "RANK", "CLASS", "PROBABILITY"], rows)
    return 0


def _save_overlays(results: list[Any], folder: Path) -> None:
    import numpy as np
    from PIL import Image

    try:
        folder.mkdir(parents=True, exist_ok=True)
        for r in results:
            image = r.image.transpose(1, 2, 0)
            heat = r.map / (r.map.max() or 1.0)
            overlay = (
                0.5 * image + 0.5 * np.stack([heat, np.zeros_like(heat), 1 - heat], axis=-1) * heat[..., None]
            )
            side = np.concatenate([image, np.clip(overlay, 0, 1)], axis=1)
            stem = Path(r.name).stem
            Image.fromarray((side * 255).round().astype(np.uint8)).save(folder / f"{stem}-{r.method}.png")
    except OSError as exc:
        raise LanternError(
            f"cannot write the overlays ({exc})", str(folder), "choose a writable folder"
        ) from exc


def _classes(text: str) -> tuple[int, int]:
    try:
        first, second = (int(part) for part in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not two class numbers like 0,6") from exc
    return first, second


def add_attribution_commands(commands: Any) -> None:
    """Add `attribution` and its actions to the top-level subparsers of `lantern`."""
    attribution = commands.add_parser(
        "attribution", help="score attribution methods against ground truth made by dataset modification"
    )
    attribution.set_defaults(handler=None, parser=attribution)
    actions = attribution.add_subparsers(title="attribution commands", metavar="ACTION")

    run = actions.add_parser(
        "run",
        help="train the runs of an experiment config, score every method, print the leaderboard",
        description=f"example: {RUN_EXAMPLE}",
    )
    run.add_argument("--config", required=True, metavar="FILE", help="an ExperimentConfig (.json or .toml)")
    run.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    run.set_defaults(handler=_cmd_run)

    sweep = actions.add_parser(
        "sweep",
        help="the same experiment at several values of r or strength",
        description=f"example: {SWEEP_EXAMPLE}",
    )
    sweep.add_argument("--config", required=True, metavar="FILE")
    sweep.add_argument("--over", required=True, choices=("r", "strength"))
    sweep.add_argument("--values", required=True, help="comma-separated, e.g. 0.5,0.7,0.9")
    sweep.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    sweep.set_defaults(handler=_cmd_sweep)

    board = actions.add_parser("leaderboard", help="an experiment's leaderboard (method x manipulation)")
    board.add_argument("run_id", type=int, metavar="RUN_ID")
    board.add_argument(
        "--metric", default="attr_pct", help="attr_pct, pointing_game, top_k_overlap, auroc, ..."
    )
    board.add_argument("--condition", default="all", choices=("all", "presence", "absence"))
    board.add_argument("--csv", metavar="PATH", help="also write the leaderboard as CSV")
    board.add_argument("--json", action="store_true", help="print as JSON")
    board.set_defaults(handler=_cmd_leaderboard)

    listing = actions.add_parser("list", help="the attribution experiments in the store")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(handler=_cmd_list)

    preview = actions.add_parser("preview", help="original, modified and region of a few samples (PNG)")
    preview.add_argument(
        "--base", default="fashion_pair", choices=("fashion_pair", "image_folder", "rotten_tomatoes")
    )
    preview.add_argument("--manipulation", required=True)
    preview.add_argument("--strength", type=float, help="default: the manipulation's own")
    preview.add_argument("--r", type=float, default=0.5, help="probability that a label is kept")
    preview.add_argument(
        "--classes", type=_classes, default=(0, 6), help="fashion_pair classes (default 0,6)"
    )
    preview.add_argument("--colour", action="store_true", help="fashion_pair: tint the garments")
    preview.add_argument("--path", help="image_folder: the folder")
    preview.add_argument("--size", type=int, help="image_folder: resize to SIZE x SIZE")
    preview.add_argument("--limit", type=int, default=200, help="base samples to load (default 200)")
    preview.add_argument("--count", type=int, default=8, help="samples shown (default 8)")
    preview.add_argument("--seed", type=int, default=0)
    preview.add_argument("--out", metavar="PNG", help="where to write the grid (images)")
    preview.set_defaults(handler=_cmd_preview)

    explore = actions.add_parser(
        "explore",
        help="a pretrained classifier's top classes and attribution maps on your images (or demo photos)",
        description=f"example: {EXPLORE_EXAMPLE}; demo photos: astronaut, chelsea, coffee, rocket",
    )
    explore.add_argument("images", nargs="+", metavar="IMAGE_OR_DEMO_NAME")
    explore.add_argument("--method", default="saliency")
    explore.add_argument(
        "--model",
        default="efficientnet-lite0",
        help="efficientnet-lite0 (offline) or a Hugging Face name/folder",
    )
    explore.add_argument("--top-k", type=int, default=5)
    explore.add_argument("--device", default="cpu")
    explore.add_argument("--out", metavar="DIR", help="write image | map overlay PNGs here")
    explore.add_argument("--json", action="store_true", help="print as JSON")
    explore.set_defaults(handler=_cmd_explore)
