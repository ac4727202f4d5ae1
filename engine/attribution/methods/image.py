"""Image attribution through captum, one call per batch: maps [N, H, W], |.| summed over channels."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from captum.attr import (
    DeepLift,
    FeatureAblation,
    GradientShap,
    InputXGradient,
    IntegratedGradients,
    KernelShap,
    LayerAttribution,
    LayerGradCam,
    Lime,
    NoiseTunnel,
    Occlusion,
    Saliency,
)
from torch import nn

from engine.attribution.methods.catalog import METHOD_CATALOG, Number, resolve_settings
from engine.attribution.methods.common import (
    as_device,
    auto_side,
    explaining,
    grid_mask,
    model_label,
    rows_per_eval,
)
from engine.core.errors import LanternError

# (inputs [B, C, H, W], targets [B]) -> attributions [B, C', H, W] (C' = C, or 1 for Grad-CAM)
Explainer = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def attribute_images(
    model: nn.Module,
    images: np.ndarray,
    targets: np.ndarray,
    method: str,
    *,
    device: torch.device | str,
    batch_size: int = 64,
    seed: int = 0,
    settings: Mapping[str, Number] | None = None,
) -> np.ndarray:
    """Attribution maps float32 [N, H, W] of `method` for each image's target class.

    images float [N, C, H, W] (in [0, 1] for Lantern's models); targets int [N]. One captum call per batch
    of `batch_size` images; absolute values summed over channels (Grad-CAM: ReLU'd, bilinearly upsampled).
    The model is moved to `device` and left there, in the train/eval mode it came in.
    """
    cfg = resolve_settings(
        method, "image", settings, model=model_label(model), device_type=torch.device(device).type
    )
    if hasattr(model, "forward_embeddings"):
        raise LanternError(
            f"{model_label(model)} is a text model; attribute_images needs an image model",
            where="attribute_images",
            hint="use attribute_texts for text models",
        )
    images = np.asarray(images)
    targets = np.asarray(targets).astype(np.int64).ravel()
    if images.ndim != 4:
        raise LanternError(
            f"images must be [N, C, H, W], got shape {images.shape}",
            where="attribute_images",
        )
    if targets.shape[0] != images.shape[0]:
        raise LanternError(
            f"{images.shape[0]} images but {targets.shape[0]} targets",
            where="attribute_images",
            hint="pass one target class per image",
        )
    if batch_size < 1:
        raise LanternError(f"batch_size must be at least 1, got {batch_size}", where="attribute_images")
    torch_device = as_device(device)
    n, _, height, width = images.shape
    out = np.zeros((n, height, width), dtype=np.float32)
    if n == 0:
        return out
    needs_input_grad = METHOD_CATALOG[method].family == "gradient" and method != "gradcam"
    # GradientSHAP runs every image n_samples times in one pass and captum has no knob to split it, so it
    # takes fewer images per call: on a CPU a pass far beyond max_rows falls out of cache and runs slower.
    # (Integrated gradients and SmoothGrad split their passes with internal_batch_size and
    # nt_samples_batch_size instead.)
    batch_size = min(batch_size, max(1, int(cfg["max_rows"]) // _rows_per_image(method, cfg)))
    with explaining(model, torch_device, seed):
        explain = _EXPLAINERS[method](_Call(model, images, cfg, min(batch_size, n), torch_device, seed))
        for start in range(0, n, batch_size):
            x = torch.as_tensor(images[start : start + batch_size], dtype=torch.float32, device=torch_device)
            x.requires_grad_(needs_input_grad)  # captum would set it anyway, with a warning
            t = torch.as_tensor(targets[start : start + batch_size], device=torch_device)
            attributions = explain(x, t).detach()
            out[start : start + len(x)] = attributions.abs().sum(dim=1).float().cpu().numpy()
    return out


def _rows_per_image(method: str, cfg: dict[str, Number]) -> int:
    """How many rows one image becomes in one unsplittable forward pass of `method`."""
    return max(1, int(cfg["n_samples"])) if method == "gradient_shap" else 1


@dataclass(frozen=True)
class _Call:
    """What a method's explainer is built from: the whole call's inputs and resolved settings."""

    model: nn.Module
    images: np.ndarray
    cfg: dict[str, Number]
    batch: int  # the largest batch a forward pass will see
    dev: torch.device
    seed: int


def _input_range(images: np.ndarray) -> float:
    """x_max - x_min over the whole call (not per batch, so batching leaves the noise unchanged)."""
    spread = float(np.max(images) - np.min(images))
    return spread if spread > 0 else 1.0


def _saliency(c: _Call) -> Explainer:
    method = Saliency(c.model)
    return lambda x, t: method.attribute(x, target=t, abs=False)


def _input_x_gradient(c: _Call) -> Explainer:
    method = InputXGradient(c.model)
    return lambda x, t: method.attribute(x, target=t)


def _integrated_gradients(c: _Call) -> Explainer:
    method = IntegratedGradients(c.model)
    steps = int(c.cfg["n_steps"])
    internal = int(c.cfg["internal_batch_size"]) or max(c.batch, min(c.batch * steps, int(c.cfg["max_rows"])))
    return lambda x, t: method.attribute(x, target=t, n_steps=steps, internal_batch_size=internal)


def _noise_tunnel(c: _Call, times_input: bool) -> Explainer:
    tunnel = NoiseTunnel(Saliency(c.model))
    samples = int(c.cfg["nt_samples"])
    per_pass = int(c.cfg["nt_samples_batch_size"]) or max(1, min(samples, int(c.cfg["max_rows"]) // c.batch))
    sigma = float(c.cfg["noise_level"]) * _input_range(c.images)

    def explain(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # The raw gradients are averaged (abs=False), then the map takes |.|: SmoothGrad as published.
        grads = tunnel.attribute(
            x,
            nt_type="smoothgrad",
            nt_samples=samples,
            nt_samples_batch_size=per_pass,
            stdevs=sigma,
            target=t,
            abs=False,
        )
        return grads * x if times_input else grads

    return explain


def _smoothgrad(c: _Call) -> Explainer:
    return _noise_tunnel(c, times_input=False)


def _smoothgrad_x_input(c: _Call) -> Explainer:
    return _noise_tunnel(c, times_input=True)


def _gradient_shap(c: _Call) -> Explainer:
    method = GradientShap(c.model)
    shape = (1, *c.images.shape[1:])
    noise = np.random.default_rng(c.seed).uniform(float(np.min(c.images)), float(np.max(c.images)), shape)
    baselines = torch.cat(
        [torch.zeros(shape, device=c.dev), torch.as_tensor(noise, dtype=torch.float32, device=c.dev)]
    )
    samples, stdevs = int(c.cfg["n_samples"]), float(c.cfg["stdevs"])
    return lambda x, t: method.attribute(x, baselines=baselines, n_samples=samples, stdevs=stdevs, target=t)


class HookOnceDeepLift(DeepLift):
    """captum's DeepLift, hooking each module once per call even when a model registers a module under two
    names (as Lantern's models do with cam_layer): nn.Module.apply visits such a module twice, and its second
    set of hooks would find the first set's state gone."""

    def attribute(self, *args: Any, **kwargs: Any) -> Any:
        self._hooked: set[int] = set()
        return super().attribute(*args, **kwargs)

    def _register_hooks(self, module: nn.Module, attribute_to_layer_input: bool = True) -> None:
        if id(module) in self._hooked:
            return
        self._hooked.add(id(module))
        super()._register_hooks(module, attribute_to_layer_input)


def _deeplift(c: _Call) -> Explainer:
    method = HookOnceDeepLift(c.model)
    return lambda x, t: method.attribute(x, baselines=torch.zeros_like(x), target=t)


def _gradcam(c: _Call) -> Explainer:
    layer = getattr(c.model, "cam_layer", None)
    if not isinstance(layer, nn.Module):
        raise LanternError(
            f"method 'gradcam' does not apply to model {model_label(c.model)}: it has no cam_layer",
            where="method",
            hint="give the model a cam_layer (its last convolutional block) or choose another method",
        )
    method = LayerGradCam(c.model, layer)
    size = tuple(c.images.shape[2:])

    def explain(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        cam = method.attribute(x, target=t, relu_attributions=True)
        return LayerAttribution.interpolate(cam, size, interpolate_mode="bilinear")

    return explain


def _occlusion(c: _Call) -> Explainer:
    method = Occlusion(c.model)
    channels, height, width = c.images.shape[1:]
    window = int(c.cfg["window"]) or auto_side(height, width)
    stride = int(c.cfg["stride"]) or max(1, window // 2)
    positions = (max(height - window, 0) // stride + 1) * (max(width - window, 0) // stride + 1)
    per_eval = rows_per_eval(int(c.cfg["perturbations_per_eval"]), c.batch, int(c.cfg["max_rows"]), positions)
    return lambda x, t: method.attribute(
        x,
        sliding_window_shapes=(channels, window, window),
        strides=(channels, stride, stride),
        baselines=0.0,
        target=t,
        perturbations_per_eval=per_eval,
    )


def _cells(c: _Call) -> tuple[torch.Tensor, int]:
    """The superpixel grid of the call's images and its number of cells."""
    height, width = c.images.shape[2:]
    side = int(c.cfg["cell"]) or auto_side(height, width, int(c.cfg.get("cells_per_side", 14)))
    mask = grid_mask(height, width, side, c.dev)
    return mask, int(mask.max()) + 1


def _feature_ablation(c: _Call) -> Explainer:
    method = FeatureAblation(c.model)
    mask, features = _cells(c)
    per_eval = rows_per_eval(int(c.cfg["perturbations_per_eval"]), c.batch, int(c.cfg["max_rows"]), features)
    return lambda x, t: method.attribute(
        x, baselines=0.0, target=t, feature_mask=mask, perturbations_per_eval=per_eval
    )


def _surrogate(c: _Call, method: Lime | KernelShap) -> Explainer:
    # Captum fits one surrogate per sample (it loops over the batch itself); what batches is the forward
    # pass over each sample's perturbations (perturbations_per_eval).
    mask, _ = _cells(c)
    samples = int(c.cfg["n_samples"])
    per_eval = rows_per_eval(int(c.cfg["perturbations_per_eval"]), 1, int(c.cfg["max_rows"]), samples)

    def explain(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return method.attribute(
            x,
            baselines=0.0,
            target=t,
            feature_mask=mask.expand(len(x), *mask.shape[1:]),
            n_samples=samples,
            perturbations_per_eval=per_eval,
        )

    return explain


def _lime(c: _Call) -> Explainer:
    return _surrogate(c, Lime(c.model))


def _kernel_shap(c: _Call) -> Explainer:
    return _surrogate(c, KernelShap(c.model))


_EXPLAINERS: dict[str, Callable[..., Explainer]] = {
    "saliency": _saliency,
    "input_x_gradient": _input_x_gradient,
    "integrated_gradients": _integrated_gradients,
    "smoothgrad": _smoothgrad,
    "smoothgrad_x_input": _smoothgrad_x_input,
    "gradient_shap": _gradient_shap,
    "deeplift": _deeplift,
    "gradcam": _gradcam,
    "occlusion": _occlusion,
    "lime": _lime,
    "kernel_shap": _kernel_shap,
    "feature_ablation": _feature_ablation,
}
