"""Build assets/demo/fashion-mnist-subset.npz and its PROVENANCE.txt from Debian's Fashion-MNIST files.

The subset is class-balanced (600 train images per class from the train file, 100 test images per class
from t10k), chosen with numpy's default_rng(0) and shuffled, so any prefix is close to balanced too.
The npz is written byte-for-byte reproducibly: numpy's savez_compressed format with fixed zip timestamps.

    .venv/bin/python scripts/make_demo_subset.py [--source /usr/share/datasets/fashion-mnist]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.demo.fashion_mnist import (  # noqa: E402 - the repo root must be importable first
    CLASS_NAMES,
    DEBIAN_FILES,
    DEBIAN_FOLDER,
    DEMO_FILE,
    LICENCE_LINE,
    load_full,
)

SEED = 0
TRAIN_PER_CLASS = 600
TEST_PER_CLASS = 100
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest zip date: a fixed stamp makes the file reproducible


def balanced_indices(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """`per_class` indices of each class, drawn without replacement, then shuffled across classes."""
    chosen = [
        np.sort(rng.choice(np.flatnonzero(labels == c), size=per_class, replace=False))
        for c in range(len(CLASS_NAMES))
    ]
    return rng.permutation(np.concatenate(chosen))


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """The format np.savez_compressed writes (one deflated .npy per array), without its wall-clock stamps."""
    tmp = path.with_suffix(".npz.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue(), compresslevel=9)
    tmp.replace(path)


def provenance_text(npz: Path, digest: str, source: Path) -> str:
    files = ", ".join(DEBIAN_FILES.values())
    return f"""Fashion-MNIST demo subset
=========================

File: {npz.name}
sha256: {digest}
size: {npz.stat().st_size} bytes

Source: Debian package dataset-fashion-mnist (0.0~git20200523.55506a9-1), folder {source}
Files read: {files}
Upstream: https://github.com/zalandoresearch/fashion-mnist (Zalando Research)
Licence: {LICENCE_LINE}

Selection: class-balanced. numpy.random.default_rng({SEED}); for each class 0..9 in order,
{TRAIN_PER_CLASS} indices drawn without replacement from train-images-idx3-ubyte (6,000 in all),
then the concatenation shuffled with the same generator; then {TEST_PER_CLASS} per class from
t10k-images-idx3-ubyte (1,000 in all), drawn and shuffled the same way.

Arrays: train_images uint8 [6000, 28, 28], train_labels uint8 [6000], test_images uint8 [1000, 28, 28],
test_labels uint8 [1000], train_source_index / test_source_index int32 (row in the source file),
class_names str [10].

Rebuild (byte-identical): .venv/bin/python scripts/make_demo_subset.py
"""


def build(source: Path, out_dir: Path) -> tuple[Path, str]:
    full = load_full(source)
    rng = np.random.default_rng(SEED)
    train_index = balanced_indices(full.train_labels, TRAIN_PER_CLASS, rng)
    test_index = balanced_indices(full.test_labels, TEST_PER_CLASS, rng)
    arrays = {
        "train_images": full.train_images[train_index],
        "train_labels": full.train_labels[train_index].astype(np.uint8),
        "test_images": full.test_images[test_index],
        "test_labels": full.test_labels[test_index].astype(np.uint8),
        "train_source_index": train_index.astype(np.int32),
        "test_source_index": test_index.astype(np.int32),
        "class_names": np.array(CLASS_NAMES, dtype=np.str_),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    npz = out_dir / DEMO_FILE
    write_npz(npz, arrays)
    digest = hashlib.sha256(npz.read_bytes()).hexdigest()
    (out_dir / "PROVENANCE.txt").write_text(provenance_text(npz, digest, source), encoding="utf-8")
    return npz, digest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEBIAN_FOLDER, help="folder of the four .gz files")
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "demo", help="where to write")
    args = parser.parse_args(argv)
    npz, digest = build(args.source, args.out)
    print(f"{npz} {npz.stat().st_size} bytes sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
