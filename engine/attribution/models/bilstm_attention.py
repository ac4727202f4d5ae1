"""BiLSTM with additive (Bahdanau) attention pooling: the attention weights are the model's explanation."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from engine.attribution.models.text_base import Encoded, TextModel, Vocabulary, run_lstm


class BiLSTMAttention(TextModel):
    """Embeddings -> BiLSTM -> score_t = v . tanh(W h_t + b) -> softmax over real tokens -> sum_t a_t h_t
    -> dropout -> linear. token_importance = the attention weights a_t (sum to 1 over each text's tokens)."""

    importance_kind = "attention"
    name = "bilstm_attention"

    def __init__(
        self,
        texts_for_vocab: Sequence[Sequence[str]],
        num_classes: int,
        *,
        embedding_dim: int = 64,
        hidden: int = 64,
        attention_dim: int = 64,
        dropout: float = 0.1,
        min_count: int = 1,
        max_vocab: int = 30000,
        max_length: int = 128,
    ) -> None:
        super().__init__(num_classes, max_length)
        self.vocab = Vocabulary(texts_for_vocab, min_count=min_count, max_size=max_vocab)
        self.embedding = nn.Embedding(len(self.vocab), embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(embedding_dim, hidden, batch_first=True, bidirectional=True)
        self.attention_proj = nn.Linear(2 * hidden, attention_dim)
        self.attention_score = nn.Linear(attention_dim, 1, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, num_classes)

    def encode(self, texts: Sequence[Sequence[str]]) -> Encoded:
        return self.vocab.encode(texts, self.max_length, self.device)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(ids)

    def forward_embeddings(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.bool()
        states = run_lstm(self.lstm, emb, mask)
        scores = self.attention_score(torch.tanh(self.attention_proj(states))).squeeze(-1)
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=1)
        self._importance = weights.detach()
        context = torch.bmm(weights.unsqueeze(1), states).squeeze(1)
        return self.head(self.dropout(context))
