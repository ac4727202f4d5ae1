"""Views from Stable unCLIP image-to-image: the diffusion model conditioned on the source's CLIP embedding."""

from __future__ import annotations

import torch

from engine.augment.generators.base import CATALOGUE
from engine.augment.generators.pipelines import PipelineGenerator, clip_pixels


class UnclipGenerator(PipelineGenerator):
    """StableUnCLIPImg2ImgPipeline, the generator of Ayromlou et al. (fp16, DDIM 10 steps, eta 0)."""

    name = "unclip"
    title = CATALOGUE["unclip"].title
    description = CATALOGUE["unclip"].description
    SETTINGS = CATALOGUE["unclip"].settings
    KIND = "unclip"

    def generate(
        self, images: torch.Tensor, generators: list[torch.Generator], values: dict[str, int | float]
    ) -> torch.Tensor:
        pipe = self.pipeline
        # The image noising scheduler bounds noise_level below its own number of training timesteps.
        noise_level = min(
            int(values["noise_level"]), pipe.image_noising_scheduler.config.num_train_timesteps - 1
        )
        result = pipe(
            image=clip_pixels(images, pipe.feature_extractor),
            prompt=[""] * len(images),
            height=self.size,
            width=self.size,
            num_inference_steps=int(values["steps"]),
            guidance_scale=float(values["guidance"]),
            noise_level=noise_level,
            eta=float(values["eta"]),
            generator=generators,
            output_type="pt",
        )
        return result.images
