"""View banks: K generated views per train image, scored, written shard by shard and indexed in the store.

A bank's train split is `load_augment_data(dataset, limit=limit).train` (data seed 0, the default every
consumer uses), so its views line up with that split's order. Shard s holds train images
[s * shard_size, ...) in `banks/<id>/shard-<s>.npz` (np.savez, read back without pickle):
views uint8 [n, K, C, H, W], index int64 [n], similarity float32 [n, K], label_kept bool [n, K],
diversity float32 [n]. A shard file is written to a temporary name and renamed, and recorded in the store
only after that, so an interrupted bank resumes at its first missing shard; each shard's views are seeded
by (seed, shard index) alone, so a resumed bank holds exactly the views of an uninterrupted one.
Scores are those of engine.augment.faithfulness, computed on the stored (uint8) views.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.augment.datasets import BUNDLED, FULL, AugmentData, load_augment_data
from engine.augment.repository import BankRecord, BankRepository, ShardRecord
from engine.core.errors import LanternError
from engine.store.artifacts import sha256_of

if TYPE_CHECKING:
    from engine.attribution.types import ImageSet
    from engine.store.database import Store

SHARD_KEYS = ("views", "index", "similarity", "label_kept", "diversity")
DEFAULT_SHARD_SIZE = 256
JUDGE_CACHE_FOLDER = "augment-judges"
OTHER_IMAGE = "other_image"  # the control that needs the dataset as its pool and each source's index in it
ProgressFn = Callable[[float, float, str], None]


@dataclass(frozen=True)
class BankData:
    """A complete bank in memory, aligned with its train split: row i holds the views of train image i."""

    bank: BankRecord
    views: np.ndarray  # uint8 [N, K, C, H, W]
    index: np.ndarray  # int64 [N]
    similarity: np.ndarray  # float32 [N, K]
    label_kept: np.ndarray  # bool [N, K]
    diversity: np.ndarray  # float32 [N]

    @property
    def bank_id(self) -> int:
        return self.bank.id

    @property
    def summary(self) -> dict[str, Any]:
        return self.bank.summary


# small pure helpers


def shard_seed(seed: int, shard: int) -> int:
    """The generator seed of one shard: depends on (seed, shard) only, so shards can be made in any order."""
    return int(np.random.SeedSequence([int(seed), int(shard)]).generate_state(1, dtype=np.uint32)[0])


def to_uint8(views: np.ndarray) -> np.ndarray:
    """Float views in [0, 1] as uint8 (rounded; values outside [0, 1] are clipped)."""
    return np.round(np.clip(views, 0.0, 1.0) * 255.0).astype(np.uint8)


def fingerprint(images: ImageSet) -> str:
    """sha256 of a split's images, labels and class names: a changed folder makes a different bank."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(images.images, dtype=np.float32).tobytes())
    digest.update(np.ascontiguousarray(images.labels, dtype=np.int64).tobytes())
    digest.update(json.dumps(list(images.class_names)).encode("utf-8"))
    return digest.hexdigest()


def bank_key(parameters: dict[str, Any], *, shard_size: int, fingerprint: str) -> str:
    """Banks with the same key hold the same views: same parameters (BankRecord.parameters()), shard size
    (it decides the seeding) and images."""
    document = {**parameters, "shard_size": shard_size, "fingerprint": fingerprint}
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def summarise_bank(similarity: np.ndarray, label_kept: np.ndarray, diversity: np.ndarray) -> dict[str, Any]:
    """A bank's summary: similarity mean and spread over all views, label-kept rate, mean diversity
    (the numbers faithfulness.summarise_scores gives, from the bank's arrays without per-image objects)."""
    sim = np.asarray(similarity, dtype=np.float64).ravel()
    kept = np.asarray(label_kept, dtype=bool).ravel()
    div = np.asarray(diversity, dtype=np.float64).ravel()
    finite_div = div[np.isfinite(div)]
    return {
        "images": int(np.asarray(diversity).shape[0]),
        "sources": int(np.asarray(diversity).shape[0]),  # the key faithfulness.summarise_scores uses
        "views": int(sim.size),
        "similarity_mean": float(sim.mean()) if sim.size else float("nan"),
        "similarity_std": float(sim.std()) if sim.size else float("nan"),
        "label_kept_rate": float(kept.mean()) if kept.size else float("nan"),
        "diversity_mean": float(finite_div.mean()) if finite_div.size else float("nan"),
    }


