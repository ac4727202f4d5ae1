"""Select-then-predict rationale model (Lei et al. 2016): the words it keeps are its explanation.

A selector BiLSTM gives each word a keep probability; the selection is hard ({0, 1}) in the forward pass,
with straight-through gradients: a relaxed Bernoulli (hard-concrete / Gumbel-sigmoid) sample while training,
a 0.5 threshold at evaluation. An encoder BiLSTM reads the embeddings multiplied by the selection, so only
kept words carry content into the prediction. Training adds
    sparsity_weight * |mean selection - target_rate| + continuity_weight * mean |z_t - z_{t-1}|
to the cross-entropy (`extra_loss`). Both terms act on the thresholded selection (straight-through), not
on the training sample: a selector unsure about filler words samples them at the target rate but keeps
none of them at evaluation, so a penalty on the sample would not hold the reported rationales to the target.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from engine.attribution.models.text_base import Encoded, TextModel, Vocabulary, run_lstm
from engine.core.errors import LanternError


class RationaleModel(TextModel):
    """token_importance = the hard selection of the last forward pass, 1.0 on kept words, 0.0 elsewhere."""

    importance_kind = "rationale"
    name = "rationale"

    def __init__(
        self,
        texts_for_vocab: Sequence[Sequence[str]],
        num_classes: int,
        *,
        embedding_dim: int = 64,
        hidden: int = 64,
        target_rate: float = 0.2,
        sparsity_weight: float = 1.0,
        continuity_weight: float = 0.1,
        temperature: float = 0.5,
        dropout: float = 0.1,
        min_count: int = 1,
        max_vocab: int = 30000,
        max_length: int = 128,
    ) -> None:
        super().__init__(num_classes, max_length)
        if not 0.0 < target_rate <= 1.0:
            raise LanternError(
                f"target_rate must lie in (0, 1], got {target_rate}",
                "rationale model: target_rate",
                "the share of words the selector should keep, e.g. 0.2",
            )
        if temperature <= 0:
            raise LanternError(
                f"temperature must be positive, got {temperature}", "rationale model: temperature", "e.g. 0.5"
            )
        self.target_rate = float(target_rate)
        self.sparsity_weight = float(sparsity_weight)
        self.continuity_weight = float(continuity_weight)
        self.temperature = float(temperature)
        self.vocab = Vocabulary(texts_for_vocab, min_count=min_count, max_size=max_vocab)
        self.embedding = nn.Embedding(len(self.vocab), embedding_dim, padding_idx=0)
        self.selector = nn.LSTM(embedding_dim, hidden, batch_first=True, bidirectional=True)
        self.select_head = nn.Linear(2 * hidden, 1)
        self.encoder = nn.LSTM(embedding_dim, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, num_classes)
        self._selection: torch.Tensor | None = None  # straight-through z of the last forward, for extra_loss
        self._mask: torch.Tensor | None = None

    def encode(self, texts: Sequence[Sequence[str]]) -> Encoded:
        return self.vocab.encode(texts, self.max_length, self.device)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(ids)

    def select(
        self, emb: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z, kept, z_eval), zero on padding.

        z feeds the encoder: hard values forward, the relaxed sample's gradient backward (training), or the
        thresholded selection with the probability's gradient (evaluation). kept = hard z. z_eval is the
        thresholded selection with straight-through gradients even while training: the regulariser acts on
        what evaluation keeps, so the target rate is the rate of the reported rationales.
        """
        logits = self.select_head(run_lstm(self.selector, emb, mask)).squeeze(-1)
        maskf = mask.to(logits.dtype)
        probability = torch.sigmoid(logits)
        z_eval, kept = _straight_through(probability, maskf)
        if not self.training:
            return z_eval, kept, z_eval
        noise = torch.rand_like(logits).clamp(1e-6, 1 - 1e-6)
        relaxed = torch.sigmoid((logits + torch.log(noise) - torch.log1p(-noise)) / self.temperature)
        z, kept = _straight_through(relaxed, maskf)
        return z, kept, z_eval

    def forward_embeddings(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.bool()
        z, kept, z_eval = self.select(emb, mask)
        states = run_lstm(self.encoder, emb * z.unsqueeze(-1), mask)
        pooled = states.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)
        self._importance = kept
        self._selection, self._mask = z_eval, mask
        return self.head(self.dropout(pooled))

    def selection_rate(self) -> float | None:
        """Share of real words the last forward pass kept."""
        if self._importance is None or self._mask is None:
            return None
        return float(self._importance.sum() / self._mask.sum().clamp(min=1))

    def extra_loss(self) -> torch.Tensor | None:
        if self._selection is None or self._mask is None:
            return None
        z, maskf = self._selection, self._mask.to(self._selection.dtype)
        rate = z.sum() / maskf.sum().clamp(min=1)
        loss = self.sparsity_weight * (rate - self.target_rate).abs()
        pairs = maskf[:, 1:] * maskf[:, :-1]  # neighbouring real words
        if self.continuity_weight and pairs.sum() > 0:
            jumps = (z[:, 1:] - z[:, :-1]).abs() * pairs
            loss = loss + self.continuity_weight * jumps.sum() / pairs.sum()
        return loss


def _straight_through(probability: torch.Tensor, maskf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, hard): hard = 1.0 where probability > 0.5 (0.0 on padding); z has hard's values (to rounding)
    and the probability's gradient."""
    hard = (probability > 0.5).to(probability.dtype) * maskf
    return (hard + probability - probability.detach()) * maskf, hard
