"""The CNN-CNN-LSTM tagger of Shen et al. (ICLR 2018): a character CNN and a two-layer word CNN with
residual concatenation encode the sentence, an LSTM decoder fed the previous tag decodes it greedily.

Training uses teacher forcing (the whole decoder runs as one LSTM call); inference decodes step by step,
batched over sentences. Tags are IOBES inside, BIO at the interface. All sizes come from the config.

Incremental: `fit` always continues from the current weights and Adam state. The vocabulary grows with
each fit's labelled sentences (engine.ner.tagger.vocab), the embedding tables grow with it (trained rows
and their Adam moments kept), and words never labelled map to UNK, trained through word dropout.
Padding is zeroed after every layer, so a sentence's tags do not depend on the batch it is decoded in.
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
from engine.ner.tagger.vocab import PAD, UNK, Vocab
from engine.ner.types import Sentence

BUCKET_BATCHES = 20  # training batches are drawn from shuffled buckets of this many batches, length-sorted
POSITIVE_SETTINGS = (
    *("char_dim", "char_filters", "char_width", "word_dim", "word_filters", "word_layers", "word_width"),
    *("tag_dim", "decoder_hidden", "batch_size", "max_word_chars", "predict_batch_size"),
)


@dataclass(frozen=True)
class CnnCnnLstmConfig:
    """Sizes and training settings; the defaults are the paper's where it gives them."""

    char_dim: int = 25
    char_filters: int = 50
    char_width: int = 5
    word_dim: int = 100
    word_filters: int = 800
    word_layers: int = 2
    word_width: int = 3
    tag_dim: int = 25
    decoder_hidden: int = 256
    dropout: float = 0.5
    word_dropout: float = 0.5  # probability that a training word is replaced by UNK
    learning_rate: float = 1e-3
    batch_size: int = 32
    clip_norm: float = 5.0
    max_word_chars: int = 20  # longer tokens (URLs) are cut for the character CNN
    predict_batch_size: int = 256
    seed: int = 0

    def validate(self, where: str) -> None:
        for name in POSITIVE_SETTINGS:
            if getattr(self, name) < 1:
                raise LanternError(
                    f"tagger setting '{name}' must be at least 1", where, "use a positive size"
                )
        for name in ("char_width", "word_width"):
            if getattr(self, name) % 2 == 0:
                raise LanternError(
                    f"tagger setting '{name}' must be odd", where, "an odd width keeps tokens aligned"
                )
        for name in ("dropout", "word_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise LanternError(f"tagger setting '{name}' must be in [0, 1)", where, "e.g. 0.5")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise LanternError("tagger setting 'learning_rate' must be positive", where, "e.g. 0.001")


def _uniform_embedding(rows: int, dim: int) -> nn.Embedding:
    embedding = nn.Embedding(rows, dim, padding_idx=PAD)
    bound = math.sqrt(3.0 / dim)  # unit variance per vector, whatever the width
    nn.init.uniform_(embedding.weight, -bound, bound)
    with torch.no_grad():
        embedding.weight[PAD].zero_()
    return embedding


class CnnCnnLstmNet(nn.Module):
    """The network; `start` (the last tag-embedding row) is the decoder's input before the first tag."""

    def __init__(self, config: CnnCnnLstmConfig, n_words: int, n_chars: int, n_tags: int) -> None:
        super().__init__()
        self.config = config
        self.n_tags = n_tags
        self.start = n_tags
        self.char_embedding = _uniform_embedding(n_chars, config.char_dim)
        self.char_cnn = nn.Conv1d(
            config.char_dim, config.char_filters, config.char_width, padding=config.char_width // 2
        )
        self.word_embedding = _uniform_embedding(n_words, config.word_dim)
        in_dim = config.word_dim + config.char_filters
        self.word_cnn = nn.ModuleList(
            nn.Conv1d(
                in_dim if layer == 0 else config.word_filters,
                config.word_filters,
                config.word_width,
                padding=config.word_width // 2,
            )
            for layer in range(config.word_layers)
        )
        self.encoded_dim = in_dim + config.word_filters  # residual concatenation: CNN output + its input
        self.tag_embedding = nn.Embedding(n_tags + 1, config.tag_dim)
        self.decoder = nn.LSTM(self.encoded_dim + config.tag_dim, config.decoder_hidden, batch_first=True)
        self.output = nn.Linear(config.decoder_hidden, n_tags)

    def encode(
        self,
        words: torch.Tensor,
        chars: torch.Tensor,
        mask: torch.Tensor,
        *,
        word_dropout: bool,
        dropout: bool,
    ) -> torch.Tensor:
        """[B, T] word ids, [B, T, C] char ids, [B, T] mask -> [B, T, encoded_dim]."""
        p = self.config.dropout if dropout else 0.0
        batch, steps, width = chars.shape
        flat_mask = mask.reshape(-1)
        real_chars = chars.reshape(-1, width)[flat_mask]  # only real words go through the char CNN
        char_vectors = self.char_embedding(real_chars).transpose(1, 2)
        char_features = F.relu(self.char_cnn(char_vectors))
        # Max-pool over the word's characters; ReLU outputs are >= 0, so zeroing padding leaves the max exact.
        char_features = char_features.masked_fill((real_chars == PAD).unsqueeze(1), 0.0).amax(dim=2)
        # Dropout on the pooled features: the same as dropping each filter's activations over the whole
        # word before the max-pool (a mask shared by the word's characters), with 20x fewer random draws.
        char_features = F.dropout(char_features, p, training=p > 0)
        per_word = char_features.new_zeros(batch * steps, char_features.shape[1])
        per_word[flat_mask] = char_features
        if word_dropout and self.config.word_dropout > 0:
            drop = (torch.rand(words.shape, device=words.device) < self.config.word_dropout) & mask
            words = words.masked_fill(drop, UNK)
        x = torch.cat([self.word_embedding(words), per_word.view(batch, steps, -1)], dim=2)
        x = F.dropout(x, p, training=p > 0)
        keep = mask.unsqueeze(1).to(x.dtype)
        hidden = x.transpose(1, 2)
        for conv in self.word_cnn:
            # Zeroing padding after every layer makes a sentence's encoding independent of its batch.
            hidden = F.dropout(F.relu(conv(hidden)), p, training=p > 0) * keep
        return torch.cat([hidden.transpose(1, 2), x], dim=2)

    def teacher_forced_logits(
        self, encoded: torch.Tensor, tags: torch.Tensor, *, dropout: bool
    ) -> torch.Tensor:
        """Logits [B, T, n_tags] with the gold previous tag fed at every step."""
        previous = torch.cat([torch.full_like(tags[:, :1], self.start), tags[:, :-1]], dim=1)
        outputs, _ = self.decoder(torch.cat([encoded, self.tag_embedding(previous)], dim=2))
        p = self.config.dropout if dropout else 0.0
        return self.output(F.dropout(outputs, p, training=p > 0))

    def greedy(self, encoded: torch.Tensor, *, dropout: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Greedy decoding: ([B, T] tag ids, [B, T] log-probability of each chosen tag)."""
        batch, steps, _ = encoded.shape
        p = self.config.dropout if dropout else 0.0
        previous = torch.full((batch,), self.start, dtype=torch.long, device=encoded.device)
        state = None
        ids, logprobs = [], []
        for step in range(steps):
            inputs = torch.cat([encoded[:, step], self.tag_embedding(previous)], dim=1).unsqueeze(1)
            output, state = self.decoder(inputs, state)
            scores = F.log_softmax(self.output(F.dropout(output[:, 0], p, training=p > 0)), dim=1)
            best, previous = scores.max(dim=1)
            ids.append(previous)
            logprobs.append(best)
        return torch.stack(ids, dim=1), torch.stack(logprobs, dim=1)


@dataclass
class _Encoded:
    words: np.ndarray  # [n]
    chars: np.ndarray  # [n, longest word]
    tags: np.ndarray | None  # [n] IOBES ids


class CnnCnnLstmTagger(Tagger):
    """The paper's tagger behind the Tagger interface."""

    name = "cnn_cnn_lstm"
    title = "CNN-CNN-LSTM (Shen et al. 2018)"
    config_class = CnnCnnLstmConfig

    def __init__(
        self,
        labels: Sequence[str],
        config: CnnCnnLstmConfig | dict[str, Any] | None = None,
        device: str = "cpu",
        vocab: Vocab | None = None,
    ) -> None:
        if not isinstance(config, CnnCnnLstmConfig):
            config = config_from_dict(CnnCnnLstmConfig, config, "CNN-CNN-LSTM tagger settings")
        super().__init__(labels, config, device)
        self.vocab = vocab or Vocab()
        with torch.random.fork_rng(devices=[]):  # same seed -> same initial weights, global RNG untouched
            torch.manual_seed(config.seed)
            self.net = CnnCnnLstmNet(config, len(self.vocab.words), len(self.vocab.chars), len(self.codec))
        self.net.to(device)
        self.optimizer: torch.optim.Optimizer | None = None

    # vocabulary growth
    def _grow_embedding(self, attribute: str, rows: int) -> None:
        old: nn.Embedding = getattr(self.net, attribute)
        if rows <= old.num_embeddings:
            return
        new = _uniform_embedding(rows, old.embedding_dim).to(self.device)
        with torch.no_grad():
            new.weight[: old.num_embeddings] = old.weight
        setattr(self.net, attribute, new)
        if self.optimizer is None:
            return
        # Swap the parameter inside the optimizer at the same position (checkpoints index params by order)
        # and pad its moment estimates with zeros for the new rows: trained rows keep their history.
        for group in self.optimizer.param_groups:
            group["params"] = [new.weight if p is old.weight else p for p in group["params"]]
        state = self.optimizer.state.pop(old.weight, None)
        if state:
            extra = rows - old.num_embeddings
            for key in ("exp_avg", "exp_avg_sq"):
                if key in state:
                    state[key] = torch.cat([state[key], state[key].new_zeros(extra, state[key].shape[1])])
            self.optimizer.state[new.weight] = state

    def _grow(self, sentences: Sequence[Sentence]) -> None:
        self.vocab.grow(sentences)
        self._grow_embedding("word_embedding", len(self.vocab.words))
        self._grow_embedding("char_embedding", len(self.vocab.chars))

    def _start_from_tag_prior(self, encoded: Sequence[_Encoded]) -> None:
        """Before the first step, set the output bias to the log tag frequencies of the first training data.

        Without it the decoder first learns the prior (O almost everywhere) through its hidden units,
        saturates them, and then sits on a plateau predicting only O: on WNUT-16 it took about 25 epochs
        to leave it, with the prior in the bias it learns from the first epoch.
        """
        counts = np.bincount(np.concatenate([item.tags for item in encoded]), minlength=len(self.codec)) + 1.0
        with torch.no_grad():
            self.net.output.bias.copy_(torch.as_tensor(np.log(counts / counts.sum()), dtype=torch.float32))

    def _make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.net.parameters(), lr=self.config.learning_rate)

    # tensors
    def _encode(self, sentence: Sentence, with_tags: bool) -> _Encoded:
        cut = self.config.max_word_chars
        char_lists = [self.vocab.char_ids(token, cut) for token in sentence.tokens]
        chars = np.zeros((len(char_lists), max((len(c) for c in char_lists), default=1)), dtype=np.int64)
        for i, ids in enumerate(char_lists):
            chars[i, : len(ids)] = ids
        tags = self.codec.encode_bio(sentence.tags) if with_tags and sentence.tags is not None else None
        return _Encoded(np.asarray(self.vocab.word_ids(sentence.tokens), dtype=np.int64), chars, tags)

    def _batch(self, items: Sequence[_Encoded]) -> dict[str, torch.Tensor]:
        steps = max(len(item.words) for item in items)
        width = max(item.chars.shape[1] for item in items)
        words = np.zeros((len(items), steps), dtype=np.int64)
        chars = np.zeros((len(items), steps, width), dtype=np.int64)
        tags = np.zeros((len(items), steps), dtype=np.int64)
        for row, item in enumerate(items):
            n = len(item.words)
            words[row, :n] = item.words
            chars[row, :n, : item.chars.shape[1]] = item.chars
            if item.tags is not None:
                tags[row, :n] = item.tags
        tensors = {"words": words, "chars": chars, "tags": tags}
        batch = {key: torch.from_numpy(value).to(self.device) for key, value in tensors.items()}
        batch["mask"] = batch["words"] != PAD
        return batch

    def _training_batches(
        self, count: int, rng: np.random.Generator, lengths: list[int]
    ) -> Iterator[list[int]]:
        """Shuffled batches of similar length: shuffle, sort within buckets, shuffle the batch order."""
        size = self.config.batch_size
        order = rng.permutation(count)
        batches: list[list[int]] = []
        bucket = size * BUCKET_BATCHES
        for start in range(0, count, bucket):
            chunk = sorted(order[start : start + bucket].tolist(), key=lambda i: lengths[i])
            batches.extend(chunk[i : i + size] for i in range(0, len(chunk), size))
        for index in rng.permutation(len(batches)):
            yield batches[index]

    # the Tagger interface
    def fit(
        self,
        sentences: Sequence[Sentence],
        epochs: int,
        *,
        progress: ProgressCallback | None = None,
        check_cancelled: CancelCheck | None = None,
    ) -> None:
        self.check_labelled(sentences)
        usable = [s for s in sentences if len(s.tokens) > 0]
        if epochs < 0:
            raise LanternError(f"epochs must be >= 0, got {epochs}", "fit", "pass a number of passes")
        if not usable or epochs == 0:
            return
        self._grow(usable)
        encoded = [self._encode(s, with_tags=True) for s in usable]
        if self.optimizer is None:
            self._start_from_tag_prior(encoded)
            self.optimizer = self._make_optimizer()
        lengths = [len(item.words) for item in encoded]
        per_epoch = math.ceil(len(encoded) / self.config.batch_size)
        done = 0
        self.net.train()
        for _ in range(epochs):
            # Shuffling depends on (seed, epochs so far): a tagger restored from a checkpoint continues
            # exactly as the uninterrupted one would have.
            rng = np.random.default_rng([self.config.seed, self.epochs_trained])
            for indices in self._training_batches(len(encoded), rng, lengths):
                if check_cancelled is not None:
                    check_cancelled()
                batch = self._batch([encoded[i] for i in indices])
                encoded_batch = self.net.encode(
                    batch["words"], batch["chars"], batch["mask"], word_dropout=True, dropout=True
                )
                logits = self.net.teacher_forced_logits(encoded_batch, batch["tags"], dropout=True)
                loss = F.cross_entropy(logits[batch["mask"]], batch["tags"][batch["mask"]])
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), self.config.clip_norm)
                self.optimizer.step()
                done += 1
                if progress is not None:
                    progress(done, per_epoch * epochs)
            self.epochs_trained += 1
            self.sentences_seen += len(encoded)
        self.net.eval()

    def _inference_batches(self, sentences: Sequence[Sentence]) -> Iterator[tuple[list[int], dict[str, Any]]]:
        lengths = [len(s.tokens) for s in sentences]
        real = [i for i in range(len(sentences)) if lengths[i] > 0]
        for group in length_batches([lengths[i] for i in real], self.config.predict_batch_size):
            indices = [real[g] for g in group]
            yield indices, self._batch([self._encode(sentences[i], with_tags=False) for i in indices])

    def _decode(self, sentences: Sequence[Sentence]) -> list[tuple[np.ndarray, np.ndarray]]:
        results: list[tuple[np.ndarray, np.ndarray]] = [
            (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)) for _ in sentences
        ]
        self.net.eval()
        with torch.inference_mode():
            for indices, batch in self._inference_batches(sentences):
                encoded = self.net.encode(
                    batch["words"], batch["chars"], batch["mask"], word_dropout=False, dropout=False
                )
                ids, logprobs = self.net.greedy(encoded, dropout=False)
                ids, logprobs = ids.cpu().numpy(), logprobs.float().cpu().numpy()
                for row, index in enumerate(indices):
                    n = len(sentences[index].tokens)
                    results[index] = (ids[row, :n], logprobs[row, :n])
        return results

    def sample_tags(self, sentences: Sequence[Sentence], samples: int, seed: int) -> list[np.ndarray]:
        results = [np.zeros((samples, 0), dtype=np.int64) for _ in sentences]
        self.net.eval()
        devices = [torch.device(self.device)] if torch.device(self.device).type == "cuda" else []
        with torch.inference_mode(), torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            for indices, batch in self._inference_batches(sentences):
                # All masks of a batch in one pass: the batch repeated `samples` times along its rows.
                words, chars, mask = (
                    batch[k].repeat(samples, *[1] * (batch[k].dim() - 1)) for k in ("words", "chars", "mask")
                )
                encoded = self.net.encode(words, chars, mask, word_dropout=False, dropout=True)
                ids, _ = self.net.greedy(encoded, dropout=True)
                ids = ids.view(samples, len(indices), -1).cpu().numpy()
                for row, index in enumerate(indices):
                    results[index] = ids[:, row, : len(sentences[index].tokens)]
        return results

    def loss(self, sentences: Sequence[Sentence]) -> float:
        self.check_labelled(sentences, "evaluation sentences")
        usable = [s for s in sentences if len(s.tokens) > 0]
        if not usable:
            return 0.0
        total, count = 0.0, 0
        self.net.eval()
        with torch.inference_mode():
            for group in length_batches([len(s.tokens) for s in usable], self.config.predict_batch_size):
                batch = self._batch([self._encode(usable[i], with_tags=True) for i in group])
                encoded = self.net.encode(
                    batch["words"], batch["chars"], batch["mask"], word_dropout=False, dropout=False
                )
                logits = self.net.teacher_forced_logits(encoded, batch["tags"], dropout=False)
                mask = batch["mask"]
                total += F.cross_entropy(logits[mask], batch["tags"][mask], reduction="sum").item()
                count += int(mask.sum())
        return total / count

    # checkpoints
    def _tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
        optimizer = self.optimizer.state_dict() if self.optimizer is not None else None
        return self.net.state_dict(), optimizer

    def _meta(self) -> dict[str, Any]:
        return {"vocab": self.vocab.to_dict()}

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint, device: str = "cpu") -> CnnCnnLstmTagger:
        meta = checkpoint.meta
        check_checkpoint_meta(meta, "CNN-CNN-LSTM checkpoint")
        config = config_from_dict(CnnCnnLstmConfig, meta.get("config"), "checkpoint meta: config")
        tagger = cls(meta["labels"], config, device, vocab=Vocab.from_dict(meta.get("vocab", {})))
        tagger._load_weights(
            checkpoint,
            "CNN-CNN-LSTM checkpoint",
            "the checkpoint's weights do not fit its own config and vocabulary",
            "the file was written by another version or edited: retrain the tagger",
        )
        return tagger
