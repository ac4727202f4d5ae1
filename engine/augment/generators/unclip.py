"""Views from Stable unCLIP image-to-image: the diffusion model conditioned on the source's CLIP embedding."""

from __future__ import annotations

import torch

from engine.augment.generators.pipelines import PipelineGenerator


class UnclipGenerator(PipelineGenerator):
    """StableUnCLIPImg2ImgPipeline, the generator of Ayromlou et al. (fp16, DDIM 10 steps, eta 0)."""

    name = "unclip"

    def generate(
        self, images: torch.Tensor, generators: list[torch.Generator], values: dict[str, int | float]
    ) -> torch.Tensor:
        pipe = self.pipeline
        # The image noising scheduler bounds noise_level below its own number of training timesteps.
        noise_level = min(
            int(values["noise_level"]), pipe.image_noising_scheduler.config.num_train_timesteps - 1
        )
        result = pipe(
            prompt=[""] * len(images),
            noise_level=noise_level,
            **self.clip_image_arguments(images),
            **self.sampling_arguments(values, generators),
        )
        return result.images
