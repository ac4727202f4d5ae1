"""NER corpora in the store: import, sentences, annotators, leases and accepts, predictions, saved state.

Every write is its own transaction, committed before the method returns. Handing out sentences is safe
across processes: on SQLite each write transaction takes the write lock at its first statement (BEGIN
IMMEDIATE); on PostgreSQL the candidate sentence row is locked with SELECT ... FOR UPDATE SKIP LOCKED and
re-checked with a fresh snapshot, and accept/skip/unaccept lock the same row, so a sentence is never
leased to two annotators at once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, delete, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core.errors import LanternError
from engine.ner.formats.schemes import labels_of, to_bio
from engine.ner.records import AnnotationRecord, CorpusRecord, Prediction
from engine.ner.types import Sentence
from engine.store.models import (
    NerAnnotation,
    NerAnnotator,
    NerCorpus,
    NerLease,
    NerPrediction,
    NerSentence,
    NerSkip,
    NerState,
    utcnow,
)

if TYPE_CHECKING:
    from engine.store.database import Store

__all__ = ["AnnotationRecord", "CorpusRecord", "NerRepository", "Prediction"]

Annotator = int | str  # an annotator's id, or a name (created on first use)
CorpusRef = int | str  # a corpus id or name
SPLITS = ("pool", "test")
WHERE = "NER corpora in the store"
# Sentence ids are spread over 100 buckets by (id * 37) % 100 (37 is prime to 100, so every 100
# consecutive ids fill every bucket once): an overlap share p hands exactly the sentences in the first
# round(100 p) buckets to a second annotator, the same ones whoever asks.
OVERLAP_STRIDE = 37
CHUNK = 500  # ids per IN (...) list


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


class NerRepository:
    """The API of NER-CONTRACT.md over a Store (SQLite or PostgreSQL)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """A write transaction. On SQLite it takes the write lock at once (BEGIN IMMEDIATE), so that what
        it reads cannot change before it writes, and a busy database is waited for (busy_timeout) rather
        than failing half-way."""
        with self._store.session() as session:
            if self._store.is_sqlite:
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            yield session

    def _insert(self, model: Any) -> Any:
        if self._store.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        return insert(model)

    def _now(self) -> Any:
        """The UTC time leases are measured by: the server's clock on PostgreSQL, so that annotators on
        several machines agree on when a lease runs out; this machine's on SQLite (one machine)."""
        if self._store.is_sqlite:
            return utcnow()
        return func.timezone("UTC", func.now())

    def _corpus_row(self, session: Session, corpus: CorpusRef) -> NerCorpus:
        if isinstance(corpus, bool) or not isinstance(corpus, int | str):
            raise LanternError(f"{corpus!r} is not a corpus id or name", WHERE, "pass a corpus id or name")
        if isinstance(corpus, int):
            row = session.get(NerCorpus, corpus)
        else:
            row = session.scalar(select(NerCorpus).where(NerCorpus.name == corpus))
        if row is None:
            names = session.scalars(select(NerCorpus.name).order_by(NerCorpus.name)).all()
            known = ", ".join(names[:10]) if names else "none yet"
            raise LanternError(
                f"there is no corpus {'named ' + repr(corpus) if isinstance(corpus, str) else corpus}",
                WHERE,
                f"import it first (corpora: {known})",
            )
        return row

    def _corpus_id(self, session: Session, corpus: CorpusRef) -> int:
        return self._corpus_row(session, corpus).id

    def _annotator(self, session: Session, annotator: Annotator) -> int:
        if isinstance(annotator, str):
            name = annotator.strip()
            if not name:
                raise LanternError("an annotator needs a name", WHERE, "give a non-empty name")
            found = session.scalar(select(NerAnnotator.id).where(NerAnnotator.name == name))
            if found is not None:
                return found
            # Two sessions may create the same name at once: the loser's insert does nothing.
            statement = self._insert(NerAnnotator).values(name=name, created_at=utcnow())
            session.execute(statement.on_conflict_do_nothing(index_elements=["name"]))
            created = session.scalar(select(NerAnnotator.id).where(NerAnnotator.name == name))
            assert created is not None  # inserted just now, or by the session that won the race
            return created
        if isinstance(annotator, bool) or not isinstance(annotator, int):
            raise LanternError(f"{annotator!r} is not an annotator id or name", WHERE, "pass an id or a name")
        if session.get(NerAnnotator, annotator) is None:
            raise LanternError(f"there is no annotator with id {annotator}", WHERE, "use annotator_id(name)")
        return annotator

    def _lock_sentence(self, session: Session, sentence_id: int) -> Any:
        """The sentence row (id, corpus_id, n_words), locked until commit on PostgreSQL (SQLite holds the
        whole database's write lock already)."""
        statement = select(NerSentence.id, NerSentence.corpus_id, NerSentence.n_words).where(
            NerSentence.id == sentence_id
        )
        if not self._store.is_sqlite:
            statement = statement.with_for_update()
        row = session.execute(statement).one_or_none()
        if row is None:
            raise LanternError(f"there is no sentence with id {sentence_id}", WHERE, "reload the corpus")
        return row

    def _take_lease(self, session: Session, sentence_id: int, annotator_id: int, lease_s: float) -> None:
        statement = self._insert(NerLease).values(
            sentence_id=sentence_id,
            annotator_id=annotator_id,
            expires_at=self._now() + timedelta(seconds=lease_s),
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["sentence_id"],
                set_={
                    "annotator_id": statement.excluded.annotator_id,
                    "expires_at": statement.excluded.expires_at,
                },
            )
        )

    def _refresh_statistics(self, *tables: str) -> None:
        """PostgreSQL plans the hand-out query from table statistics; after a bulk write they describe
        the empty table until autovacuum runs, and the plan is then several times slower."""
        if not self._store.is_sqlite:
            with self._store.engine.begin() as connection:
                for table in tables:
                    connection.exec_driver_sql(f"ANALYZE {table}")

    @staticmethod
    def _check_tags(tags: Sequence[str], n_words: int, where: str) -> tuple[str, ...]:
        tags = tuple(tags)
        if len(tags) != n_words:
            raise LanternError(
                f"{len(tags)} tags for a sentence of {n_words} tokens", where, "give one BIO tag per token"
            )
        to_bio(tags, "BIO", strict=True, locate=lambda index: f"{where}, token {index + 1}")
        return tags

    def import_corpus(
        self,
        name: str,
        sentences: Iterable[Sentence],
        *,
        source: str,
        labels: Sequence[str] | None = None,
        test_every: int = 0,
    ) -> int:
        """Store a corpus in one transaction and return its id; nothing is stored when anything is wrong.

        `test_every=k` puts sentence i with i % k == 0 in the 'test' split (it must have gold tags), the
        rest in 'pool'. `labels` defaults to the labels the gold tags use; given, it must cover them.
        """
        name = name.strip()
        if not name:
            raise LanternError("a corpus needs a name", WHERE, "give the corpus a name")
        if isinstance(test_every, bool) or not isinstance(test_every, int) or test_every < 0:
            raise LanternError(f"test_every must be 0 or more, not {test_every!r}", WHERE, "e.g. 5 or 0")
        rows = []
        used: set[str] = set()
        for index, sentence in enumerate(sentences):
            where = f"corpus '{name}', sentence {index + 1}"
            if not sentence.tokens:
                raise LanternError("this sentence has no tokens", where, "remove empty sentences")
            tags = None
            if sentence.tags is not None:
                tags = list(self._check_tags(sentence.tags, len(sentence.tokens), where))
                used |= labels_of(tags)
            split = "test" if test_every and index % test_every == 0 else "pool"
            if split == "test" and tags is None:
                raise LanternError(
                    "a test sentence needs gold tags, and this one has none",
                    where,
                    "import untagged corpora with test_every=0",
                )
            rows.append(
                {
                    "position": index,
                    "tokens": list(sentence.tokens),
                    "gold_tags": tags,
                    "split": split,
                    "n_words": len(sentence.tokens),
                }
            )
        if not rows:
            raise LanternError("the corpus has no sentences", f"corpus '{name}'", "import a non-empty corpus")
        label_set = sorted(used) if labels is None else list(dict.fromkeys(labels))
        missing = used - set(label_set)
        if missing:
            raise LanternError(
                f"the tags use labels that are not in the label set: {', '.join(sorted(missing))}",
                f"corpus '{name}'",
                "add them to the labels, or map them on import",
            )
        exists_error = LanternError(
            f"a corpus named '{name}' exists already", WHERE, "choose another name, or open that corpus"
        )
        try:
            with self._writing() as session:
                if session.scalar(select(NerCorpus.id).where(NerCorpus.name == name)) is not None:
                    raise exists_error
                corpus = NerCorpus(name=name, labels=label_set, source=source, created_at=utcnow())
                session.add(corpus)
                session.flush()
                for row in rows:
                    row["corpus_id"] = corpus.id
                for chunk in _chunks(rows):
                    session.execute(NerSentence.__table__.insert(), list(chunk))
                corpus_id = corpus.id
        except IntegrityError as exc:  # the same name imported by another session at the same moment
            raise exists_error from exc
        self._refresh_statistics("ner_sentences")
        return corpus_id

    def _records(self, session: Session, corpora: Sequence[NerCorpus]) -> list[CorpusRecord]:
        ids = [corpus.id for corpus in corpora]
        counts: dict[int, dict[str, int]] = {cid: {} for cid in ids}
        words: dict[int, int] = dict.fromkeys(ids, 0)
        if ids:
            rows = session.execute(
                select(NerSentence.corpus_id, NerSentence.split, func.count(), func.sum(NerSentence.n_words))
                .where(NerSentence.corpus_id.in_(ids))
                .group_by(NerSentence.corpus_id, NerSentence.split)
            )
            for corpus_id, split, count, n_words in rows:
                counts[corpus_id][split] = count
                words[corpus_id] += int(n_words or 0)
        return [
            CorpusRecord(
                id=corpus.id,
                name=corpus.name,
                labels=tuple(corpus.labels or ()),
                source=corpus.source,
                counts=counts[corpus.id],
                words=words[corpus.id],
                created_at=corpus.created_at,
            )
            for corpus in corpora
        ]

    def corpora(self) -> list[CorpusRecord]:
        with self._store.session() as session:
            return self._records(session, session.scalars(select(NerCorpus).order_by(NerCorpus.name)).all())

    def corpus(self, name_or_id: CorpusRef) -> CorpusRecord:
        with self._store.session() as session:
            return self._records(session, [self._corpus_row(session, name_or_id)])[0]

    def sentences(self, corpus_id: CorpusRef, split: str | None = None) -> list[Sentence]:
        """The corpus's sentences in order, with their gold tags (None when it has none)."""
        if split is not None and split not in SPLITS:
            raise LanternError(f"unknown split '{split}'", WHERE, f"use one of {', '.join(SPLITS)} or None")
        with self._store.session() as session:
            statement = select(NerSentence.id, NerSentence.tokens, NerSentence.gold_tags).where(
                NerSentence.corpus_id == self._corpus_id(session, corpus_id)
            )
            if split is not None:
                statement = statement.where(NerSentence.split == split)
            rows = session.execute(statement.order_by(NerSentence.position))
            return [
                Sentence(tuple(tokens), tuple(gold) if gold is not None else None, sid)
                for sid, tokens, gold in rows
            ]

    def labelled(self, corpus_id: CorpusRef) -> list[Sentence]:
        """Every accepted sentence with its annotation (the latest, when several annotators accepted it)."""
        with self._store.session() as session:
            rows = session.execute(
                select(NerSentence.id, NerSentence.tokens, NerAnnotation.tags)
                .join(NerAnnotation, NerAnnotation.sentence_id == NerSentence.id)
                .where(NerSentence.corpus_id == self._corpus_id(session, corpus_id))
                .order_by(NerSentence.position, NerAnnotation.accepted_at, NerAnnotation.id)
            )
            latest: dict[int, Sentence] = {}
            for sid, tokens, tags in rows:
                latest[sid] = Sentence(tuple(tokens), tuple(tags), sid)
            return list(latest.values())

    def pool(self, corpus_id: CorpusRef) -> list[Sentence]:
        """Pool sentences nobody has accepted yet, without tags."""
        with self._store.session() as session:
            accepted = exists().where(NerAnnotation.sentence_id == NerSentence.id)
            rows = session.execute(
                select(NerSentence.id, NerSentence.tokens)
                .where(
                    NerSentence.corpus_id == self._corpus_id(session, corpus_id),
                    NerSentence.split == "pool",
                    ~accepted,
                )
                .order_by(NerSentence.position)
            )
            return [Sentence(tuple(tokens), None, sid) for sid, tokens in rows]

    def annotations(self, corpus_id: CorpusRef, annotator: Annotator | None = None) -> list[AnnotationRecord]:
        """Every accepted annotation (all annotators, or one), in sentence order: the input to agreement."""
        with self._store.session() as session:
            statement = (
                select(NerAnnotation.sentence_id, NerAnnotator.name, NerAnnotator.id, NerAnnotation.tags)
                .add_columns(NerAnnotation.accepted_at)
                .join(NerSentence, NerSentence.id == NerAnnotation.sentence_id)
                .join(NerAnnotator, NerAnnotator.id == NerAnnotation.annotator_id)
                .where(NerSentence.corpus_id == self._corpus_id(session, corpus_id))
                .order_by(NerSentence.position, NerAnnotator.name)
            )
            if annotator is not None:
                statement = statement.where(NerAnnotation.annotator_id == self._annotator(session, annotator))
            return [
                AnnotationRecord(sid, name, aid, tuple(tags), accepted_at)
                for sid, name, aid, tags, accepted_at in session.execute(statement)
            ]

    def annotator_id(self, name: str) -> int:
        """The annotator's id, creating the annotator on first use."""
        with self._writing() as session:
            return self._annotator(session, name)

    def set_predictions(
        self, corpus_id: CorpusRef, model_version: str, predictions: dict[int, Prediction]
    ) -> None:
        """Replace the predictions of these sentences (others keep theirs), in one transaction."""
        for sid, prediction in predictions.items():
            where = f"prediction for sentence {sid}"
            if not math.isfinite(prediction.score):
                raise LanternError(
                    f"the score {prediction.score} is not a finite number", where, "fix the scorer"
                )
            if len(prediction.tags) != len(prediction.confidences):
                raise LanternError(
                    f"{len(prediction.tags)} tags but {len(prediction.confidences)} confidences",
                    where,
                    "give one confidence per tag",
                )
        now = utcnow()
        with self._writing() as session:
            cid = self._corpus_id(session, corpus_id)
            ids = sorted(predictions)
            n_words: dict[int, int] = {}
            for chunk in _chunks(ids):
                statement = select(NerSentence.id, NerSentence.n_words).where(
                    NerSentence.corpus_id == cid, NerSentence.id.in_(chunk)
                )
                n_words.update((sid, words) for sid, words in session.execute(statement))
            missing = [sid for sid in ids if sid not in n_words]
            if missing:
                raise LanternError(
                    f"sentences {missing[:5]} are not in corpus {cid}",
                    "set_predictions",
                    "score the corpus's own sentences",
                )
            rows = []
            for sid in ids:
                prediction = predictions[sid]
                tags = self._check_tags(prediction.tags, n_words[sid], f"prediction for sentence {sid}")
                rows.append(
                    {
                        "sentence_id": sid,
                        "model_version": model_version,
                        "score": float(prediction.score),
                        "tags": list(tags),
                        "confidences": [float(c) for c in prediction.confidences],
                        "created_at": now,
                    }
                )
            for chunk in _chunks(ids):
                session.execute(delete(NerPrediction).where(NerPrediction.sentence_id.in_(chunk)))
            for chunk in _chunks(rows):
                session.execute(NerPrediction.__table__.insert(), list(chunk))
        self._refresh_statistics("ner_predictions")

    def prediction(self, sentence_id: int) -> Prediction | None:
        with self._store.session() as session:
            row = session.get(NerPrediction, sentence_id)
            if row is None:
                return None
            return Prediction(
                row.score, tuple(row.tags), tuple(row.confidences), row.model_version, row.created_at
            )

    def _available(self, corpus_id: int, annotator_id: int, overlap_pct: int) -> list[Any]:
        """Conditions for a pool sentence this annotator may be given now."""
        now = self._now()
        sentence = NerSentence.id
        accepted_by_anyone = exists().where(NerAnnotation.sentence_id == sentence)
        conditions = [
            NerSentence.corpus_id == corpus_id,
            NerSentence.split == "pool",
            ~exists().where(
                NerAnnotation.sentence_id == sentence, NerAnnotation.annotator_id == annotator_id
            ),
            ~exists().where(NerSkip.sentence_id == sentence, NerSkip.annotator_id == annotator_id),
            ~exists().where(
                NerLease.sentence_id == sentence,
                NerLease.annotator_id != annotator_id,
                NerLease.expires_at > now,
            ),
        ]
        if overlap_pct <= 0:
            conditions.append(~accepted_by_anyone)
        else:
            annotations = (
                select(func.count()).select_from(NerAnnotation).where(NerAnnotation.sentence_id == sentence)
            ).scalar_subquery()
            wanted = case(((sentence * OVERLAP_STRIDE) % 100 < overlap_pct, 2), else_=1)
            conditions.append(or_(~accepted_by_anyone, annotations < wanted))
        return conditions

    def _candidate(self, session: Session, conditions: list[Any], rejected: set[int]) -> Any:
        """(id, tokens) of the best available sentence, its row locked on PostgreSQL (rows another
        session is handing out are skipped, not waited for). Two queries, so that each can walk an index
        and stop at the first hit instead of sorting the pool: scored sentences by score (ties in corpus
        order), then unscored ones in corpus order."""
        scored = (
            select(NerSentence.id, NerSentence.tokens)
            .join(NerPrediction, NerPrediction.sentence_id == NerSentence.id)
            .where(*conditions)
            .order_by(NerPrediction.score.desc(), NerSentence.position)
        )
        unscored = (
            select(NerSentence.id, NerSentence.tokens)
            .where(*conditions, ~exists().where(NerPrediction.sentence_id == NerSentence.id))
            .order_by(NerSentence.position)
        )
        for statement in (scored, unscored):
            statement = statement.limit(1)
            if rejected:
                statement = statement.where(NerSentence.id.not_in(rejected))
            if not self._store.is_sqlite:
                statement = statement.with_for_update(of=NerSentence, skip_locked=True)
            found = session.execute(statement).one_or_none()
            if found is not None:
                return found
        return None

    def next_sentence(
        self,
        corpus_id: CorpusRef,
        annotator: Annotator,
        *,
        lease_s: float = 600,
        overlap: float = 0.0,
        exclude: Iterable[int] = (),
    ) -> Sentence | None:
        """The pool sentence to ask this annotator next, leased to them for `lease_s` seconds; None when
        none is left.

        Highest prediction score first (sentences without a prediction last, in corpus order), among
        sentences nobody accepted (or, for the `overlap` share of sentences, that only one other
        annotator accepted), not leased to someone else, not skipped by this annotator, not in `exclude`.
        """
        if not 0.0 <= overlap <= 1.0:
            raise LanternError(f"overlap must be between 0 and 1, not {overlap}", WHERE, "e.g. 0.1 for 10%")
        overlap_pct = round(overlap * 100)
        rejected = set(exclude)
        with self._writing() as session:
            cid = self._corpus_id(session, corpus_id)
            me = self._annotator(session, annotator)
            conditions = self._available(cid, me, overlap_pct)
            while True:
                found = self._candidate(session, conditions, rejected)
                if found is None:
                    return None
                sid, tokens = found
                # On PostgreSQL the candidate query may have read a snapshot older than a lease or accept
                # committed just before we locked the row: a new statement sees every commit made before
                # the lock. (SQLite's write lock, held since BEGIN IMMEDIATE, makes its snapshot current.)
                if not self._store.is_sqlite and (
                    session.scalar(select(NerSentence.id).where(NerSentence.id == sid, *conditions)) is None
                ):
                    rejected.add(sid)
                    continue
                self._take_lease(session, sid, me, lease_s)
                return Sentence(tuple(tokens), None, sid)

    def accept(self, sentence_id: int, annotator: Annotator, tags: Sequence[str]) -> None:
        """Store this annotator's tags for the sentence (replacing their earlier ones) and release their
        lease; committed before it returns."""
        with self._writing() as session:
            me = self._annotator(session, annotator)
            row = self._lock_sentence(session, sentence_id)
            checked = self._check_tags(tags, row.n_words, f"sentence {sentence_id}")
            statement = self._insert(NerAnnotation).values(
                sentence_id=sentence_id, annotator_id=me, tags=list(checked), accepted_at=utcnow()
            )
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["sentence_id", "annotator_id"],
                    set_={"tags": statement.excluded.tags, "accepted_at": statement.excluded.accepted_at},
                )
            )
            session.execute(
                delete(NerLease).where(NerLease.sentence_id == sentence_id, NerLease.annotator_id == me)
            )
            session.execute(
                delete(NerSkip).where(NerSkip.sentence_id == sentence_id, NerSkip.annotator_id == me)
            )

    def skip(self, sentence_id: int, annotator: Annotator) -> None:
        """This annotator will not be asked this sentence again (others will); their lease is released."""
        with self._writing() as session:
            me = self._annotator(session, annotator)
            self._lock_sentence(session, sentence_id)
            statement = self._insert(NerSkip).values(
                sentence_id=sentence_id, annotator_id=me, skipped_at=utcnow()
            )
            session.execute(statement.on_conflict_do_nothing(index_elements=["sentence_id", "annotator_id"]))
            session.execute(
                delete(NerLease).where(NerLease.sentence_id == sentence_id, NerLease.annotator_id == me)
            )

    def unaccept(self, sentence_id: int, annotator: Annotator, *, lease_s: float = 600) -> None:
        """Undo this annotator's accept: their annotation is removed and the sentence leased back to them
        (unless someone else holds it now), so the undo does not hand their work to another."""
        with self._writing() as session:
            me = self._annotator(session, annotator)
            self._lock_sentence(session, sentence_id)
            session.execute(
                delete(NerAnnotation).where(
                    NerAnnotation.sentence_id == sentence_id, NerAnnotation.annotator_id == me
                )
            )
            held_by_other = session.scalar(
                select(NerLease.annotator_id).where(
                    NerLease.sentence_id == sentence_id,
                    NerLease.annotator_id != me,
                    NerLease.expires_at > self._now(),
                )
            )
            if held_by_other is None:
                self._take_lease(session, sentence_id, me, lease_s)

    def progress(self, corpus_id: CorpusRef) -> dict[str, Any]:
        """Counts for the side panel: pool and test sizes, sentences and words labelled (each sentence
        once, however many annotators accepted it), accepts per annotator."""
        with self._store.session() as session:
            cid = self._corpus_id(session, corpus_id)
            totals = {
                split: (count, int(words or 0))
                for split, count, words in session.execute(
                    select(NerSentence.split, func.count(), func.sum(NerSentence.n_words))
                    .where(NerSentence.corpus_id == cid)
                    .group_by(NerSentence.split)
                )
            }
            accepted = exists().where(NerAnnotation.sentence_id == NerSentence.id)
            labelled, labelled_words = session.execute(
                select(func.count(), func.sum(NerSentence.n_words)).where(
                    NerSentence.corpus_id == cid, accepted
                )
            ).one()
            by_annotator = {
                name: {"sentences": count, "words": int(words or 0)}
                for name, count, words in session.execute(
                    select(NerAnnotator.name, func.count(), func.sum(NerSentence.n_words))
                    .join(NerAnnotation, NerAnnotation.annotator_id == NerAnnotator.id)
                    .join(NerSentence, NerSentence.id == NerAnnotation.sentence_id)
                    .where(NerSentence.corpus_id == cid)
                    .group_by(NerAnnotator.name)
                    .order_by(NerAnnotator.name)
                )
            }
        pool, pool_words = totals.get("pool", (0, 0))
        test, test_words = totals.get("test", (0, 0))
        return {
            "pool_sentences": pool,
            "pool_words": pool_words,
            "test_sentences": test,
            "test_words": test_words,
            "labelled_sentences": labelled,
            "labelled_words": int(labelled_words or 0),
            "annotations": sum(item["sentences"] for item in by_annotator.values()),
            "by_annotator": by_annotator,
        }

    def save_state(self, corpus_id: CorpusRef, annotator: Annotator, state: dict[str, Any]) -> None:
        """Remember where this annotator is in this corpus (any JSON-serialisable dict)."""
        try:
            json.dumps(state, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise LanternError(
                f"the state cannot be stored as JSON ({exc})", WHERE, "store plain values"
            ) from exc
        with self._writing() as session:
            cid = self._corpus_id(session, corpus_id)
            me = self._annotator(session, annotator)
            statement = self._insert(NerState).values(
                corpus_id=cid, annotator_id=me, state=dict(state), updated_at=utcnow()
            )
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["corpus_id", "annotator_id"],
                    set_={"state": statement.excluded.state, "updated_at": statement.excluded.updated_at},
                )
            )

    def load_state(self, corpus_id: CorpusRef, annotator: Annotator) -> dict[str, Any]:
        """The state saved last for this corpus and annotator; {} when there is none."""
        with self._store.session() as session:
            cid = self._corpus_id(session, corpus_id)
            if isinstance(annotator, str):
                me = session.scalar(select(NerAnnotator.id).where(NerAnnotator.name == annotator.strip()))
                if me is None:
                    return {}
            else:
                me = self._annotator(session, annotator)
            row = session.get(NerState, (cid, me))
            return dict(row.state) if row is not None else {}
