"""Views from Stable Diffusion image variations: SD conditioned on the source's CLIP image embedding."""

from __future__ import annotations

import torch

from engine.augment.generators.base import CATALOGUE
from engine.augment.generators.pipelines import PipelineGenerator, clip_pixels


class ImageVariationGenerator(PipelineGenerator):
    """StableDiffusionImageVariationPipeline (e.g. lambdalabs/sd-image-variations-diffusers)."""

    name = "image_variation"
    title = CATALOGUE["image_variation"].title
    description = CATALOGUE["image_variation"].description
    SETTINGS = CATALOGUE["image_variation"].settings
    KIND = "image_variation"

    def generate(
        self, images: torch.Tensor, generators: list[torch.Generator], values: dict[str, int | float]
    ) -> torch.Tensor:
        pipe = self.pipeline
        result = pipe(
            image=clip_pixels(images, pipe.feature_extractor),
            height=self.size,
            width=self.size,
            num_inference_steps=int(values["steps"]),
            guidance_scale=float(values["guidance"]),
            eta=float(values["eta"]),
            generator=generators,
            output_type="pt",
        )
        return result.images
