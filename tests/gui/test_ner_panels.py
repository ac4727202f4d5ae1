"""The Annotate side panels: progress figures, the learning curve (F1 against words labelled), per-label
scores, the model's mistakes with gold and predicted entities, and the agreement figures."""

from __future__ import annotations

from engine.ner.agreement import agreement
from gui.widgets.ner_panels import (
    LEARNING_CURVE_METRIC,
    AgreementPanel,
    LearningCurvePanel,
    MistakesPanel,
    ProgressPanel,
    ScoresTable,
    tagged_html,
)

LABELS = ["PER", "LOC", "ORG", "MISC"]


def test_progress_shows_counts_shares_and_the_team(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = ProgressPanel()
    qtbot.addWidget(panel)
    progress = {
        "pool_sentences": 1915,
        "pool_words": 37175,
        "test_sentences": 479,
        "labelled_sentences": 40,
        "labelled_words": 812,
        "by_annotator": {"ana": {"sentences": 30, "words": 600}, "ben": {"sentences": 12, "words": 250}},
    }
    panel.set_progress(progress, "ana")
    assert panel.sentences_label.text() == "<b>40</b> of 1,915 (2.1 %)"
    assert panel.words_label.text() == "<b>812</b> of 37,175 (2.2 %)"
    assert (panel.sentences_bar.value(), panel.sentences_bar.maximum()) == (40, 1915)
    assert panel.team_label.text() == "you: 30 sentences · 1 other annotator · 479 held out for testing"
    panel.set_progress({})
    assert panel.sentences_label.text() == "<b>0</b> of 0"


def test_learning_curve_plots_f1_in_percent_against_words(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = LearningCurvePanel()
    qtbot.addWidget(panel)
    assert panel.stack.currentWidget() is panel.empty
    panel.set_points([(900, 0.31), (300, 0.12), (600, 0.25)], "wnut16")
    assert panel.stack.currentWidget() is panel.plot
    steps, values = panel.plot.series("wnut16", LEARNING_CURVE_METRIC)
    assert steps == [300.0, 600.0, 900.0]
    assert [round(v, 6) for v in values] == [12.0, 25.0, 31.0]
    assert (
        panel.summary.text() == "Latest: F1 31.0 % after 900 words · best 31.0 % at 900 words · 3 retrainings"
    )
    panel.plot.redraw()
    assert panel.plot.plot_item(LEARNING_CURVE_METRIC).getAxis("bottom").labelText == "words labelled"
    panel.set_points([])
    assert panel.stack.currentWidget() is panel.empty and panel.plot.runs() == []


def test_scores_table_lists_labels_in_corpus_order_and_the_total(qtbot) -> None:  # type: ignore[no-untyped-def]
    table = ScoresTable()
    qtbot.addWidget(table)
    table.set_scores(
        {"ORG": (0.5, 0.25, 1 / 3, 8), "PER": (0.8, 0.6, 0.6857, 20)}, (0.7, 0.5, 0.5833), LABELS
    )
    rows = [[table.item(r, c).text() for c in range(5)] for r in range(table.rowCount())]
    assert rows == [
        ["PER", "80.0", "60.0", "68.6", "20"],
        ["ORG", "50.0", "25.0", "33.3", "8"],
        ["All labels", "70.0", "50.0", "58.3", "28"],
    ]


def test_mistakes_show_gold_and_model_entities(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = MistakesPanel()
    qtbot.addWidget(panel)
    tokens = ["Obama", "visits", "Paris"]
    panel.set_mistakes([(tokens, ["B-PER", "O", "B-LOC"], ["B-PER", "O", "O"])], LABELS, tested=479, total=35)
    text = panel.toPlainText()
    assert "35 of 479 held-out sentences with a mistake; the first 1 are shown" in text
    assert "Gold" in text and "Model" in text
    assert text.count("Obama PER") == 2 and text.count("Paris LOC") == 1
    html = tagged_html(["a", "<b>"], ["B-ORG", "I-ORG"], LABELS)
    assert "a &lt;b&gt;" in html and ">ORG</b>" in html
    panel.set_mistakes([], LABELS)
    assert panel.count == 0 and "After a retraining" in panel.toPlainText()


def test_agreement_shows_kappa_f1_per_label_and_what_they_mean(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = AgreementPanel()
    qtbot.addWidget(panel)
    panel.set_annotators(["ana", "ben", "cleo"], current="ben")
    assert (panel.first.currentText(), panel.second.currentText()) == ("ben", "ana")
    with qtbot.waitSignal(panel.compare_requested) as signal:
        panel.compare_button.click()
    assert signal.args == ["ben", "ana"]
    first = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "O"]]
    second = [["B-PER", "I-PER", "O", "O"], ["O", "B-ORG", "O"]]
    result = agreement(first, second, [11, 12])
    panel.show_result(result, LABELS)
    assert panel.kappa_value.text() == f"{result.kappa_bio:.2f}"
    assert panel.f1_value.text() == "80.0 %"  # 2 of 3 entities match: P 1, R 2/3
    assert panel.f1_detail.text() == "2 of 3 entities marked identically"
    rows = [[panel.table.item(r, c).text() for c in range(4)] for r in range(panel.table.rowCount())]
    assert [row[0] for row in rows] == ["PER", "LOC", "ORG"]
    assert rows[0][2:] == ["100.0 %", "1"] and rows[1][2:] == ["0.0 %", "1"]
    assert "sentence 11 (span F1 67 %" in panel.worst.text()
    assert "2 sentences both annotators labelled" in panel.status.text()
    assert "corrected for the agreement chance alone would give" in panel.meanings.text()
    panel.show_result(agreement([], []), LABELS)
    assert panel.kappa_value.text() == "–" and "no sentence in common" in panel.status.text()
    panel.set_annotators(["ana"])
    assert not panel.compare_button.isEnabled()
