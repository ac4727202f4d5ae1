"""View banks: shards on disk indexed in the store, resumable shard by shard with the same views as an
uninterrupted build, reused when identical, and clear errors for missing or damaged shard files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import engine.augment.generators as generators
from engine.augment import bank as bank_module
from engine.augment.bank import (
    BankData,
    build_bank,
    load_bank,
    read_rows,
    shard_seed,
    to_uint8,
)
from engine.augment.datasets import load_augment_data
from engine.augment.generators.base import Generator, SettingSpec
from engine.augment.repository import BankRepository
from engine.core.errors import JobCancelled, LanternError
from engine.store import Store

DEMO = "fashion-mnist-demo"
REAL_LOAD_JUDGE = bank_module.load_judge
LIMIT = 20
SHARD = 8  # 20 images -> shards of 8, 8 and 4


class NoisyGenerator(Generator):
    """A seeded test generator: the source blended with uniform noise drawn from the seed."""

    name = "noisy"
    title = "noisy (test)"
    description = "source blended with seeded noise"
    SETTINGS = (SettingSpec("amount", "float", 0.3, 0.0, 1.0, "share of noise"),)
    made = 0  # views_batch calls, across instances

    def __init__(self, checkpoint: str | None = None, device: str = "cpu") -> None:
        self.device = device

    def views_batch(self, sources: torch.Tensor, count: int, seed: int, **settings: Any) -> torch.Tensor:
        self.check_request(sources, count, seed)
        amount = self.check_settings(settings)["amount"]
        NoisyGenerator.made += 1
        noise = torch.rand(
            (sources.shape[0], count, *sources.shape[1:]), generator=torch.Generator().manual_seed(seed)
        )
        return sources.unsqueeze(1) * (1 - amount) + noise * amount


@pytest.fixture(autouse=True)
def fast_parts(monkeypatch: pytest.MonkeyPatch, fast_judge: Any) -> None:
    torch.set_num_threads(1)
    real = generators.make_generator

    def make(name: str, **kwargs: Any) -> Generator:
        if name == "noisy":
            return NoisyGenerator(**{k: v for k, v in kwargs.items() if k != "pool"})
        if name == "other_image":  # copies of the other image, so the draw itself can be checked
            return real(name, inner="identity", **kwargs)
        return real(name, **kwargs)

    monkeypatch.setattr(generators, "make_generator", make)
    NoisyGenerator.made = 0


def _params(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = dict(
        dataset=DEMO,
        limit=LIMIT,
        generator="noisy",
        checkpoint=None,
        settings={},
        k=3,
        seed=7,
        shard_size=SHARD,
    )
    params.update(overrides)
    return params


def _stop_after(shards: int) -> Any:
    """check_cancelled that lets `shards` shards through, then cancels (as a user would)."""
    calls = {"n": 0}

    def check() -> None:
        calls["n"] += 1
        # _fill checks once before loading the judge and once before each shard
        if calls["n"] > shards + 1:
            raise JobCancelled()

    return check


def test_a_bank_holds_k_scored_views_per_image_in_train_order(store: Store) -> None:
    progress: list[tuple[float, float, str]] = []
    bank_id = build_bank(store, **_params(), progress=lambda d, t, m: progress.append((d, t, m)))
    data = load_bank(store, bank_id)
    train = load_augment_data(DEMO, limit=LIMIT).train
    assert isinstance(data, BankData) and data.bank.status == "complete"
    assert data.views.shape == (LIMIT, 3, 1, 28, 28) and data.views.dtype == np.uint8
    assert data.index.tolist() == list(range(LIMIT))
    assert data.similarity.shape == (LIMIT, 3) and data.similarity.dtype == np.float32
    assert data.label_kept.shape == (LIMIT, 3) and data.label_kept.dtype == bool
    assert data.diversity.shape == (LIMIT,) and (data.diversity > 0).all()
    # Shard 1's views are those of its own seed (seed, 1), whatever came before it.
    sources = torch.from_numpy(train.images[8:16])
    expected = NoisyGenerator().views_batch(sources, 3, shard_seed(7, 1))
    assert np.array_equal(data.views[8:16], to_uint8(expected.numpy()))
    assert shard_seed(7, 0) != shard_seed(7, 1) != shard_seed(8, 1)
    summary = data.summary
    assert summary["images"] == LIMIT and summary["views"] == LIMIT * 3
    assert summary["similarity_mean"] == pytest.approx(float(data.similarity.mean()), abs=1e-6)
    assert summary["similarity_std"] == pytest.approx(float(data.similarity.std()), abs=1e-6)
    assert summary["label_kept_rate"] == pytest.approx(float(data.label_kept.mean()))
    assert summary["diversity_mean"] == pytest.approx(float(data.diversity.mean()), abs=1e-6)
    assert [p[0] for p in progress] == [0, 8, 16, 20] and all(p[1] == LIMIT for p in progress)
    assert "views/s" in progress[-1][2]
    files = sorted(p.name for p in BankRepository(store).folder(bank_id).iterdir())
    assert files == ["shard-00000.npz", "shard-00001.npz", "shard-00002.npz"]
    with np.load(BankRepository(store).folder(bank_id) / files[2], allow_pickle=False) as archive:
        assert sorted(archive.files) == ["diversity", "index", "label_kept", "similarity", "views"]
        assert archive["index"].tolist() == [16, 17, 18, 19]


def test_identity_views_are_the_sources_and_score_as_themselves(store: Store) -> None:
    bank_id = build_bank(store, **_params(generator="identity", checkpoint="bundled", k=2))
    data = load_bank(store, bank_id)
    train = load_augment_data(DEMO, limit=LIMIT).train
    assert data.bank.checkpoint is None  # identity takes no checkpoint
    assert np.array_equal(data.views[:, 0], to_uint8(train.images))
    assert np.array_equal(data.views[:, 1], data.views[:, 0])
    assert np.allclose(data.similarity, 1.0, atol=1e-4)
    assert np.allclose(data.diversity, 0.0, atol=1e-5)


def test_an_interrupted_bank_resumes_to_the_views_of_an_uninterrupted_one(store: Store) -> None:
    whole = load_bank(store, build_bank(store, **_params()))
    with pytest.raises(JobCancelled):
        build_bank(store, **_params(), check_cancelled=_stop_after(1))
    repo = BankRepository(store)
    [partial] = [b for b in repo.list() if b.status == "building"]
    assert [s.shard for s in repo.shards(partial.id)] == [0]
    with pytest.raises(LanternError) as caught:
        load_bank(store, partial.id)
    assert "not complete (1 of 3 shards" in caught.value.what and "--resume" in caught.value.hint
    # Half a shard file left behind by a crash is never recorded and is cleared on resume.
    (repo.folder(partial.id) / "shard-00001.npz.tmp").write_bytes(b"half")
    made_before = NoisyGenerator.made
    assert build_bank(store, **_params(), bank_id=partial.id) == partial.id
    assert NoisyGenerator.made - made_before == 2  # only the missing shards were made
    resumed = load_bank(store, partial.id)
    assert not list(repo.folder(partial.id).glob("*.tmp"))
    for key in ("views", "index", "similarity", "label_kept", "diversity"):
        assert np.array_equal(getattr(resumed, key), getattr(whole, key)), key
    assert resumed.summary == whole.summary


def test_build_bank_with_reuse_reuses_resumes_or_builds(store: Store) -> None:
    with pytest.raises(JobCancelled):
        build_bank(store, **_params(), reuse=True, check_cancelled=_stop_after(2))
    [partial] = BankRepository(store).list()
    logged: list[str] = []
    assert (
        build_bank(store, **_params(), reuse=True, log=logged.append) == partial.id
    )  # resumed, not a new bank
    assert any("resuming bank" in line for line in logged)
    made = NoisyGenerator.made
    assert build_bank(store, **_params(settings={"amount": 0.3}), reuse=True, log=logged.append) == partial.id
    assert NoisyGenerator.made == made and "reusing bank" in logged[-1]  # defaults filled: the same views
    other = build_bank(store, **_params(k=2), reuse=True)
    assert other != partial.id and load_bank(store, other).views.shape[1] == 2


def test_a_damaged_or_missing_shard_is_named_and_resume_repairs_it(store: Store) -> None:
    bank_id = build_bank(store, **_params())
    repo = BankRepository(store)
    before = load_bank(store, bank_id)
    rows = [(s.shard, s.sha256, s.size) for s in repo.shards(bank_id)]
    path = repo.folder(bank_id) / "shard-00001.npz"
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    path.write_bytes(bytes(content))
    with pytest.raises(LanternError) as caught:
        load_bank(store, bank_id)
    assert caught.value.where == str(path) and "shard 1 of bank" in caught.value.what
    assert "resume" in caught.value.hint and "build a new one" in caught.value.hint
    # Reading failed; nothing in the store or on disk changed.
    assert [(s.shard, s.sha256, s.size) for s in repo.shards(bank_id)] == rows
    assert repo.require(bank_id).status == "complete" and path.read_bytes() == bytes(content)
    (repo.folder(bank_id) / "shard-00002.npz").unlink()
    with pytest.raises(LanternError, match="shard 1 of bank"):
        load_bank(store, bank_id)
    _, page = read_rows(store, bank_id, 0, 8)  # an intact shard still reads
    assert np.array_equal(page["views"], before.views[:8])
    with pytest.raises(LanternError, match=r"shard 2 of bank .* is missing"):
        read_rows(store, bank_id, 16, 4)
    logged: list[str] = []
    build_bank(store, **_params(), bank_id=bank_id, log=logged.append)
    assert any("shard 1" in line and "writing it again" in line for line in logged)
    repaired = load_bank(store, bank_id)
    assert np.array_equal(repaired.views, before.views)
    assert repaired.summary == before.summary


def test_read_rows_pages_across_shards_of_a_bank_still_building(store: Store) -> None:
    with pytest.raises(JobCancelled):
        build_bank(store, **_params(), check_cancelled=_stop_after(2))
    [bank] = BankRepository(store).list()
    record, page = read_rows(store, bank.id, 5, 20)
    assert record.id == bank.id
    assert page["index"].tolist() == list(range(5, 16))  # shard 2 is not written yet
    assert page["views"].shape == (11, 3, 1, 28, 28)
    _, empty = read_rows(store, bank.id, 16, 4)
    assert empty["views"].shape == (0, 3, 1, 28, 28)


def test_bad_parameters_store_nothing(store: Store) -> None:
    repo = BankRepository(store)
    with pytest.raises(LanternError, match="unknown generator 'nope'"):
        build_bank(store, **_params(generator="nope"))
    with pytest.raises(LanternError, match="unknown setting"):
        build_bank(store, **_params(generator="identity", settings={"steps": 3}))
    with pytest.raises(LanternError, match="out of range"):
        build_bank(store, **_params(settings={"amount": 2.0}))
    with pytest.raises(LanternError, match="k must be between 1 and 64"):
        build_bank(store, **_params(k=0))
    with pytest.raises(LanternError, match="unknown dataset"):
        build_bank(store, **_params(dataset="/no/such/folder"))
    assert repo.list() == []
    bank_id = build_bank(store, **_params())
    with pytest.raises(LanternError, match=r"other parameters: k 3 \(asked 4\)"):
        build_bank(store, **_params(k=4), bank_id=bank_id)
    with pytest.raises(LanternError, match="there is no bank #99"):
        build_bank(store, **_params(), bank_id=99)
    assert [b.id for b in repo.list()] == [bank_id]


def test_a_folder_dataset_gets_a_judge_trained_once_and_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lantern_home: Path
) -> None:
    from PIL import Image

    import engine.augment.judge as judge_module

    monkeypatch.setattr(bank_module, "load_judge", REAL_LOAD_JUDGE)
    rng = np.random.default_rng(0)
    for name, level in (("dark", 40), ("light", 210)):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(6):
            pixels = np.clip(level + rng.normal(0, 10, (16, 16)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / name / f"{i}.png")
    folder = str(tmp_path / "images")
    real_train = judge_module.train_judge
    trained: list[int] = []

    def counting(train: Any, **kwargs: Any) -> Any:
        trained.append(len(train.labels))
        return real_train(train, **{**kwargs, "epochs": 1})

    monkeypatch.setattr(judge_module, "train_judge", counting)
    first = bank_module.load_judge(folder)
    second = bank_module.load_judge(folder)
    assert len(trained) == 1 and trained[0] == len(load_augment_data(folder).train.labels)
    assert first.class_names == second.class_names == ("dark", "light")
    assert [p.parent.name for p in (lantern_home / "data").glob("*/*")] == [bank_module.JUDGE_CACHE_FOLDER]


def test_the_other_image_control_draws_another_image_of_the_banks_split(store: Store) -> None:
    data = load_bank(store, build_bank(store, **_params(generator="other_image", k=2)))
    train = to_uint8(load_augment_data(DEMO, limit=LIMIT).train.images)
    for i in range(LIMIT):
        matches = [j for j in range(LIMIT) if np.array_equal(train[j], data.views[i, 0])]
        assert matches and i not in matches  # another image of the same split, never its own
        assert np.array_equal(data.views[i, 1], data.views[i, 0])
    assert (data.similarity < 0.999).all()


def test_a_lantern_bank_resumed_equals_an_uninterrupted_one(store: Store, tmp_path: Path) -> None:
    """The real instance-diffusion generator (tiny and untrained): one noise draw per shard from the shard's
    seed, so the resumed shards are exactly the uninterrupted ones."""
    from engine.augment.instance_diffusion import InstanceDiffusion, InstanceDiffusionConfig, make_denoiser
    from engine.ssl.backbone import BackboneConfig, build_backbone

    torch.manual_seed(0)
    config = InstanceDiffusionConfig(image_size=28, block_out_channels=(8, 16), layers_per_block=1)
    encoder = build_backbone(BackboneConfig(in_channels=1, width=8, blocks=(1, 1)))
    model = InstanceDiffusion(config, make_denoiser(config, encoder.feature_dim), encoder.eval(), {})
    folder = model.save(tmp_path / "tiny-generator")
    params = _params(
        generator="lantern", checkpoint=str(folder), settings={"steps": 2}, k=2, limit=6, shard_size=3
    )
    whole = load_bank(store, build_bank(store, **params))
    # Stored with the defaults filled in.
    assert whole.bank.settings == {"steps": 2, "guidance": 1.0, "eta": 0.0, "anchor": 1.0}
    assert len(np.unique(whole.views.reshape(12, -1), axis=0)) == 12  # every view its own
    with pytest.raises(JobCancelled):
        build_bank(store, **params, check_cancelled=_stop_after(1))
    [partial] = [b for b in BankRepository(store).list() if b.status == "building"]
    resumed = load_bank(store, build_bank(store, **params, bank_id=partial.id))
    assert np.array_equal(resumed.views, whole.views)
    assert np.array_equal(resumed.similarity, whole.similarity)
