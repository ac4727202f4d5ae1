"""The Start experiment dialog: prefilled from the design, refuses an accuracy bar at or below p* (and a bad
sweep) with a message, and builds a spec the job registry accepts."""

from __future__ import annotations

import pytest

from engine.attribution.experiment_config import parse_config
from engine.attribution.manipulations import IMAGE_MANIPULATIONS
from engine.jobs.registry import validate_spec
from gui.dialogs.attribution_experiment import JOB_NAME, ExperimentDialog
from gui.widgets.attribution_designer import DesignRequest


def make_dialog(qtbot, design: DesignRequest) -> ExperimentDialog:  # type: ignore[no-untyped-def]
    dialog = ExperimentDialog(design)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_dialog_is_prefilled_from_the_design_and_builds_a_valid_spec(qtbot) -> None:  # type: ignore[no-untyped-def]
    design = DesignRequest(manipulation="watermark", strength=0.8, r=0.7, classes=(0, 6), seed=3)
    dialog = make_dialog(qtbot, design)
    assert [name for name, box in dialog.manipulation_boxes.items() if box.isChecked()] == ["watermark"]
    assert dialog.runs_spin.value() == 3
    assert dialog.r_spin.value() == pytest.approx(0.7)
    assert dialog.model_box.currentData() == "small_cnn"
    assert "saliency" in dialog.methods() and "attention" not in dialog.methods()
    dialog.manipulation_boxes["peripheral_blur"].setChecked(True)
    dialog.threshold_spin.setValue(0.95)
    spec = dialog.check()
    assert spec["job"] == JOB_NAME
    params = spec["params"]
    assert params["manipulations"] == [
        {"name": "peripheral_blur", "strength": IMAGE_MANIPULATIONS["peripheral_blur"].default_strength},
        {"name": "watermark", "strength": 0.8},
    ]
    assert params["base"] == {"kind": "fashion_pair", "classes": [0, 6], "colour": False}
    assert params["train"]["min_accuracy"] == pytest.approx(0.95)
    assert params["r"] == pytest.approx(0.7) and params["seed"] == 3 and params["runs"] == 3
    config = parse_config(params)
    assert config.r_values() == [0.7]
    _, validated = validate_spec(spec)
    assert validated.manipulations[1].strength == pytest.approx(0.8)


def test_bar_at_or_below_p_star_is_refused_with_a_message(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = make_dialog(qtbot, DesignRequest(manipulation="peripheral_blur", r=0.8))
    dialog.threshold_spin.setValue(0.8)  # p* = max(0.8, 0.2) = 0.8: not above it
    dialog.accept()
    assert dialog.isVisible()
    assert dialog.result() == 0
    assert "not above p* = 0.800" in dialog.error_text
    assert "p*" in dialog.error.text()
    dialog.threshold_spin.setValue(0.9)
    dialog.sweep_box.setCurrentIndex(dialog.sweep_box.findData("r"))
    dialog.sweep_values.setText("0.5, 0.7, 0.95")  # 0.95 makes p* 0.95 > the bar 0.9
    dialog.accept()
    assert dialog.isVisible()
    assert "p* = 0.950" in dialog.error_text
    dialog.sweep_values.setText("0.5, 0.7, 0.8")
    spec = dialog.check()
    assert spec["params"]["sweep"] == {"r": [0.5, 0.7, 0.8]}
    validate_spec(spec)


def test_bad_sweep_values_and_empty_choices_are_refused(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = make_dialog(qtbot, DesignRequest(manipulation="centre_brightness"))
    dialog.sweep_box.setCurrentIndex(dialog.sweep_box.findData("strength"))
    dialog.sweep_values.setText("0.2, lots")
    dialog.accept()
    assert dialog.isVisible() and "“lots” is not a number" in dialog.error_text
    dialog.sweep_box.setCurrentIndex(0)
    dialog._check_methods(False)
    dialog.accept()
    assert dialog.isVisible() and dialog.error_text == "no attribution method chosen"
    dialog._check_methods(True)
    dialog.manipulation_boxes["centre_brightness"].setChecked(False)
    dialog.accept()
    assert dialog.isVisible() and dialog.error_text == "no manipulation chosen"


def test_text_design_offers_text_models_and_methods(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = make_dialog(qtbot, DesignRequest(base="rotten_tomatoes", manipulation="article_substitution"))
    models = [dialog.model_box.itemData(i) for i in range(dialog.model_box.count())]
    assert models == ["bilstm_attention", "bert", "rationale"]
    assert "attention" in dialog.methods() and "gradcam" not in dialog.methods()
    spec = dialog.spec()
    assert spec["params"]["modality"] == "text"
    assert spec["params"]["base"] == {"kind": "rotten_tomatoes"}
