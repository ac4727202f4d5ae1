"""`lantern augment ...`: list datasets, make scored views of one image (as a PNG grid), build and list banks.

Hooked into engine/cli.py by `add_augment_commands`. `views` loads the generator and judge in this process
(torch). `bank` runs the `augment.bank` job function in this process, recorded in the store as a job like
any other, with a progress bar on stderr; Ctrl+C stops it after the current shard, and `--resume BANK`
continues it at the first missing shard.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.errors import LanternError

BANK_EXAMPLE = "lantern augment bank --dataset fashion-mnist-demo --generator lantern --k 4 --limit 500"
CELL_SCALE = 4  # a 28-pixel Fashion-MNIST image is shown 112 pixels wide
CAPTION_H = 34


def parse_settings(pairs: list[str] | None) -> dict[str, Any]:
    """`--set name=value` pairs as a settings dict (numbers: every generator setting is numeric)."""
    settings: dict[str, Any] = {}
    for pair in pairs or []:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise LanternError(f"'{pair}' is not name=value", "--set", "e.g. --set steps=10 --set guidance=2")
        try:
            value: Any = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise LanternError(
                    f"setting '{name}' must be a number, got '{text}'", "--set", "e.g. --set guidance=2.5"
                ) from None
        settings[name.strip()] = value
    return settings


def _number(value: Any, percent: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    value = 0.0 if abs(value) < 5e-7 else value  # no "-0.000" for a rounding error around zero
    return f"{value:.1%}" if percent else f"{value:.3f}"


# datasets


def _cmd_datasets(args: argparse.Namespace) -> int:
    from engine.augment.ops import dataset_entries
    from engine.cli import _out, _print_json, _table

    entries = dataset_entries({})
    if args.json:
        _print_json(entries)
        return 0
    _table(
        ["NAME", "TRAIN", "TEST", "SHAPE", "CLASSES", "AVAILABLE"],
        [
            [
                e["name"],
                str(e["train"]),
                str(e["test"]),
                "x".join(str(v) for v in e["shape"]) or "-",
                str(len(e["classes"])),
                "yes" if e["available"] else f"no: {e['reason']}",
            ]
            for e in entries
        ],
    )
    _out("a folder of class subfolders works too: --dataset /path/to/images")
    return 0


# views


def write_grid(path: Path, source: np.ndarray, views: list[np.ndarray], captions: list[str]) -> Path:
    """A PNG: the source, then each view, every image enlarged with its caption underneath."""
    from PIL import Image, ImageDraw

    images = [source, *views]
    channels, height, width = source.shape
    cell_w, cell_h = width * CELL_SCALE, height * CELL_SCALE
    pad = 6
    canvas = Image.new("RGB", (len(images) * (cell_w + pad) + pad, cell_h + CAPTION_H + 2 * pad), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (image, caption) in enumerate(zip(images, captions, strict=True)):
        pixels = image[0] if channels == 1 else np.transpose(image, (1, 2, 0))
        tile = Image.fromarray(np.ascontiguousarray(pixels), "L" if channels == 1 else "RGB")
        tile = tile.resize((cell_w, cell_h), Image.Resampling.NEAREST)
        x = pad + i * (cell_w + pad)
        canvas.paste(tile.convert("RGB"), (x, pad))
        for line, text in enumerate(caption.split("\n")[:2]):
            draw.text((x, pad + cell_h + 3 + 14 * line), text, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path, format="PNG")
    return path


def _cmd_views(args: argparse.Namespace) -> int:
    from engine.augment.ops import cached_data, generate_view, to_uint8
    from engine.cli import _out, _print_json, _table

    if args.count < 1 or args.count > 64:
        raise LanternError(f"--count must be from 1 to 64, got {args.count}", "--count", "e.g. --count 8")
    settings = parse_settings(args.set)
    cache: dict[str, Any] = {}
    answers = [
        generate_view(
            cache,
            dataset=args.dataset,
            index=args.index,
            generator=args.generator,
            checkpoint=args.checkpoint,
            settings=settings,
            seed=args.seed,
            view=v,
        )
        for v in range(args.count)
    ]
    data = cached_data(cache, args.dataset)
    source = to_uint8(data.train.images[args.index])
    label_name = answers[0]["source_name"]
    diversity = answers[-1]["diversity"]
    rows = [
        {
            "view": v,
            "seed": a["seed"],
            "similarity": a["similarity"],
            "label_kept": a["label_kept"],
            "predicted": a["predicted"],
            "predicted_name": a["predicted_name"],
        }
        for v, a in enumerate(answers)
    ]
    out = None
    if args.out:
        captions = [f"source #{args.index}\n{label_name}"] + [
            f"sim {a['similarity']:.2f}\n{'kept' if a['label_kept'] else a['predicted_name']}"
            for a in answers
        ]
        out = write_grid(Path(args.out), source, [a["view"] for a in answers], captions)
    summary = {
        "similarity_mean": float(np.mean([r["similarity"] for r in rows])),
        "label_kept_rate": float(np.mean([r["label_kept"] for r in rows])),
        "diversity": diversity,
    }
    if args.json:
        _print_json(
            {
                "dataset": args.dataset,
                "index": args.index,
                "label": answers[0]["source_label"],
                "label_name": label_name,
                "generator": args.generator,
                "checkpoint": args.checkpoint,
                "settings": settings,
                "seed": args.seed,
                "views": rows,
                "summary": summary,
                "grid": str(out) if out else None,
            }
        )
        return 0
    _out(
        f"{args.count} views of train image #{args.index} ({label_name}) of {args.dataset} "
        f"by {args.generator}"
    )
    _table(
        ["VIEW", "SEED", "SIMILARITY", "LABEL KEPT", "PREDICTED"],
        [
            [
                str(r["view"]),
                str(r["seed"]),
                _number(r["similarity"]),
                "yes" if r["label_kept"] else "no",
                r["predicted_name"],
            ]
            for r in rows
        ],
    )
    _out(
        f"mean similarity {_number(summary['similarity_mean'])}, label kept "
        f"{_number(summary['label_kept_rate'], True)}, diversity {_number(diversity)}"
    )
    if out:
        _out(f"grid: {out}")
    return 0


# banks


def _spec_document(args: argparse.Namespace) -> dict[str, Any]:
    """The job's params: only what was given, so a resume takes the rest from the bank itself."""
    document: dict[str, Any] = {}
    for field in ("dataset", "limit", "generator", "checkpoint", "k", "seed", "name"):
        value = getattr(args, field)
        if value is not None:
            document[field] = value
    if args.set:
        document["settings"] = parse_settings(args.set)
    if args.resume is not None:
        document["bank_id"] = args.resume
    return document


