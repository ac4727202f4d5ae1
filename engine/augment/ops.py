"""Interactive ops of the Augment page: datasets and their images, generators, generated and classic views
of one image with their faithfulness scores, and browsing banks.

Arrays travel as engine.jobs.arrays.encode_array dicts (uint8 images [.., C, H, W]). Datasets, generators and
judges stay in the server's cache, so the first `augment.views` call pays for loading and the next ones
answer at once. `augment.views` makes ONE view per call (the GUI calls it `count` times, so views stream
in): view v of a request is seeded by seed + v, and its diversity is measured among the views of the
same request made so far. The plain functions (`generate_view`, `classic_views`, ...) serve the CLI too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from engine.augment.datasets import BUNDLED, FULL, AugmentData, load_augment_data
from engine.core.errors import LanternError
from engine.jobs.arrays import encode_array
from engine.jobs.interactive import cached_store, register_op

DATASETS_OP = "augment.datasets"
IMAGES_OP = "augment.images"
GENERATORS_OP = "augment.generators"
VIEWS_OP = "augment.views"
CLASSIC_OP = "augment.classic"
BANKS_OP = "augment.banks"
BANK_PAGE_OP = "augment.bank_page"
MAX_PAGE = 512  # images per augment.images / augment.bank_page answer
MAX_COUNT = 64  # classic views per answer
_DATA = "augment.data/"
_GENERATOR = "augment.generator/"
_JUDGE = "augment.judge/"
_VIEWS = "augment.views/"
_KEEP = {_DATA: 3, _GENERATOR: 2, _JUDGE: 3, _VIEWS: 16}  # entries kept per kind: memory stays bounded
DATASET_TITLES = {
    BUNDLED: "Fashion-MNIST (bundled subset)",
    FULL: "Fashion-MNIST (full, Debian's dataset-fashion-mnist)",
}


# the cache


def _remember(cache: dict[str, Any], prefix: str, key: str, make: Any) -> Any:
    full = prefix + key
    if full not in cache:
        stale = [k for k in cache if k.startswith(prefix)]
        for old in stale[: max(0, len(stale) + 1 - _KEEP[prefix])]:
            del cache[old]
        cache[full] = make()
    return cache[full]


def _source_key(source: str) -> str:
    """A folder is keyed with its modification time too, so images added to it are seen."""
    if source in (BUNDLED, FULL):
        return source
    folder = Path(source).expanduser()
    return f"{folder.resolve()}@{folder.stat().st_mtime_ns if folder.is_dir() else 0}"


def _source(dataset: Any, folder: Any = None) -> str:
    source = folder if folder not in (None, "") else dataset
    if not isinstance(source, str) or not source:
        raise LanternError(
            f"dataset must be a dataset name or a folder path, got {source!r}",
            "augment: dataset",
            f"use {BUNDLED!r}, {FULL!r} or a folder of class subfolders",
        )
    return source


def cached_data(cache: dict[str, Any], source: str, limit: int | None = None) -> AugmentData:
    return _remember(
        cache, _DATA, f"{_source_key(source)}|{limit}", lambda: load_augment_data(source, limit=limit)
    )


def op_device(cache: dict[str, Any]) -> str:
    """The device of the user's settings (the server is its own process, so CUDA may start here)."""
    if "augment.device" not in cache:
        from engine.core.device import choose_device
        from engine.core.settings import load_settings

        settings = load_settings()
        cache["augment.device"] = choose_device(settings.device, settings.half_precision).device
    return cache["augment.device"]


def cached_generator(cache: dict[str, Any], name: Any, checkpoint: Any, source: str) -> Any:
    """The generator, loaded once; other_image draws from the train split of `source`."""
    from engine.augment.bank import OTHER_IMAGE, normalise_checkpoint
    from engine.augment.generators import make_generator

    if not isinstance(name, str) or not name:
        raise LanternError(f"generator must be a name, got {name!r}", "augment: generator", "e.g. 'lantern'")
    checkpoint = normalise_checkpoint(name, checkpoint)
    device = op_device(cache)

    def make() -> Any:
        if name != OTHER_IMAGE:
            return make_generator(name, checkpoint=checkpoint, device=device)
        import torch

        pool = torch.from_numpy(np.ascontiguousarray(cached_data(cache, source).train.images))
        return make_generator(name, checkpoint=checkpoint, device=device, pool=pool)

    pool_key = _source_key(source) if name == OTHER_IMAGE else ""
    return _remember(cache, _GENERATOR, f"{name}|{checkpoint}|{device}|{pool_key}", make)


