"""The CNN-CNN-LSTM tagger: learns, trains incrementally, grows its vocabulary, checkpoints exactly."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from ner_toys import LABELS, SMALL, one_thread, toy_sentences  # noqa: F401 - autouse fixture

from engine.core.errors import LanternError
from engine.ner.tagger import TAGGERS, create_tagger, load_tagger
from engine.ner.tagger.cnn_cnn_lstm import CnnCnnLstmConfig, CnnCnnLstmTagger
from engine.ner.tagger.vocab import UNK
from engine.ner.types import Sentence


def small_tagger(**overrides: object) -> CnnCnnLstmTagger:
    tagger = create_tagger("cnn_cnn_lstm", LABELS, {**SMALL, **overrides})
    assert isinstance(tagger, CnnCnnLstmTagger)
    return tagger


def state_copy(tagger: CnnCnnLstmTagger) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in tagger.net.state_dict().items()}


def test_defaults_are_the_papers_sizes():
    config = CnnCnnLstmConfig()
    assert (config.char_filters, config.char_width, config.word_filters, config.word_layers) == (
        50,
        5,
        800,
        2,
    )
    assert (config.word_width, config.dropout, config.word_dropout) == (3, 0.5, 0.5)
    tagger = CnnCnnLstmTagger(LABELS)
    assert tagger.net.encoded_dim == 100 + 50 + 800  # word CNN output concatenated with its input
    assert tagger.net.output.out_features == 1 + 4 * len(LABELS)  # O + B/I/E/S per label
    assert set(TAGGERS) == {"cnn_cnn_lstm", "transformer"}


def test_learns_a_toy_pattern_to_perfect_f1():
    from engine.ner.metrics import entity_scores

    train, test = toy_sentences(200, seed=0), toy_sentences(60, seed=1)
    tagger = small_tagger()
    tagger.fit(train, 14)
    predicted = tagger.predict(test)
    scores = entity_scores([s.tags for s in test], [p.tags for p in predicted])
    assert scores.f1 == 1.0
    for p, s in zip(predicted, test, strict=True):
        assert len(p.tags) == len(s.tokens) == len(p.token_logprobs)
    first = predicted[0]
    assert all(0.0 < c <= 1.0 for c in first.confidences)
    assert first.logprob == pytest.approx(sum(first.token_logprobs))


def test_word_dropout_only_while_training():
    train = toy_sentences(40, seed=0)
    tagger = small_tagger(word_dropout=0.5)
    tagger.fit(train[:1], 1)  # builds the vocabulary: every training word is known
    tagger.vocab.grow(train)
    tagger._grow(train)
    seen: list[torch.Tensor] = []
    hook = tagger.net.word_embedding.register_forward_hook(lambda m, args, out: seen.append(args[0].clone()))
    try:
        tagger.fit(train, 1)
        training_ids = torch.cat([ids.flatten() for ids in seen])
        seen.clear()
        tagger.predict(train)
        tagger.token_logprobs(train)
        predict_ids = torch.cat([ids.flatten() for ids in seen])
    finally:
        hook.remove()
    real = training_ids[training_ids != 0]
    share = (real == UNK).float().mean().item()
    assert 0.4 < share < 0.6  # p = 0.5 of the real words become UNK
    assert (predict_ids == UNK).sum().item() == 0


def test_incremental_fit_continues_and_never_resets():
    train = toy_sentences(120, seed=2)
    tagger = small_tagger()
    losses = [tagger.loss(train)]
    for _ in range(4):
        tagger.fit(train, 1)
        losses.append(tagger.loss(train))
    assert all(later < earlier for earlier, later in itertools.pairwise(losses)), losses
    before = state_copy(tagger)
    tagger.fit(train, 0)
    tagger.fit([], 3)
    assert all(torch.equal(before[k], v) for k, v in tagger.net.state_dict().items())
    steps = tagger.optimizer.state_dict()["state"][0]["step"].item()
    assert steps == 4 * 4  # 120 sentences / batch 32 = 4 batches per epoch; Adam's count carries on
    assert tagger.epochs_trained == 4 and tagger.sentences_seen == 480


def test_new_words_grow_the_embeddings_and_keep_trained_rows():
    tagger = small_tagger()
    first = toy_sentences(30, seed=3)
    tagger.fit(first, 1)
    rows = tagger.net.word_embedding.num_embeddings
    trained = tagger.net.word_embedding.weight[:rows].detach().clone()
    novel = [Sentence(("Zanzibar", "quux", "met", "Alice"), ("B-LOC", "O", "O", "B-PER"))]
    tagger.fit(novel, 0)  # epochs 0: nothing changes, not even the vocabulary
    assert tagger.net.word_embedding.num_embeddings == rows
    moments = tagger.optimizer.state[tagger.net.word_embedding.weight]["exp_avg"].clone()
    tagger._grow(novel)  # what fit does first
    grown = tagger.net.word_embedding
    assert grown.num_embeddings == rows + 2 == len(tagger.vocab.words)
    assert torch.equal(grown.weight[:rows], trained)
    state = tagger.optimizer.state[grown.weight]
    assert torch.equal(state["exp_avg"][:rows], moments) and not state["exp_avg"][rows:].any()
    assert any(p is grown.weight for p in tagger.optimizer.param_groups[0]["params"])
    tagger.fit(novel, 1)
    assert tagger.predict(novel)[0].tags is not None


def test_checkpoint_round_trip_gives_identical_predictions_and_training(tmp_path: Path):
    train, test = toy_sentences(80, seed=4), toy_sentences(20, seed=5)
    tagger = small_tagger()
    tagger.fit(train, 2)
    path = tagger.save(tmp_path / "tagger.safetensors")
    restored = load_tagger(path)
    assert isinstance(restored, CnnCnnLstmTagger)
    assert restored.vocab.words == tagger.vocab.words and restored.labels == tagger.labels
    assert restored.epochs_trained == 2 and restored.config == tagger.config
    for a, b in zip(tagger.predict(test), restored.predict(test), strict=True):
        assert a.tags == b.tags and a.token_logprobs == b.token_logprobs
    # Continuing from the checkpoint is the same as continuing the original (same shuffles, same Adam state).
    more = toy_sentences(40, seed=6)
    torch.manual_seed(9)
    tagger.fit(more + train, 1)
    torch.manual_seed(9)
    restored.fit(more + train, 1)
    for key, value in tagger.net.state_dict().items():
        assert torch.allclose(value, restored.net.state_dict()[key], atol=1e-6), key


def test_mc_dropout_samples_are_reproducible_and_vary():
    train = toy_sentences(60, seed=7)
    tagger = small_tagger(dropout=0.5)
    tagger.fit(train, 18)  # half-trained: sure of some tokens, unsure of others
    first = tagger.sample_tags(train[:30], 8, seed=3)
    again = tagger.sample_tags(train[:30], 8, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert all(a.shape == (8, len(s.tokens)) for a, s in zip(first, train[:30], strict=True))
    assert sum(len(np.unique(a, axis=0)) > 1 for a in first) >= 5  # masks disagree on some sentences
    greedy = tagger.token_logprobs(train[:30])  # and prediction itself stays deterministic (dropout off)
    assert all(np.array_equal(a, b) for a, b in zip(greedy, tagger.token_logprobs(train[:30]), strict=True))
    state = torch.random.get_rng_state()
    tagger.sample_tags(train[:2], 2, seed=1)
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's RNG is left alone


def test_predictions_do_not_depend_on_batch_company():
    train, test = toy_sentences(60, seed=8), toy_sentences(30, seed=9)
    tagger = small_tagger()
    tagger.fit(train, 2)
    together = tagger.token_logprobs(test)
    alone = [tagger.token_logprobs([s])[0] for s in test]
    assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(together, alone, strict=True))
    empty = tagger.predict([Sentence(())])[0]
    assert empty.tags == () and empty.logprob == 0.0


def test_bad_input_is_refused_clearly():
    tagger = small_tagger()
    with pytest.raises(LanternError, match="not BIO over the labels"):
        tagger.fit([Sentence(("Bob",), ("B-ORG",))], 1)
    with pytest.raises(LanternError, match="has no tags"):
        tagger.fit([Sentence(("Bob",))], 1)
    with pytest.raises(LanternError, match="unknown tagger setting"):
        create_tagger("cnn_cnn_lstm", LABELS, {"filters": 3})
    with pytest.raises(LanternError, match="must be odd"):
        create_tagger("cnn_cnn_lstm", LABELS, {"word_width": 4})
    with pytest.raises(LanternError, match="must be a int"):
        create_tagger("cnn_cnn_lstm", LABELS, {"word_filters": "many"})
    with pytest.raises(LanternError, match="unknown tagger"):
        create_tagger("crf", LABELS)


def test_a_checkpoint_whose_weights_do_not_fit_is_a_clear_error(tmp_path: Path):
    from engine.core.checkpoint import load_checkpoint, save_checkpoint

    tagger = small_tagger()
    tagger.fit(toy_sentences(20, seed=1), 1)
    path = tagger.save(tmp_path / "tagger.safetensors")
    checkpoint = load_checkpoint(path)
    damaged = dict(checkpoint.model_state)
    damaged.pop(sorted(damaged)[0])  # a weight the config says must be there
    save_checkpoint(tmp_path / "damaged.safetensors", damaged, None, checkpoint.meta)
    with pytest.raises(LanternError) as error:
        load_tagger(tmp_path / "damaged.safetensors")
    assert "do not fit" in error.value.what and error.value.hint
