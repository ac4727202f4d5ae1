"""The Tagger interface every NER model implements (fit incrementally, predict, score, checkpoint), and
the shared plumbing: label validation, length-sorted batching, BIO output, safetensors checkpoints."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from engine.core.errors import LanternError
from engine.ner.tagger.vocab import TagCodec
from engine.ner.types import Sentence

if TYPE_CHECKING:
    import torch

    from engine.core.checkpoint import Checkpoint

CHECKPOINT_FORMAT = "lantern.ner.tagger"

ProgressCallback = Callable[[int, int], None]  # (batches done, batches in all) during fit
CancelCheck = Callable[[], None]  # raises JobCancelled when the user asked to stop


@dataclass(frozen=True)
class TaggedSentence:
    """A tagger's reading of one sentence: BIO tags and, per token, log P(chosen tag | sentence, tags before).

    For greedy decoding the chosen tag is the most probable one at each step, so exp(token log-prob) is
    the per-token confidence and their sum is log P(greedy sequence) (what LC and MNLP score).
    """

    tags: tuple[str, ...]
    token_logprobs: tuple[float, ...]

    @property
    def confidences(self) -> tuple[float, ...]:
        return tuple(math.exp(value) for value in self.token_logprobs)

    @property
    def logprob(self) -> float:
        return float(sum(self.token_logprobs))


def config_from_dict(config_class: type, values: dict[str, Any] | None, where: str) -> Any:
    """Build a config dataclass from user values; unknown keys and wrong types are clear errors."""
    values = dict(values or {})
    known = {field.name: field for field in fields(config_class)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise LanternError(
            f"unknown tagger setting(s): {', '.join(unknown)}",
            where,
            f"settings of this tagger are: {', '.join(known)}",
        )
    defaults = asdict(config_class())
    for name, value in values.items():
        default = defaults[name]
        if isinstance(default, bool) or isinstance(value, bool):
            fits = isinstance(default, bool) and isinstance(value, bool)
        elif isinstance(default, float):
            fits = isinstance(value, int | float)
            value = float(value) if fits else value
        elif isinstance(default, int):
            fits = isinstance(value, int)
        else:
            fits = isinstance(value, type(default))
        if not fits:
            raise LanternError(
                f"tagger setting '{name}' must be a {type(default).__name__}, got {value!r}",
                where,
                f"the default is {default!r}",
            )
        values[name] = value
    config = config_class(**values)
    validate = getattr(config, "validate", None)
    if validate is not None:
        validate(where)
    return config


def length_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length (less padding); every index appears once."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


class Tagger(ABC):
    """A sequence tagger over a fixed label set (entity types such as PER, LOC).

    `fit` always continues from the current weights (and optimizer state): calling it again with more
    labelled sentences is the incremental retraining that active learning needs. Tags in and out are BIO;
    what a model uses inside (IOBES here) is its own business.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    config_class: ClassVar[type]

    def __init__(self, labels: Sequence[str], config: Any, device: str = "cpu") -> None:
        if not labels:
            raise LanternError(
                "a tagger needs at least one entity label", "tagger labels", "pass the corpus labels"
            )
        self.labels = tuple(labels)
        self.codec = TagCodec(self.labels)
        self.config = config
        self.device = device
        self.sentences_seen = 0  # labelled sentences passed to fit, summed over calls (with repeats)
        self.epochs_trained = 0

    # the model-specific part
    @abstractmethod
    def fit(
        self,
        sentences: Sequence[Sentence],
        epochs: int,
        *,
        progress: ProgressCallback | None = None,
        check_cancelled: CancelCheck | None = None,
    ) -> None:
        """Train `epochs` passes over `sentences` (labelled), continuing from the current weights."""

    @abstractmethod
    def _decode(self, sentences: Sequence[Sentence]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Greedy IOBES tag ids and their log-probabilities, one pair of arrays per sentence."""

    @abstractmethod
    def sample_tags(self, sentences: Sequence[Sentence], samples: int, seed: int) -> list[np.ndarray]:
        """Greedy IOBES tag ids under `samples` Monte Carlo dropout masks: a [samples, tokens] array each."""

    @abstractmethod
    def loss(self, sentences: Sequence[Sentence]) -> float:
        """Mean per-token negative log-likelihood of the gold tags, dropout off."""

    @abstractmethod
    def _tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
        """Model state dict and optimizer state dict (None before the first fit)."""

    @abstractmethod
    def _meta(self) -> dict[str, Any]:
        """What besides the tensors rebuilds this tagger (vocabulary, model name)."""

    @classmethod
    @abstractmethod
    def from_checkpoint(cls, checkpoint: Checkpoint, device: str = "cpu") -> Tagger:
        """A tagger rebuilt from a checkpoint written by `save`."""

    # shared behaviour
    def predict(self, sentences: Sequence[Sentence]) -> list[TaggedSentence]:
        """BIO tags with per-token log-probabilities (greedy decoding, dropout off)."""
        decoded = self._decode(sentences)
        return [
            TaggedSentence(self.codec.decode_bio(ids), tuple(float(v) for v in logprobs))
            for ids, logprobs in decoded
        ]

    def token_logprobs(self, sentences: Sequence[Sentence]) -> list[np.ndarray]:
        """Per sentence, log P(y_i | x, y_<i) of each greedily chosen tag (float64, length = tokens)."""
        return [logprobs.astype(np.float64) for _, logprobs in self._decode(sentences)]

    def check_labelled(self, sentences: Sequence[Sentence], where: str = "training sentences") -> None:
        """Every sentence has one valid BIO tag per token over this tagger's labels."""
        for index, sentence in enumerate(sentences):
            if sentence.tags is None:
                raise LanternError(
                    f"sentence {index} has no tags", where, "train only on labelled (accepted) sentences"
                )
            if len(sentence.tags) != len(sentence.tokens):
                raise LanternError(
                    f"sentence {index} has {len(sentence.tokens)} tokens but {len(sentence.tags)} tags",
                    where,
                    "give one tag per token",
                )
            for tag in sentence.tags:
                if not self.codec.knows(tag):
                    raise LanternError(
                        f"sentence {index} has the tag '{tag}', which is not BIO over the labels "
                        f"{', '.join(self.labels)}",
                        where,
                        "map the labels on import, or create the tagger with this label set",
                    )

    def checkpoint_meta(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "tagger": self.name,
            "labels": list(self.labels),
            "config": asdict(self.config),
            "sentences_seen": self.sentences_seen,
            "epochs_trained": self.epochs_trained,
            **self._meta(),
        }

    def save(self, path: Path | str, *, with_optimizer: bool = True) -> Path:
        """One safetensors checkpoint: weights, optimizer state (so fitting continues as if never
        interrupted), and config, labels and vocabulary in the meta."""
        from engine.core.checkpoint import save_checkpoint

        model_state, optimizer_state = self._tensors()
        return save_checkpoint(
            path, model_state, optimizer_state if with_optimizer else None, self.checkpoint_meta()
        )

    def clone(self) -> Tagger:
        """An independent copy (weights, optimizer state, vocabulary): to branch one trained tagger
        into several continuations, as the simulation does for its strategies."""
        import copy

        return copy.deepcopy(self)

    def _load_weights(self, checkpoint: Any, where: str, problem: str, hint: str) -> None:
        """Load a checkpoint's weights (and optimizer state, if saved), then its counters; eval mode.

        A mismatch becomes a LanternError: `problem` says what did not fit, `hint` what to do.
        """
        device = next(self.net.parameters()).device  # type: ignore[attr-defined]
        try:
            self.net.load_state_dict({k: v.to(device) for k, v in checkpoint.model_state.items()})  # type: ignore[attr-defined]
            if checkpoint.optimizer_state is not None:
                self.optimizer = self._make_optimizer()  # type: ignore[attr-defined]
                self.optimizer.load_state_dict(checkpoint.optimizer_state)
        except (RuntimeError, ValueError, KeyError) as exc:
            raise LanternError(f"{problem} ({exc})", where, hint) from exc
        self._restore_counters(checkpoint.meta)
        self.net.eval()  # type: ignore[attr-defined]

    def _restore_counters(self, meta: dict[str, Any]) -> None:
        self.sentences_seen = int(meta.get("sentences_seen", 0))
        self.epochs_trained = int(meta.get("epochs_trained", 0))


def check_checkpoint_meta(meta: dict[str, Any], where: str) -> None:
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise LanternError(
            "the checkpoint is not a Lantern NER tagger checkpoint",
            where,
            "pick a checkpoint written by a NER training job",
        )
