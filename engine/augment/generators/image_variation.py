"""Views from Stable Diffusion image variations: SD conditioned on the source's CLIP image embedding."""

from __future__ import annotations

import torch

from engine.augment.generators.pipelines import PipelineGenerator


class ImageVariationGenerator(PipelineGenerator):
    """StableDiffusionImageVariationPipeline (e.g. lambdalabs/sd-image-variations-diffusers)."""

    name = "image_variation"

    def generate(
        self, images: torch.Tensor, generators: list[torch.Generator], values: dict[str, int | float]
    ) -> torch.Tensor:
        result = self.pipeline(
            **self.clip_image_arguments(images), **self.sampling_arguments(values, generators)
        )
        return result.images
