"""Tiny randomly initialised diffusers pipelines of the real classes, saved once per session (no network)."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest

# Small enough that 2-step DDIM on a handful of 32x32 views takes well under a second on one CPU core.
EMBED = 32
LATENT_SIDE = 16  # images are LATENT_SIDE x 2 (two VAE blocks) = 32 pixels a side
TOKENS = 8


def _tokenizer(folder: Path):
    """A CLIPTokenizer from a vocab.json + merges.txt written here: letters, word ends and CLIP's specials."""
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for letter in string.ascii_lowercase:
            vocab[letter + suffix] = len(vocab)
    vocab["ca"] = len(vocab)
    folder.mkdir(parents=True)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\nc a\n", encoding="utf-8")
    return CLIPTokenizer.from_pretrained(str(folder), model_max_length=TOKENS)


def _vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(8, 16),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=2 * LATENT_SIDE,
    )


def _unet(**extra):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=LATENT_SIDE,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=(16, 32),
        layers_per_block=1,
        norm_num_groups=8,
        cross_attention_dim=EMBED,
        attention_head_dim=(2, 4),
        **extra,
    )


def _image_encoder():
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    config = CLIPVisionConfig(
        hidden_size=EMBED,
        projection_dim=EMBED,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        image_size=32,
        patch_size=8,
    )
    return CLIPVisionModelWithProjection(config).eval(), CLIPImageProcessor(crop_size=32, size=32)


def _text_encoder(folder: Path):
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = _tokenizer(folder)
    config = CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        vocab_size=len(tokenizer),
        hidden_size=EMBED,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        max_position_embeddings=TOKENS,
        projection_dim=EMBED,
    )
    return tokenizer, CLIPTextModel(config).eval()


def _real_class_names(folder: Path) -> None:
    # transformers without torchvision builds CLIPImageProcessorPil; hub folders name CLIPImageProcessor.
    index_path = folder / "model_index.json"
    index = json.loads(index_path.read_text(encoding="utf-8"))
    if index.get("feature_extractor", [None, None])[1] == "CLIPImageProcessorPil":
        index["feature_extractor"] = ["transformers", "CLIPImageProcessor"]
    index_path.write_text(json.dumps(index, indent=2), encoding="utf-8")


def build_tiny_pipelines(root: Path) -> dict[str, Path]:
    """Save a tiny unCLIP img2img, image-variation and Stable Diffusion pipeline under `root`."""
    import torch
    from diffusers import (
        DDPMScheduler,
        PNDMScheduler,
        StableDiffusionImageVariationPipeline,
        StableDiffusionPipeline,
        StableUnCLIPImg2ImgPipeline,
    )
    from diffusers.pipelines.stable_diffusion.stable_unclip_image_normalizer import (
        StableUnCLIPImageNormalizer,
    )

    torch.manual_seed(0)
    folders = {kind: root / kind for kind in ("unclip", "image_variation", "sdedit")}
    # The schedulers saved are not DDIM, so loading has to swap them.
    scheduler = PNDMScheduler(
        beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, skip_prk_steps=True, steps_offset=1
    )

    image_encoder, feature_extractor = _image_encoder()
    tokenizer, text_encoder = _text_encoder(root / "tokenizer-source")
    StableUnCLIPImg2ImgPipeline(
        feature_extractor=feature_extractor,
        image_encoder=image_encoder,
        image_normalizer=StableUnCLIPImageNormalizer(embedding_dim=EMBED),
        image_noising_scheduler=DDPMScheduler(beta_schedule="squaredcos_cap_v2"),
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        # The image embedding and its noise-level embedding are concatenated into the class embedding.
        unet=_unet(class_embed_type="projection", projection_class_embeddings_input_dim=2 * EMBED),
        scheduler=scheduler,
        vae=_vae(),
    ).save_pretrained(folders["unclip"])

    StableDiffusionImageVariationPipeline(
        vae=_vae(),
        image_encoder=image_encoder,
        unet=_unet(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=feature_extractor,
        requires_safety_checker=False,
    ).save_pretrained(folders["image_variation"])

    # A plain text-to-image checkpoint: SDEdit must run any Stable Diffusion folder.
    StableDiffusionPipeline(
        vae=_vae(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=_unet(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=feature_extractor,
        requires_safety_checker=False,
    ).save_pretrained(folders["sdedit"])
    for folder in folders.values():
        _real_class_names(folder)
    return folders


@pytest.fixture(scope="session")
def tiny_pipeline_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folders of the three tiny pipelines, by generator kind."""
    import torch

    torch.set_num_threads(1)
    return build_tiny_pipelines(tmp_path_factory.mktemp("tiny-pipelines"))


@pytest.fixture(scope="session")
def tiny_generators(tiny_pipeline_folders: dict[str, Path]) -> dict[str, object]:
    """The unclip, image_variation and sdedit generators over the tiny pipelines, loaded once."""
    from engine.augment.generators import make_generator

    return {
        kind: make_generator(kind, checkpoint=str(folder)) for kind, folder in tiny_pipeline_folders.items()
    }