def _where(bank_id: int) -> str:
    return f"bank #{bank_id}"


def _resume_hint(bank_id: int) -> str:
    return (
        f"resume the bank ('lantern augment bank --resume {bank_id}'), which writes missing or damaged "
        "shards again, or build a new one"
    )


# the judge that scores views


def judge_folder(dataset: str) -> Path | None:
    """The bundled judge's folder when it fits this dataset (Fashion-MNIST, bundled or full), else None."""
    from engine.core.paths import assets_dir

    if dataset not in (BUNDLED, FULL):
        return None
    folder = assets_dir() / "augment" / "fashion-mnist" / "judge"
    return folder if folder.is_dir() else None


def load_judge(dataset: str, device: str = "cpu", log: Callable[[str], None] | None = None) -> Any:
    """The judge that scores views of `dataset`: the bundled one for Fashion-MNIST, else one trained on
    the whole train split (no limit) and cached in the data folder under that split's fingerprint, so
    it is trained once per dataset and a changed folder gets a new one."""
    from engine.augment.judge import Judge, train_judge
    from engine.core.paths import data_dir

    bundled = judge_folder(dataset)
    if bundled is not None:
        return Judge.load(bundled, device)
    train = load_augment_data(dataset).train
    cached = data_dir() / JUDGE_CACHE_FOLDER / fingerprint(train)[:32]
    if cached.is_dir():
        try:
            return Judge.load(cached, device)
        except LanternError:
            shutil.rmtree(cached, ignore_errors=True)  # a damaged cache is trained again
    if log is not None:
        log(f"training a judge (a classifier of the real images) on {len(train.labels)} images of {dataset}")
    judge = train_judge(train, seed=0, device=device)
    temporary = cached.with_name(cached.name + f".tmp-{os.getpid()}")
    judge.save(temporary)
    try:
        os.replace(temporary, cached)  # atomic: a second process finds a whole judge or none
    except OSError:
        shutil.rmtree(temporary, ignore_errors=True)  # another process cached one first; it is equivalent
    return judge


# shard files


