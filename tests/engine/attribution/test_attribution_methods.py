"""Attribution methods: shapes and signs, batched results equal captum per sample, known localisation."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from captum.attr import (
    DeepLift,
    FeatureAblation,
    InputXGradient,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    Occlusion,
    Saliency,
)
from torch import nn

from engine.attribution.methods import (
    IMAGE_METHODS,
    METHOD_CATALOG,
    TEXT_METHODS,
    attribute_images,
    attribute_texts,
)
from engine.attribution.scores import attr_pct
from engine.core.errors import LanternError

SIDE = 12
# Small enough for a quick test; the perturbation methods get fewer samples.
FAST = {
    "lime": {"n_samples": 40},
    "kernel_shap": {"n_samples": 40},
    "smoothgrad": {"nt_samples": 8},
    "smoothgrad_x_input": {"nt_samples": 8},
    "gradient_shap": {"n_samples": 4},
    "integrated_gradients": {"n_steps": 8},
}


class TinyCNN(nn.Module):
    """conv-ReLU, conv-ReLU (cam_layer), pool, linear. cam_layer is registered a second time, as Lantern's
    models do, so DeepLift must cope with a module reachable under two names."""

    def __init__(self, channels: int = 1) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, 4, 3, padding=1),
            nn.ReLU(),
            nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU()),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(64, 3),
        )
        self.cam_layer = self.net[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class BoxLinear(nn.Module):
    """A linear model whose weights are zero outside rows 4:8, cols 4:8: it only looks at that box."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(SIDE * SIDE, 2)
        with torch.no_grad():
            weight = torch.randn(2, SIDE, SIDE, generator=torch.Generator().manual_seed(0)).abs() + 0.5
            box = torch.zeros(SIDE, SIDE)
            box[4:8, 4:8] = 1
            self.linear.weight.copy_((weight * box).reshape(2, -1) * torch.tensor([[1.0], [-1.0]]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))


@dataclass(frozen=True)
class Encoded:
    ids: torch.Tensor
    mask: torch.Tensor
    word_of: torch.Tensor
    n_words: torch.Tensor


class TinyText(nn.Module):
    """Embedding + additive attention + linear, with a [CLS]-like first position that belongs to no word;
    the TextModel API of the attribution contract."""

    importance_kind = "attention"
    name = "tiny_text"

    def __init__(self, vocabulary: Sequence[str]) -> None:
        super().__init__()
        self.vocab = {w: i + 2 for i, w in enumerate(sorted(set(vocabulary)))}  # 0 pad, 1 cls
        self.embedding = nn.Embedding(len(self.vocab) + 2, 6, padding_idx=0)
        self.score = nn.Linear(6, 1)
        self.out = nn.Linear(6, 2)
        self._importance: torch.Tensor | None = None

    def encode(self, texts: Sequence[Sequence[str]]) -> Encoded:
        width = max(len(t) for t in texts) + 1
        ids = torch.zeros(len(texts), width, dtype=torch.long)
        word_of = torch.full((len(texts), width), -1, dtype=torch.long)
        for row, text in enumerate(texts):
            ids[row, 0] = 1
            ids[row, 1 : len(text) + 1] = torch.tensor([self.vocab[w] for w in text])
            word_of[row, 1 : len(text) + 1] = torch.arange(len(text))
        return Encoded(ids, ids > 0, word_of, torch.tensor([len(t) for t in texts]))

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(ids)

    def forward_embeddings(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = self.score(torch.tanh(emb)).squeeze(-1).masked_fill(~mask, -1e9)
        weights = torch.softmax(logits, dim=1)
        self._importance = weights.detach()
        return self.out((weights.unsqueeze(-1) * emb).sum(1))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.forward_embeddings(self.embed(ids), mask)

    def token_importance(self) -> torch.Tensor | None:
        return self._importance

    def to_words(self, values: torch.Tensor, enc: Encoded) -> list[np.ndarray]:
        out = []
        for row, count in enumerate(enc.n_words.tolist()):
            words = np.zeros(count, dtype=np.float32)
            for position, word in enumerate(enc.word_of[row].tolist()):
                if word >= 0:
                    words[word] += float(values[row, position])
            out.append(words)
        return out


@pytest.fixture(scope="module")
def cnn_case() -> tuple[TinyCNN, np.ndarray, np.ndarray]:
    torch.manual_seed(0)
    model = TinyCNN().eval()
    images = np.random.default_rng(0).random((5, 1, SIDE, SIDE)).astype(np.float32)
    return model, images, np.array([0, 1, 2, 1, 0])


def test_catalogue_is_torch_free_and_complete() -> None:
    code = "import sys, engine.attribution.methods.catalog; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert set(METHOD_CATALOG) == {
        "saliency",
        "input_x_gradient",
        "integrated_gradients",
        "smoothgrad",
        "smoothgrad_x_input",
        "gradient_shap",
        "deeplift",
        "gradcam",
        "occlusion",
        "lime",
        "kernel_shap",
        "feature_ablation",
        "attention",
        "rationale",
    }
    assert "gradcam" not in TEXT_METHODS and "attention" not in IMAGE_METHODS