def run_bank_job(
    store: Any, document: dict[str, Any], on_event: Callable[[Any], None], cancel_flag: Callable[[], bool]
) -> tuple[int, dict[str, Any]]:
    """Run `augment.bank` in this process as a job recorded in the store; returns (job id, result).

    JobCancelled and errors propagate after the job's verdict is stored.
    """
    from engine.augment.jobs import BANK_JOB, bank_job  # importing it registers the job
    from engine.core.device import choose_device
    from engine.core.errors import JobCancelled
    from engine.core.settings import load_settings
    from engine.jobs.context import JobContext
    from engine.jobs.registry import validate_spec

    _, spec = validate_spec({"job": BANK_JOB, "params": document}, where="lantern augment bank")
    settings = load_settings()
    device = choose_device(settings.device, settings.half_precision)
    job_id = store.jobs.create(BANK_JOB, spec.model_dump(mode="json", exclude_unset=True))
    store.jobs.set_status(job_id, "running", pid=os.getpid(), message=f"running on {device.device}")
    context = None
    try:
        with tempfile.TemporaryDirectory(prefix=f"lantern-job-{job_id}-") as workdir:
            context = JobContext(job_id, store, on_event, device, Path(workdir), cancel_flag=cancel_flag)
            result = bank_job(context, spec)
    except JobCancelled:
        store.jobs.set_status(job_id, "cancelled", message="cancelled by the user")
        raise
    except LanternError as exc:
        store.jobs.set_status(job_id, "failed", message=exc.what, error=exc.message)
        raise
    except BaseException as exc:
        store.jobs.set_status(job_id, "failed", message=f"{type(exc).__name__}: {exc}", error=str(exc))
        raise
    store.jobs.set_status(job_id, "done", message="done", result=result)
    return job_id, result


def _present_bank(result: dict[str, Any]) -> None:
    from engine.cli import _out

    summary = result.get("summary") or {}
    _out(
        f"bank #{result['bank_id']} '{result['name']}': {result['views']} views "
        f"({result['images']} images x {result['k']})"
    )
    _out(
        f"  similarity:   {_number(summary.get('similarity_mean'))} "
        f"(sd {_number(summary.get('similarity_std'))})"
    )
    _out(f"  label kept:   {_number(summary.get('label_kept_rate'), True)}")
    _out(f"  diversity:    {_number(summary.get('diversity_mean'))}")


