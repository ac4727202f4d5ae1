"""Augment bench: views per second of Lantern's generator sampling path against a plain eager diffusers loop
over the same UNet and scheduler, model FLOP/s against the device's matmul rate, and SSL training speed.

    .venv/bin/python bench/augment.py [--device cpu|cuda] [--unet-size bundled|paper] [--sources 16]
                                      [--count 8] [--peer-sources N] [--steps 10] [--guidance 1.0]
                                      [--compile] [--threads 1] [--repeats 3] [--quick] [--json PATH]
    # the issue's GPU figure:
    python bench/augment.py --device cuda --unet-size paper --sources 1024 --count 8 --peer-sources 64

Lantern: `InstanceDiffusion.sample` (all sources x count views in one chunked batch, DDIM coefficients as
tensors, the condition projected once, bf16 autocast on CUDA and on AMX CPUs, optional torch.compile on
CUDA). Peer: `reference_sample`, the plain eager loop: fp32, one source's `count` views at a time,
UNet2DModel forward + DDIMScheduler.step every step (two forwards with guidance != 1). Both run the same
randomly initialised UNet (speed does not depend on the weights), the same DDIM steps and the same noise.
Figure: views per second (sources x count / seconds), best of --repeats after one warm-up.
--unet-size bundled: the shipped Fashion-MNIST generator's UNet (1x28x28, (16, 32, 64)); paper: a 6.5 M
parameter UNet at 3x32x32 ((64, 128, 128), 2 layers per block), the model of the issue's target (an H200
made ~1,800 views/s with a naive eager loop; target at least 3x that, i.e. 5,400 views/s).
Model FLOP/s: UNet forward FLOPs (torch.utils.flop_counter) x rows x steps / seconds, against the measured
rate of a large matmul (fp32 on CPU; bf16 on CUDA). SSL: engine.ssl.training.train_ssl (SimCLR) images/s.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # so `python bench/augment.py` imports the checkout's packages

PAPER_VIEWS_PER_SECOND = 1_800.0  # naive eager loop, 6.5 M UNet at 32x32, DDIM 10, one H200 (the issue)
CUDA_TARGET = 3.0  # x the naive loop
CPU_TARGET = 1.0  # on a CPU the fast path must at least not lose


@dataclass
class Row:
    figure: str
    lantern: float
    peer_name: str
    peer: float
    target: float

    @property
    def ratio(self) -> float:
        return self.lantern / self.peer if self.peer else float("nan")


def unet_config(size: str, channels: tuple[int, ...] | None = None) -> object:
    from engine.augment.instance_diffusion import InstanceDiffusionConfig

    if size == "paper":
        config = InstanceDiffusionConfig(
            image_channels=3, image_size=32, block_out_channels=(64, 128, 128), layers_per_block=2
        )
    else:
        config = InstanceDiffusionConfig()
    if channels:
        config = InstanceDiffusionConfig(**{**config.to_dict(), "block_out_channels": channels})
    return config


def build_model(size: str, device: str, channels: tuple[int, ...] | None = None) -> object:
    """A randomly initialised generator with a small ResNet encoder (what the bundled one is made of)."""
    import torch

    from engine.augment.instance_diffusion import InstanceDiffusion, freeze, make_denoiser
    from engine.ssl.backbone import BackboneConfig, build_backbone

    torch.manual_seed(0)
    config = unet_config(size, channels)
    encoder = build_backbone(BackboneConfig(in_channels=config.image_channels, width=16, blocks=(1, 1, 1)))
    denoiser = make_denoiser(config, encoder.feature_dim).eval()
    return InstanceDiffusion(config, denoiser, freeze(encoder), {}).to(device)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def views_per_second(run: object, views: int, repeats: int, device: str) -> float:
    run()  # warm-up: first-call allocations, autotuning, compilation
    sync(device)
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        sync(device)
        best = max(best, views / (time.perf_counter() - started))
    return best


def unet_flops_per_row(model: object, device: str) -> float:
    """FLOPs of one UNet forward for one image (the count does not depend on the timestep or weights)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    cfg = model.config
    x = torch.randn(4, cfg.image_channels, cfg.image_size, cfg.image_size, device=device)
    cond = torch.randn(4, cfg.time_embed_dim, device=device)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model.denoiser.unet(x, torch.tensor(500, device=device), class_labels=cond)
    return counter.get_total_flops() / 4


def matmul_rate(device: str) -> tuple[float, str]:
    """Measured FLOP/s of a large square matmul: bf16 on CUDA, fp32 on CPU (best of 3)."""
    import torch

    dtype, n = (torch.bfloat16, 8192) if device.startswith("cuda") else (torch.float32, 1024)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    best = 0.0
    reps = 20 if device.startswith("cuda") else 3
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(reps):
            a @ b
        sync(device)
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - started))
    return best, f"{str(dtype).removeprefix('torch.')} matmul {n}x{n}"


