"""Artifacts: files in the artifacts folder, stored once per content hash and indexed in the database."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from engine.core.errors import ArtifactMissing, StoreError
from engine.store.models import Artifact
from engine.store.records import ArtifactRecord

if TYPE_CHECKING:
    from engine.store.database import Store


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _record(artifact: Artifact) -> ArtifactRecord:
    return ArtifactRecord(
        id=artifact.id,
        run_id=artifact.run_id,
        kind=artifact.kind,
        name=artifact.name,
        sha256=artifact.sha256,
        size=artifact.size,
        relpath=artifact.relpath,
        meta=dict(artifact.meta or {}),
        created_at=artifact.created_at,
    )


class ArtifactRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def root(self) -> Path:
        return self._store.artifacts_dir

    def add(
        self,
        source: Path,
        *,
        kind: str,
        name: str | None = None,
        run_id: int | None = None,
        meta: dict[str, Any] | None = None,
    ) -> ArtifactRecord:
        """Copy a file into the content-addressed folder (once per hash) and index it."""
        source = Path(source)
        if not source.is_file():
            raise StoreError(f"no file to store as an artifact: {source}", str(source), "check the path")
        digest = sha256_of(source)
        suffix = "".join(source.suffixes)[-20:]
        relpath = f"{digest[:2]}/{digest}{suffix}"
        target = self.root / relpath
        if not target.exists() or sha256_of(target) != digest:
            target.parent.mkdir(parents=True, exist_ok=True)
            # Copy then rename, so a crash never leaves a half-written file under a valid hash name.
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
            os.close(fd)
            try:
                shutil.copyfile(source, tmp)
                os.replace(tmp, target)
            except OSError as exc:
                Path(tmp).unlink(missing_ok=True)
                raise StoreError(
                    f"the artifact file could not be stored ({exc.strerror or exc})",
                    str(target),
                    "free disk space or check the artifacts folder's permissions",
                ) from exc
        with self._store.session() as session:
            artifact = Artifact(
                run_id=run_id,
                kind=kind,
                name=name or source.name,
                sha256=digest,
                size=target.stat().st_size,
                relpath=relpath,
                meta=meta or {},
            )
            session.add(artifact)
            session.flush()
            return _record(artifact)

    def get(self, artifact_id: int) -> ArtifactRecord | None:
        with self._store.session() as session:
            artifact = session.get(Artifact, artifact_id)
            return _record(artifact) if artifact else None

    def for_run(self, run_id: int, kind: str | None = None) -> list[ArtifactRecord]:
        query = select(Artifact).where(Artifact.run_id == run_id).order_by(Artifact.id)
        if kind:
            query = query.where(Artifact.kind == kind)
        with self._store.session() as session:
            return [_record(a) for a in session.scalars(query)]

    def path(self, artifact: ArtifactRecord | int, verify: bool = False) -> Path:
        """The artifact's file; ArtifactMissing if it was deleted, or changed behind the store's back.

        A changed size is always caught; `verify` also re-hashes the content to catch same-size edits.
        """
        record = self.get(artifact) if isinstance(artifact, int) else artifact
        if record is None:
            raise ArtifactMissing(
                f"artifact {artifact} is not in the store",
                self._store.display_url,
                "pick an existing artifact",
            )
        target = self.root / record.relpath
        if not target.is_file():
            raise ArtifactMissing(
                f"the file of artifact '{record.name}' (#{record.id}) is missing",
                str(target),
                "restore the file from a backup, or re-run the job that produced it",
            )
        if target.stat().st_size != record.size or (verify and sha256_of(target) != record.sha256):
            raise ArtifactMissing(
                f"the file of artifact '{record.name}' (#{record.id}) was changed after it was stored",
                str(target),
                "restore the original file, or re-run the job that produced it",
            )
        return target