def _cmd_bank(args: argparse.Namespace) -> int:
    from engine.cli import EXIT_JOB_NOT_DONE, _err, _EventPrinter, _opened_store, _print_json
    from engine.core.errors import JobCancelled
    from engine.jobs.progressbar import ProgressBar

    document = _spec_document(args)
    bar = ProgressBar(sys.stderr)
    printer = _EventPrinter(bar)
    stop = threading.Event()
    in_main = threading.current_thread() is threading.main_thread()

    def on_interrupt(*_: Any) -> None:
        if not stop.is_set():
            bar.print_above("stopping after the current shard (the bank resumes with --resume)")
        stop.set()

    previous = signal.signal(signal.SIGINT, on_interrupt) if in_main else None
    try:
        with _opened_store() as store:
            try:
                job_id, result = run_bank_job(store, document, printer, stop.is_set)
            except JobCancelled:
                bar.close()
                from engine.augment.repository import BankRepository

                banks = BankRepository(store).list()
                hint = f" (--resume {banks[0].id})" if banks and banks[0].status == "building" else ""
                _err(f"cancelled; the shards written so far are kept{hint}")
                return EXIT_JOB_NOT_DONE
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
        bar.close()
    if args.json:
        _print_json({"job": job_id, **result})
    else:
        _present_bank(result)
    return 0


def _cmd_banks(args: argparse.Namespace) -> int:
    from engine.augment.ops import bank_rows
    from engine.cli import _err, _opened_store, _print_json, _table

    with _opened_store() as store:
        rows = bank_rows(store)
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        _err(f"no banks yet: {BANK_EXAMPLE}")
        return 0
    _table(
        ["ID", "NAME", "GENERATOR", "K", "IMAGES", "STATUS", "DONE", "SIMILARITY", "KEPT", "DIVERSITY"],
        [
            [
                str(r["id"]),
                r["name"],
                r["generator"],
                str(r["k"]),
                str(r["images"]),
                r["status"],
                f"{r['progress']['fraction']:.0%}",
                _number(r["summary"].get("similarity_mean")),
                _number(r["summary"].get("label_kept_rate"), True),
                _number(r["summary"].get("diversity_mean")),
            ]
            for r in rows
        ],
    )
    return 0


def add_augment_commands(commands: Any) -> None:
    """Add `augment` and its actions to the top-level subparsers of `lantern`."""
    augment = commands.add_parser("augment", help="generative views of images: view grids, banks of views")
    augment.set_defaults(handler=None, parser=augment)
    actions = augment.add_subparsers(title="augment commands", metavar="ACTION")

    datasets = actions.add_parser("datasets", help="the image datasets views and banks are made from")
    datasets.add_argument("--json", action="store_true", help="print as JSON")
    datasets.set_defaults(handler=_cmd_datasets)

    views = actions.add_parser(
        "views",
        help="generated views of one image with their faithfulness scores (and a PNG grid)",
        description="example: lantern augment views --dataset fashion-mnist-demo --index 3 "
        "--generator lantern --count 8 --out grid.png",
    )
    views.add_argument("--dataset", required=True, metavar="D", help="a dataset name or a folder of images")
    views.add_argument("--index", required=True, type=int, metavar="I", help="train image number")
    views.add_argument("--generator", required=True, metavar="G", help="lantern, identity, other_image, ...")
    views.add_argument("--checkpoint", metavar="C", help="the generator's checkpoint (default: its own)")
    views.add_argument("--count", type=int, default=8, help="views to make (default 8)")
    views.add_argument("--seed", type=int, default=0, help="seed of view 0; view v uses seed + v")
    views.add_argument(
        "--set", action="append", metavar="NAME=VALUE", help="a generator setting (repeatable)"
    )
    views.add_argument("--out", metavar="FILE.png", help="write a grid of the source and its views")
    views.add_argument("--json", action="store_true", help="print as JSON")
    views.set_defaults(handler=_cmd_views)

    bank = actions.add_parser(
        "bank",
        help="build a bank of K views per train image (resumable; Ctrl+C stops after a shard)",
        description=f"example: {BANK_EXAMPLE}",
    )
    bank.add_argument(
        "--dataset", metavar="D", help="a dataset name or a folder (default fashion-mnist-demo)"
    )
    bank.add_argument("--generator", metavar="G", help="the generator (default lantern)")
    bank.add_argument("--k", type=int, metavar="K", help="views per image, 1-64 (default 4)")
    bank.add_argument("--limit", type=int, metavar="N", help="use at most N train images")
    bank.add_argument("--checkpoint", metavar="C", help="the generator's checkpoint (default: its own)")
    bank.add_argument("--seed", type=int, help="seed of the views (default 0)")
    bank.add_argument("--set", action="append", metavar="NAME=VALUE", help="a generator setting (repeatable)")
    bank.add_argument("--name", help="a name for the bank")
    bank.add_argument("--resume", type=int, metavar="ID", help="continue bank ID at its first missing shard")
    bank.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    bank.set_defaults(handler=_cmd_bank)

    listing = actions.add_parser("banks", help="the banks in the store, with progress and scores")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(handler=_cmd_banks)
