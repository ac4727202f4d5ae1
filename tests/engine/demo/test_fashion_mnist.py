"""The IDX reader on the real Debian files and on broken ones, and the bundled demo subset."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from engine.core.errors import LanternError
from engine.demo.fashion_mnist import (
    CLASS_NAMES,
    DEBIAN_FOLDER,
    LICENCE_LINE,
    demo_path,
    load_demo,
    load_full,
    read_idx,
)

ROOT = Path(__file__).resolve().parents[3]
T10K_IMAGES = DEBIAN_FOLDER / "t10k-images-idx3-ubyte.gz"
T10K_LABELS = DEBIAN_FOLDER / "t10k-labels-idx1-ubyte.gz"
needs_debian = pytest.mark.skipif(
    not T10K_IMAGES.exists(), reason="Debian's dataset-fashion-mnist is not installed (apt-get install it)"
)


def assert_clear_error(error: LanternError, path: Path, *words: str) -> None:
    assert error.where == str(path)
    assert error.hint
    for word in words:
        assert word in error.what, error.what


@needs_debian
def test_read_idx_reads_the_real_t10k_files():
    images = read_idx(T10K_IMAGES)
    labels = read_idx(T10K_LABELS)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [1000] * 10
    raw = gzip.decompress(T10K_IMAGES.read_bytes())
    assert raw[:4] == b"\x00\x00\x08\x03"  # images: 16-byte header (magic 2051 and three sizes)
    assert np.array_equal(images.reshape(-1), np.frombuffer(raw, np.uint8, offset=16))


@needs_debian
def test_load_full_reads_all_70000_images():
    full = load_full()
    assert full.train_images.shape == (60000, 28, 28)
    assert full.test_images.shape == (10000, 28, 28)
    assert np.bincount(full.train_labels).tolist() == [6000] * 10
    assert full.class_names == CLASS_NAMES


def test_read_idx_reads_plain_files_of_other_types(tmp_path: Path):
    values = (np.arange(12).reshape(3, 4) - 5).astype(">i4")  # big-endian, as IDX stores it
    path = tmp_path / "ints.idx"
    path.write_bytes(b"\x00\x00\x0c\x02" + struct.pack(">II", 3, 4) + values.tobytes())
    array = read_idx(path)
    assert array.dtype == np.int32 and array.dtype.isnative
    assert np.array_equal(array, values)


def test_bad_magic_number_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "images.idx"
    path.write_bytes(b"\x50\x4b\x03\x04" + bytes(100))  # a zip file, not IDX
    with pytest.raises(LanternError) as caught:
        read_idx(path)
    assert_clear_error(caught.value, path, "bad magic number", "504b0304")


def test_unknown_type_code_is_a_bad_magic_number(tmp_path: Path):
    path = tmp_path / "images.idx"
    path.write_bytes(b"\x00\x00\x07\x01" + struct.pack(">I", 4) + bytes(4))
    with pytest.raises(LanternError) as caught:
        read_idx(path)
    assert_clear_error(caught.value, path, "bad magic number")


def test_truncated_data_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "labels.idx"
    path.write_bytes(b"\x00\x00\x08\x01" + struct.pack(">I", 100) + bytes(60))
    with pytest.raises(LanternError) as caught:
        read_idx(path)
    assert_clear_error(caught.value, path, "truncated", "(100,)", "68 bytes")


def test_trailing_bytes_are_an_error(tmp_path: Path):
    path = tmp_path / "labels.idx"
    path.write_bytes(b"\x00\x00\x08\x01" + struct.pack(">I", 4) + bytes(5))
    with pytest.raises(LanternError) as caught:
        read_idx(path)
    assert_clear_error(caught.value, path, "longer than its header says")


def test_truncated_header_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "images.idx"
    path.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">I", 10))
    with pytest.raises(LanternError) as caught:
        read_idx(path)
    assert_clear_error(caught.value, path, "header is truncated")


@needs_debian
def test_truncated_gzip_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    data = T10K_LABELS.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(LanternError) as caught:
        read_idx(path)
    assert_clear_error(caught.value, path, "damaged or truncated")


def test_missing_file_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "absent.idx"
    with pytest.raises(LanternError) as caught:
        read_idx(path)
    assert_clear_error(caught.value, path, "does not exist")


def test_load_full_rejects_labels_of_the_wrong_split(tmp_path: Path):
    for name, header, body in [
        ("train-images-idx3-ubyte.gz", b"\x00\x00\x08\x03" + struct.pack(">III", 3, 28, 28), bytes(3 * 784)),
        ("train-labels-idx1-ubyte.gz", b"\x00\x00\x08\x01" + struct.pack(">I", 3), bytes(3)),
        ("t10k-images-idx3-ubyte.gz", b"\x00\x00\x08\x03" + struct.pack(">III", 2, 28, 28), bytes(2 * 784)),
        ("t10k-labels-idx1-ubyte.gz", b"\x00\x00\x08\x01" + struct.pack(">I", 3), bytes(3)),
    ]:
        (tmp_path / name).write_bytes(gzip.compress(header + body))
    with pytest.raises(LanternError) as caught:
        load_full(tmp_path)
    assert "3 labels for 2 images" in caught.value.what
    assert caught.value.where.endswith("t10k-images-idx3-ubyte.gz")


def test_demo_subset_is_class_balanced_with_the_stated_counts():
    demo = load_demo()
    assert demo.train_images.shape == (6000, 28, 28) and demo.train_images.dtype == np.uint8
    assert demo.test_images.shape == (1000, 28, 28) and demo.test_images.dtype == np.uint8
    assert np.bincount(demo.train_labels, minlength=10).tolist() == [600] * 10
    assert np.bincount(demo.test_labels, minlength=10).tolist() == [100] * 10
    assert demo.class_names == CLASS_NAMES and len(CLASS_NAMES) == 10
    assert LICENCE_LINE in demo.source
    # Shuffled across classes, so that train_limit prefixes stay close to balanced.
    first = np.bincount(demo.train_labels[:1000], minlength=10)
    assert first.min() >= 70 and first.max() <= 130
    assert not demo.train_images.flags.writeable  # shared between callers: nobody may edit it


def test_demo_subset_matches_its_provenance():
    provenance = (demo_path().parent / "PROVENANCE.txt").read_text(encoding="utf-8")
    recorded = re.search(r"^sha256: ([0-9a-f]{64})$", provenance, re.MULTILINE)
    assert recorded is not None
    assert hashlib.sha256(demo_path().read_bytes()).hexdigest() == recorded.group(1)
    assert LICENCE_LINE in provenance
    assert "dataset-fashion-mnist" in provenance
    assert 3_000_000 <= demo_path().stat().st_size <= 5_000_000


@needs_debian
def test_demo_subset_rows_are_the_source_rows_and_the_script_rebuilds_it_byte_for_byte(tmp_path: Path):
    full = load_full()
    with np.load(demo_path(), allow_pickle=False) as archive:
        train_index, test_index = archive["train_source_index"], archive["test_source_index"]
    demo = load_demo()
    assert len(set(train_index.tolist())) == 6000 and len(set(test_index.tolist())) == 1000
    assert np.array_equal(demo.train_images, full.train_images[train_index])
    assert np.array_equal(demo.train_labels, full.train_labels[train_index])
    assert np.array_equal(demo.test_images, full.test_images[test_index])

    spec = importlib.util.spec_from_file_location(
        "make_demo_subset", ROOT / "scripts" / "make_demo_subset.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    rebuilt, digest = script.build(DEBIAN_FOLDER, tmp_path)
    assert rebuilt.read_bytes() == demo_path().read_bytes()
    assert digest == hashlib.sha256(demo_path().read_bytes()).hexdigest()
    assert (tmp_path / "PROVENANCE.txt").read_text() == (demo_path().parent / "PROVENANCE.txt").read_text()