def _write_shard(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the arrays as .npz under a temporary name, flush to disk, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as handle:
        np.savez(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _damage(path: Path, shard: ShardRecord, check_hash: bool) -> str | None:
    """Why a recorded shard file cannot be used (None when it is fine)."""
    if not path.is_file():
        return "is missing"
    size = path.stat().st_size
    if size != shard.size:
        return f"has {size} bytes, not the {shard.size} recorded"
    if check_hash and sha256_of(path) != shard.sha256:
        return "has changed since it was written (its checksum differs)"
    return None


def read_shard(
    path: Path, bank: BankRecord, shard: ShardRecord, check_hash: bool = True
) -> dict[str, np.ndarray]:
    """One shard's arrays, checked against the store; a missing or damaged file is a LanternError."""
    problem = _damage(path, shard, check_hash)
    if problem is None:
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in SHARD_KEYS}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            problem = f"cannot be read ({exc})"
    if problem is None:
        n = shard.stop - shard.start
        expected = {
            "views": ((n, bank.k, *bank.image_shape), np.uint8),
            "index": ((n,), np.int64),
            "similarity": ((n, bank.k), np.float32),
            "label_kept": ((n, bank.k), np.bool_),
            "diversity": ((n,), np.float32),
        }
        for key, (shape, dtype) in expected.items():
            if arrays[key].shape != shape or arrays[key].dtype != dtype:
                found = f"{arrays[key].dtype} {list(arrays[key].shape)}"
                problem = f"holds {key} {found}, not {np.dtype(dtype)} {list(shape)}"
                break
    if problem is not None:
        raise LanternError(
            f"shard {shard.shard} of bank #{bank.id} {problem}", str(path), _resume_hint(bank.id)
        )
    return arrays


# building


def _check_parameters(k: int, limit: int | None, shard_size: int, seed: int) -> None:
    if not 1 <= k <= 64:
        raise LanternError(f"k must be between 1 and 64 views per image, got {k}", "bank: k", "e.g. k=4")
    if limit is not None and limit < 1:
        raise LanternError(f"limit must be at least 1, got {limit}", "bank: limit", "e.g. limit=2000")
    if shard_size < 1:
        raise LanternError(f"shard_size must be at least 1, got {shard_size}", "bank: shard_size", "e.g. 256")
    if seed < 0:
        raise LanternError(f"seed must be 0 or more, got {seed}", "bank: seed", "e.g. seed=0")


def normalise_checkpoint(generator: str, checkpoint: str | None) -> str | None:
    """None for a generator that takes no checkpoint (identity), its default when none is named."""
    from engine.augment.generators.base import CATALOGUE

    info = CATALOGUE.get(generator)
    if info is None:
        return checkpoint
    if info.default_checkpoint is None:
        return None
    return checkpoint if checkpoint is not None else info.default_checkpoint


def _load_generator(
    generator: str,
    checkpoint: str | None,
    settings: dict[str, Any],
    device: str,
    log: Callable[[str], None] | None = None,
    pool: np.ndarray | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The generator and its checked settings (as the generator normalises them, when it does): an
    unknown generator, a bad checkpoint or bad settings are refused here, before anything is stored."""
    from engine.augment.generators import make_generator

    extra: dict[str, Any] = {}
    if generator == OTHER_IMAGE and pool is not None:
        import torch

        extra["pool"] = torch.from_numpy(np.ascontiguousarray(pool))  # the control draws its other image here
    model = make_generator(generator, checkpoint=checkpoint, device=device, **extra)
    if log is not None:
        model.on_warning = log  # out-of-memory retries with smaller batches are said in the job's log
    checker = getattr(model, "check_settings", None)
    checked = checker(dict(settings)) if callable(checker) else None
    return model, dict(checked) if isinstance(checked, dict) else dict(settings)


def _make_shard(
    model: Any,
    judge: Any,
    data: AugmentData,
    bank: BankRecord,
    shard: int,
    settings: dict[str, Any],
    device: str,
) -> dict[str, np.ndarray]:
    import torch

    from engine.augment.faithfulness import score_views

    start, stop = bank.shard_range(shard)
    sources = torch.from_numpy(np.ascontiguousarray(data.train.images[start:stop])).to(device)
    try:
        with torch.no_grad():
            where = {"source_index": list(range(start, stop))} if bank.generator == OTHER_IMAGE else {}
            made = model.views_batch(sources, bank.k, shard_seed(bank.seed, shard), **where, **settings)
    except torch.cuda.OutOfMemoryError as exc:
        raise LanternError(
            f"the device ran out of memory making {stop - start} x {bank.k} views at once ({exc})",
            f"{_where(bank.id)}, shard {shard}, on {device}",
            "build a bank with fewer views per image (k) or on the CPU; this bank resumes where it stopped",
        ) from exc
    views = to_uint8(made.detach().float().cpu().numpy())
    expected = (stop - start, bank.k, *bank.image_shape)
    if views.shape != expected:
        raise LanternError(
            f"the generator '{bank.generator}' made views of shape {list(views.shape)}, not {list(expected)}",
            f"{_where(bank.id)}, shard {shard}",
            "use a generator that keeps the source images' size and channels",
        )
    # Score what is stored: the uint8 views, not the floats before rounding.
    stored = torch.from_numpy(views).to(device=device, dtype=torch.float32) / 255.0
    similarity = np.zeros((stop - start, bank.k), dtype=np.float32)
    label_kept = np.zeros((stop - start, bank.k), dtype=bool)
    diversity = np.zeros(stop - start, dtype=np.float32)
    for row in range(stop - start):
        scores = score_views(judge, sources[row], int(data.train.labels[start + row]), stored[row])
        similarity[row] = np.asarray(scores.similarity, dtype=np.float32)
        label_kept[row] = np.asarray(scores.label_kept, dtype=bool)
        diversity[row] = float(scores.diversity)
    return {
        "views": views,
        "index": np.arange(start, stop, dtype=np.int64),
        "similarity": similarity,
        "label_kept": label_kept,
        "diversity": diversity,
    }


def _missing_shards(repo: BankRepository, bank: BankRecord, log: Callable[[str], None] | None) -> list[int]:
    """Shards still to write: never recorded, or recorded with a file that is gone or damaged (those rows
    are dropped so the file is written again)."""
    recorded = {s.shard: s for s in repo.shards(bank.id)}
    missing = []
    for shard in range(bank.shard_count):
        record = recorded.get(shard)
        if record is not None:
            problem = _damage(repo.root / record.relpath, record, check_hash=True)
            if problem is None:
                continue
            if log is not None:
                log(f"shard {shard} of bank #{bank.id} {problem}: writing it again")
            repo.forget_shard(bank.id, shard)
        missing.append(shard)
    return missing


def _complete(repo: BankRepository, bank: BankRecord) -> dict[str, Any]:
    shards = repo.shards(bank.id)
    parts = [read_shard(repo.root / s.relpath, bank, s, check_hash=False) for s in shards]
    summary = summarise_bank(
        np.concatenate([p["similarity"] for p in parts]),
        np.concatenate([p["label_kept"] for p in parts]),
        np.concatenate([p["diversity"] for p in parts]),
    )
    repo.set_status(bank.id, "complete", summary=summary)
    return summary


def _fill(
    store: Store,
    bank: BankRecord,
    data: AugmentData,
    model: Any,
    settings: dict[str, Any],
    *,
    device: str,
    progress: ProgressFn | None,
    check_cancelled: Callable[[], None] | None,
    log: Callable[[str], None] | None,
) -> int:
    """Write the bank's missing shards, then mark it complete with its summary."""
    import time

    repo = BankRepository(store)
    for leftover in repo.folder(bank.id).glob("*.tmp"):
        leftover.unlink(missing_ok=True)  # half-written by an interrupted run; never recorded
    missing = _missing_shards(repo, bank, log)
    if bank.status == "complete" and not missing:
        return bank.id
    if bank.status == "complete":
        repo.set_status(bank.id, "building")
    total = bank.image_count
    done = total - sum(bank.shard_range(s)[1] - bank.shard_range(s)[0] for s in missing)
    if progress is not None:
        progress(done, total, f"bank #{bank.id}: {len(missing)} of {bank.shard_count} shards to make")
    if missing:
        if check_cancelled is not None:
            check_cancelled()
        judge = load_judge(bank.dataset, device, log)
        started, made = time.monotonic(), 0
        for shard in missing:
            if check_cancelled is not None:
                check_cancelled()
            arrays = _make_shard(model, judge, data, bank, shard, settings, device)
            relpath = f"{bank.id}/shard-{shard:05d}.npz"
            path = repo.root / relpath
            _write_shard(path, arrays)
            start, stop = bank.shard_range(shard)
            repo.record_shard(
                bank.id,
                shard=shard,
                relpath=relpath,
                start=start,
                stop=stop,
                sha256=sha256_of(path),
                size=path.stat().st_size,
            )
            done += stop - start
            made += stop - start
            if progress is not None:
                rate = made / max(time.monotonic() - started, 1e-9)
                left = (total - done) / rate if rate > 0 else float("nan")
                progress(
                    done,
                    total,
                    f"shard {shard + 1}/{bank.shard_count}: {rate * bank.k:.1f} views/s, "
                    f"about {left:.0f} s left",
                )
    _complete(repo, bank)
    return bank.id


def _prepare(dataset: str, limit: int | None) -> AugmentData:
    return load_augment_data(dataset, limit=limit)


def _default_name(generator: str, k: int, dataset: str, limit: int | None) -> str:
    shown = Path(dataset).name if os.sep in dataset else dataset
    return f"{generator} x{k} on {shown}" + (f" ({limit} images)" if limit is not None else "")


def _new_bank(
    store: Store,
    data: AugmentData,
    asked: dict[str, Any],
    *,
    name: str | None,
    shard_size: int,
    key: str,
    print_: str,
    run_id: int | None,
) -> BankRecord:
    repo = BankRepository(store)
    bank_id = repo.create(
        name=name or _default_name(asked["generator"], asked["k"], asked["dataset"], asked["limit"]),
        key=key,
        **asked,
        image_count=len(data.train.labels),
        image_shape=data.image_shape,
        shard_size=shard_size,
        fingerprint=print_,
        run_id=run_id,
    )
    return repo.require(bank_id)


def _resumable(
    store: Store, bank_id: int, data: AugmentData, asked: dict[str, Any], where: str
) -> BankRecord:
    """The bank to resume, after checking that it is the one these parameters describe."""
    bank = BankRepository(store).require(bank_id, where)
    different = [
        f"{field} {stored!r} (asked {asked[field]!r})"
        for field, stored in bank.parameters().items()
        if asked[field] != stored
    ]
    if different:
        raise LanternError(
            f"bank #{bank_id} was built with other parameters: " + ", ".join(different),
            where,
            "resume it with its own parameters (the job and the CLI do so when given only the bank id), "
            "or build a new bank",
        )
    if fingerprint(data.train) != bank.fingerprint or len(data.train.labels) != bank.image_count:
        raise LanternError(
            f"the images of {bank.dataset} have changed since bank #{bank_id} was started",
            where,
            "build a new bank for the current images",
        )
    return bank


def _plan(
    *,
    dataset: str,
    limit: int | None,
    generator: str,
    checkpoint: str | None,
    settings: dict[str, Any],
    k: int,
    seed: int,
    shard_size: int,
    device: str,
    log: Callable[[str], None] | None,
) -> tuple[AugmentData, Any, dict[str, Any]]:
    """(train split, generator, the bank's parameters with the checked settings): bad parameters are refused
    here, before anything is stored."""
    _check_parameters(k, limit, shard_size, seed)
    checkpoint = normalise_checkpoint(generator, checkpoint)
    data = _prepare(dataset, limit)
    model, checked = _load_generator(generator, checkpoint, settings, device, log, data.train.images)
    asked = {
        "dataset": dataset,
        "limit": limit,
        "generator": generator,
        "checkpoint": checkpoint,
        "settings": checked,
        "k": k,
        "seed": seed,
    }
    return data, model, asked


def _choose_bank(
    store: Store,
    data: AugmentData,
    asked: dict[str, Any],
    *,
    reuse: bool,
    bank_id: int | None,
    name: str | None,
    shard_size: int,
    run_id: int | None,
    log: Callable[[str], None] | None,
) -> BankRecord:
    """The bank to fill: bank_id's (checked to hold these views), else with `reuse` the best stored bank of
    the same views (complete, or the most advanced incomplete one), else a new one."""
    if bank_id is not None:
        return _resumable(store, bank_id, data, asked, f"{_where(bank_id)} (resume)")
    print_ = fingerprint(data.train)
    key = bank_key(asked, shard_size=shard_size, fingerprint=print_)
    for bank in BankRepository(store).with_key(key) if reuse else []:
        if log is not None:
            verb = "reusing" if bank.status == "complete" else "resuming"
            log(f"{verb} bank #{bank.id} '{bank.name}', which holds these views")
        return bank
    return _new_bank(
        store, data, asked, name=name, shard_size=shard_size, key=key, print_=print_, run_id=run_id
    )


def build_bank(
    store: Store,
    *,
    dataset: str,
    limit: int | None,
    generator: str,
    checkpoint: str | None,
    settings: dict[str, Any],
    k: int,
    seed: int,
    name: str | None = None,
    bank_id: int | None = None,
    device: str = "cpu",
    progress: ProgressFn | None = None,
    check_cancelled: Callable[[], None] | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    run_id: int | None = None,
    log: Callable[[str], None] | None = None,
    reuse: bool = False,
) -> int:
    """Build a new bank (or, with bank_id, resume that one at its first missing shard); returns its id.

    progress(done images, total images, message) follows every shard; check_cancelled() is called
    between shards (it raises to stop; the shards written so far stay and a resume continues there).
    Bad parameters (unknown generator, bad settings, k outside 1-64) are refused before anything is
    stored. With reuse, a stored bank of the same views is reused or resumed
    rather than a new one started.
    """
    data, model, asked = _plan(
        dataset=dataset,
        limit=limit,
        generator=generator,
        checkpoint=checkpoint,
        settings=settings,
        k=k,
        seed=seed,
        shard_size=shard_size,
        device=device,
        log=log,
    )
    bank = _choose_bank(
        store,
        data,
        asked,
        reuse=reuse,
        bank_id=bank_id,
        name=name,
        shard_size=shard_size,
        run_id=run_id,
        log=log,
    )
    return _fill(
        store,
        bank,
        data,
        model,
        asked["settings"],
        device=device,
        progress=progress,
        check_cancelled=check_cancelled,
        log=log,
    )


# reading


def bank_shards(store: Store, bank_id: int, where: str = "bank") -> tuple[BankRecord, list[ShardRecord]]:
    repo = BankRepository(store)
    return repo.require(bank_id, where), repo.shards(bank_id)


def load_bank(store: Store, bank_id: int) -> BankData:
    """The whole of a complete bank; a missing or damaged shard file is a LanternError naming it."""
    repo = BankRepository(store)
    bank = repo.require(bank_id, f"load bank #{bank_id}")
    shards = repo.shards(bank_id)
    if bank.status != "complete" or len(shards) != bank.shard_count:
        raise LanternError(
            f"bank #{bank_id} is not complete ({len(shards)} of {bank.shard_count} shards written)",
            _where(bank_id),
            _resume_hint(bank_id),
        )
    parts = [read_shard(repo.root / s.relpath, bank, s) for s in shards]
    return BankData(
        bank=bank,
        views=np.concatenate([p["views"] for p in parts]),
        index=np.concatenate([p["index"] for p in parts]),
        similarity=np.concatenate([p["similarity"] for p in parts]),
        label_kept=np.concatenate([p["label_kept"] for p in parts]),
        diversity=np.concatenate([p["diversity"] for p in parts]),
    )


def read_rows(
    store: Store, bank_id: int, offset: int, count: int
) -> tuple[BankRecord, dict[str, np.ndarray]]:
    """Train images [offset, offset + count) of a bank (clipped to what is written), reading only the
    shards that hold them: for browsing a bank, complete or still building."""
    repo = BankRepository(store)
    bank = repo.require(bank_id, f"bank page of #{bank_id}")
    stop = min(offset + count, bank.image_count)
    parts = []
    for shard in repo.shards(bank_id):
        if shard.stop <= offset or shard.start >= stop:
            continue
        arrays = read_shard(repo.root / shard.relpath, bank, shard)
        lo, hi = max(offset, shard.start) - shard.start, min(stop, shard.stop) - shard.start
        parts.append({key: value[lo:hi] for key, value in arrays.items()})
    if not parts:
        empty = {
            "views": np.zeros((0, bank.k, *bank.image_shape), np.uint8),
            "index": np.zeros(0, np.int64),
            "similarity": np.zeros((0, bank.k), np.float32),
            "label_kept": np.zeros((0, bank.k), bool),
            "diversity": np.zeros(0, np.float32),
        }
        return bank, empty
    return bank, {key: np.concatenate([p[key] for p in parts]) for key in SHARD_KEYS}


def bank_progress(store: Store, bank: BankRecord) -> dict[str, Any]:
    """How far a bank got: shards and images written."""
    shards = BankRepository(store).shards(bank.id)
    images = sum(s.stop - s.start for s in shards)
    return {
        "shards_done": len(shards),
        "shards_total": bank.shard_count,
        "images_done": images,
        "images_total": bank.image_count,
        "fraction": images / bank.image_count if bank.image_count else 1.0,
    }
