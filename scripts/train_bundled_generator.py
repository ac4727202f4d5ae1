"""Make assets/augment/fashion-mnist/ (the script that made it): the bundled generator and judge.

    python scripts/train_bundled_generator.py                  # the shipped run (CPU, ~25 minutes)
    python scripts/train_bundled_generator.py --quick --out /tmp/try   # a seconds-long end-to-end check

From the bundled Fashion-MNIST subset (6,000 train / 1,000 test images, 28x28):
1. a SimCLR encoder (engine.ssl.training.train_ssl): the generator's frozen condition encoder;
2. the judge (engine.augment.judge.train_judge, labelled train images) into <out>/judge/, which scores
   views (label kept, similarity) independently of the generator;
3. the instance-conditioned diffusion generator (engine.augment.instance_diffusion) into <out>/.
Then it samples views of test images and reports how often the judge keeps their label, and writes
README.md and PROVENANCE.txt with the exact command, the settings, the timings and those figures.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "assets/augment/fashion-mnist")
    parser.add_argument("--limit", type=int, default=None, help="train images (default: all 6,000)")
    parser.add_argument("--ssl-epochs", type=int, default=10)
    parser.add_argument("--ssl-width", type=int, default=16, help="encoder ResNet width (features: 4x)")
    parser.add_argument("--ssl-batch-size", type=int, default=256)
    parser.add_argument("--judge-epochs", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=15, help="generator epochs")
    parser.add_argument("--batch-size", type=int, default=32, help="generator batch")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--channels", default="16,32,64", help="generator UNet block_out_channels")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                        help="generator training precision (auto: bf16 on CUDA, fp32 on a CPU)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch threads on a CPU")
    parser.add_argument("--eval-images", type=int, default=200, help="test images whose views are scored")
    parser.add_argument("--quick", action="store_true", help="tiny settings: checks the pipeline end to end")
    args = parser.parse_args(argv)
    if args.quick:
        args.limit, args.ssl_epochs, args.ssl_width, args.judge_epochs = 64, 1, 4, 1
        args.epochs, args.batch_size, args.channels, args.eval_images = 1, 16, "8,16,16", 8
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    command = shlex.join(["python", "scripts/train_bundled_generator.py", *(argv or sys.argv[1:])])

    import torch

    from engine.augment.datasets import BUNDLED, load_augment_data
    from engine.augment.generator_jobs import train_encoder
    from engine.augment.instance_diffusion import (
        InstanceDiffusionConfig,
        describe,
        save_grid_png,
        train_instance_diffusion,
    )
    from engine.augment.judge import train_judge

    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    data = load_augment_data(BUNDLED, limit=args.limit, seed=args.seed)
    images = torch.tensor(data.train.images)  # a copy: the loaded arrays are read-only
    timings: dict[str, float] = {}

    def say(message: str) -> None:
        print(message, flush=True)

    started = time.perf_counter()
    say(f"1/3 SimCLR encoder: {args.ssl_epochs} epochs on {len(images)} images")
    ssl = train_encoder(
        images,
        epochs=args.ssl_epochs,
        width=args.ssl_width,
        batch_size=args.ssl_batch_size,
        seed=args.seed,
        device=args.device,
        on_epoch=lambda e, loss: say(f"  encoder epoch {e}: loss {loss:.4f}"),
    )
    timings["encoder_s"] = time.perf_counter() - started

    started = time.perf_counter()
    say(f"2/3 judge: {args.judge_epochs} epochs")
    judge = train_judge(data.train, epochs=args.judge_epochs, seed=args.seed, device=args.device)
    judge.save(out / "judge")
    test_images = torch.tensor(data.test.images)
    judge_accuracy = judge.accuracy(test_images, torch.tensor(data.test.labels))
    timings["judge_s"] = time.perf_counter() - started
    say(f"  judge test accuracy {judge_accuracy:.3f}")

    precision = args.precision
    if precision == "auto":
        # On a CPU, even with AMX, bf16 training of this small UNet was slower than fp32 (57 against 39
        # CPU-seconds per 6,000 images); sampling is where bf16 pays there.
        precision = "bf16" if args.device.startswith("cuda") else "fp32"
    config = InstanceDiffusionConfig(
        image_channels=int(images.shape[1]),
        image_size=int(images.shape[2]),
        block_out_channels=tuple(int(c) for c in args.channels.split(",")),
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        precision=precision,
    )
    started = time.perf_counter()
    say(f"3/3 generator: {args.epochs} epochs, {precision}")

    def on_epoch(epoch: int, loss: float, grid: torch.Tensor) -> None:
        save_grid_png(grid, out / "samples.png")
        say(f"  generator epoch {epoch}: loss {loss:.4f} ({time.perf_counter() - started:.0f} s)")

    provenance = {
        "command": command,
        "data": {"dataset": data.name, "images": len(images), "source": data.train.source,
                 "licence": "Fashion-MNIST, MIT licence (Zalando Research)"},
        "encoder_origin": f"SimCLR, {args.ssl_epochs} epochs, width {args.ssl_width}, blocks (1, 1, 1)",
    }  # fmt: skip
    model = train_instance_diffusion(
        images, ssl.backbone, config, device=args.device, on_epoch=on_epoch, meta=provenance
    )
    timings["generator_s"] = time.perf_counter() - started
    model.save(out)

    # How faithful the views are: the judge's label for views of held-out test images.
    n = min(args.eval_images, len(test_images))
    views = model.sample(test_images[:n], 4, seed=args.seed)
    labels = torch.tensor(data.test.labels[:n])
    predicted, _ = judge.predict(views.flatten(0, 1))
    label_kept = float((torch.as_tensor(predicted).view(n, 4) == labels[:, None]).float().mean())
    source_predicted, _ = judge.predict(test_images[:n])
    judge_on_sources = float((torch.as_tensor(source_predicted) == labels).float().mean())
    figures = {
        "judge_test_accuracy": judge_accuracy,
        "views_label_kept": label_kept,
        "judge_accuracy_on_the_same_sources": judge_on_sources,
        "eval_images": n,
        "generator_epoch_losses": [round(e["loss"], 5) for e in model.meta["epochs"]],
        "seconds_per_generator_epoch": [round(e["seconds"], 1) for e in model.meta["epochs"]],
        **{k: round(v, 1) for k, v in timings.items()},
    }
    say(json.dumps(figures, indent=2))
    machine = (
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, device {args.device}, "
        f"{torch.get_num_threads()} threads"
    )
    (out / "PROVENANCE.txt").write_text(
        "Fashion-MNIST generator, encoder and judge trained by Lantern on the bundled subset of\n"
        "Fashion-MNIST "
        "(assets/demo/fashion-mnist-subset.npz; MIT licence, Zalando Research).\n"
        f"Command: {command}\nMachine: {machine}\n"
    )
    (out / "README.md").write_text(
        "# Bundled Fashion-MNIST generator\n\n"
        'Lantern\'s instance-conditioned diffusion generator (`lantern` generator, checkpoint "bundled"):\n'
        f"{describe(model)}; condition: the frozen SimCLR encoder in encoder.safetensors; the judge that\n"
        "scores views is in judge/.\n\n"
        f"Made by:\n\n    {command}\n\non {machine}.\n\n"
        f"Settings: {json.dumps(config.to_dict())}\n\n"
        "Figures (views: 4 per test image, DDIM 10 steps, guidance 1):\n\n"
        + "".join(f"- {k}: {v}\n" for k, v in figures.items())
        + "\nsamples.png: each row a training image, then views sampled after the last epoch.\n"
    )
    say(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
