"""Loading diffusers pipelines by folder or hub id, and the views the three pipeline generators make."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.augment.generators import make_generator
from engine.augment.generators.pipelines import clip_pixels, load_pipeline, to_rgb, to_source_shape
from engine.core.errors import LanternError

KINDS = ("unclip", "image_variation", "sdedit")
FAST = {"steps": 2}


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_loads_with_ddim_in_float32_on_cpu(kind: str, tiny_generators: dict[str, Any]) -> None:
    pipeline = tiny_generators[kind].pipeline
    expected = {
        "unclip": "StableUnCLIPImg2ImgPipeline",
        "image_variation": "StableDiffusionImageVariationPipeline",
    }
    assert type(pipeline).__name__ == expected.get(kind, "StableDiffusionImg2ImgPipeline")
    assert type(pipeline.scheduler).__name__ == "DDIMScheduler"  # the folders hold a PNDM scheduler
    assert pipeline.scheduler.config.beta_schedule == "scaled_linear"  # the checkpoint's betas are kept
    assert pipeline.scheduler.config.clip_sample is False  # latents are not images in [-1, 1]
    assert pipeline.unet.dtype == torch.float32 and pipeline.device.type == "cpu"
    assert getattr(pipeline, "safety_checker", None) is None
    assert pipeline._progress_bar_config == {"disable": True}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_views_keep_the_source_shape_and_follow_the_seed(
    kind: str, shape: tuple[int, int, int], tiny_generators: dict[str, Any]
) -> None:
    generator = tiny_generators[kind]
    sources = torch.rand(2, *shape, generator=torch.Generator().manual_seed(3))
    views = generator.views_batch(sources, 3, seed=7, **FAST)
    assert views.shape == (2, 3, *shape) and views.dtype == torch.float32
    assert float(views.min()) >= 0.0 and float(views.max()) <= 1.0
    assert torch.equal(views, generator.views_batch(sources, 3, seed=7, **FAST))
    other_seed = generator.views_batch(sources, 3, seed=8, **FAST)
    assert (views - other_seed).abs().max() > 0.05
    # Every view of a source is drawn apart, and so is each source.
    assert (views[0, 0] - views[0, 1]).abs().max() > 0.01
    assert torch.allclose(generator.views(sources[0], 3, seed=7, **FAST), views[0], atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_views_depend_on_the_source(kind: str, tiny_generators: dict[str, Any]) -> None:
    generator = tiny_generators[kind]
    first, second = torch.rand(2, 1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    # Both sources sit at batch position 0, so they get the same noise: only the conditioning differs.
    difference = generator.views_batch(first, 2, 0, **FAST) - generator.views_batch(second, 2, 0, **FAST)
    assert difference.abs().mean() > 2e-3


def test_chunking_and_an_injected_out_of_memory_change_no_view(
    tiny_generators: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    generator = tiny_generators["unclip"]
    sources = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    whole = generator.views_batch(sources, 2, seed=5, **FAST)
    real_generate = generator.generate
    calls: list[int] = []

    def generate_with_little_memory(images: torch.Tensor, *args: Any) -> torch.Tensor:
        if len(images) > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")
        calls.append(len(images))
        return real_generate(images, *args)

    messages: list[str] = []
    monkeypatch.setattr(generator, "generate", generate_with_little_memory)
    monkeypatch.setattr(generator, "on_warning", messages.append, raising=False)
    monkeypatch.setattr(generator, "max_batch", 4, raising=False)
    chunked = generator.views_batch(sources, 2, seed=5, **FAST)
    assert calls == [1, 1, 1, 1]
    assert torch.allclose(chunked, whole, atol=1e-4)
    assert messages == [
        "unclip: out of memory with 4 views at once; retrying 2 at a time",
        "unclip: out of memory with 2 views at once; retrying 1 at a time",
    ]


def test_settings_reach_the_pipeline(tiny_generators: dict[str, Any]) -> None:
    generator = tiny_generators["unclip"]
    sources = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    base = generator.views_batch(sources, 1, seed=0, **FAST)
    assert not torch.equal(base, generator.views_batch(sources, 1, seed=0, steps=2, noise_level=500))
    assert not torch.equal(base, generator.views_batch(sources, 1, seed=0, steps=2, guidance=1.0))
    with pytest.raises(LanternError, match="unknown setting"):
        generator.views_batch(sources, 1, seed=0, strength=0.3)


def test_sdedit_refuses_settings_that_leave_no_denoising_step(tiny_generators: dict[str, Any]) -> None:
    with pytest.raises(LanternError) as caught:
        tiny_generators["sdedit"].views_batch(torch.rand(1, 3, 32, 32), 1, seed=0, steps=4, strength=0.2)
    assert "leaves no denoising step" in caught.value.what


def test_sdedit_takes_a_text_prompt(tiny_pipeline_folders: dict[str, Path]) -> None:
    folder = str(tiny_pipeline_folders["sdedit"])
    source = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    settings = {"steps": 2, "guidance": 5.0}
    plain = make_generator("sdedit", checkpoint=folder).views_batch(source, 1, 0, **settings)
    cat = make_generator("sdedit", checkpoint=folder, prompt="a cat").views_batch(source, 1, 0, **settings)
    assert (plain - cat).abs().max() > 1e-3
    with pytest.raises(LanternError, match="prompt must be text"):
        make_generator("sdedit", checkpoint=folder, prompt=3)


def _copy_with_index(source: Path, target: Path, edit: dict[str, Any], drop: tuple[str, ...] = ()) -> Path:
    shutil.copytree(source, target)
    index = json.loads((target / "model_index.json").read_text())
    index.update(edit)
    for name in drop:
        index.pop(name)
        shutil.rmtree(target / name)
    (target / "model_index.json").write_text(json.dumps(index))
    return target


def test_bad_folders_say_what_is_wrong(tiny_pipeline_folders: dict[str, Path], tmp_path: Path) -> None:
    folders = tiny_pipeline_folders

    def message(name: str, kind: str) -> LanternError:
        with pytest.raises(LanternError) as caught:
            load_pipeline(name, kind)  # type: ignore[arg-type]
        return caught.value

    error = message(str(tmp_path / "nowhere"), "unclip")
    assert "does not exist" in error.what and "model_index.json" in error.hint
    (tmp_path / "weights.bin").write_bytes(b"0")
    assert "is a file, not a folder" in message(str(tmp_path / "weights.bin"), "unclip").what

    (tmp_path / "plain").mkdir()
    error = message(str(tmp_path / "plain"), "image_variation")
    assert "is not a diffusers pipeline (no model_index.json)" in error.what

    error = message(str(folders["image_variation"]), "unclip")
    assert "this is a StableDiffusionImageVariationPipeline" in error.what
    assert "'image_variation' generator" in error.hint and "StableUnCLIPImg2ImgPipeline" in error.hint
    error = message(str(folders["unclip"]), "sdedit")
    assert "StableUnCLIPImg2ImgPipeline" in error.what and "'unclip' generator" in error.hint

    no_encoder = _copy_with_index(folders["unclip"], tmp_path / "no-encoder", {}, drop=("image_encoder",))
    error = message(str(no_encoder), "unclip")
    assert "lacks image_encoder" in error.what and "an image encoder" in error.what
    null_encoder = _copy_with_index(
        folders["image_variation"], tmp_path / "null-encoder", {"image_encoder": [None, None]}
    )
    assert "lacks image_encoder" in message(str(null_encoder), "image_variation").what

    broken = _copy_with_index(folders["image_variation"], tmp_path / "broken", {})
    (broken / "model_index.json").write_text("{not json")
    assert "model_index.json cannot be read" in message(str(broken), "image_variation").what
    for weights in (broken / "unet").glob("*.safetensors"):
        weights.write_bytes(b"garbage")
    (broken / "model_index.json").write_text((folders["image_variation"] / "model_index.json").read_text())
    error = message(str(broken), "image_variation")
    assert "the pipeline cannot be loaded" in error.what and "component folder is complete" in error.hint

    assert "unknown pipeline kind" in message(str(folders["unclip"]), "upscale").what


def test_a_hub_id_missing_from_the_offline_cache_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(LanternError) as caught:
        make_generator(
            "unclip", cache_dir=str(tmp_path)
        )  # the default: stabilityai/stable-diffusion-2-1-unclip
    error = caught.value
    assert "'stabilityai/stable-diffusion-2-1-unclip' is not in the local Hugging Face cache" in error.what
    assert "huggingface-cli download stabilityai/stable-diffusion-2-1-unclip" in error.hint
    assert "folder" in error.hint


def test_images_go_to_rgb_and_come_back_as_luminance() -> None:
    grey = torch.rand(2, 1, 28, 28)
    rgb = to_rgb(grey, 28)
    assert rgb.shape == (2, 3, 28, 28) and torch.equal(rgb[:, 0], rgb[:, 2])
    assert torch.allclose(to_source_shape(rgb, 1, 28, 28), grey, atol=1e-6)
    colour = torch.zeros(1, 3, 4, 4)
    colour[:, 1] = 1.0
    assert torch.allclose(to_source_shape(colour, 1, 4, 4), torch.full((1, 1, 4, 4), 0.587))
    assert to_source_shape(to_rgb(grey, 64), 1, 28, 28).shape == (2, 1, 28, 28)


def test_clip_pixels_match_the_processor(tiny_generators: dict[str, Any]) -> None:
    processor = tiny_generators["unclip"].pipeline.feature_extractor
    # On 8-bit values, since the processor goes through PIL images.
    image = torch.randint(0, 256, (1, 3, 32, 32), generator=torch.Generator().manual_seed(0)) / 255.0
    expected = processor(images=image[0], do_rescale=False, return_tensors="pt").pixel_values
    assert torch.allclose(clip_pixels(image, processor), expected, atol=1e-4)
