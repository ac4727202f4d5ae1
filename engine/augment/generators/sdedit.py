"""Views from SDEdit: a Stable Diffusion checkpoint as img2img, noising the source to `strength` and back."""

from __future__ import annotations

from typing import Any

import torch

from engine.augment.generators.pipelines import PipelineGenerator
from engine.core.errors import LanternError


class SDEditGenerator(PipelineGenerator):
    """StableDiffusionImg2ImgPipeline over a Stable Diffusion checkpoint; `prompt` is fixed per generator."""

    name = "sdedit"

    def __init__(
        self,
        checkpoint: str | None = None,
        device: str | torch.device = "cpu",
        *,
        prompt: str = "",
        **kwargs: Any,
    ) -> None:
        if not isinstance(prompt, str):
            raise LanternError(
                f"the prompt must be text, got {prompt!r}", "sdedit generator", 'give a string (default "")'
            )
        super().__init__(checkpoint, device, **kwargs)
        self.prompt = prompt

    def check_values(self, values: dict[str, int | float]) -> None:
        # img2img runs int(steps * strength) of its steps; zero steps would return the noised source.
        if int(int(values["steps"]) * float(values["strength"])) < 1:
            raise LanternError(
                f"steps x strength = {values['steps']} x {values['strength']} leaves no denoising step",
                "settings of the sdedit generator",
                "raise steps or strength so that steps x strength is at least 1",
            )

    def generate(
        self, images: torch.Tensor, generators: list[torch.Generator], values: dict[str, int | float]
    ) -> torch.Tensor:
        result = self.pipeline(
            prompt=[self.prompt] * len(images),
            # A [0, 1] tensor: the pipeline's image processor maps it to the VAE's [-1, 1].
            image=images,
            strength=float(values["strength"]),
            **self.sampling_arguments(values, generators),
        )
        return result.images
