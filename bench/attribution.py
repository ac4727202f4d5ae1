"""Attribution bench: batched methods against a per-sample captum loop, and scoring against Quantus.

    .venv/bin/python bench/attribution.py [--device cpu|cuda] [--images 256] [--perturbation-images 32]
                                          [--surrogate-images 8] [--maps 2000] [--threads N] [--json PATH]

Table 1, attributions per second for each method on the same model and inputs: the small CNN of the
attribution workspace (engine.attribution.models "small_cnn", --width 32, depth 2, untrained: speed does not
depend on the weights) on 28x28 images of the bundled Fashion-MNIST subset. Lantern: attribute_images
(batch 64, the method's default settings). Peer: captum called once per image with the same method
parameters (steps, samples, window, grid, baselines) and captum's own defaults for its batching knobs
(internal_batch_size, nt_samples_batch_size, perturbations_per_eval). The gradient family gets --images,
occlusion and feature ablation --perturbation-images, LIME and KernelSHAP --surrogate-images. For the
deterministic methods the max |difference| between the two maps is shown. Target: >= 10x for the gradient
family on CPU.

Table 2, scoring throughput (maps per second) of engine.attribution.scores against Quantus computing the
same localisation metrics on the same --maps random 28x28 maps and masks (the watermark manipulation's
region): RelevanceMassAccuracy = attr_pct, PointingGame = pointing_game, TopKIntersection (k = region size)
= top_k_overlap, AUC = auroc, all with abs=True, normalise=False. Targets: >= 10x and max |difference|
< 1e-6. Best of --repeats timings each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # so `python bench/attribution.py` imports the checkout's packages

GRADIENT_FAMILY = (
    "saliency",
    "input_x_gradient",
    "integrated_gradients",
    "smoothgrad",
    "smoothgrad_x_input",
    "gradient_shap",
    "deeplift",
    "gradcam",
)
PERTURBATION = ("occlusion", "feature_ablation")
SURROGATE = ("lime", "kernel_shap")
DETERMINISTIC = (
    "saliency",
    "input_x_gradient",
    "integrated_gradients",
    "deeplift",
    "gradcam",
    "occlusion",
    "feature_ablation",
)
RATIO_TARGET = 10.0
EQUALITY_TARGET = 1e-6


@dataclass
class Row:
    figure: str
    lantern: float
    peer_name: str
    peer: float
    target: str
    ok: bool | None
    detail: str = ""

    @property
    def ratio(self) -> float:
        return self.lantern / self.peer if self.peer else float("nan")


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def per_sample_captum(
    model: Any, method: str, images: np.ndarray, targets: np.ndarray, device: str
) -> np.ndarray:
    """The peer: captum once per image, the method's parameters as Lantern's defaults, captum's batching."""
    import torch
    from captum.attr import (
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

    from engine.attribution.methods import METHOD_CATALOG
    from engine.attribution.methods.common import auto_side, grid_mask
    from engine.attribution.methods.image import HookOnceDeepLift

    defaults = METHOD_CATALOG[method].defaults
    _, channels, height, width = images.shape
    side = auto_side(height, width)
    cell = auto_side(height, width, int(defaults.get("cells_per_side", 14)))
    cells = grid_mask(height, width, cell, torch.device(device))
    sigma = 0.15 * float(images.max() - images.min())
    shap_baselines = torch.cat(
        [
            torch.zeros((1, *images.shape[1:])),
            torch.as_tensor(
                np.random.default_rng(0).uniform(images.min(), images.max(), (1, *images.shape[1:])),
                dtype=torch.float32,
            ),
        ]
    ).to(device)
    tools: dict[str, Callable[[Any, int], Any]] = {
        "saliency": lambda x, t: Saliency(model).attribute(x, target=t, abs=False),
        "input_x_gradient": lambda x, t: InputXGradient(model).attribute(x, target=t),
        "integrated_gradients": lambda x, t: IntegratedGradients(model).attribute(
            x, target=t, n_steps=defaults.get("n_steps", 32)
        ),
        "smoothgrad": lambda x, t: NoiseTunnel(Saliency(model)).attribute(
            x, nt_type="smoothgrad", nt_samples=50, stdevs=sigma, target=t, abs=False
        ),
        "smoothgrad_x_input": lambda x, t: (
            x
            * NoiseTunnel(Saliency(model)).attribute(
                x, nt_type="smoothgrad", nt_samples=50, stdevs=sigma, target=t, abs=False
            )
        ),
        "gradient_shap": lambda x, t: GradientShap(model).attribute(
            x, baselines=shap_baselines, n_samples=defaults.get("n_samples", 16), target=t
        ),
        "deeplift": lambda x, t: HookOnceDeepLift(model).attribute(
            x, baselines=torch.zeros_like(x), target=t
        ),
        "gradcam": lambda x, t: LayerAttribution.interpolate(
            LayerGradCam(model, model.cam_layer).attribute(x, target=t, relu_attributions=True),
            (height, width),
            interpolate_mode="bilinear",
        ),
        "occlusion": lambda x, t: Occlusion(model).attribute(
            x,
            sliding_window_shapes=(channels, side, side),
            strides=(channels, max(1, side // 2), max(1, side // 2)),
            baselines=0.0,
            target=t,
        ),
        "feature_ablation": lambda x, t: FeatureAblation(model).attribute(
            x, baselines=0.0, target=t, feature_mask=cells
        ),
        "lime": lambda x, t: Lime(model).attribute(
            x, baselines=0.0, target=t, feature_mask=cells, n_samples=defaults.get("n_samples", 200)
        ),
        "kernel_shap": lambda x, t: KernelShap(model).attribute(
            x, baselines=0.0, target=t, feature_mask=cells, n_samples=defaults.get("n_samples", 200)
        ),
    }
    tool = tools[method]
    needs_grad = METHOD_CATALOG[method].family == "gradient" and method != "gradcam"
    out = np.empty((len(images), height, width), dtype=np.float32)
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DeepLift announces its hooks on every call
        for i in range(len(images)):
            x = torch.as_tensor(images[i : i + 1], device=device).requires_grad_(needs_grad)
            out[i] = tool(x, int(targets[i])).detach().abs().sum(1)[0].float().cpu().numpy()
    return out


def bench_methods(args: argparse.Namespace) -> tuple[list[Row], dict[str, Any]]:
    import torch

    from engine.attribution.methods import IMAGE_METHODS, attribute_images
    from engine.attribution.models import build_image_model
    from engine.demo.fashion_mnist import load_demo

    torch.manual_seed(0)
    model = build_image_model("small_cnn", in_channels=1, num_classes=2, image_size=28, width=args.width)
    model = model.to(args.device).eval()
    demo = load_demo()
    largest = max(args.images, args.perturbation_images, args.surrogate_images)
    images = (demo.test_images[:largest, None] / 255.0).astype(np.float32)
    targets = (demo.test_labels[:largest] % 2).astype(np.int64)
    # Warm up: first calls pay for kernel selection, captum and sklearn imports.
    for method in IMAGE_METHODS:
        attribute_images(
            model,
            images[:2],
            targets[:2],
            method,
            device=args.device,
            settings={"n_samples": 10} if method in SURROGATE else None,
        )
        per_sample_captum(model, method, images[:1], targets[:1], args.device)
    rows = []
    on_cpu = args.device == "cpu"
    for method in IMAGE_METHODS:
        count = (
            args.surrogate_images
            if method in SURROGATE
            else args.perturbation_images
            if method in PERTURBATION
            else args.images
        )
        x, t = images[:count], targets[:count]
        _sync(args.device)
        started = time.perf_counter()
        batched = attribute_images(model, x, t, method, device=args.device, batch_size=64)
        _sync(args.device)
        lantern_s = time.perf_counter() - started
        started = time.perf_counter()
        looped = per_sample_captum(model, method, x, t, args.device)
        _sync(args.device)
        peer_s = time.perf_counter() - started
        gradient = method in GRADIENT_FAMILY
        row = Row(
            f"{method} ({count} images)",
            count / lantern_s,
            "captum, one image per call",
            count / peer_s,
            f">= {RATIO_TARGET:g}x" if gradient and on_cpu else "",
            None,
            f"{float(np.abs(batched - looped).max()):.1e}" if method in DETERMINISTIC else "(random)",
        )
        if gradient and on_cpu:
            row.ok = row.ratio >= RATIO_TARGET
        rows.append(row)
        print(f"  {method}: {row.lantern:,.1f}/s batched, {row.peer:,.1f}/s per sample", flush=True)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu"
    return rows, {"device": args.device, "device_name": name, "torch_threads": torch.get_num_threads()}


def _best_of(repeats: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def bench_scores(args: argparse.Namespace) -> list[Row]:
    import quantus

    from engine.attribution import scores
    from engine.attribution.manipulations import IMAGE_MANIPULATIONS

    rng = np.random.default_rng(0)
    n = args.maps
    maps = rng.normal(size=(n, 28, 28))
    region = IMAGE_MANIPULATIONS["watermark"].region(28, 28)
    masks = np.broadcast_to(region, (n, 28, 28)).copy()
    manipulated = rng.random(n) < 0.5
    x = np.zeros((n, 1, 28, 28), dtype=np.float32)
    y = np.zeros(n, dtype=np.int64)
    common = {"abs": True, "normalise": False, "disable_warnings": True}
    peers = {
        "attr_pct": quantus.RelevanceMassAccuracy(**common),
        "pointing_game": quantus.PointingGame(**common),
        "top_k_overlap": quantus.TopKIntersection(k=int(region.sum()), **common),
        "auroc": quantus.AUC(**common),
    }

    def quantus_scores(metric: Any) -> np.ndarray:
        return np.asarray(
            metric(
                model=None,
                x_batch=x,
                y_batch=y,
                a_batch=maps[:, None],
                s_batch=masks[:, None].astype(float),
                channel_first=True,
                batch_size=n,
            ),
            dtype=np.float64,
        )

    rows = []
    total_lantern = total_peer = 0.0
    worst = 0.0
    for name, peer in peers.items():
        lantern_s, ours = _best_of(args.repeats, lambda name=name: scores.METRICS[name].fn(maps, masks))
        peer_s, theirs = _best_of(args.repeats, lambda peer=peer: quantus_scores(peer))
        difference = float(np.nanmax(np.abs(ours - theirs)))
        worst = max(worst, difference)
        total_lantern += lantern_s
        total_peer += peer_s
        row = Row(
            f"{name} ({n} maps)",
            n / lantern_s,
            f"quantus.{type(peer).__name__}",
            n / peer_s,
            f">= {RATIO_TARGET:g}x, diff < {EQUALITY_TARGET:g}",
            None,
            f"{difference:.1e}",
        )
        row.ok = row.ratio >= RATIO_TARGET and difference < EQUALITY_TARGET
        rows.append(row)
    all_s, _ = _best_of(args.repeats, lambda: scores.score_maps(maps, masks, manipulated))
    row = Row(
        f"score_maps, 4 metrics x 3 conditions ({n} maps)",
        n / all_s,
        "the four Quantus metrics",
        n / total_peer,
        f">= {RATIO_TARGET:g}x, diff < {EQUALITY_TARGET:g}",
        None,
        f"{worst:.1e}",
    )
    row.ok = row.ratio >= RATIO_TARGET and worst < EQUALITY_TARGET
    rows.append(row)
    return rows


def render(title: str, rows: list[Row], value: str) -> str:
    header = ("figure", f"Lantern {value}", "peer", f"peer {value}", "ratio", "max |diff|", "target", "")
    cells = [
        (
            r.figure,
            f"{r.lantern:,.1f}",
            r.peer_name,
            f"{r.peer:,.1f}",
            f"{r.ratio:,.1f}x",
            r.detail,
            r.target,
            "" if r.ok is None else ("ok" if r.ok else "MISSED"),
        )
        for r in rows
    ]
    out = [title, "", "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(c) + " |" for c in cells]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument(
        "--images", type=int, default=256, help="images for the gradient family (default 256)"
    )
    parser.add_argument(
        "--perturbation-images",
        type=int,
        default=32,
        help="images for occlusion and feature ablation (default 32)",
    )
    parser.add_argument(
        "--surrogate-images", type=int, default=8, help="images for LIME, KernelSHAP (default 8)"
    )
    parser.add_argument(
        "--width", type=int, default=32, help="channels of the CNN's first block (default 32)"
    )
    parser.add_argument("--maps", type=int, default=2000, help="maps scored in table 2 (default 2000)")
    parser.add_argument("--repeats", type=int, default=3, help="timings per scoring figure, best kept")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    parser.add_argument("--only", choices=("methods", "scores"), help="measure one of the two tables")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    args = parser.parse_args(argv)
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("--device cuda: no CUDA device here", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    method_rows: list[Row] = []
    score_rows: list[Row] = []
    details: dict[str, Any] = {}
    if args.only in (None, "methods"):
        method_rows, details = bench_methods(args)
    if args.only in (None, "scores"):
        score_rows = bench_scores(args)
    print()
    print(
        f"bench/attribution.py: {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, device {args.device}"
        + (f" ({details['device_name']}), torch threads {details['torch_threads']}" if details else "")
        + f", {time.perf_counter() - started:.0f} s"
    )
    if method_rows:
        print()
        title = f"Table 1: attributions per second, small CNN (width {args.width}) on 28x28 Fashion-MNIST"
        print(render(title, method_rows, "/s"))
    if score_rows:
        print()
        print(render("Table 2: localisation scores per second against Quantus", score_rows, "maps/s"))
    rows = method_rows + score_rows
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "methods": [{**r.__dict__, "ratio": r.ratio} for r in method_rows],
                    "scores": [{**r.__dict__, "ratio": r.ratio} for r in score_rows],
                    **details,
                },
                indent=2,
            )
        )
        print(f"written to {args.json}")
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