def cached_judge(cache: dict[str, Any], source: str) -> Any:
    from engine.augment.bank import load_judge

    device = op_device(cache)
    return _remember(cache, _JUDGE, f"{_source_key(source)}|{device}", lambda: load_judge(source, device))


# plain functions (ops and CLI)


def _whole(value: Any, name: str, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise LanternError(
            f"{name} must be a whole number of at least {minimum}, got {value!r}", f"{where}: {name}", ""
        )
    return value


def _source_image(data: AugmentData, index: Any, where: str) -> tuple[np.ndarray, int]:
    count = len(data.train.labels)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
        raise LanternError(
            f"image index {index!r} is out of range: {data.name} has {count} train images",
            f"{where}: index",
            f"pick an index from 0 to {count - 1}",
        )
    return data.train.images[index], int(data.train.labels[index])


def to_uint8(images: np.ndarray) -> np.ndarray:
    return np.round(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)


def _scores(judge: Any, source: np.ndarray, label: int, views_u8: np.ndarray, device: str) -> Any:
    """Faithfulness of uint8 views [K, C, H, W] (scored as stored, like a bank's)."""
    import torch

    from engine.augment.faithfulness import score_views

    views = torch.from_numpy(np.ascontiguousarray(views_u8)).to(device=device, dtype=torch.float32) / 255.0
    return score_views(judge, torch.from_numpy(np.ascontiguousarray(source)).to(device), label, views)


def generate_view(
    cache: dict[str, Any],
    *,
    dataset: str,
    index: int,
    generator: str,
    checkpoint: str | None = None,
    settings: dict[str, Any] | None = None,
    seed: int = 0,
    view: int = 0,
) -> dict[str, Any]:
    """View number `view` of train image `index` (seeded by seed + view) with its scores; diversity is
    among the views of this (image, generator, settings, seed) made so far in this cache."""
    import torch

    from engine.augment.bank import OTHER_IMAGE

    where = VIEWS_OP
    seed = _whole(seed, "seed", where)
    view = _whole(view, "view", where)
    if settings is not None and not isinstance(settings, dict):
        raise LanternError(f"settings must be an object, got {settings!r}", f"{where}: settings", "")
    data = cached_data(cache, dataset)
    source, label = _source_image(data, index, where)
    model = cached_generator(cache, generator, checkpoint, dataset)
    checked = model.check_settings(dict(settings or {}))
    judge = cached_judge(cache, dataset)
    key = json.dumps([_source_key(dataset), index, generator, checkpoint, checked, seed], default=str)
    made: dict[int, np.ndarray] = _remember(cache, _VIEWS, key, dict)
    if view not in made:
        device = op_device(cache)
        sources = torch.from_numpy(np.ascontiguousarray(source[None])).to(device)
        with torch.no_grad():
            where = {"source_index": index} if generator == OTHER_IMAGE else {}
            out = model.views_batch(sources, 1, seed + view, **where, **checked)
        made[view] = to_uint8(out[0, 0].detach().float().cpu().numpy())
    order = sorted(made)
    scores = _scores(judge, source, label, np.stack([made[v] for v in order]), op_device(cache))
    at = order.index(view)
    predicted = int(np.asarray(scores.predicted)[at])
    return {
        "view": made[view],
        "index": index,
        "seed": seed + view,
        "similarity": float(np.asarray(scores.similarity)[at]),
        "label_kept": bool(np.asarray(scores.label_kept)[at]),
        "predicted": predicted,
        "predicted_name": data.class_names[predicted] if 0 <= predicted < len(data.class_names) else "",
        "source_label": label,
        "source_name": data.class_names[label],
        "diversity": float(scores.diversity) if len(order) > 1 else None,
        "views_so_far": len(order),
    }


def classic_views(
    cache: dict[str, Any], *, dataset: str, index: int, count: int = 8, seed: int = 0
) -> dict[str, Any]:
    """`count` classic SSL augmentations (the paper's defaults) of one image, scored by the same judge."""
    import torch

    from engine.augment.classic import ClassicAugment, ClassicConfig

    where = CLASSIC_OP
    count = _whole(count, "count", where, 1)
    if count > MAX_COUNT:
        raise LanternError(f"count {count} is too many", f"{where}: count", f"ask for at most {MAX_COUNT}")
    seed = _whole(seed, "seed", where)
    data = cached_data(cache, dataset)
    source, label = _source_image(data, index, where)
    judge = cached_judge(cache, dataset)
    images = torch.from_numpy(np.ascontiguousarray(source[None])).repeat(count, 1, 1, 1)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        views = to_uint8(ClassicAugment(ClassicConfig())(images, generator).float().cpu().numpy())
    scores = _scores(judge, source, label, views, op_device(cache))
    predicted = [int(p) for p in np.asarray(scores.predicted)]
    return {
        "views": views,
        "similarity": [float(v) for v in np.asarray(scores.similarity)],
        "label_kept": [bool(v) for v in np.asarray(scores.label_kept)],
        "predicted": predicted,
        "predicted_names": [data.class_names[p] if 0 <= p < len(data.class_names) else "" for p in predicted],
        "diversity": float(scores.diversity) if count > 1 else None,
        "source_label": label,
    }


def dataset_entries(cache: dict[str, Any]) -> list[dict[str, Any]]:
    """The named datasets, with sizes and classes; the full set says why when it is not installed."""
    from engine.demo.fashion_mnist import DEBIAN_FOLDER

    entries = []
    for name in (BUNDLED, FULL):
        entry: dict[str, Any] = {"name": name, "title": DATASET_TITLES[name], "available": False}
        if name == FULL and not DEBIAN_FOLDER.is_dir():
            entry.update(
                train=0,
                test=0,
                shape=[],
                classes=[],
                reason=f"not installed: {DEBIAN_FOLDER} is missing (apt install dataset-fashion-mnist)",
            )
            entries.append(entry)
            continue
        try:
            data = cached_data(cache, name)
        except LanternError as exc:
            entry.update(train=0, test=0, shape=[], classes=[], reason=exc.what)
        else:
            entry.update(
                available=True,
                train=len(data.train.labels),
                test=len(data.test.labels),
                shape=list(data.image_shape),
                classes=list(data.class_names),
                reason="",
            )
        entries.append(entry)
    return entries


def bank_row(store: Any, bank: Any) -> dict[str, Any]:
    """A bank as the GUI and `lantern augment banks --json` show it."""
    from engine.augment.bank import bank_progress

    return {
        "id": bank.id,
        "name": bank.name,
        "dataset": bank.dataset,
        "limit": bank.limit,
        "generator": bank.generator,
        "checkpoint": bank.checkpoint,
        "settings": bank.settings,
        "k": bank.k,
        "seed": bank.seed,
        "images": bank.image_count,
        "shape": list(bank.image_shape),
        "status": bank.status,
        "summary": bank.summary,
        "progress": bank_progress(store, bank),
        "run_id": bank.run_id,
        "created_at": bank.created_at.isoformat(),
        "updated_at": bank.updated_at.isoformat(),
    }


def bank_rows(store: Any) -> list[dict[str, Any]]:
    from engine.augment.repository import BankRepository

    return [bank_row(store, bank) for bank in BankRepository(store).list()]


# the ops


@register_op(DATASETS_OP)
def datasets_op(cache: dict[str, Any]) -> dict[str, Any]:
    """{"datasets": [{"name", "title", "train", "test", "shape": [C, H, W], "classes", "available",
    "reason"}]}: the bundled subset, and the full set when Debian's files are installed."""
    return {"datasets": dataset_entries(cache)}


@register_op(IMAGES_OP)
def images_op(
    cache: dict[str, Any], dataset: str = BUNDLED, offset: int = 0, count: int = 64, folder: str | None = None
) -> dict[str, Any]:
    """Train images [offset, offset + count) of a dataset (or a folder): {"images": uint8 [n, C, H, W],
    "labels", "class_names", "total", "offset"}."""
    source = _source(dataset, folder)
    offset = _whole(offset, "offset", IMAGES_OP)
    count = _whole(count, "count", IMAGES_OP, 1)
    if count > MAX_PAGE:
        raise LanternError(f"count {count} is too many", f"{IMAGES_OP}: count", f"ask for at most {MAX_PAGE}")
    data = cached_data(cache, source)
    total = len(data.train.labels)
    if offset >= total and total:
        raise LanternError(
            f"offset {offset} is past the end: {source} has {total} train images",
            f"{IMAGES_OP}: offset",
            f"use an offset below {total}",
        )
    stop = min(offset + count, total)
    return {
        "images": encode_array(to_uint8(data.train.images[offset:stop])),
        "labels": data.train.labels[offset:stop].tolist(),
        "class_names": list(data.class_names),
        "total": total,
        "offset": offset,
    }


@register_op(GENERATORS_OP)
def generators_op(cache: dict[str, Any]) -> dict[str, Any]:
    """{"generators": generator_catalogue()}: names, titles, descriptions and settings (torch-free)."""
    from engine.augment.generators import generator_catalogue

    return {"generators": generator_catalogue()}


@register_op(VIEWS_OP)
def views_op(
    cache: dict[str, Any],
    dataset: str = BUNDLED,
    index: int = 0,
    generator: str = "lantern",
    checkpoint: str | None = None,
    settings: dict[str, Any] | None = None,
    seed: int = 0,
    view: int = 0,
    folder: str | None = None,
) -> dict[str, Any]:
    """ONE generated view of train image `index` (seeded by seed + view): {"view": uint8 [C, H, W],
    "similarity", "label_kept", "predicted", "predicted_name", "source_label", "diversity" (among the
    views of this request so far; null for the first), ...}."""
    answer = generate_view(
        cache,
        dataset=_source(dataset, folder),
        index=index,
        generator=generator,
        checkpoint=checkpoint,
        settings=settings,
        seed=seed,
        view=view,
    )
    return {**answer, "view": encode_array(answer["view"])}


@register_op(CLASSIC_OP)
def classic_op(
    cache: dict[str, Any],
    dataset: str = BUNDLED,
    index: int = 0,
    count: int = 8,
    seed: int = 0,
    folder: str | None = None,
) -> dict[str, Any]:
    """Classic views of the same image for comparison: {"views": uint8 [count, C, H, W], "similarity",
    "label_kept", "predicted", "predicted_names", "diversity", "source_label"}."""
    answer = classic_views(cache, dataset=_source(dataset, folder), index=index, count=count, seed=seed)
    return {**answer, "views": encode_array(answer["views"])}


@register_op(BANKS_OP)
def banks_op(cache: dict[str, Any]) -> dict[str, Any]:
    """{"banks": [{"id", "name", "dataset", "generator", "k", "status", "summary", "progress", ...}]},
    newest first."""
    return {"banks": bank_rows(cached_store(cache))}


@register_op(BANK_PAGE_OP)
def bank_page_op(cache: dict[str, Any], bank_id: int = 0, offset: int = 0, count: int = 16) -> dict[str, Any]:
    """Rows [offset, offset + count) of a bank (as far as it is written): {"sources": uint8 [n, C, H, W],
    "views": uint8 [n, K, C, H, W], "similarity" [n][K], "label_kept" [n][K], "diversity" [n], "index",
    "labels", "class_names", "total", "written", "offset", "sources_error"}."""
    from engine.augment.bank import read_rows

    bank_id = _whole(bank_id, "bank_id", BANK_PAGE_OP, 1)
    offset = _whole(offset, "offset", BANK_PAGE_OP)
    count = _whole(count, "count", BANK_PAGE_OP, 1)
    if count > MAX_PAGE:
        raise LanternError(
            f"count {count} is too many", f"{BANK_PAGE_OP}: count", f"ask for at most {MAX_PAGE}"
        )
    store = cached_store(cache)
    bank, rows = read_rows(store, bank_id, offset, count)
    index = rows["index"]
    sources, labels, class_names, problem = None, [], [], None
    try:
        data = cached_data(cache, bank.dataset, bank.limit)
        if len(data.train.labels) != bank.image_count:
            raise LanternError(
                f"{bank.dataset} now has {len(data.train.labels)} train images, the bank {bank.image_count}",
                f"bank #{bank_id}",
                "build a new bank for the current images",
            )
    except LanternError as exc:
        problem = exc.what  # the views are still worth showing without their sources
    else:
        sources = encode_array(to_uint8(data.train.images[index]))
        labels = data.train.labels[index].tolist()
        class_names = list(data.class_names)
    from engine.augment.bank import bank_progress

    return {
        "bank_id": bank_id,
        "sources": sources,
        "sources_error": problem,
        "views": encode_array(rows["views"]),
        "similarity": rows["similarity"].tolist(),
        "label_kept": rows["label_kept"].tolist(),
        "diversity": rows["diversity"].tolist(),
        "index": index.tolist(),
        "labels": labels,
        "class_names": class_names,
        "total": bank.image_count,
        "written": bank_progress(store, bank)["images_done"],
        "offset": offset,
        "k": bank.k,
    }
