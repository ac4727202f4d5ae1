"""The attribution methods' catalogue (names, titles, families, modalities, default settings): torch-free.

The GUI lists methods from here; engine.attribution.methods (torch) computes them. A setting of 0 in
`defaults` means "chosen from the input" (e.g. the occlusion window is about a fourteenth of the image side).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from engine.attribution.types import Modality
from engine.core.errors import LanternError

Family = Literal["gradient", "perturbation", "model"]
Number = int | float

# How every map is reduced to one value per pixel (or token): recorded next to each score.
AGGREGATION = "abs-sum-channels"

# Rows (samples x steps or perturbations) per forward pass for methods that expand their inputs; every
# method with an own batching knob derives it from this unless the knob is set. Why two values: a CPU is
# fastest when one pass's activations stay in cache (measured on the small CNN at 28x28, integrated
# gradients ran at 61 images/s with 128 rows and 32/s with 2048), a GPU when it gets as many rows as fit.
CPU_MAX_ROWS = 128
ACCELERATOR_MAX_ROWS = 8192


def default_max_rows(device_type: str) -> int:
    """Rows per forward pass on a device of this type ("cpu", "cuda", "mps")."""
    return CPU_MAX_ROWS if device_type == "cpu" else ACCELERATOR_MAX_ROWS


# Settings where 0 means "chosen from the input"; the other counts must be at least 1.
AUTO_SETTINGS = frozenset(
    {"internal_batch_size", "nt_samples_batch_size", "window", "stride", "cell", "perturbations_per_eval"}
)
REAL_SETTINGS = frozenset({"noise_level", "stdevs"})


@dataclass(frozen=True)
class MethodInfo:
    name: str
    title: str
    family: Family
    modalities: tuple[Modality, ...]
    description: str
    defaults: Mapping[str, Number] = field(default_factory=dict)


_BOTH: tuple[Modality, ...] = ("image", "text")
_IMAGE: tuple[Modality, ...] = ("image",)
_TEXT: tuple[Modality, ...] = ("text",)

METHOD_CATALOG: dict[str, MethodInfo] = {
    info.name: info
    for info in (
        MethodInfo(
            "saliency",
            "Gradient (saliency)",
            "gradient",
            _BOTH,
            "|d logit / d input|: the plain gradient of the target's logit.",
        ),
        MethodInfo(
            "input_x_gradient",
            "Gradient x input",
            "gradient",
            _BOTH,
            "The gradient times the input, element by element.",
        ),
        MethodInfo(
            "integrated_gradients",
            "Integrated gradients",
            "gradient",
            _BOTH,
            "Gradients averaged along the straight path from a zero baseline to the input, times "
            "(input - baseline).",
            {"n_steps": 32, "internal_batch_size": 0},
        ),
        MethodInfo(
            "smoothgrad",
            "SmoothGrad",
            "gradient",
            _BOTH,
            "The gradient averaged over noisy copies of the input (Gaussian noise, sigma = "
            "noise_level x the input's range); absolute value taken after averaging.",
            {"nt_samples": 50, "noise_level": 0.15, "nt_samples_batch_size": 0},
        ),
        MethodInfo(
            "smoothgrad_x_input",
            "SmoothGrad x input",
            "gradient",
            _BOTH,
            "The SmoothGrad gradient times the input.",
            {"nt_samples": 50, "noise_level": 0.15, "nt_samples_batch_size": 0},
        ),
        MethodInfo(
            "gradient_shap",
            "GradientSHAP",
            "gradient",
            _BOTH,
            "Expected gradients: gradients at random points between the input and baselines drawn "
            "from {zeros, uniform noise over the input's range}, times (input - baseline).",
            {"n_samples": 16, "stdevs": 0.0},
        ),
        MethodInfo(
            "deeplift",
            "DeepLIFT",
            "gradient",
            _IMAGE,
            "DeepLIFT (rescale rule) against a zero baseline; needs every nonlinearity to be its own "
            "module, used once.",
        ),
        MethodInfo(
            "gradcam",
            "Grad-CAM",
            "gradient",
            _IMAGE,
            "Grad-CAM on the model's last convolutional block (cam_layer), ReLU'd and bilinearly "
            "upsampled to the image size.",
        ),
        MethodInfo(
            "occlusion",
            "Occlusion",
            "perturbation",
            _BOTH,
            "Change of the target's logit when a sliding window is set to zero (window about a "
            "fourteenth of the image side, stride half the window; 1 token for text).",
            {"window": 0, "stride": 0, "perturbations_per_eval": 0},
        ),
        MethodInfo(
            "lime",
            "LIME",
            "perturbation",
            _BOTH,
            "A sparse linear surrogate (Lasso, alpha 0.01) fitted to the model's output on random "
            "on/off patterns of grid superpixels (cells about a fourteenth of the side) or tokens.",
            {"n_samples": 300, "cell": 0, "perturbations_per_eval": 0},
        ),
        MethodInfo(
            "kernel_shap",
            "KernelSHAP",
            "perturbation",
            _BOTH,
            "Shapley values estimated by a weighted linear regression over coalitions of grid "
            "superpixels (cells about a seventh of the side: with 300 samples it cannot fit the 196 "
            "cells of a finer grid, and scores like a random map) or tokens.",
            {"n_samples": 300, "cell": 0, "cells_per_side": 7, "perturbations_per_eval": 0},
        ),
        MethodInfo(
            "feature_ablation",
            "Feature ablation",
            "perturbation",
            _BOTH,
            "Change of the target's logit when one grid superpixel (or token) at a time is set to zero.",
            {"cell": 0, "perturbations_per_eval": 0},
        ),
        MethodInfo(
            "attention",
            "Attention weights",
            "model",
            _TEXT,
            "The model's own attention over its tokens (models whose importance_kind is 'attention').",
        ),
        MethodInfo(
            "rationale",
            "Rationale",
            "model",
            _TEXT,
            "The tokens a select-then-predict model kept, 1 or 0 (importance_kind 'rationale').",
        ),
    )
}

IMAGE_METHODS: tuple[str, ...] = tuple(n for n, i in METHOD_CATALOG.items() if "image" in i.modalities)
TEXT_METHODS: tuple[str, ...] = tuple(n for n, i in METHOD_CATALOG.items() if "text" in i.modalities)


def resolve_settings(
    method: str,
    modality: Modality,
    settings: Mapping[str, Number] | None,
    *,
    model: str = "",
    device_type: str = "cpu",
) -> dict[str, Number]:
    """The method's defaults overridden by `settings`; an unknown method, modality or key is an error.

    Every method also takes "max_rows" (rows per forward pass for methods that expand their inputs).
    """
    info = METHOD_CATALOG.get(method)
    if info is None:
        raise LanternError(
            f"unknown attribution method {method!r}",
            where="method",
            hint="choose one of: " + ", ".join(METHOD_CATALOG),
        )
    if modality not in info.modalities:
        usable = IMAGE_METHODS if modality == "image" else TEXT_METHODS
        raise LanternError(
            f"method {method!r} does not apply to {modality} models"
            + (f" such as model {model}" if model else ""),
            where="method",
            hint=f"for {modality} models choose one of: " + ", ".join(usable),
        )
    resolved: dict[str, Number] = {"max_rows": default_max_rows(device_type), **info.defaults}
    for key, value in (settings or {}).items():
        if key not in resolved:
            raise LanternError(
                f"method {method!r} has no setting {key!r}",
                where=f"settings.{key}",
                hint="its settings are: " + ", ".join(resolved),
            )
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise LanternError(
                f"setting {key!r} of {method!r} must be a non-negative number, got {value!r}",
                where=f"settings.{key}",
            )
        if key not in REAL_SETTINGS and not float(value).is_integer():
            raise LanternError(
                f"setting {key!r} of {method!r} is a count and must be whole, got {value!r}",
                where=f"settings.{key}",
            )
        if key not in REAL_SETTINGS and key not in AUTO_SETTINGS and value < 1:
            raise LanternError(
                f"setting {key!r} of {method!r} must be at least 1, got {value!r}", where=f"settings.{key}"
            )
        resolved[key] = value if key in REAL_SETTINGS else int(value)
    return resolved