def ssl_images_per_second(device: str, images: int, quick: bool) -> dict | None:
    """SimCLR training speed (engine.ssl.training.train_ssl) on bundled Fashion-MNIST images, one epoch."""
    try:
        from engine.ssl.config import SSLConfig
        from engine.ssl.training import train_ssl
    except ImportError:
        return None
    import torch

    from engine.augment.datasets import load_augment_data

    data = load_augment_data("fashion-mnist-demo", limit=images)
    x = torch.tensor(data.train.images)
    batch = 64 if quick else 256
    width = 8 if quick else 32
    config = SSLConfig(method="simclr", width=width, epochs=1, batch_size=min(batch, len(x)), seed=0)
    result = train_ssl(x, config, device=device)
    return {
        "figure": f"SimCLR training, ResNet width {width}, batch {config.batch_size}",
        "images_per_second": result.images_per_second,
        "images": len(x),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--unet-size", default="bundled", choices=("bundled", "paper"))
    parser.add_argument("--sources", type=int, default=16, help="source images per measurement")
    parser.add_argument("--count", type=int, default=8, help="views per source")
    parser.add_argument(
        "--peer-sources", type=int, help="sources the slow peer loop is timed on (default: --sources)"
    )
    parser.add_argument("--steps", type=int, default=10, help="DDIM steps")
    parser.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance scale")
    parser.add_argument("--compile", action="store_true", help="torch.compile the UNet (CUDA only)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steadiest on small CPUs)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ssl-images", type=int, default=2048, help="images for the SSL speed row")
    parser.add_argument("--no-ssl", action="store_true", help="skip the SSL training row")
    parser.add_argument(
        "--quick", action="store_true", help="a small run (tests): 4 sources x 4 views, 4 steps, 1 repeat"
    )
    parser.add_argument("--unet-channels", help="override the UNet block_out_channels, e.g. 8,16,16 (tests)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.sources, args.count, args.steps, args.repeats, args.ssl_images = 4, 4, 4, 1, 128
    if args.compile and args.device != "cuda":
        parser.error("--compile is for --device cuda (on a CPU the compile time outweighs sampling)")

    import torch

    from engine.augment.instance_diffusion import cpu_has_fast_bf16, reference_sample

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    channels = tuple(int(c) for c in args.unet_channels.split(",")) if args.unet_channels else None
    model = build_model(args.unet_size, args.device, channels)
    if args.compile:
        model.enable_compile()
    cfg = model.config
    sources = torch.rand(args.sources, cfg.image_channels, cfg.image_size, cfg.image_size)
    views = args.sources * args.count
    settings = {"steps": args.steps, "guidance": args.guidance}
    lantern = views_per_second(
        lambda: model.sample(sources, args.count, 0, **settings), views, args.repeats, args.device
    )
    # A rate: the peer may be timed on fewer sources (a batch of `count` views each): a GPU run stays short.
    peer_sources = sources[: args.peer_sources or args.sources]
    peer = views_per_second(
        lambda: reference_sample(model, peer_sources, args.count, 0, **settings),
        len(peer_sources) * args.count,
        args.repeats,
        args.device,
    )
    on_cuda = args.device == "cuda"
    precision = "bf16" if on_cuda or cpu_has_fast_bf16() else "fp32"
    millions = model.parameter_count() / 1e6
    shape = f"{cfg.image_channels}x{cfg.image_size}x{cfg.image_size}"
    rows = [
        Row(
            f"views/s, {args.unet_size} UNet ({millions:.2f} M, {shape}), DDIM {args.steps}, guidance "
            f"{args.guidance:g}, Lantern {precision}{' + compile' if args.compile else ''} ({args.device})",
            lantern,
            f"eager diffusers loop, fp32, {args.count} views per batch ({args.device})",
            peer,
            CUDA_TARGET if on_cuda else CPU_TARGET,
        )
    ]
    forwards_per_view = args.steps * (2 if args.guidance not in (0.0, 1.0) else 1)
    flops_per_view = unet_flops_per_row(model, args.device) * forwards_per_view
    rate, rate_name = matmul_rate(args.device)
    ssl = None if args.no_ssl else ssl_images_per_second(args.device, args.ssl_images, args.quick)

    print(
        f"bench/augment.py: CPython {platform.python_version()}, torch {torch.__version__}, device "
        f"{args.device}, torch threads {args.threads}, {args.sources} sources x {args.count} views, "
        f"{time.perf_counter() - started:.0f} s"
    )
    print()
    print("| figure | Lantern | peer | peer | ratio | target | |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        ok = row.ratio >= row.target
        print(
            f"| {row.figure} | {row.lantern:,.1f} | {row.peer_name} | {row.peer:,.1f} | {row.ratio:.2f}x | "
            f">= {row.target:g}x | {'ok' if ok else 'MISSED'} |"
        )
    if on_cuda and args.unet_size == "paper":
        ratio = lantern / PAPER_VIEWS_PER_SECOND
        ok = ratio >= CUDA_TARGET
        print(
            f"| views/s against the issue's H200 figure | {lantern:,.0f} | naive eager loop (issue) | "
            f"{PAPER_VIEWS_PER_SECOND:,.0f} | {ratio:.2f}x | >= {CUDA_TARGET:g}x | "
            f"{'ok' if ok else 'MISSED'} |"
        )
    print()
    print(f"| model FLOP/s ({flops_per_view / 1e6:,.1f} MFLOP per view) | FLOP/s | {rate_name} | share |")
    print("|---|---|---|---|")
    utilisation = {}
    for name, value in (("Lantern", lantern), ("eager diffusers loop", peer)):
        flops = value * flops_per_view
        utilisation[name] = flops
        print(f"| {name} | {flops / 1e9:,.2f} G | {rate / 1e9:,.1f} G | {flops / rate:.1%} |")
    if ssl is not None:
        print()
        print("| figure | images/s |")
        print("|---|---|")
        print(
            f"| {ssl['figure']} ({args.device}, {ssl['images']} images, 1 epoch) | "
            f"{ssl['images_per_second']:,.1f} |"
        )
    if args.json:
        payload = {
            "rows": [asdict(row) | {"ratio": row.ratio} for row in rows],
            "flops_per_view": flops_per_view,
            "model_flops_per_second": utilisation,
            "matmul_flops_per_second": rate,
            "matmul": rate_name,
            "ssl": ssl,
            "settings": {k: v for k, v in vars(args).items() if k != "json"},
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 0 if all(row.ratio >= row.target for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
