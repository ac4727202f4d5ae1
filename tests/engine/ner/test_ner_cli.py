"""`lantern ner ...` end to end: import a corpus, simulate active learning (--json), train, export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ner_toys import one_thread, toy_sentences  # noqa: F401 - autouse fixture

from engine.cli import main

SMALL_OPTIONS = [
    *("--word-filters", "16", "--decoder-hidden", "16", "--word-dim", "16"),
    *("--set", "char_filters=8", "--set", "learning_rate=0.003", "--set", "dropout=0.1"),
]


def write_conll(path: Path, count: int) -> Path:
    blocks = [
        "\n".join(f"{t}\t{g}" for t, g in zip(s.tokens, s.tags, strict=True)) for s in toy_sentences(count, 0)
    ]
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


def run_json(capfd: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, object, str]:
    code = main(argv)
    out, err = capfd.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def test_import_simulate_train_export(capfd: pytest.CaptureFixture[str], tmp_path: Path):
    corpus_file = write_conll(tmp_path / "toy.conll", 100)
    code, record, _ = run_json(
        capfd, ["ner", "import", str(corpus_file), "--name", "toy", "--test-every", "5", "--json"]
    )
    assert code == 0 and record["counts"] == {"pool": 80, "test": 20} and record["labels"] == ["LOC", "PER"]

    argv = [
        "ner",
        "simulate",
        "--corpus",
        "toy",
        "--strategies",
        "mnlp,random",
        "--seeds",
        "2",
        "--rounds",
        "2",
    ]
    argv += [
        "--round-fraction",
        "0.2",
        "--initial-fraction",
        "0.05",
        "--epochs",
        "2",
        *SMALL_OPTIONS,
        "--json",
    ]
    code, result, err = run_json(capfd, argv)
    assert code == 0, err
    assert set(result["strategies"]) == {"mnlp", "random"} and result["train_sentences"] == 80
    for entry in result["strategies"].values():
        assert 0.0 < entry["fraction"]["mean"] <= 1.0 and entry["fraction"]["of"] == 2
        assert len(entry["curve"]) == 3 and entry["curve"][0]["round"] == 0
    assert result["mnlp_vs_random"] > 0 and "step" in err  # live curve lines went to stderr

    from engine.ner.repository import NerRepository
    from engine.store import open_store

    store = open_store()
    try:
        repo = NerRepository(store)
        for sentence in repo.sentences("toy", "pool")[:20]:
            repo.accept(sentence.id, "ann", sentence.tags)
    finally:
        store.close()
    code, trained, err = run_json(
        capfd, ["ner", "train", "--corpus", "toy", "--annotator", "ann", *SMALL_OPTIONS, "--json"]
    )
    assert code == 0, err
    assert trained["labelled_sentences"] == 20 and trained["pool_scored"] == 60 and "f1" in trained

    out_file = tmp_path / "out.conll"
    assert main(["ner", "export", "toy", str(out_file)]) == 0
    exported = [block for block in out_file.read_text(encoding="utf-8").strip().split("\n\n") if block]
    assert len(exported) == 20
    code, listing, _ = run_json(capfd, ["ner", "corpora", "--json"])
    assert listing[0]["name"] == "toy" and listing[0]["progress"]["labelled_sentences"] == 20


def test_bad_options_are_clear_errors(capfd: pytest.CaptureFixture[str], tmp_path: Path):
    assert main(["ner", "simulate", "--strategies", "mnlp,margin"]) == 2
    assert "unknown acquisition function 'margin'" in capfd.readouterr().err
    assert main(["ner", "simulate", "--seeds", "0"]) == 2
    assert "seeds" in capfd.readouterr().err
    assert main(["ner", "import", str(tmp_path / "missing.conll"), "--name", "x"]) == 2
    assert "error:" in capfd.readouterr().err
    assert main(["ner", "import"]) == 2
    assert "--demo" in capfd.readouterr().err
    assert main(["ner", "train", "--corpus", "nothing", "--annotator", "a"]) != 0
    assert main(["ner", "--help"]) == 0
    out = capfd.readouterr().out
    for action in ("simulate", "train", "corpora", "import", "export"):
        assert f"\n    {action} " in out
