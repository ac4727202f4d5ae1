"""The TextModel interface the attribution methods rely on, the Encoded batch, and shared text-model parts.

Attribution methods differentiate a text model with respect to its input embeddings, so every model splits
its forward pass into `embed(ids)` and `forward_embeddings(emb, mask)`; positions map back to the caller's
words through `Encoded.word_of`, and `to_words` sums position scores into one score per word.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn

from engine.core.errors import LanternError

ImportanceKind = Literal["attention", "rationale"]
PAD, UNK = "<pad>", "<unk>"


@dataclass(frozen=True)
class Encoded:
    """A batch of texts as model positions.

    ids LongTensor [B, T]; mask BoolTensor [B, T] (True on real positions, a prefix of each row);
    word_of LongTensor [B, T] (index of the caller's word at each position, -1 for special tokens and
    padding; a word cut into sub-tokens has several positions); n_words LongTensor [B] (words in each text,
    so that words cut off by the model's max_length still get a (zero) score in `to_words`).
    """

    ids: torch.Tensor
    mask: torch.Tensor
    word_of: torch.Tensor
    n_words: torch.Tensor

    def to(self, device: torch.device | str) -> Encoded:
        return Encoded(
            self.ids.to(device), self.mask.to(device), self.word_of.to(device), self.n_words.to(device)
        )

    def __len__(self) -> int:
        return int(self.ids.shape[0])


class TextModel(nn.Module, ABC):
    """A text classifier whose gradients can be taken with respect to its input embeddings.

    `token_importance()` returns the model's own explanation from its last forward pass ([B, T], zero on
    padding): attention weights for importance_kind "attention", the hard {0, 1} selection for
    "rationale", None for models without one.
    """

    importance_kind: ClassVar[ImportanceKind | None] = None
    name: ClassVar[str] = ""

    def __init__(self, num_classes: int, max_length: int) -> None:
        super().__init__()
        if num_classes < 2:
            raise LanternError(
                f"a classifier needs at least 2 classes, got {num_classes}", f"{self.name}: num_classes"
            )
        if max_length < 2:
            raise LanternError(
                f"max_length must be at least 2, got {max_length}", f"{self.name}: max_length", "e.g. 128"
            )
        self.num_classes = int(num_classes)
        self.max_length = int(max_length)
        self._importance: torch.Tensor | None = None

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @abstractmethod
    def encode(self, texts: Sequence[Sequence[str]]) -> Encoded:
        """Token lists -> an Encoded batch on this model's device (padded to the longest text)."""

    @abstractmethod
    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [B, T] -> input embeddings [B, T, E] (what gradient attribution differentiates against)."""

    @abstractmethod
    def forward_embeddings(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Embeddings [B, T, E] and mask [B, T] -> logits [B, K]; records token_importance."""

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.forward_embeddings(self.embed(ids), mask)

    def token_importance(self) -> torch.Tensor | None:
        return self._importance

    def extra_loss(self) -> torch.Tensor | None:
        """A regulariser from the last forward pass that training adds to the cross-entropy (or None)."""
        return None

    def parameter_groups(self, lr: float) -> list[dict[str, Any]]:
        """Optimiser parameter groups; models with a pretrained part give it its own learning rate."""
        return [{"params": [p for p in self.parameters() if p.requires_grad], "lr": lr}]

    def to_words(self, values: torch.Tensor, enc: Encoded) -> list[np.ndarray]:
        """Per-position values [B, T] -> one float32 array per text, summed over each word's positions."""
        values = values.detach().float()
        word_of = enc.word_of.to(values.device)
        n_words = enc.n_words.tolist()
        width = max(max(n_words, default=0), 1) + 1  # the last column collects special tokens and padding
        target = torch.where(word_of >= 0, word_of, torch.full_like(word_of, width - 1))
        summed = torch.zeros(values.shape[0], width, dtype=values.dtype, device=values.device)
        summed.scatter_add_(1, target, values)
        summed = summed.cpu().numpy().astype(np.float32)
        return [summed[row, :count].copy() for row, count in enumerate(n_words)]


class Vocabulary:
    """Word -> id for the word-level models: <pad> = 0, <unk> = 1, then words by falling frequency."""

    def __init__(self, texts: Sequence[Sequence[str]], *, min_count: int = 1, max_size: int = 30000) -> None:
        counts = Counter(word for text in texts for word in text)
        kept = [w for w, c in sorted(counts.items(), key=lambda item: (-item[1], item[0])) if c >= min_count]
        if not kept:
            raise LanternError(
                "the texts for the vocabulary hold no words",
                "text model: texts_for_vocab",
                "pass the training texts (token lists) the model will learn from",
            )
        self.words: list[str] = [PAD, UNK, *kept[: max(max_size - 2, 1)]]
        self.index = {word: i for i, word in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, texts: Sequence[Sequence[str]], max_length: int, device: torch.device) -> Encoded:
        """Word ids, one position per word; an empty text gets one <unk> position that maps to no word."""
        length = max(1, min(max_length, max((len(t) for t in texts), default=1)))
        ids = torch.zeros(len(texts), length, dtype=torch.long)
        word_of = torch.full((len(texts), length), -1, dtype=torch.long)
        mask = torch.zeros(len(texts), length, dtype=torch.bool)
        unk = self.index[UNK]
        for row, text in enumerate(texts):
            kept = list(text[:length])
            if not kept:
                ids[row, 0], mask[row, 0] = unk, True
                continue
            ids[row, : len(kept)] = torch.tensor([self.index.get(w, unk) for w in kept])
            word_of[row, : len(kept)] = torch.arange(len(kept))
            mask[row, : len(kept)] = True
        n_words = torch.tensor([len(t) for t in texts], dtype=torch.long)
        return Encoded(ids, mask, word_of, n_words).to(device)


def run_lstm(lstm: nn.LSTM, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """A batch-first (Bi)LSTM over the real positions only (packed): [B, T, H*dirs], zero on padding."""
    lengths = mask.sum(dim=1).clamp(min=1).cpu()
    with _cudnn_guard(lstm, emb):
        packed = nn.utils.rnn.pack_padded_sequence(emb, lengths, batch_first=True, enforce_sorted=False)
        output, _ = lstm(packed)
        output, _ = nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=emb.shape[1])
    return output


def _cudnn_guard(lstm: nn.LSTM, emb: torch.Tensor) -> AbstractContextManager[Any]:
    # cuDNN's RNN backward refuses to run in eval mode, and attribution takes gradients of eval-mode models.
    if emb.is_cuda and torch.is_grad_enabled() and not lstm.training:
        return torch.backends.cudnn.flags(enabled=False)
    return nullcontext()
