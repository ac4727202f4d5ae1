"""Text attribution: captum on the input embeddings (one call per batch), or the model's own importance.

Gradient and perturbation methods work on `model.embed(ids)` through `model.forward_embeddings(emb, mask)`;
a position's score is |.| summed over the embedding dimension, and `model.to_words` sums positions into
words. "attention" and "rationale" read `model.token_importance()` after a forward pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import torch
from captum.attr import (
    FeatureAblation,
    GradientShap,
    InputXGradient,
    IntegratedGradients,
    KernelShap,
    Lime,
    NoiseTunnel,
    Occlusion,
    Saliency,
)
from torch import nn

from engine.attribution.methods.catalog import METHOD_CATALOG, Number, resolve_settings
from engine.attribution.methods.common import as_device, explaining, model_label, rows_per_eval
from engine.core.errors import LanternError

# (embeddings [B, T, E], mask [B, T], targets [B]) -> attributions [B, T, E] (or [B, T] for importance)
TextExplainer = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

_TEXT_API = ("encode", "embed", "forward_embeddings", "to_words", "token_importance")


def attribute_texts(
    model: nn.Module,
    texts: Sequence[Sequence[str]],
    targets: np.ndarray,
    method: str,
    *,
    device: torch.device | str,
    batch_size: int = 32,
    seed: int = 0,
    settings: Mapping[str, Number] | None = None,
) -> list[np.ndarray]:
    """One float32 array of word scores per text for each text's target class.

    The model is a TextModel (engine.attribution.models); it is moved to `device` and left there, in the
    train/eval mode it came in.
    """
    cfg = resolve_settings(
        method, "text", settings, model=model_label(model), device_type=torch.device(device).type
    )
    missing = [name for name in _TEXT_API if not hasattr(model, name)]
    if missing:
        raise LanternError(
            f"method {method!r} does not apply to model {model_label(model)}: it is not a text model "
            f"(no {', '.join(missing)})",
            where="attribute_texts",
            hint="use attribute_images for image models",
        )
    targets = np.asarray(targets).astype(np.int64).ravel()
    if len(texts) != targets.shape[0]:
        raise LanternError(
            f"{len(texts)} texts but {targets.shape[0]} targets",
            where="attribute_texts",
            hint="pass one target class per text",
        )
    if batch_size < 1:
        raise LanternError(f"batch_size must be at least 1, got {batch_size}", where="attribute_texts")
    if method in ("attention", "rationale") and getattr(model, "importance_kind", None) != method:
        kind = getattr(model, "importance_kind", None)
        raise LanternError(
            f"method {method!r} does not apply to model {model_label(model)}: its token importance is "
            f"{kind!r}",
            where="method",
            hint="'attention' needs an attention model (bilstm_attention, bert); 'rationale' the rationale "
            "model",
        )
    torch_device = as_device(device)
    out: list[np.ndarray] = []
    if not texts:
        return out
    with explaining(model, torch_device, seed), _cudnn_off_for_rnn_backward(torch_device):
        explain = _build(method, model, texts, cfg, min(batch_size, len(texts)), torch_device, seed)
        for start in range(0, len(texts), batch_size):
            enc = model.encode([list(t) for t in texts[start : start + batch_size]])
            ids, mask = enc.ids.to(torch_device), enc.mask.to(torch_device)
            t = torch.as_tensor(targets[start : start + batch_size], device=torch_device)
            values = explain(ids, mask, t).detach()
            if values.dim() == 3:
                values = values.abs().sum(dim=2)
            values = values * mask.to(values.dtype)  # padding never scores
            out.extend(np.asarray(w, dtype=np.float32) for w in model.to_words(values, enc))
    return out


def _cudnn_off_for_rnn_backward(device: torch.device) -> AbstractContextManager[Any]:
    # cuDNN's RNN backward refuses to run in eval mode; the native kernels give the same gradients.
    return torch.backends.cudnn.flags(enabled=False) if device.type == "cuda" else nullcontext()


def _embedding_range(model: Any, texts: Sequence[Sequence[str]], batch: int, dev: torch.device) -> float:
    """x_max - x_min of the real tokens' embeddings over the whole call (SmoothGrad's input range)."""
    low, high = float("inf"), float("-inf")
    with torch.no_grad():
        for start in range(0, len(texts), batch):
            enc = model.encode([list(t) for t in texts[start : start + batch]])
            emb = model.embed(enc.ids.to(dev))[enc.mask.to(dev)]
            if emb.numel():
                low, high = min(low, float(emb.min())), max(high, float(emb.max()))
    return high - low if high > low else 1.0


def _build(
    method: str,
    model: Any,
    texts: Sequence[Sequence[str]],
    cfg: dict,
    batch: int,
    dev: torch.device,
    seed: int,
) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """(ids, mask, targets) -> attributions [B, T, E] or importance [B, T] for `method`."""
    if method in ("attention", "rationale"):
        return lambda ids, mask, t: _importance(model, ids, mask, method)

    forward = model.forward_embeddings
    needs_input_grad = METHOD_CATALOG[method].family == "gradient"
    max_rows = int(cfg["max_rows"])
    explain: TextExplainer
    if method == "saliency":
        saliency = Saliency(forward)
        explain = lambda e, m, t: saliency.attribute(e, target=t, abs=False, additional_forward_args=(m,))  # noqa: E731
    elif method == "input_x_gradient":
        ixg = InputXGradient(forward)
        explain = lambda e, m, t: ixg.attribute(e, target=t, additional_forward_args=(m,))  # noqa: E731
    elif method == "integrated_gradients":
        ig = IntegratedGradients(forward)
        steps = int(cfg["n_steps"])
        internal = int(cfg["internal_batch_size"]) or max(batch, min(batch * steps, max_rows))
        explain = lambda e, m, t: ig.attribute(  # noqa: E731
            e, target=t, additional_forward_args=(m,), n_steps=steps, internal_batch_size=internal
        )
    elif method in ("smoothgrad", "smoothgrad_x_input"):
        tunnel = NoiseTunnel(Saliency(forward))
        samples = int(cfg["nt_samples"])
        per_pass = int(cfg["nt_samples_batch_size"]) or max(1, min(samples, max_rows // batch))
        sigma = float(cfg["noise_level"]) * _embedding_range(model, texts, batch, dev)
        times_input = method == "smoothgrad_x_input"

        def explain(e: torch.Tensor, m: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            grads = tunnel.attribute(
                e,
                nt_type="smoothgrad",
                nt_samples=samples,
                nt_samples_batch_size=per_pass,
                stdevs=sigma,
                target=t,
                abs=False,
                additional_forward_args=(m,),
            )
            return grads * e if times_input else grads
    elif method == "gradient_shap":
        shap = GradientShap(forward)
        samples, stdevs = int(cfg["n_samples"]), float(cfg["stdevs"])
        generator = torch.Generator(device="cpu").manual_seed(seed)

        def explain(e: torch.Tensor, m: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            # Baselines: the zero embedding and Gaussian noise with the batch's embedding spread.
            noise = torch.randn(e.shape[1:], generator=generator).to(e.device) * e.detach()[m].std()
            baselines = torch.stack([torch.zeros_like(e[0]), noise])
            return shap.attribute(
                e,
                baselines=baselines,
                n_samples=samples,
                stdevs=stdevs,
                target=t,
                additional_forward_args=(m,),
            )
    elif method == "occlusion":
        occlusion = Occlusion(forward)
        window = int(cfg["window"]) or 1
        stride = int(cfg["stride"]) or 1

        def explain(e: torch.Tensor, m: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            positions = max(1, (e.shape[1] - window) // stride + 1)
            per_eval = rows_per_eval(int(cfg["perturbations_per_eval"]), len(e), max_rows, positions)
            return occlusion.attribute(
                e,
                sliding_window_shapes=(window, e.shape[2]),
                strides=(stride, e.shape[2]),
                baselines=0.0,
                target=t,
                additional_forward_args=(m,),
                perturbations_per_eval=per_eval,
            )
    elif method == "feature_ablation":
        ablation = FeatureAblation(forward)

        def explain(e: torch.Tensor, m: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            per_eval = rows_per_eval(int(cfg["perturbations_per_eval"]), len(e), max_rows, e.shape[1])
            return ablation.attribute(
                e,
                baselines=0.0,
                target=t,
                additional_forward_args=(m,),
                feature_mask=_token_mask(e),
                perturbations_per_eval=per_eval,
            )
    elif method in ("lime", "kernel_shap"):
        surrogate = Lime(forward) if method == "lime" else KernelShap(forward)
        samples = int(cfg["n_samples"])
        per_eval = rows_per_eval(int(cfg["perturbations_per_eval"]), 1, max_rows, samples)
        explain = lambda e, m, t: surrogate.attribute(  # noqa: E731
            e,
            baselines=0.0,
            target=t,
            additional_forward_args=(m,),
            feature_mask=_token_mask(e),
            n_samples=samples,
            perturbations_per_eval=per_eval,
        )
    else:  # resolve_settings only lets text methods through; this names a catalogue/registry mismatch
        raise LanternError(f"no text implementation of method {method!r}", where="method")

    def run(ids: torch.Tensor, mask: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            emb = model.embed(ids)
        emb.requires_grad_(needs_input_grad)  # captum would set it anyway, with a warning
        return explain(emb, mask, t)

    return run


def _token_mask(e: torch.Tensor) -> torch.Tensor:
    """Each position its own feature: ids [B, T, E] (positions broadcast over the embedding)."""
    positions = torch.arange(e.shape[1], device=e.device)
    return positions[None, :, None].expand(e.shape[0], e.shape[1], e.shape[2])


def _importance(model: Any, ids: torch.Tensor, mask: torch.Tensor, method: str) -> torch.Tensor:
    with torch.no_grad():
        model(ids, mask)
        importance = model.token_importance()
    if importance is None:
        raise LanternError(
            f"model {model_label(model)} recorded no token importance for method {method!r}",
            where="method",
            hint="its forward pass must record token_importance()",
        )
    return importance.detach().float()
