"""SQLAlchemy 2.0 models for everything a user makes: workspaces, datasets, runs, metrics, artifacts, jobs."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class MetricValue(TypeDecorator[float]):
    """A float column that keeps NaN on SQLite too.

    SQLite turns a NaN parameter into NULL (which the NOT NULL column refuses), so a diverged loss would
    crash the run; there NaN is stored as the text 'NaN' (a REAL column keeps non-numeric text as is).
    PostgreSQL stores NaN natively. The schema is a plain FLOAT either way.
    """

    impl = Float
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # Replaces Float's own SQLite processor, which would turn the text back into a NaN float.
        def process(value: float | None) -> float | str | None:
            if value is None:
                return None
            number = float(value)
            return "NaN" if math.isnan(number) else number

        return process

    def process_result_value(self, value: float | str | None, dialect: Dialect) -> float | None:
        return float(value) if isinstance(value, str) else value


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(50))  # augment, annotate, relational, attribution, general
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_dataset_name_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int | None] = mapped_column(ForeignKey("workspaces.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    kind: Mapped[str] = mapped_column(String(50))  # images, ner-corpus, text, ...
    source: Mapped[str] = mapped_column(Text, default="")  # provenance: path, package, URL
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Job(Base):
    """A unit of engine work run in a worker process; its state survives the app and the worker."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))  # registered job name, e.g. "demo.train_classifier"
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)  # validated params
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(200))
    progress_done: Mapped[float] = mapped_column(Float, default=0.0)
    progress_total: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    resume_of: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    runs: Mapped[list[Run]] = relationship(back_populates="job")


