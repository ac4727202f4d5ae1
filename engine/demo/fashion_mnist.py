"""Fashion-MNIST: an IDX file reader, the full Debian set, and the bundled class-balanced demo subset."""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.core import paths
from engine.core.errors import LanternError

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
IMAGE_SIZE = 28
DEBIAN_FOLDER = Path("/usr/share/datasets/fashion-mnist")
DEBIAN_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
DEMO_FILE = "fashion-mnist-subset.npz"
DEMO_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
LICENCE_LINE = "Fashion-MNIST, Copyright (c) 2017 Zalando SE, MIT licence"

# IDX type codes (third magic byte) -> big-endian numpy dtype, as defined by the MNIST file format.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_HINT = (
    "use an IDX file as published (e.g. Debian's dataset-fashion-mnist), re-download it if it is damaged"
)


@dataclass(frozen=True)
class FashionMNIST:
    """Images (uint8, [N, 28, 28]) and labels (int64, [N]) of a train and a test split."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    source: str


def _read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it is a gzip file (recognised by its magic, not its name)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise LanternError("the IDX file does not exist", str(path), "check the path") from exc
    except OSError as exc:
        raise LanternError(
            f"the IDX file cannot be read ({exc.strerror})", str(path), "check permissions"
        ) from exc
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise LanternError(
            f"the gzip-compressed IDX file is damaged or truncated ({exc})", str(path), _IDX_HINT
        ) from exc


def read_idx(path: Path | str) -> np.ndarray:
    """Read an IDX file (plain or gzipped) into a native-endian array, checking magic number and size."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise LanternError(
            f"the IDX file is too short to hold a header ({len(data)} bytes)", str(path), _IDX_HINT
        )
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code not in IDX_DTYPES or not 1 <= ndim <= 4:
        raise LanternError(
            f"not an IDX file: bad magic number 0x{data[:4].hex()}",
            str(path),
            "an IDX file starts with 00 00, a type code (08 for uint8) and the number of dimensions; "
            + _IDX_HINT,
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise LanternError(
            f"the IDX header is truncated ({len(data)} of {header_size} bytes)", str(path), _IDX_HINT
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    dtype = IDX_DTYPES[type_code]
    expected = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        state = "truncated" if len(data) < expected else "longer than its header says"
        raise LanternError(
            f"the IDX file is {state}: its header declares shape {shape} ({expected} bytes) "
            f"but it holds {len(data)} bytes",
            str(path),
            _IDX_HINT,
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def _check_split(images: np.ndarray, labels: np.ndarray, where: str) -> None:
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or images.dtype != np.uint8:
        raise LanternError(
            f"expected uint8 images of shape [N, 28, 28], got {images.dtype} {list(images.shape)}",
            where,
            "use the Fashion-MNIST image files (idx3-ubyte)",
        )
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise LanternError(
            f"{labels.shape[0] if labels.ndim else 0} labels for {images.shape[0]} images",
            where,
            "pair each image file with its own label file (train with train, t10k with t10k)",
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise LanternError(
            f"labels must lie in 0..{len(CLASS_NAMES) - 1}, found {int(labels.min())}..{int(labels.max())}",
            where,
            "use the Fashion-MNIST label files (idx1-ubyte)",
        )


def load_full(folder: Path | str = DEBIAN_FOLDER) -> FashionMNIST:
    """The full Fashion-MNIST (60,000 train, 10,000 test) from a folder of the four published files."""
    folder = Path(folder)
    arrays = {key: read_idx(folder / name) for key, name in DEBIAN_FILES.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        _check_split(images, labels, str(folder / DEBIAN_FILES[f"{split}_images"]))
        arrays[f"{split}_labels"] = labels.astype(np.int64)
    return FashionMNIST(**arrays, class_names=CLASS_NAMES, source=f"Fashion-MNIST (full) from {folder}")


def demo_path() -> Path:
    return paths.assets_dir() / "demo" / DEMO_FILE


@lru_cache(maxsize=1)
def load_demo() -> FashionMNIST:
    """The bundled subset (6,000 train, 1,000 test, class-balanced); arrays are read-only and shared."""
    path = demo_path()
    hint = "rebuild it with: python scripts/make_demo_subset.py"
    if not path.is_file():
        raise LanternError("the bundled Fashion-MNIST subset is missing", str(path), hint)
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in DEMO_KEYS if key not in archive.files]
            if missing:
                raise LanternError(f"the demo subset lacks {', '.join(missing)}", str(path), hint)
            arrays = {key: archive[key] for key in DEMO_KEYS}
    except LanternError:
        raise
    except (OSError, ValueError, EOFError, zlib.error) as exc:
        raise LanternError(f"the demo subset cannot be read ({exc})", str(path), hint) from exc
    for split in ("train", "test"):
        _check_split(arrays[f"{split}_images"], arrays[f"{split}_labels"], str(path))
        arrays[f"{split}_labels"] = arrays[f"{split}_labels"].astype(np.int64)
    for array in arrays.values():
        array.flags.writeable = False
    return FashionMNIST(
        **arrays,
        class_names=CLASS_NAMES,
        source=f"{path.name}: class-balanced subset of Fashion-MNIST (Debian dataset-fashion-mnist); "
        + LICENCE_LINE,
    )
