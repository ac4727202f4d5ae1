"""Explore without ground truth: EfficientNet-Lite0 on skimage photos, a tiny Hugging Face model, the op."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest

from engine.attribution.explore import (
    DEMO_IMAGES,
    explore,
    imagenet_class_names,
    load_image,
    load_pretrained,
    prepare,
)
from engine.core.errors import LanternError


def tiny_hf_classifier(folder: Path) -> Path:
    """A randomly initialised ResNet classifier (3 labels, 32x32) saved the way from_pretrained reads it."""
    from transformers import ConvNextImageProcessor, ResNetConfig, ResNetForImageClassification

    config = ResNetConfig(
        embedding_size=8,
        hidden_sizes=[8, 16],
        depths=[1, 1],
        num_labels=3,
        id2label={0: "red", 1: "green", 2: "blue"},
        label2id={"red": 0, "green": 1, "blue": 2},
    )
    ResNetForImageClassification(config).save_pretrained(folder)
    ConvNextImageProcessor(size={"shortest_edge": 32}, crop_pct=1.0).save_pretrained(folder)
    return folder


def png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_prepare_resizes_the_shorter_side_and_crops_the_centre() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, 90:110] = 255  # a white bar in the middle
    prepared = prepare(image, 64)
    assert prepared.shape == (3, 64, 64) and prepared.dtype == np.float32
    assert prepared.min() >= 0.0 and prepared.max() <= 1.0
    assert prepared[:, :, 32].min() > 0.9 and prepared[:, :, 0].max() == 0.0
    grey = prepare(np.full((40, 40), 128, np.uint8), 32)
    assert grey.shape == (3, 32, 32) and np.allclose(grey, 128 / 255, atol=1e-3)


def test_demo_images_load_and_bad_ones_are_clear(tmp_path: Path) -> None:
    name, photo = load_image("chelsea")
    assert name == "chelsea" and photo.dtype == np.uint8 and photo.shape[2] == 3
    assert {"astronaut", "chelsea", "coffee", "rocket"} <= set(DEMO_IMAGES)
    with pytest.raises(LanternError, match="neither an image file nor a demo image"):
        load_image("no-such-photo")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    with pytest.raises(LanternError, match="cannot read the image"):
        load_image(junk)


def test_imagenet_names_come_from_the_package() -> None:
    names = imagenet_class_names()
    assert names is not None and len(names) == 1000 and len(set(names)) == 1000
    assert names[0] == "tench" and names[281] == "tabby" and names[285] == "Egyptian cat"


def test_efficientnet_lite0_sees_a_cat_and_attributes_it() -> None:
    model = load_pretrained()
    assert model.input_size == 224 and model.model.cam_layer is not None
    [result] = explore(["chelsea"], "saliency", model=model, top_k=5)
    # skimage's Chelsea is a tabby cat: ImageNet's cat classes are 281..285.
    assert 281 <= result.top_k[0].index <= 285 and result.top_k[0].probability > 0.2
    assert result.target == result.top_k[0].index and result.target_name == result.top_k[0].name
    assert [c.probability for c in result.top_k] == sorted(
        (c.probability for c in result.top_k), reverse=True
    )
    assert result.map.shape == (224, 224) and result.map.min() >= 0 and result.map.max() > 0
    assert result.image.shape == (3, 224, 224)


def test_a_hugging_face_model_by_folder(tmp_path: Path) -> None:
    folder = tiny_hf_classifier(tmp_path / "tiny")
    model = load_pretrained(str(folder))
    assert model.input_size == 32 and model.class_names == ("red", "green", "blue")
    image = np.zeros((48, 64, 3), np.uint8)
    image[..., 0] = 200
    results = explore([image, "coffee"], "gradcam", model=model, top_k=2, target=1)
    assert [r.target for r in results] == [1, 1] and results[0].target_name == "green"
    assert results[0].map.shape == (32, 32) and len(results[1].top_k) == 2
    assert sum(c.probability for c in results[0].top_k) <= 1.0 + 1e-6
    with pytest.raises(LanternError, match="not a class"):
        explore([image], "saliency", model=model, target=7)
    with pytest.raises(LanternError, match="unknown image attribution method 'attention'"):
        explore([image], "attention", model=model)
    with pytest.raises(LanternError, match="cannot load the image classifier"):
        load_pretrained(str(tmp_path / "missing-model"))


def test_the_interactive_op_answers_plain_json(tmp_path: Path) -> None:
    from engine.attribution.ops import decode_map, explore_op

    folder = tiny_hf_classifier(tmp_path / "tiny")
    picture = np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    cache: dict[str, object] = {}
    args = {
        "images": [base64.b64encode(png_bytes(picture)).decode()],
        "demo": ["rocket"],
        "model": str(folder),
    }
    answer = explore_op(cache, method="saliency", top_k=3, **args)
    assert answer["cached"] is False and [r["name"] for r in answer["results"]] == ["image 1", "rocket"]
    first = answer["results"][0]
    assert len(first["top_k"]) == 3 and first["target"] == first["top_k"][0]["index"]
    heat = decode_map(first["map"])
    assert heat.shape == (32, 32) and heat.max() == pytest.approx(first["map"]["max"])
    assert base64.b64decode(first["image_png"]).startswith(b"\x89PNG")
    again = explore_op(cache, method="saliency", **args)
    assert again["cached"] is True and again["load_seconds"] == 0.0
    with pytest.raises(LanternError, match="unknown demo image"):
        explore_op(cache, demo=["moon"], model=str(folder))
    with pytest.raises(LanternError, match="not valid base64"):
        explore_op(cache, images=["%%%"], model=str(folder))
    with pytest.raises(LanternError, match="no images"):
        explore_op(cache, model=str(folder))