class Run(Base):
    """One training or evaluation run: its config, where it ran, how it went."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int | None] = mapped_column(ForeignKey("workspaces.id", ondelete="SET NULL"))
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id", ondelete="SET NULL"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(100))  # e.g. "demo.classifier"
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    device: Mapped[str] = mapped_column(String(50), default="cpu")
    device_name: Mapped[str] = mapped_column(String(200), default="")
    dtype: Mapped[str] = mapped_column(String(20), default="float32")
    seed: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="running", index=True)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)  # final metrics
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    duration_s: Mapped[float | None] = mapped_column(Float)

    job: Mapped[Job | None] = relationship(back_populates="runs")
    metrics: Mapped[list[MetricPoint]] = relationship(back_populates="run", cascade="all, delete-orphan")
    artifacts: Mapped[list[Artifact]] = relationship(back_populates="run")


class MetricPoint(Base):
    """One point of a metric series: (run, name, step) -> value."""

    __tablename__ = "metric_points"
    __table_args__ = (Index("ix_metric_run_name_step", "run_id", "name", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    step: Mapped[float] = mapped_column(Float)
    value: Mapped[float] = mapped_column(MetricValue)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    run: Mapped[Run] = relationship(back_populates="metrics")


class Artifact(Base):
    """A file in the artifacts folder, addressed by the SHA-256 of its content."""

    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(50))  # checkpoint, figure, table, ...
    name: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    relpath: Mapped[str] = mapped_column(Text)  # relative to the artifacts folder
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    run: Mapped[Run | None] = relationship(back_populates="artifacts")


JOB_STATES = ("queued", "running", "cancelling", "cancelled", "failed", "done", "interrupted")
ACTIVE_JOB_STATES = ("queued", "running", "cancelling")
RUN_STATES = ("running", "done", "failed", "cancelled", "interrupted")


class NerCorpus(Base):
    """A corpus for NER annotation: its sentences, the label set, where it came from."""

    __tablename__ = "ner_corpora"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class NerSentence(Base):
    """One sentence: tokens, gold tags when the corpus came with them, and its split ('pool' or 'test')."""

    __tablename__ = "ner_sentences"
    __table_args__ = (
        UniqueConstraint("corpus_id", "position", name="uq_ner_sentence_position"),
        Index("ix_ner_sentences_corpus_split", "corpus_id", "split"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    corpus_id: Mapped[int] = mapped_column(ForeignKey("ner_corpora.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    tokens: Mapped[list[str]] = mapped_column(JSON)
    gold_tags: Mapped[list[str] | None] = mapped_column(JSON)
    split: Mapped[str] = mapped_column(String(10))
    n_words: Mapped[int] = mapped_column(Integer)


class NerAnnotator(Base):
    __tablename__ = "ner_annotators"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class NerAnnotation(Base):
    """An accepted sentence: one annotator's tags (at most one row per sentence and annotator)."""

    __tablename__ = "ner_annotations"
    __table_args__ = (
        UniqueConstraint("sentence_id", "annotator_id", name="uq_ner_annotation_sentence_annotator"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sentence_id: Mapped[int] = mapped_column(ForeignKey("ner_sentences.id", ondelete="CASCADE"), index=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("ner_annotators.id", ondelete="CASCADE"), index=True)
    tags: Mapped[list[str]] = mapped_column(JSON)
    accepted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class NerLease(Base):
    """A sentence handed to an annotator until `expires_at`; at most one lease per sentence."""

    __tablename__ = "ner_leases"

    sentence_id: Mapped[int] = mapped_column(
        ForeignKey("ner_sentences.id", ondelete="CASCADE"), primary_key=True
    )
    annotator_id: Mapped[int] = mapped_column(ForeignKey("ner_annotators.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class NerSkip(Base):
    __tablename__ = "ner_skips"

    sentence_id: Mapped[int] = mapped_column(
        ForeignKey("ner_sentences.id", ondelete="CASCADE"), primary_key=True
    )
    annotator_id: Mapped[int] = mapped_column(
        ForeignKey("ner_annotators.id", ondelete="CASCADE"), primary_key=True
    )
    skipped_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class NerPrediction(Base):
    """The latest prediction for a sentence (one row per sentence, replaced by each new model)."""

    __tablename__ = "ner_predictions"

    sentence_id: Mapped[int] = mapped_column(
        ForeignKey("ner_sentences.id", ondelete="CASCADE"), primary_key=True
    )
    model_version: Mapped[str] = mapped_column(String(200))
    score: Mapped[float] = mapped_column(Float, index=True)  # acquisition score: higher = ask sooner
    tags: Mapped[list[str]] = mapped_column(JSON)
    confidences: Mapped[list[float]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class NerState(Base):
    """Where an annotator left off in a corpus (tagger, acquisition, current sentence, checkpoint)."""

    __tablename__ = "ner_states"

    corpus_id: Mapped[int] = mapped_column(ForeignKey("ner_corpora.id", ondelete="CASCADE"), primary_key=True)
    annotator_id: Mapped[int] = mapped_column(
        ForeignKey("ner_annotators.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AttributionReplicate(Base):
    """One trained model of an attribution experiment: its manipulation, sweep point, accuracy and verdict."""

    __tablename__ = "attribution_replicates"
    __table_args__ = (
        UniqueConstraint(
            "run_id", "manipulation", "strength", "r", "replicate", name="uq_attribution_replicate_key"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    manipulation: Mapped[str] = mapped_column(String(100))
    strength: Mapped[float] = mapped_column(Float)
    r: Mapped[float] = mapped_column(Float)
    replicate: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(200))
    val_accuracy: Mapped[float] = mapped_column(MetricValue)
    test_accuracy: Mapped[float | None] = mapped_column(MetricValue)
    p_star: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column()
    epochs: Mapped[int] = mapped_column(Integer)
    dropped: Mapped[int] = mapped_column(Integer, default=0)  # base samples the manipulation could not carry
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AttributionScore(Base):
    """The mean of one metric over one replicate's explained samples, for one method and condition."""

    __tablename__ = "attribution_scores"
    __table_args__ = (Index("ix_attribution_scores_run_metric", "run_id", "metric", "condition"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    replicate_id: Mapped[int] = mapped_column(
        ForeignKey("attribution_replicates.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[str] = mapped_column(String(100))
    metric: Mapped[str] = mapped_column(String(100))
    condition: Mapped[str] = mapped_column(String(20))  # presence, absence or all
    mean: Mapped[float] = mapped_column(MetricValue)
    n: Mapped[int] = mapped_column(Integer)
    region_share: Mapped[float] = mapped_column(MetricValue)  # the random baseline of these samples
    aggregation: Mapped[str] = mapped_column(String(100), default="")


# Tables defined beside their workspace's code join this Base here, so that alembic, open_store and the
# schema tests always see the whole schema. A plain module import: it tolerates either import order.
import engine.augment.models  # noqa: E402, F401
