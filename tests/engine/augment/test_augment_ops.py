"""The Augment page's ops: datasets, image pages, the generator catalogue, one scored view per call, classic
views for comparison, bank listings and pages; bad requests are LanternErrors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import engine.augment.ops  # noqa: F401 - registers the ops, as OP_MODULES will in the server
from engine.augment.bank import build_bank
from engine.augment.datasets import load_augment_data
from engine.augment.ops import to_uint8
from engine.core.errors import LanternError
from engine.demo.fashion_mnist import DEBIAN_FOLDER
from engine.jobs.arrays import decode_array
from engine.jobs.interactive import _OPS, STORE_URL_KEY, InteractiveEngine
from engine.store import Store

DEMO = "fashion-mnist-demo"


@pytest.fixture(scope="module")
def train() -> Any:
    return load_augment_data(DEMO).train


@pytest.fixture(autouse=True)
def small(fast_judge: Any) -> None:
    torch.set_num_threads(1)


def call(cache: dict[str, Any], op: str, **args: Any) -> dict[str, Any]:
    return _OPS[op](cache, **args)


def test_datasets_list_the_bundled_subset_and_the_full_set() -> None:
    [bundled, full] = call({}, "augment.datasets")["datasets"]
    assert bundled["name"] == DEMO and bundled["available"]
    assert (bundled["train"], bundled["test"], bundled["shape"]) == (6000, 1000, [1, 28, 28])
    assert len(bundled["classes"]) == 10 and bundled["classes"][0] == "T-shirt/top"
    assert full["name"] == "fashion-mnist" and full["available"] == DEBIAN_FOLDER.is_dir()
    if full["available"]:
        assert (full["train"], full["test"]) == (60000, 10000)
    else:
        assert "dataset-fashion-mnist" in full["reason"]


def test_images_come_in_pages_as_uint8(train: Any) -> None:
    answer = call({}, "augment.images", dataset=DEMO, offset=10, count=5)
    images = decode_array(answer["images"])
    assert images.dtype == np.uint8 and images.shape == (5, 1, 28, 28)
    assert np.array_equal(images, to_uint8(train.images[10:15]))
    assert answer["labels"] == train.labels[10:15].tolist()
    assert (answer["total"], answer["offset"]) == (6000, 10)
    last = call({}, "augment.images", dataset=DEMO, offset=5998, count=64)
    assert decode_array(last["images"]).shape[0] == 2
    for args, message in (
        ({"offset": 6000}, "past the end"),
        ({"count": 0}, "count must be"),
        ({"offset": -1}, "offset must be"),
        ({"dataset": "/no/such/folder"}, "unknown dataset"),
    ):
        with pytest.raises(LanternError, match=message):
            call({}, "augment.images", **{"dataset": DEMO, **args})


def test_the_generator_catalogue_is_listed() -> None:
    names = [g["name"] for g in call({}, "augment.generators")["generators"]]
    assert {"lantern", "identity", "other_image", "unclip", "sdedit", "image_variation"} <= set(names)


def test_views_come_one_per_call_with_scores_and_diversity_so_far(train: Any) -> None:
    cache: dict[str, Any] = {}
    request = {"dataset": DEMO, "index": 7, "generator": "identity", "seed": 3}
    first = call(cache, "augment.views", **request, view=0)
    view = decode_array(first["view"])
    assert view.shape == (1, 28, 28) and np.array_equal(view, to_uint8(train.images[7]))
    assert first["similarity"] == pytest.approx(1.0, abs=1e-4)
    assert first["source_label"] == int(train.labels[7]) and first["diversity"] is None
    assert first["seed"] == 3 and first["views_so_far"] == 1
    assert first["label_kept"] == (first["predicted"] == first["source_label"])
    assert first["predicted_name"] == train.class_names[first["predicted"]]
    second = call(cache, "augment.views", **request, view=1)
    assert second["seed"] == 4 and second["views_so_far"] == 2
    assert second["diversity"] == pytest.approx(0.0, abs=1e-5)  # identical copies do not spread


def test_bad_view_requests_are_refused() -> None:
    base = {"dataset": DEMO, "index": 0, "generator": "identity"}
    for args, message in (
        ({"index": 6000}, "out of range"),
        ({"index": -1}, "out of range"),
        ({"generator": "nope"}, "unknown generator 'nope'"),
        ({"settings": {"steps": 2}}, "unknown setting"),
        ({"seed": -1}, "seed must be"),
        ({"view": "a"}, "view must be"),
    ):
        with pytest.raises(LanternError, match=message):
            call({}, "augment.views", **{**base, **args})


def test_classic_views_are_seeded_and_scored(train: Any) -> None:
    answer = call({}, "augment.classic", dataset=DEMO, index=3, count=4, seed=1)
    views = decode_array(answer["views"])
    assert views.shape == (4, 1, 28, 28) and views.dtype == np.uint8
    assert len(answer["similarity"]) == len(answer["label_kept"]) == 4
    assert all(-1.0 <= s <= 1.0 for s in answer["similarity"])
    assert answer["diversity"] > 0  # random crops and jitter do differ
    again = decode_array(call({}, "augment.classic", dataset=DEMO, index=3, count=4, seed=1)["views"])
    other = decode_array(call({}, "augment.classic", dataset=DEMO, index=3, count=4, seed=2)["views"])
    assert np.array_equal(views, again) and not np.array_equal(views, other)
    with pytest.raises(LanternError, match="too many"):
        call({}, "augment.classic", dataset=DEMO, index=3, count=1000)


def test_banks_are_listed_and_paged(store: Store, train: Any) -> None:
    bank_id = build_bank(
        store,
        dataset=DEMO,
        limit=10,
        generator="identity",
        checkpoint=None,
        settings={},
        k=2,
        seed=0,
        shard_size=4,
    )
    cache = {STORE_URL_KEY: store.url}
    [row] = call(cache, "augment.banks")["banks"]
    assert row["id"] == bank_id and row["status"] == "complete" and row["k"] == 2
    assert row["progress"] == {
        "shards_done": 3,
        "shards_total": 3,
        "images_done": 10,
        "images_total": 10,
        "fraction": 1.0,
    }
    assert row["summary"]["similarity_mean"] == pytest.approx(1.0, abs=1e-4)
    page = call(cache, "augment.bank_page", bank_id=bank_id, offset=3, count=4)
    subset = load_augment_data(DEMO, limit=10).train
    sources, views = decode_array(page["sources"]), decode_array(page["views"])
    assert sources.shape == (4, 1, 28, 28) and views.shape == (4, 2, 1, 28, 28)
    assert np.array_equal(sources, to_uint8(subset.images[3:7])) and np.array_equal(views[:, 1], sources)
    assert page["index"] == [3, 4, 5, 6] and page["labels"] == subset.labels[3:7].tolist()
    assert page["total"] == 10 and page["written"] == 10 and len(page["similarity"][0]) == 2
    with pytest.raises(LanternError, match="there is no bank #77"):
        call(cache, "augment.bank_page", bank_id=77)


def test_the_listing_ops_answer_through_the_engine_process() -> None:
    engine = InteractiveEngine(op_modules=("engine.augment.ops",))
    try:
        names = [g["name"] for g in engine.call("augment.generators", timeout=120)["generators"]]
        assert "identity" in names
        with pytest.raises(LanternError, match="out of range"):
            engine.call("augment.views", dataset=DEMO, index=10**6, generator="identity", timeout=120)
    finally:
        engine.close()