@pytest.mark.parametrize("method", IMAGE_METHODS)
def test_every_image_method_gives_nonnegative_finite_maps(cnn_case: tuple, method: str) -> None:
    model, images, targets = cnn_case
    maps = attribute_images(
        model, images, targets, method, device="cpu", batch_size=2, settings=FAST.get(method)
    )
    assert maps.shape == (5, SIDE, SIDE) and maps.dtype == np.float32
    assert np.isfinite(maps).all() and (maps >= 0).all()
    if method not in ("gradcam", "lime"):  # ReLU'd CAMs and Lasso surrogates of an untrained net may be 0
        assert maps.reshape(5, -1).max(axis=1).min() > 0  # every sample gets some attribution


def _per_sample(model: TinyCNN, images: np.ndarray, targets: np.ndarray, method: str) -> np.ndarray:
    """The same method through captum directly, one sample per call."""
    out = []
    for image, target in zip(images, targets, strict=True):
        x = torch.as_tensor(image[None], dtype=torch.float32).requires_grad_(
            method not in ("occlusion", "feature_ablation", "gradcam")
        )
        t = int(target)
        if method == "saliency":
            a = Saliency(model).attribute(x, target=t)
        elif method == "input_x_gradient":
            a = InputXGradient(model).attribute(x, target=t)
        elif method == "integrated_gradients":
            a = IntegratedGradients(model).attribute(x, target=t, n_steps=32)
        elif method == "deeplift":
            with warnings.catch_warnings():  # DeepLift announces its hooks on every call
                warnings.simplefilter("ignore")
                # model.net reaches each module once, as plain captum DeepLift needs
                a = DeepLift(model.net).attribute(x, baselines=torch.zeros_like(x), target=t)
        elif method == "gradcam":
            cam = LayerGradCam(model, model.cam_layer).attribute(x, target=t, relu_attributions=True)
            a = LayerAttribution.interpolate(cam, (SIDE, SIDE), interpolate_mode="bilinear")
        elif method == "occlusion":
            a = Occlusion(model).attribute(x, sliding_window_shapes=(1, 3, 3), strides=(1, 2, 2), target=t)
        elif method == "feature_ablation":
            cells = (torch.arange(SIDE)[:, None] // 4) * 3 + torch.arange(SIDE)[None, :] // 4
            a = FeatureAblation(model).attribute(x, target=t, feature_mask=cells[None, None])
        out.append(a.detach().abs().sum(1)[0].numpy())
    return np.stack(out)


@pytest.mark.parametrize(
    ("method", "settings"),
    [
        ("saliency", None),
        ("input_x_gradient", None),
        ("integrated_gradients", None),
        ("deeplift", None),
        ("gradcam", None),
        ("occlusion", {"window": 3, "stride": 2}),
        ("feature_ablation", {"cell": 4}),
    ],
)
def test_batched_equals_captum_per_sample(cnn_case: tuple, method: str, settings: dict | None) -> None:
    model, images, targets = cnn_case
    batched = attribute_images(model, images, targets, method, device="cpu", batch_size=4, settings=settings)
    np.testing.assert_allclose(batched, _per_sample(model, images, targets, method), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "method", ["saliency", "input_x_gradient", "gradient_shap", "feature_ablation", "kernel_shap", "lime"]
)
def test_model_looking_at_one_box_is_attributed_to_it(method: str) -> None:
    model = BoxLinear()
    images = np.random.default_rng(1).random((3, 1, SIDE, SIDE)).astype(np.float32) + 0.1
    masks = np.zeros((3, SIDE, SIDE), dtype=bool)
    masks[:, 4:8, 4:8] = True
    settings = {"cell": 4, "n_samples": 60} if method in ("lime", "kernel_shap") else FAST.get(method)
    if method == "feature_ablation":
        settings = {"cell": 4}
    maps = attribute_images(model, images, np.array([0, 1, 0]), method, device="cpu", settings=settings)
    np.testing.assert_allclose(attr_pct(maps, masks), 1.0, atol=1e-4)


def test_no_side_effects_on_model_gradients_mode_or_rng(cnn_case: tuple) -> None:
    model, images, targets = cnn_case
    model.train()
    state = torch.get_rng_state()
    attribute_images(model, images, targets, "smoothgrad", device="cpu", settings={"nt_samples": 4})
    attribute_images(model, images, targets, "integrated_gradients", device="cpu", settings={"n_steps": 4})
    assert model.training  # restored after running in eval mode
    model.eval()
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(torch.get_rng_state(), state)


def test_stochastic_methods_are_seeded(cnn_case: tuple) -> None:
    model, images, targets = cnn_case
    first = attribute_images(
        model, images, targets, "smoothgrad", device="cpu", seed=3, settings={"nt_samples": 4}
    )
    again = attribute_images(
        model, images, targets, "smoothgrad", device="cpu", seed=3, settings={"nt_samples": 4}
    )
    other = attribute_images(
        model, images, targets, "smoothgrad", device="cpu", seed=4, settings={"nt_samples": 4}
    )
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_smoothgrad_with_tiny_noise_is_saliency(cnn_case: tuple) -> None:
    model, images, targets = cnn_case
    smooth = attribute_images(
        model, images, targets, "smoothgrad", device="cpu", settings={"nt_samples": 3, "noise_level": 0.0}
    )
    np.testing.assert_allclose(
        smooth, attribute_images(model, images, targets, "saliency", device="cpu"), rtol=1e-5, atol=1e-6
    )


def test_inapplicable_methods_name_method_and_model(cnn_case: tuple) -> None:
    model, images, targets = cnn_case
    with pytest.raises(LanternError, match=r"'attention' does not apply to image models.*TinyCNN"):
        attribute_images(model, images, targets, "attention", device="cpu")
    with pytest.raises(LanternError, match="'gradcam' does not apply to model BoxLinear"):
        attribute_images(BoxLinear(), images, targets, "gradcam", device="cpu")
    with pytest.raises(LanternError, match="unknown attribution method 'gradient'"):
        attribute_images(model, images, targets, "gradient", device="cpu")
    with pytest.raises(LanternError, match="has no setting 'steps'"):
        attribute_images(model, images, targets, "integrated_gradients", device="cpu", settings={"steps": 3})
    with pytest.raises(LanternError, match="5 images but 2 targets"):
        attribute_images(model, images, targets[:2], "saliency", device="cpu")
    text_model = TinyText(["a", "b"])
    with pytest.raises(LanternError, match=r"'gradcam' does not apply to text models.*tiny_text"):
        attribute_texts(text_model, [["a"]], np.array([0]), "gradcam", device="cpu")
    with pytest.raises(LanternError, match="'rationale' does not apply to model tiny_text"):
        attribute_texts(text_model, [["a"]], np.array([0]), "rationale", device="cpu")
    with pytest.raises(LanternError, match="is a text model"):
        attribute_images(text_model, images, targets, "saliency", device="cpu")
    with pytest.raises(LanternError, match="not a text model"):
        attribute_texts(model, [["a"]], np.array([0]), "saliency", device="cpu")


TEXTS = [
    ["the", "film", "is", "good"],
    ["a", "bad", "film"],
    ["good"],
    ["the", "plot", "is", "a", "mess", "film"],
]


@pytest.fixture(scope="module")
def text_model() -> TinyText:
    torch.manual_seed(0)
    return TinyText([w for t in TEXTS for w in t]).eval()


@pytest.mark.parametrize("method", [m for m in TEXT_METHODS if m != "rationale"])
def test_every_text_method_gives_one_score_per_word(text_model: TinyText, method: str) -> None:
    scores = attribute_texts(
        text_model,
        TEXTS,
        np.array([1, 0, 1, 0]),
        method,
        device="cpu",
        batch_size=3,
        settings=FAST.get(method),
    )
    assert [len(s) for s in scores] == [len(t) for t in TEXTS]
    for s in scores:
        assert s.dtype == np.float32 and np.isfinite(s).all() and (s >= 0).all()


def test_text_saliency_is_the_embedding_gradient(text_model: TinyText) -> None:
    scores = attribute_texts(
        text_model, TEXTS, np.array([1, 0, 1, 0]), "saliency", device="cpu", batch_size=3
    )
    for text, target, got in zip(TEXTS, [1, 0, 1, 0], scores, strict=True):
        enc = text_model.encode([text])
        emb = text_model.embed(enc.ids).detach().requires_grad_()
        (grad,) = torch.autograd.grad(text_model.forward_embeddings(emb, enc.mask)[0, target], emb)
        np.testing.assert_allclose(got, grad.abs().sum(-1)[0, 1:].numpy(), rtol=1e-5, atol=1e-7)
    assert all(p.grad is None for p in text_model.parameters())


def test_attention_reads_token_importance(text_model: TinyText) -> None:
    scores = attribute_texts(text_model, TEXTS, np.zeros(4), "attention", device="cpu")
    enc = text_model.encode(TEXTS)
    with torch.no_grad():
        text_model(enc.ids, enc.mask)
    weights = text_model.token_importance()
    for row, got in enumerate(scores):
        np.testing.assert_allclose(got, weights[row, 1 : len(TEXTS[row]) + 1].numpy(), rtol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(cnn_case: tuple, text_model: TinyText) -> None:
    model, images, targets = cnn_case
    for method in ("saliency", "integrated_gradients", "gradcam", "occlusion"):
        cpu = attribute_images(model, images, targets, method, device="cpu")
        gpu = attribute_images(model, images, targets, method, device="cuda")
        np.testing.assert_allclose(gpu, cpu, rtol=1e-3, atol=1e-4, err_msg=method)
    model.cpu()
    cpu_text = attribute_texts(text_model, TEXTS, np.zeros(4), "saliency", device="cpu")
    gpu_text = attribute_texts(text_model, TEXTS, np.zeros(4), "saliency", device="cuda")
    text_model.cpu()
    for a, b in zip(cpu_text, gpu_text, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-5)
