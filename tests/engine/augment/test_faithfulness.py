"""Faithfulness scores: the numpy arithmetic by hand, and score_views with a briefly trained judge."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.augment.datasets import AugmentData, load_augment_data
from engine.augment.faithfulness import (
    ViewScores,
    cosine_to_source,
    mean_pairwise_distance,
    score_views,
    summarise_scores,
)
from engine.augment.judge import Judge, train_judge
from engine.core.errors import LanternError

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data() -> AugmentData:
    return load_augment_data("fashion-mnist-demo", limit=300)


@pytest.fixture(scope="module")
def judge(data: AugmentData) -> Judge:
    # Right on most images, which is all these tests need (about a second on one core).
    return train_judge(data.train, epochs=2, batch_size=32, lr=5e-3, seed=0)


def test_cosine_to_source_matches_hand_values() -> None:
    features = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [-1.0, 0.0]])
    similarity = cosine_to_source(features, np.array([2.0, 0.0]))
    np.testing.assert_allclose(similarity, [1.0, 0.0, 1 / math.sqrt(2), -1.0], atol=1e-6)
    assert similarity.dtype == np.float32
    # A zero vector has cosine 0 with everything instead of a division by zero.
    assert cosine_to_source(np.zeros((1, 2)), np.array([1.0, 0.0]))[0] == 0.0
    with pytest.raises(LanternError, match="same judge"):
        cosine_to_source(np.ones((2, 3)), np.ones(2))


def test_mean_pairwise_distance_matches_hand_values() -> None:
    # Pairs: (x, y) cosine 0, (x, -x) cosine -1, (y, -x) cosine 0 -> distances 1, 2, 1 -> mean 4/3.
    features = np.array([[1.0, 0.0], [0.0, 5.0], [-2.0, 0.0]])
    assert mean_pairwise_distance(features) == pytest.approx(4 / 3)
    assert mean_pairwise_distance(features[:2]) == pytest.approx(1.0)
    assert mean_pairwise_distance(features[:1]) == 0.0
    assert mean_pairwise_distance(np.zeros((0, 2))) == 0.0
    assert mean_pairwise_distance(np.tile([[0.3, 0.4]], (4, 1))) == pytest.approx(0.0, abs=1e-12)


def test_summary_pools_views_and_averages_diversity_per_source() -> None:
    first = ViewScores(
        similarity=np.array([1.0, 0.5], np.float32),
        label_kept=np.array([True, False]),
        predicted=np.array([3, 4]),
        diversity=0.2,
    )
    second = ViewScores(
        similarity=np.array([0.0], np.float32),
        label_kept=np.array([True]),
        predicted=np.array([3]),
        diversity=0.0,
    )
    summary = summarise_scores([first, second])
    assert summary["similarity_mean"] == pytest.approx(0.5)
    assert summary["similarity_std"] == pytest.approx(math.sqrt((0.25 + 0 + 0.25) / 3))
    assert summary["label_kept_rate"] == pytest.approx(2 / 3)
    assert summary["diversity_mean"] == pytest.approx(0.1)
    assert (summary["views"], summary["sources"]) == (3, 2)
    assert first.to_dict() == {
        "similarity": [1.0, 0.5],
        "label_kept": [True, False],
        "predicted": [3, 4],
        "diversity": 0.2,
    }
    with pytest.raises(LanternError, match="no scored views"):
        summarise_scores([])


def test_identical_views_of_a_correctly_judged_source(judge: Judge, data: AugmentData) -> None:
    images = torch.from_numpy(data.test.images[:64])
    labels, _ = judge.predict(images)
    right = int(np.flatnonzero(labels.numpy() == data.test.labels[:64])[0])
    source, label = images[right], int(data.test.labels[right])
    scores = score_views(judge, source, label, source[None].repeat(4, 1, 1, 1))
    np.testing.assert_allclose(scores.similarity, np.ones(4), atol=1e-5)
    assert scores.label_kept.tolist() == [True] * 4
    assert scores.predicted.tolist() == [label] * 4
    assert scores.diversity == pytest.approx(0.0, abs=1e-6)
    # The same view scored alone: one view has no pairs, so diversity 0.
    alone = score_views(judge, source.numpy(), label, source[None].numpy())
    assert alone.label_kept.tolist() == [True] and alone.diversity == 0.0


def test_views_of_other_images_score_lower_and_spread_out(judge: Judge, data: AugmentData) -> None:
    images = torch.from_numpy(data.test.images)
    source, label = images[0], int(data.test.labels[0])
    others = images[np.flatnonzero(data.test.labels != label)[:8]]
    scores = score_views(judge, source, label, others)
    assert len(scores) == 8
    assert float(scores.similarity.max()) < 1.0 - 1e-3
    # A judge that knows the classes rarely gives a different class's image the source's label.
    assert scores.label_kept.mean() <= 0.5
    assert scores.diversity > 0.01
    features = judge.features(torch.cat([source[None], others])).numpy()
    np.testing.assert_allclose(scores.similarity, features[1:] @ features[0], atol=1e-5)
    assert scores.diversity == pytest.approx(mean_pairwise_distance(features[1:]), abs=1e-6)
    labels, _ = judge.predict(others)
    assert scores.predicted.tolist() == labels.tolist()


def test_bad_shapes_and_labels_are_refused(judge: Judge) -> None:
    source = torch.rand(1, 28, 28)
    with pytest.raises(LanternError, match="same image shape"):
        score_views(judge, source, 0, torch.rand(2, 1, 14, 14))
    with pytest.raises(LanternError, match="label 12 is not one of the judge's 10 classes"):
        score_views(judge, source, 12, torch.rand(2, 1, 28, 28))
