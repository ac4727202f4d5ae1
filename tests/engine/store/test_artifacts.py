"""Artifacts on both backends: content-addressed files, one copy per hash, and files gone behind our back."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from engine.core.device import DeviceChoice
from engine.core.errors import ArtifactMissing, StoreError
from engine.store import Store
from engine.store.artifacts import sha256_of

CPU = DeviceChoice("cpu", "float32", "test CPU")


def _file(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def _stored_files(store: Store) -> list[Path]:
    return sorted(p for p in store.artifacts_dir.rglob("*") if p.is_file())


def test_an_artifact_is_copied_under_its_hash_and_indexed(any_store: Store, tmp_path: Path) -> None:
    data = b"weights" * 1000
    source = _file(tmp_path / "out", "model.safetensors", data)
    run_id = any_store.runs.create(name="r", kind="k", config={}, device=CPU)
    record = any_store.artifacts.add(source, kind="checkpoint", run_id=run_id, meta={"epoch": 2})
    digest = hashlib.sha256(data).hexdigest()
    assert (record.sha256, record.size, record.name, record.kind) == (
        digest,
        len(data),
        "model.safetensors",
        "checkpoint",
    )
    assert record.relpath == f"{digest[:2]}/{digest}.safetensors"
    assert record.meta == {"epoch": 2} and record.run_id == run_id
    stored = any_store.artifacts.path(record, verify=True)
    assert stored == any_store.artifacts_dir / record.relpath
    assert stored.read_bytes() == data
    source.unlink()  # the store keeps its own copy
    assert any_store.artifacts.path(record.id).read_bytes() == data
    assert any_store.artifacts.get(record.id) == record


def test_the_same_bytes_twice_make_one_file_and_two_rows(any_store: Store, tmp_path: Path) -> None:
    data = os.urandom(4096)
    first = any_store.artifacts.add(_file(tmp_path / "a", "figure.png", data), kind="figure", name="epoch 1")
    second = any_store.artifacts.add(_file(tmp_path / "b", "figure.png", data), kind="figure", name="epoch 2")
    assert first.id != second.id
    assert (first.sha256, first.relpath) == (second.sha256, second.relpath)
    assert (first.name, second.name) == ("epoch 1", "epoch 2")
    assert _stored_files(any_store) == [any_store.artifacts_dir / first.relpath]
    other = any_store.artifacts.add(_file(tmp_path / "c", "figure.png", data + b"!"), kind="figure")
    assert len(_stored_files(any_store)) == 2
    assert other.sha256 != first.sha256


def test_for_run_lists_a_runs_artifacts_optionally_by_kind(any_store: Store, tmp_path: Path) -> None:
    run_id = any_store.runs.create(name="r", kind="k", config={}, device=CPU)
    checkpoint = any_store.artifacts.add(_file(tmp_path, "c.pt", b"c"), kind="checkpoint", run_id=run_id)
    figure = any_store.artifacts.add(_file(tmp_path, "f.png", b"f"), kind="figure", run_id=run_id)
    any_store.artifacts.add(_file(tmp_path, "x.png", b"x"), kind="figure")
    assert [a.id for a in any_store.artifacts.for_run(run_id)] == [checkpoint.id, figure.id]
    assert [a.id for a in any_store.artifacts.for_run(run_id, kind="figure")] == [figure.id]
    assert any_store.artifacts.for_run(run_id + 1000) == []


def test_a_deleted_file_is_artifact_missing_with_what_to_do(any_store: Store, tmp_path: Path) -> None:
    record = any_store.artifacts.add(_file(tmp_path, "model.pt", b"abc" * 100), kind="checkpoint")
    stored = any_store.artifacts_dir / record.relpath
    stored.unlink()
    with pytest.raises(ArtifactMissing) as caught:
        any_store.artifacts.path(record)
    error = caught.value
    assert error.what == f"the file of artifact 'model.pt' (#{record.id}) is missing"
    assert error.where == str(stored)
    assert "re-run the job" in error.hint
    assert isinstance(error, StoreError)


def test_a_file_changed_in_size_is_caught_on_every_read(any_store: Store, tmp_path: Path) -> None:
    record = any_store.artifacts.add(_file(tmp_path, "table.csv", b"a,b\n1,2\n"), kind="table")
    stored = any_store.artifacts_dir / record.relpath
    stored.write_bytes(b"a,b\n1,2\n3,4\n")
    with pytest.raises(ArtifactMissing, match=r"was changed after it was stored") as caught:
        any_store.artifacts.path(record)
    assert caught.value.where == str(stored)
    assert "restore the original file" in caught.value.hint


def test_a_same_size_change_is_caught_when_verifying(any_store: Store, tmp_path: Path) -> None:
    record = any_store.artifacts.add(_file(tmp_path, "model.pt", b"0123456789"), kind="checkpoint")
    stored = any_store.artifacts_dir / record.relpath
    stored.write_bytes(b"9876543210")
    assert any_store.artifacts.path(record) == stored  # the cheap check (size) cannot see it
    with pytest.raises(ArtifactMissing, match="was changed after it was stored"):
        any_store.artifacts.path(record, verify=True)


def test_adding_the_same_content_again_repairs_a_damaged_copy(any_store: Store, tmp_path: Path) -> None:
    data = b"precious" * 50
    record = any_store.artifacts.add(_file(tmp_path, "m.pt", data), kind="checkpoint")
    stored = any_store.artifacts_dir / record.relpath
    stored.write_bytes(b"X" * len(data))
    any_store.artifacts.add(_file(tmp_path, "m.pt", data), kind="checkpoint")
    assert sha256_of(stored) == record.sha256
    assert any_store.artifacts.path(record, verify=True).read_bytes() == data
    assert not list(stored.parent.glob("*.part"))


def test_an_unknown_artifact_id_is_artifact_missing(any_store: Store) -> None:
    with pytest.raises(ArtifactMissing, match="artifact 999 is not in the store"):
        any_store.artifacts.path(999)
    assert any_store.artifacts.get(999) is None


def test_a_missing_source_file_is_a_store_error_and_adds_nothing(any_store: Store, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no file to store as an artifact") as caught:
        any_store.artifacts.add(tmp_path / "nothing.pt", kind="checkpoint")
    assert caught.value.where == str(tmp_path / "nothing.pt")
    with pytest.raises(StoreError):
        any_store.artifacts.add(tmp_path, kind="checkpoint")  # a folder is not a file
    assert _stored_files(any_store) == []


def test_a_failed_copy_leaves_no_partial_file(
    any_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    def disk_full(source: Path, target: str) -> None:
        Path(target).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", disk_full)
    with pytest.raises(StoreError, match="No space left on device") as caught:
        any_store.artifacts.add(_file(tmp_path, "big.pt", b"x" * 100), kind="checkpoint")
    assert "free disk space" in caught.value.hint
    assert _stored_files(any_store) == []


def test_sha256_of_matches_hashlib_across_chunks(tmp_path: Path) -> None:
    data = os.urandom((1 << 20) * 2 + 17)  # more than two read chunks
    assert sha256_of(_file(tmp_path, "blob", data)) == hashlib.sha256(data).hexdigest()
