"""Faithfulness and diversity of generated views, scored by an independent judge; summaries for a bank.

Per view: cosine similarity to its source in the judge's feature space, and whether the judge's
prediction on the view is the source's true label. Per source: diversity, the mean pairwise cosine
distance among its views. The arithmetic is plain numpy (tested by hand, usable by the GUI); only
`score_views` needs torch, imported inside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.core.errors import LanternError

if TYPE_CHECKING:
    import torch

    from engine.augment.judge import Judge

# Guards the division for an all-zero feature vector (a judge can map a blank image to zeros after ReLU).
_EPS = 1e-12


@dataclass(frozen=True)
class ViewScores:
    """Scores of one source's K views: similarity float32 [K], label_kept bool [K], predicted int64 [K]."""

    similarity: np.ndarray
    label_kept: np.ndarray
    predicted: np.ndarray
    diversity: float

    def __len__(self) -> int:
        return int(self.similarity.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready lists, for answers sent to the GUI."""
        return {
            "similarity": [float(v) for v in self.similarity],
            "label_kept": [bool(v) for v in self.label_kept],
            "predicted": [int(v) for v in self.predicted],
            "diversity": float(self.diversity),
        }


def _unit_rows(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(features, axis=-1, keepdims=True)
    return features / np.maximum(norms, _EPS)


def cosine_to_source(features: np.ndarray, source_feature: np.ndarray) -> np.ndarray:
    """Cosine between each row of features [K, D] and source_feature [D], float32 [K]."""
    features = np.atleast_2d(features)
    source_feature = np.asarray(source_feature).reshape(-1)
    if features.shape[1] != source_feature.shape[0]:
        raise LanternError(
            f"view features have {features.shape[1]} dimensions, the source's {source_feature.shape[0]}",
            "faithfulness scores",
            "compute both with the same judge",
        )
    return (_unit_rows(features) @ _unit_rows(source_feature)).astype(np.float32)


def mean_pairwise_distance(features: np.ndarray) -> float:
    """Mean of 1 - cosine over all unordered pairs of rows of features [K, D]; 0 when K < 2."""
    features = np.atleast_2d(features)
    count = features.shape[0]
    if count < 2:
        return 0.0
    unit = _unit_rows(features)
    cosines = unit @ unit.T
    upper = np.triu_indices(count, k=1)
    # Rounding can put identical views a hair below 0; a distance is never negative.
    return max(0.0, float(np.mean(1.0 - cosines[upper])))


def score_views(
    judge: Judge, source: torch.Tensor | np.ndarray, label: int, views: torch.Tensor | np.ndarray
) -> ViewScores:
    """Score K views float [K, C, H, W] of one source float [C, H, W] whose true class is `label`."""
    import torch

    source_t = torch.as_tensor(np.asarray(source, np.float32)) if isinstance(source, np.ndarray) else source
    views_t = torch.as_tensor(np.asarray(views, np.float32)) if isinstance(views, np.ndarray) else views
    if source_t.dim() != 3 or views_t.dim() != 4 or tuple(views_t.shape[1:]) != tuple(source_t.shape):
        raise LanternError(
            f"score_views takes a source [C, H, W] and views [K, C, H, W] of the same image shape, got "
            f"{tuple(source_t.shape)} and {tuple(views_t.shape)}",
            "faithfulness scores",
            "pass one source image and its views",
        )
    if not 0 <= int(label) < len(judge.class_names):
        raise LanternError(
            f"label {label} is not one of the judge's {len(judge.class_names)} classes",
            "faithfulness scores",
            "pass the source's true label from the same dataset the judge was trained on",
        )
    # One forward pass for the source and its views together, on the judge's device (numpy views and a
    # CUDA source would not concatenate otherwise).
    batch = torch.cat(
        [source_t[None].to(judge.device, torch.float32), views_t.to(judge.device, torch.float32)]
    )
    features_t, predicted, _ = judge.assess(batch)
    features = features_t.numpy()
    predicted_np = predicted[1:].numpy().astype(np.int64)
    return ViewScores(
        similarity=cosine_to_source(features[1:], features[0]),
        label_kept=predicted_np == int(label),
        predicted=predicted_np,
        diversity=mean_pairwise_distance(features[1:]),
    )


def summarise_scores(scores: list[ViewScores]) -> dict[str, float | int]:
    """Bank-level summary: similarity mean and std over all views, label-kept rate over all views, mean
    per-source diversity, and the numbers of views and sources."""
    scored = [s for s in scores if len(s)]
    if not scored:
        raise LanternError(
            "there are no scored views to summarise", "faithfulness summary", "score some views first"
        )
    similarity = np.concatenate([s.similarity for s in scored]).astype(np.float64)
    kept = np.concatenate([s.label_kept for s in scored])
    return {
        "similarity_mean": float(similarity.mean()),
        "similarity_std": float(similarity.std()),
        "label_kept_rate": float(kept.mean()),
        "diversity_mean": float(np.mean([s.diversity for s in scored])),
        "views": int(similarity.shape[0]),
        "sources": len(scored),
    }
