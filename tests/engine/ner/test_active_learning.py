"""Word-budget rounds and the simulation of the paper's experiment, on toy data with a small tagger."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from ner_toys import LABELS, SMALL, one_thread, toy_sentences  # noqa: F401 - autouse fixture

from engine.core.errors import LanternError
from engine.ner.active_learning import SimulationSettings, choose_by_budget, simulate, words_to_reach
from engine.ner.types import Sentence


def test_rounds_add_whole_sentences_in_score_order_until_the_budget_is_met():
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.7])
    lengths = [5, 3, 4, 10, 2]
    assert choose_by_budget(scores, lengths, 3) == [1]  # exactly met
    assert choose_by_budget(scores, lengths, 4) == [1, 3]  # the sentence that crosses the budget is added
    assert choose_by_budget(scores, lengths, 14) == [1, 3, 4]  # ties keep pool order (3 before 4)
    assert choose_by_budget(scores, lengths, 1000) == [1, 3, 4, 2, 0]  # the whole pool when it is short
    assert choose_by_budget(np.zeros(0), [], 5) == []


def test_words_to_reach_takes_the_first_point_at_the_target():
    curve = [(10, 0.2), (30, 0.59), (50, 0.6), (70, 0.58), (90, 0.7)]
    assert words_to_reach(curve, 0.6) == 50
    assert words_to_reach(curve, 0.75) is None


def test_simulation_end_to_end_on_toy_data():
    train, test = toy_sentences(150, seed=0), toy_sentences(40, seed=1)
    settings = SimulationSettings(
        strategies=("mnlp", "lc", "bald", "random"),
        seeds=2,
        rounds=3,
        round_fraction=0.1,
        initial_fraction=0.05,
        epochs_per_round=3,
        bald_samples=4,
        tagger_config=SMALL,
    )
    points: list[tuple[str, int, int, float]] = []
    progress: list[float] = []
    result = simulate(
        train,
        test,
        LABELS,
        settings,
        on_point=lambda *point: points.append(point),
        on_progress=lambda done, total, message: progress.append(done / total),
    )
    total = sum(len(s.tokens) for s in train)
    assert result["train_words"] == total and result["test_sentences"] == 40
    budget = result["words_per_round"]
    assert budget == round(0.1 * total)
    assert result["full_epochs"] == 3 * 4
    assert 0.5 < result["full_f1"]["mean"] <= 1.0  # the toy pattern is easy with all the data
    for name, entry in result["strategies"].items():
        fraction = entry["fraction"]
        assert 0.0 < fraction["mean"] <= 1.0 and fraction["std"] >= 0.0 and fraction["of"] == 2
        for seed_entry in entry["seeds"]:
            words = [point["words"] for point in seed_entry["curve"]]
            assert len(words) == 4  # the initial point + 3 rounds
            assert all(later - earlier >= budget for earlier, later in itertools.pairwise(words))
            assert 0.0 < seed_entry["fraction"] <= 1.0
            if seed_entry["reached"]:
                assert seed_entry["fraction"] == seed_entry["words_to_target"] / total
        assert [p["round"] for p in entry["curve"]] == [0, 1, 2, 3], name
    # every strategy of a seed starts from the same 1% and the same trained model
    firsts = {entry["seeds"][0]["curve"][0]["f1"] for entry in result["strategies"].values()}
    assert len(firsts) == 1
    assert result["mnlp_vs_random"] == pytest.approx(
        result["strategies"]["mnlp"]["fraction"]["mean"] / result["strategies"]["random"]["fraction"]["mean"]
    )
    assert result["strategies"]["random"]["words_vs_random"]["mean"] == 1.0  # random against itself
    for entry in result["strategies"].values():
        versus = entry["words_vs_random"]
        assert versus["of"] == 2 and (versus["mean"] is None or versus["mean"] > 0)
    assert {p[0] for p in points} == {"full", "mnlp", "lc", "bald", "random"}
    assert len(points) == 2 * (1 + 4 * 4)
    assert progress[-1] == 1.0 and progress == sorted(progress)


def test_active_strategies_pick_differently_from_random():
    train, test = toy_sentences(100, seed=2), toy_sentences(20, seed=3)
    settings = SimulationSettings(
        strategies=("mnlp", "random"),
        seeds=1,
        rounds=1,
        round_fraction=0.2,
        epochs_per_round=2,
        tagger_config=SMALL,
    )
    result = simulate(train, test, LABELS, settings)
    mnlp, rand = (result["strategies"][n]["seeds"][0]["curve"][1]["words"] for n in ("mnlp", "random"))
    assert (
        mnlp != rand
        or result["strategies"]["mnlp"]["seeds"][0]["curve"]
        != result["strategies"]["random"]["seeds"][0]["curve"]
    )


def test_simulation_refuses_what_it_cannot_measure():
    train, test = toy_sentences(30, seed=0), toy_sentences(5, seed=1)
    settings = SimulationSettings(strategies=("random",), seeds=1, rounds=1, tagger_config=SMALL)
    with pytest.raises(LanternError, match="needs test sentences"):
        simulate(train, [], LABELS, settings)
    with pytest.raises(LanternError, match="needs gold tags"):
        simulate([*train, Sentence(("x",))], test, LABELS, settings)
    with pytest.raises(LanternError, match="rounds must be"):
        simulate(train, test, LABELS, SimulationSettings(rounds=0))
    with pytest.raises(LanternError, match="unknown acquisition"):
        simulate(train, test, LABELS, SimulationSettings(strategies=("entropy",)))
