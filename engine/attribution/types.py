"""Data shared by every part of the attribution workspace: base data and its modified, ground-truth form.

Arrays only (numpy): the GUI imports this module for previews, so nothing here may import torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Modality = Literal["image", "text"]
# Which samples a score covers: those carrying the manipulation, those without it, or all of them.
Condition = Literal["presence", "absence", "all"]
CONDITIONS: tuple[Condition, ...] = ("presence", "absence", "all")


@dataclass(frozen=True)
class ImageSet:
    """Base images before any modification.

    images: float32 [N, C, H, W] in [0, 1] (C is 1 or 3); labels: int64 [N] in [0, K).
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    source: str  # provenance shown to the user: package, folder, file
    names: tuple[str, ...] = ()  # per-sample names (file names for folders); may be empty

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class TextSet:
    """Base texts before any modification: one token list per sample, labels int64 [N]."""

    texts: list[list[str]]
    labels: np.ndarray
    class_names: tuple[str, ...]
    source: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class ModifiedImages:
    """Images after label reassignment and manipulation: the ground truth every score is measured against.

    images: float32 [N, C, H, W] in [0, 1], the model's inputs. originals: the same images before the
    manipulation. labels: int64 [N] after reassignment (what the model learns); original_labels: before.
    masks: bool [N, H, W], the effective region of each sample (where the manipulation is or would be;
    the same region for samples with and without it). manipulated: bool [N], True where the manipulation
    is present (its absence is effective too, and is scored apart).
    """

    images: np.ndarray
    originals: np.ndarray
    labels: np.ndarray
    original_labels: np.ndarray
    masks: np.ndarray
    manipulated: np.ndarray
    manipulation: str
    strength: float
    r: float
    p_star: float
    class_names: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def region_share(self) -> np.ndarray:
        """Each sample's region as a share of its input (the random baseline of Attr%), float [N]."""
        return self.masks.reshape(len(self), -1).mean(axis=1)


@dataclass(frozen=True)
class ModifiedTexts:
    """Texts after label reassignment and manipulation.

    tokens: the model's inputs, one token list per sample. masks: one bool array per sample, as long as its
    tokens, True on the manipulated positions (the effective region). manipulated: bool [N] as for images.
    """

    tokens: list[list[str]]
    original_tokens: list[list[str]]
    labels: np.ndarray
    original_labels: np.ndarray
    masks: list[np.ndarray]
    manipulated: np.ndarray
    manipulation: str
    strength: float
    r: float
    p_star: float
    class_names: tuple[str, ...]
    source: str
    dropped: int = 0  # base samples the manipulation could not apply to (e.g. no article to substitute)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def region_share(self) -> np.ndarray:
        return np.array([m.mean() if m.size else 0.0 for m in self.masks], dtype=np.float64)


@dataclass(frozen=True)
class Gallery:
    """A few explained samples of one replicate, kept for the GUI's gallery (stored as an .npz artifact).

    For images: inputs float32 [n, C, H, W]; masks bool [n, H, W]; maps[method] float32 [n, H, W]
    (absolute values summed over channels). For text: tokens (list of token lists), masks list of bool
    arrays, maps[method] list of float32 arrays per token. labels/predictions int64 [n]; manipulated bool [n].
    """

    modality: Modality
    manipulation: str
    replicate: int
    labels: np.ndarray
    predictions: np.ndarray
    manipulated: np.ndarray
    masks: np.ndarray | list[np.ndarray]
    maps: dict[str, np.ndarray | list[np.ndarray]]
    inputs: np.ndarray | None = None
    tokens: list[list[str]] | None = None
    model: str = ""
    meta: dict[str, object] = field(default_factory=dict)
